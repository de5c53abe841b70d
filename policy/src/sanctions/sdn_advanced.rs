//! Streaming parser for OFAC's `SDN_ADVANCED.XML`.
//!
//! The file is 121 MB; we never hold it. One pass over quick-xml events keeps a stack of the
//! element names that matter and collects:
//! - `DateOfIssue/{Year,Month,Day}` (required);
//! - the `FeatureTypeValues` dictionary, keeping every type whose text starts with
//!   `Digital Currency Address - ` (IDs are read, never hard-coded: new tickers appear);
//! - the `SanctionsTypeValues` entry named `Program`, whose `SanctionsMeasure/Comment` carries
//!   program codes;
//! - per `DistinctParty`: UID (`FixedRef`), the primary name (name parts of the first
//!   documented name of the primary alias of the primary identity, joined by spaces) and every
//!   digital currency `Feature/FeatureVersion/VersionDetail`;
//! - per `SanctionsEntry`: the programs of parties that carry addresses.
//!
//! Element names are matched by local name, so both the old UN namespace and the SLS namespace
//! parse. A file without `DateOfIssue`, without digital currency feature types, without any
//! address, or cut before its root closes is an error, never an empty list.

use std::{
    collections::{HashMap, HashSet},
    io::Read,
};

use quick_xml::{Reader, escape::resolve_predefined_entity, events::BytesStart, events::Event};

use super::{
    IssueDate, ListFormat, ListParseError, ParseLimits, ParsedList, Party,
    address::{is_malformed_hex_address, parse_evm_address},
    input::Input,
    model::{Catalog, EvmRecord, OtherRecord, ParseFinding},
};

const DCA_PREFIX: &str = "Digital Currency Address - ";

/// The element names the parser reacts to; everything else is `Other`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Tag {
    Sanctions,
    DateOfIssue,
    Year,
    Month,
    Day,
    ReferenceValueSets,
    FeatureTypeValues,
    FeatureType,
    SanctionsTypeValues,
    SanctionsType,
    DistinctParties,
    DistinctParty,
    Profile,
    Identity,
    Alias,
    DocumentedName,
    DocumentedNamePart,
    NamePartValue,
    Feature,
    FeatureVersion,
    VersionDetail,
    SanctionsEntries,
    SanctionsEntry,
    SanctionsMeasure,
    Comment,
    Other,
}

impl Tag {
    fn from_local(name: &str) -> Self {
        match name {
            "Sanctions" => Self::Sanctions,
            "DateOfIssue" => Self::DateOfIssue,
            "Year" => Self::Year,
            "Month" => Self::Month,
            "Day" => Self::Day,
            "ReferenceValueSets" => Self::ReferenceValueSets,
            "FeatureTypeValues" => Self::FeatureTypeValues,
            "FeatureType" => Self::FeatureType,
            "SanctionsTypeValues" => Self::SanctionsTypeValues,
            "SanctionsType" => Self::SanctionsType,
            "DistinctParties" => Self::DistinctParties,
            "DistinctParty" => Self::DistinctParty,
            "Profile" => Self::Profile,
            "Identity" => Self::Identity,
            "Alias" => Self::Alias,
            "DocumentedName" => Self::DocumentedName,
            "DocumentedNamePart" => Self::DocumentedNamePart,
            "NamePartValue" => Self::NamePartValue,
            "Feature" => Self::Feature,
            "FeatureVersion" => Self::FeatureVersion,
            "VersionDetail" => Self::VersionDetail,
            "SanctionsEntries" => Self::SanctionsEntries,
            "SanctionsEntry" => Self::SanctionsEntry,
            "SanctionsMeasure" => Self::SanctionsMeasure,
            "Comment" => Self::Comment,
            _ => Self::Other,
        }
    }
}

/// Which text node is being collected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Capture {
    Year,
    Month,
    Day,
    FeatureType,
    SanctionsType,
    NamePart,
    Address,
    Program,
}

/// The party being read.
#[derive(Debug, Default)]
struct PartyState {
    uid: Option<String>,
    name: Option<String>,
    name_parts: Vec<String>,
    in_primary_identity: bool,
    in_primary_alias: bool,
    collecting_name: bool,
    /// Label of the digital currency feature being read, if the current feature is one.
    feature_label: Option<u16>,
    /// (label, value) pairs in file order.
    values: Vec<(u16, String)>,
}

#[derive(Debug, Default)]
struct Parser {
    stack: Vec<Tag>,
    capture: Option<Capture>,
    text: String,
    /// Attribute value remembered for the capture (`ID` of a dictionary entry).
    capture_id: Option<String>,
    date: [Option<String>; 3],
    saw_date: bool,
    saw_feature_types: bool,
    saw_parties: bool,
    /// Feature type ID → interned label index.
    dca_types: HashMap<String, u16>,
    program_types: HashSet<String>,
    party: PartyState,
    /// UID → party index, for parties with addresses.
    party_index: HashMap<String, u32>,
    /// Party index of the sanctions entry being read, if it has addresses.
    entry_party: Option<u32>,
    measure_is_program: bool,
    catalog: Catalog,
    evm: Vec<EvmRecord>,
    other: Vec<OtherRecord>,
    findings: Vec<ParseFinding>,
    records: usize,
    root_closed: bool,
}

/// Parses an `SDN_ADVANCED.XML` document from `reader` within `limits`.
pub fn parse_sdn_advanced<R: Read>(
    reader: R,
    limits: &ParseLimits,
) -> Result<ParsedList, ListParseError> {
    let input = Input::new(reader, limits);
    let mut xml = Reader::from_reader(input);
    let mut parser = Parser::default();
    let mut buf = Vec::with_capacity(4096);
    loop {
        buf.clear();
        let event = match xml.read_event_into(&mut buf) {
            Ok(event) => event,
            Err(error) => return Err(xml_error(xml.get_ref(), error)),
        };
        let offset = xml.get_ref().position();
        match event {
            Event::Start(start) => parser.start(&start, false, limits, offset)?,
            Event::Empty(start) => parser.start(&start, true, limits, offset)?,
            Event::End(_) => parser.end(limits)?,
            Event::Text(text) => parser.push_text(&text.xml10_content(), limits, offset)?,
            Event::CData(data) => {
                parser.push_text(&data.into_inner(), limits, offset)?;
            }
            Event::GeneralRef(reference) => {
                let resolved = match reference.resolve_char_ref() {
                    Ok(Some(ch)) => ch.to_string(),
                    Ok(None) => match resolve_predefined_entity(&reference) {
                        Some(text) => text.to_owned(),
                        None => {
                            return Err(ListParseError::Xml {
                                offset,
                                message: format!("unknown entity &{};", &*reference),
                            });
                        }
                    },
                    Err(error) => {
                        return Err(ListParseError::Xml {
                            offset,
                            message: error.to_string(),
                        });
                    }
                };
                parser.push_text(&resolved, limits, offset)?;
            }
            Event::Eof => break,
            Event::Comment(_) | Event::Decl(_) | Event::PI(_) | Event::DocType(_) => {}
        }
        // quick-xml grows `buf` to hold one whole event; bound it.
        if buf.len() > limits.max_record_bytes {
            return Err(ListParseError::RecordTooLarge {
                limit: limits.max_record_bytes,
                offset,
            });
        }
    }
    if !parser.stack.is_empty() || !parser.root_closed {
        return Err(ListParseError::Truncated {
            open_elements: parser.stack.len().max(1),
        });
    }
    let sha256 = xml.into_inner().finish()?;
    parser.finish(sha256)
}

fn xml_error<R: Read>(input: &Input<R>, error: quick_xml::Error) -> ListParseError {
    match error {
        quick_xml::Error::Io(io) => match std::sync::Arc::try_unwrap(io) {
            Ok(io) => input.map_error(io),
            Err(shared) => input.map_error(std::io::Error::new(shared.kind(), shared.to_string())),
        },
        other => {
            // quick-xml reports an unclosed tag at end of input as a syntax error; that is a cut file.
            let message = other.to_string();
            ListParseError::Xml {
                offset: input.position(),
                message,
            }
        }
    }
}

fn attribute(start: &BytesStart<'_>, name: &str) -> Option<String> {
    start
        .attributes()
        .flatten()
        .find(|a| a.key.local_name().as_ref() == name)
        .map(|a| a.value.into_owned())
}

impl Parser {
    fn parent(&self) -> Option<Tag> {
        self.stack.last().copied()
    }

    fn path_is(&self, tail: &[Tag]) -> bool {
        self.stack.ends_with(tail)
    }

    fn start(
        &mut self,
        start: &BytesStart<'_>,
        empty: bool,
        limits: &ParseLimits,
        offset: u64,
    ) -> Result<(), ListParseError> {
        let local = start.local_name();
        let tag = Tag::from_local(local.as_ref());
        if self.stack.is_empty() && (tag != Tag::Sanctions || self.root_closed) {
            let root = local.as_ref().to_owned();
            return Err(ListParseError::NotSdnAdvanced { root });
        }
        if self.stack.len() >= limits.max_depth {
            return Err(ListParseError::TooDeep {
                limit: limits.max_depth,
                offset,
            });
        }
        self.on_open(tag, start)?;
        if empty {
            // `<X/>` opens and closes at once; run the close logic with an empty text.
            self.stack.push(tag);
            self.end(limits)?;
        } else {
            self.stack.push(tag);
        }
        Ok(())
    }

    fn begin_capture(&mut self, capture: Capture, id: Option<String>) {
        self.capture = Some(capture);
        self.capture_id = id;
        self.text.clear();
    }

    fn on_open(&mut self, tag: Tag, start: &BytesStart<'_>) -> Result<(), ListParseError> {
        use Tag as T;
        match (self.parent(), tag) {
            (Some(T::Sanctions), T::DateOfIssue) => self.saw_date = true,
            (Some(T::DateOfIssue), T::Year) if self.stack.len() == 2 => {
                self.begin_capture(Capture::Year, None)
            }
            (Some(T::DateOfIssue), T::Month) if self.stack.len() == 2 => {
                self.begin_capture(Capture::Month, None)
            }
            (Some(T::DateOfIssue), T::Day) if self.stack.len() == 2 => {
                self.begin_capture(Capture::Day, None)
            }
            (Some(T::ReferenceValueSets), T::FeatureTypeValues) => self.saw_feature_types = true,
            (Some(T::FeatureTypeValues), T::FeatureType) => {
                self.begin_capture(Capture::FeatureType, attribute(start, "ID"));
            }
            (Some(T::SanctionsTypeValues), T::SanctionsType) => {
                self.begin_capture(Capture::SanctionsType, attribute(start, "ID"));
            }
            (Some(T::Sanctions), T::DistinctParties) => {
                if !self.saw_feature_types {
                    return Err(ListParseError::UnexpectedOrder {
                        found: "DistinctParties",
                        required: "FeatureTypeValues",
                    });
                }
                self.saw_parties = true;
            }
            (Some(T::DistinctParties), T::DistinctParty) => {
                self.party = PartyState {
                    uid: attribute(start, "FixedRef"),
                    ..PartyState::default()
                };
            }
            (Some(T::DistinctParty), T::Profile) if self.party.uid.is_none() => {
                self.party.uid = attribute(start, "ID");
            }
            (Some(T::Profile), T::Identity) => {
                self.party.in_primary_identity =
                    attribute(start, "Primary").as_deref() == Some("true");
            }
            (Some(T::Identity), T::Alias) => {
                self.party.in_primary_alias =
                    attribute(start, "Primary").as_deref() == Some("true");
            }
            (Some(T::Alias), T::DocumentedName) => {
                let p = &mut self.party;
                if p.in_primary_identity && p.in_primary_alias && p.name.is_none() {
                    p.collecting_name = true;
                    p.name_parts.clear();
                }
            }
            (Some(T::DocumentedNamePart), T::NamePartValue) if self.party.collecting_name => {
                self.begin_capture(Capture::NamePart, None);
            }
            (Some(T::Profile), T::Feature) => {
                let id = attribute(start, "FeatureTypeID");
                self.party.feature_label = id.and_then(|id| self.dca_types.get(&id).copied());
            }
            (Some(T::FeatureVersion), T::VersionDetail) if self.party.feature_label.is_some() => {
                self.begin_capture(Capture::Address, None);
            }
            (Some(T::Sanctions), T::SanctionsEntries) if !self.saw_parties => {
                return Err(ListParseError::UnexpectedOrder {
                    found: "SanctionsEntries",
                    required: "DistinctParties",
                });
            }
            (Some(T::SanctionsEntries), T::SanctionsEntry) => {
                self.entry_party =
                    attribute(start, "ProfileID").and_then(|id| self.party_index.get(&id).copied());
            }
            (Some(T::SanctionsEntry), T::SanctionsMeasure) => {
                self.measure_is_program = attribute(start, "SanctionsTypeID")
                    .is_some_and(|id| self.program_types.contains(&id));
            }
            (Some(T::SanctionsMeasure), T::Comment)
                if self.measure_is_program && self.entry_party.is_some() =>
            {
                self.begin_capture(Capture::Program, None);
            }
            _ => {}
        }
        Ok(())
    }

    fn push_text(
        &mut self,
        text: &str,
        limits: &ParseLimits,
        offset: u64,
    ) -> Result<(), ListParseError> {
        if self.capture.is_none() {
            return Ok(());
        }
        if self.text.len().saturating_add(text.len()) > limits.max_record_bytes {
            return Err(ListParseError::RecordTooLarge {
                limit: limits.max_record_bytes,
                offset,
            });
        }
        self.text.push_str(text);
        Ok(())
    }

    fn end(&mut self, limits: &ParseLimits) -> Result<(), ListParseError> {
        let Some(tag) = self.stack.pop() else {
            return Ok(());
        };
        if let Some(capture) = self.capture
            && self.capture_closes(capture, tag)
        {
            self.capture = None;
            let text = std::mem::take(&mut self.text);
            self.on_captured(capture, text.trim(), limits)?;
        }
        match tag {
            Tag::Sanctions if self.stack.is_empty() => self.root_closed = true,
            Tag::DocumentedName if self.party.collecting_name => {
                self.party.collecting_name = false;
                self.party.name = Some(self.party.name_parts.join(" "));
            }
            Tag::Identity => self.party.in_primary_identity = false,
            Tag::Alias => self.party.in_primary_alias = false,
            Tag::Feature => self.party.feature_label = None,
            Tag::DistinctParty if self.path_is(&[Tag::DistinctParties]) => self.close_party(),
            Tag::SanctionsEntry => self.entry_party = None,
            Tag::SanctionsMeasure => self.measure_is_program = false,
            _ => {}
        }
        Ok(())
    }

    fn capture_closes(&self, capture: Capture, tag: Tag) -> bool {
        matches!(
            (capture, tag),
            (Capture::Year, Tag::Year)
                | (Capture::Month, Tag::Month)
                | (Capture::Day, Tag::Day)
                | (Capture::FeatureType, Tag::FeatureType)
                | (Capture::SanctionsType, Tag::SanctionsType)
                | (Capture::NamePart, Tag::NamePartValue)
                | (Capture::Address, Tag::VersionDetail)
                | (Capture::Program, Tag::Comment)
        )
    }

    fn on_captured(
        &mut self,
        capture: Capture,
        text: &str,
        limits: &ParseLimits,
    ) -> Result<(), ListParseError> {
        match capture {
            Capture::Year => self.date[0] = Some(text.to_owned()),
            Capture::Month => self.date[1] = Some(text.to_owned()),
            Capture::Day => self.date[2] = Some(text.to_owned()),
            Capture::FeatureType => {
                if let (Some(_), Some(id)) = (text.strip_prefix(DCA_PREFIX), self.capture_id.take())
                {
                    let label = self.catalog.intern_label(text);
                    self.dca_types.insert(id, label);
                }
            }
            Capture::SanctionsType => {
                if let (true, Some(id)) = (text == "Program", self.capture_id.take()) {
                    self.program_types.insert(id);
                }
            }
            Capture::NamePart => {
                if !text.is_empty() {
                    self.party.name_parts.push(text.to_owned());
                }
            }
            Capture::Address => {
                if let Some(label) = self.party.feature_label {
                    self.records += 1;
                    if self.records > limits.max_addresses {
                        return Err(ListParseError::TooManyRecords {
                            limit: limits.max_addresses,
                        });
                    }
                    self.party.values.push((label, text.to_owned()));
                }
            }
            Capture::Program => {
                if let Some(party) = self
                    .entry_party
                    .and_then(|i| self.catalog.parties.get_mut(i as usize))
                    && !text.is_empty()
                    && !party.programs.iter().any(|p| p == text)
                {
                    party.programs.push(text.to_owned());
                }
            }
        }
        Ok(())
    }

    fn close_party(&mut self) {
        let state = std::mem::take(&mut self.party);
        if state.values.is_empty() {
            return;
        }
        let uid = state.uid.clone();
        let index = self.catalog.push_party(Party {
            uid: state.uid,
            name: state.name,
            programs: Vec::new(),
        });
        if let Some(uid) = &uid {
            self.party_index.insert(uid.clone(), index);
        }
        for (label, value) in state.values {
            let label_text = self.catalog.label(label).unwrap_or_default().to_owned();
            if value.is_empty() {
                self.findings.push(ParseFinding::EmptyValue {
                    label: label_text,
                    uid: uid.clone(),
                });
            } else if let Some((address, checksum)) = parse_evm_address(&value) {
                if checksum.is_invalid() {
                    self.findings.push(ParseFinding::InvalidChecksum {
                        published: value,
                        label: Some(label_text),
                        uid: uid.clone(),
                    });
                }
                self.evm.push(EvmRecord {
                    address,
                    checksum,
                    label,
                    party: index,
                });
            } else if is_malformed_hex_address(&value) {
                self.findings.push(ParseFinding::MalformedHexAddress {
                    published: value,
                    label: label_text,
                    uid: uid.clone(),
                });
            } else {
                self.other.push(OtherRecord {
                    label: label_text,
                    value,
                    uid: uid.clone(),
                });
            }
        }
    }

    fn finish(self, sha256: super::Sha256Digest) -> Result<ParsedList, ListParseError> {
        if !self.saw_date {
            return Err(ListParseError::MissingDateOfIssue);
        }
        let [year, month, day] = self.date;
        let (Some(year), Some(month), Some(day)) = (year, month, day) else {
            return Err(ListParseError::MissingDateOfIssue);
        };
        let date = match (year.parse::<u16>(), month.parse::<u8>(), day.parse::<u8>()) {
            (Ok(y), Ok(m), Ok(d)) => IssueDate::new(y, m, d),
            _ => None,
        };
        let Some(issue_date) = date else {
            return Err(ListParseError::InvalidDateOfIssue { year, month, day });
        };
        if self.dca_types.is_empty() {
            return Err(ListParseError::NoDigitalCurrencyFeatureTypes);
        }
        if self.evm.is_empty() && self.other.is_empty() {
            return Err(ListParseError::NoDigitalCurrencyAddresses);
        }
        Ok(ParsedList {
            format: ListFormat::SdnAdvancedXml,
            sha256,
            issue_date: Some(issue_date),
            catalog: self.catalog,
            evm: self.evm,
            other: self.other,
            findings: self.findings,
        })
    }
}
