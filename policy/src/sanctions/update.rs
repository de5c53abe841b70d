//! Turning list bytes into a verified [`LoadedList`] and applying it to a snapshot.
//!
//! The order is fixed: parse (which hashes every byte read), compare the digest with the
//! publisher's checksum when one is given, and only then build the new snapshot. Any failure
//! leaves the caller's current snapshot untouched; shrinking is never a reason to refuse
//! (OFAC removed all 90 Tornado Cash addresses in one publication) — integrity is what is
//! checked, by checksum and by parse.

use std::{io::Read, time::SystemTime};

use super::{
    ListDiff, ListFormat, ListLoadError, ListParseError, ListSpec, LoadedList, ParseLimits,
    ParsedList, SanctionsSnapshot, Sha256Digest, parse_plain_list, parse_sdn_advanced,
    parse_sdn_csv,
};

/// The bytes of one list update.
#[derive(Debug)]
pub enum ListInput<R> {
    /// The single file of an advanced XML or plain list.
    Single(R),
    /// `sdn.csv` and, optionally, `sdn_comments.csv`.
    SdnCsv {
        /// The `sdn.csv` file.
        sdn: R,
        /// The `sdn_comments.csv` file, which carries the Remarks cut at 1,000 characters in
        /// `sdn.csv`; without it such Remarks are reported as findings.
        comments: Option<R>,
    },
}

/// Parses `input` as `spec.format`, then checks it against `published_sha256`.
///
/// For the CSV pair the published checksum is compared with the pair digest documented on
/// [`parse_sdn_csv`]. Returns the list stamped with `loaded_at`.
pub fn load_list<R: Read>(
    spec: &ListSpec,
    input: ListInput<R>,
    published_sha256: Option<Sha256Digest>,
    loaded_at: SystemTime,
    limits: &ParseLimits,
) -> Result<LoadedList, ListLoadError> {
    let parsed =
        parse_input(spec.format, input, limits).map_err(|source| ListLoadError::Parse {
            list: spec.id.clone(),
            source,
        })?;
    if let Some(expected) = published_sha256
        && expected != parsed.sha256()
    {
        return Err(ListLoadError::ChecksumMismatch {
            list: spec.id.clone(),
            expected,
            actual: parsed.sha256(),
        });
    }
    Ok(LoadedList::new(spec.clone(), parsed, loaded_at))
}

/// Reads a published checksum: the first 64-hex-digit word of `text`, which accepts the bare
/// digest, `sha256sum` output (`<hex>  file`) and OpenSSL output (`SHA256(file) = <hex>`).
pub fn parse_published_checksum(
    spec: &ListSpec,
    text: &str,
) -> Result<Sha256Digest, ListLoadError> {
    text.split(|c: char| !c.is_ascii_hexdigit())
        .filter(|word| word.len() == 64)
        .find_map(|word| word.parse().ok())
        .ok_or_else(|| ListLoadError::InvalidPublishedChecksum {
            list: spec.id.clone(),
            text: text.chars().take(100).collect(),
        })
}

fn parse_input<R: Read>(
    format: ListFormat,
    input: ListInput<R>,
    limits: &ParseLimits,
) -> Result<ParsedList, ListParseError> {
    // Comments only mean something for the CSV pair; other formats read the primary file.
    match input {
        ListInput::Single(r) => match format {
            ListFormat::SdnAdvancedXml => parse_sdn_advanced(r, limits),
            ListFormat::Plain => parse_plain_list(r, limits),
            ListFormat::SdnCsv => parse_sdn_csv(r, None::<R>, limits),
        },
        ListInput::SdnCsv { sdn, comments } => match format {
            ListFormat::SdnAdvancedXml => parse_sdn_advanced(sdn, limits),
            ListFormat::Plain => parse_plain_list(sdn, limits),
            ListFormat::SdnCsv => parse_sdn_csv(sdn, comments, limits),
        },
    }
}

/// The result of offering an update to a snapshot.
#[derive(Debug)]
pub enum UpdateOutcome {
    /// The update verified; swap in `snapshot` and log `diff`.
    Accepted {
        /// The new snapshot, with the updated list in its slot.
        snapshot: SanctionsSnapshot,
        /// The addresses the update added and removed, for the audit log.
        diff: ListDiff,
    },
    /// The update was refused; keep the current snapshot and report `error`.
    Rejected {
        /// Why; the list's slot keeps its previous content.
        error: ListLoadError,
    },
}

impl SanctionsSnapshot {
    /// Applies a load result: an error changes nothing, a verified list yields a new snapshot.
    ///
    /// A list whose publisher's issue date is earlier than that of the copy in force is
    /// refused ([`ListLoadError::Rollback`]): an old file replayed, a mirror serving a stale
    /// copy or a cache gone back would otherwise silently re-list or de-list addresses. The
    /// same date with other content is accepted (OFAC has published twice in one day).
    pub fn apply_update(&self, update: Result<LoadedList, ListLoadError>) -> UpdateOutcome {
        match update {
            Ok(list) => {
                if let Some(in_force) = self.list(&list.spec().id).and_then(|l| l.issue_date())
                    && let Some(offered) = list.issue_date()
                    && offered < in_force
                {
                    return UpdateOutcome::Rejected {
                        error: ListLoadError::Rollback {
                            list: list.spec().id.clone(),
                            in_force,
                            offered,
                        },
                    };
                }
                let (snapshot, diff) = self.with_list(list);
                UpdateOutcome::Accepted { snapshot, diff }
            }
            Err(error) => UpdateOutcome::Rejected { error },
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::sanctions::{ListAction, ListCategory};

    fn spec() -> ListSpec {
        ListSpec::new(
            "internal",
            "test",
            ListCategory::Internal,
            ListAction::Deny,
            ListFormat::Plain,
            Duration::from_secs(60),
        )
        .unwrap()
    }

    #[test]
    fn an_older_publication_is_refused_and_the_same_day_accepted() {
        let xml = |date: (u16, u8, u8), address: &str| {
            format!(
                "{address}\n# published: {:04}-{:02}-{:02}\n",
                date.0, date.1, date.2
            )
        };
        let load = |text: String| {
            load_list(
                &spec(),
                ListInput::Single(text.as_bytes()),
                None,
                SystemTime::UNIX_EPOCH,
                &ParseLimits::default(),
            )
        };
        let a = "0x4f47bc496083c727c5fbe3ce9cdf2b0f6496270c";
        let b = "0x098B716B8Aaf21512996dC57EB0615e2383E2f96";
        let empty = SanctionsSnapshot::unavailable([spec()], "not loaded");
        let UpdateOutcome::Accepted { snapshot, .. } =
            empty.apply_update(load(xml((2025, 11, 19), a)))
        else {
            panic!("first load refused")
        };
        let refused = snapshot.apply_update(load(xml((2025, 3, 4), b)));
        let UpdateOutcome::Rejected {
            error: ListLoadError::Rollback {
                in_force, offered, ..
            },
        } = refused
        else {
            panic!("{refused:?}")
        };
        assert_eq!(
            (in_force.to_string(), offered.to_string()),
            ("2025-11-19".to_owned(), "2025-03-04".to_owned())
        );
        assert!(matches!(
            snapshot.apply_update(load(xml((2025, 11, 19), b))),
            UpdateOutcome::Accepted { .. }
        ));
    }

    #[test]
    fn a_confirmation_restamps_without_changing_the_version() {
        let text = b"0x4f47bc496083c727c5fbe3ce9cdf2b0f6496270c\n";
        let list = load_list(
            &spec(),
            ListInput::Single(&text[..]),
            None,
            SystemTime::UNIX_EPOCH,
            &ParseLimits::default(),
        )
        .unwrap();
        let (snapshot, _) = SanctionsSnapshot::unavailable([spec()], "x").with_list(list);
        let late = SystemTime::UNIX_EPOCH + Duration::from_secs(120);
        assert!(!snapshot.problems(late).is_empty(), "stale before");
        let id = spec().id;
        let confirmed = snapshot.with_confirmed(&id, late).unwrap();
        assert!(confirmed.problems(late).is_empty());
        assert_eq!(confirmed.id(), snapshot.id());
        // An earlier confirmation does not move the stamp back.
        let again = confirmed
            .with_confirmed(&id, SystemTime::UNIX_EPOCH)
            .unwrap();
        assert!(again.problems(late).is_empty());
    }

    #[test]
    fn checksum_forms() {
        let hex = "36c517bd264d8d97eff353eadd8d84427d5eb293505a8ce07271a5bc258c3117";
        for text in [
            hex.to_owned(),
            format!("{hex}  sdn_advanced.xml\n"),
            format!("SHA256(sdn_advanced.xml) = {hex}"),
        ] {
            assert_eq!(
                parse_published_checksum(&spec(), &text)
                    .unwrap()
                    .to_string(),
                hex
            );
        }
        assert!(parse_published_checksum(&spec(), "SHA256 = 1234").is_err());
    }

    #[test]
    fn mismatch_is_refused_and_changes_nothing() {
        let before = SanctionsSnapshot::unavailable([spec()], "not loaded");
        let data = b"0x4f47bc496083c727c5fbe3ce9cdf2b0f6496270c\n";
        let update = load_list(
            &spec(),
            ListInput::Single(&data[..]),
            Some(Sha256Digest([0; 32])),
            SystemTime::UNIX_EPOCH,
            &ParseLimits::default(),
        );
        assert!(matches!(
            update,
            Err(ListLoadError::ChecksumMismatch { .. })
        ));
        assert!(matches!(
            before.apply_update(update),
            UpdateOutcome::Rejected { .. }
        ));
        assert!(!before.problems(SystemTime::UNIX_EPOCH).is_empty());
    }
}
