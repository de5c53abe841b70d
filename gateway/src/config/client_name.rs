//! The client identities an access list may name (`[tls] gateway_clients`, `admin_clients`):
//! exact DNS names and exact SPIFFE IDs, checked once at load.
//!
//! Matching is exact on purpose (see [`crate::server::auth`]): a name here is an identity, not a
//! pattern, so a wildcard is refused at load rather than silently never matching — an operator
//! who writes `*.corp` must learn that it grants nothing.

use std::fmt;

use rustls_pki_types::DnsName;

/// The scheme of a SPIFFE ID, which SPIFFE spells in lowercase only.
const SPIFFE_PREFIX: &str = "spiffe://";

/// The longest SPIFFE ID the SPIFFE ID specification lets an implementation accept.
const SPIFFE_MAX_LEN: usize = 2048;

/// One client identity of an access list, matched exactly against a client certificate's
/// subjectAltNames.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClientName {
    /// A DNS name, kept in lowercase; it matches a DNS subjectAltName that equals it ignoring
    /// ASCII case (DNS names are case-insensitive), never through a wildcard.
    Dns(String),
    /// A SPIFFE ID (`spiffe://trust-domain/path`); it matches a URI subjectAltName that equals it
    /// byte for byte.
    Spiffe(String),
}

impl ClientName {
    /// Parses one configured name. The error says why it is not acceptable, for the caller to
    /// report under the configuration key it came from.
    pub fn parse(text: &str) -> Result<Self, String> {
        if text.contains('*') {
            return Err(format!(
                "{text:?} contains `*`: wildcard names are not supported (client certificates \
                 are matched exactly); list each client's DNS name or SPIFFE ID"
            ));
        }
        if text.starts_with(SPIFFE_PREFIX) {
            return spiffe_id(text).map(|()| Self::Spiffe(text.to_owned()));
        }
        if text
            .get(..SPIFFE_PREFIX.len())
            .is_some_and(|p| p.eq_ignore_ascii_case(SPIFFE_PREFIX))
        {
            return Err(format!(
                "{text:?}: a SPIFFE ID starts with `spiffe://` in lowercase"
            ));
        }
        if text.contains(':') {
            return Err(format!(
                "{text:?} is neither a DNS name nor a SPIFFE ID (spiffe://trust-domain/path)"
            ));
        }
        if text.ends_with('.') {
            // Certificates carry DNS names without the root's dot; an exact match would never
            // happen, so say so now.
            return Err(format!(
                "{text:?} ends with a dot: write the name as certificates carry it, without one"
            ));
        }
        DnsName::try_from(text)
            .map(|name| Self::Dns(name.as_ref().to_ascii_lowercase()))
            .map_err(|_| format!("{text:?} is not a DNS name or a SPIFFE ID"))
    }

    /// The name as configured (a DNS name in lowercase).
    pub fn as_str(&self) -> &str {
        match self {
            Self::Dns(name) | Self::Spiffe(name) => name,
        }
    }
}

impl fmt::Display for ClientName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl PartialEq<&str> for ClientName {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

/// Checks `id` (which starts with `spiffe://`) against the SPIFFE ID specification: a trust
/// domain of lowercase letters, digits, `.`, `-` and `_`, then a path of one or more non-empty
/// segments of letters, digits, `.`, `-` and `_`, none of them `.` or `..`; no port, user,
/// query or fragment. A workload path is required: the bare trust domain names every workload
/// in it, which is not one client's identity.
fn spiffe_id(id: &str) -> Result<(), String> {
    if id.len() > SPIFFE_MAX_LEN {
        return Err(format!(
            "{id:?} is longer than a SPIFFE ID may be ({SPIFFE_MAX_LEN} bytes)"
        ));
    }
    let rest = id.get(SPIFFE_PREFIX.len()..).unwrap_or_default();
    let (domain, path) = rest.split_once('/').unwrap_or((rest, ""));
    if domain.is_empty()
        || !domain
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b".-_".contains(&b))
    {
        return Err(format!(
            "{id:?}: a SPIFFE trust domain is one or more lowercase letters, digits, `.`, `-` \
             or `_`"
        ));
    }
    if path.is_empty() {
        return Err(format!(
            "{id:?} names a whole trust domain: add the workload's path \
             (spiffe://{domain}/path)"
        ));
    }
    for segment in path.split('/') {
        if segment.is_empty()
            || segment == "."
            || segment == ".."
            || !segment
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b".-_".contains(&b))
        {
            return Err(format!(
                "{id:?}: each path segment of a SPIFFE ID is one or more letters, digits, `.`, \
                 `-` or `_` (not `.` or `..`, no empty segment or trailing `/`)"
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn dns_names_are_kept_in_lowercase() {
        assert_eq!(
            ClientName::parse("Admin.Corp").unwrap(),
            ClientName::Dns("admin.corp".into())
        );
    }

    #[test]
    fn spiffe_ids_are_kept_as_written() {
        assert_eq!(
            ClientName::parse("spiffe://corp/ops/Alice").unwrap(),
            ClientName::Spiffe("spiffe://corp/ops/Alice".into())
        );
    }

    #[test]
    fn wildcards_are_refused() {
        for name in ["*.corp", "*", "a*.corp", "spiffe://corp/ops/*"] {
            let err = ClientName::parse(name).unwrap_err();
            assert!(err.contains("wildcard"), "{name}: {err}");
        }
    }

    #[test]
    fn malformed_names_are_refused() {
        for name in [
            "",
            " ",
            "admin corp",
            "admin.corp.",
            "SPIFFE://corp/ops",
            "spiffe://",
            "spiffe://corp",
            "spiffe://corp/",
            "spiffe://Corp/ops",
            "spiffe://corp:8443/ops",
            "spiffe://user@corp/ops",
            "spiffe://corp/ops//alice",
            "spiffe://corp/ops/../alice",
            "spiffe://corp/ops?x=1",
            "spiffe://corp/ops#x",
            "https://corp/ops",
        ] {
            assert!(ClientName::parse(name).is_err(), "{name:?} was accepted");
        }
    }
}
