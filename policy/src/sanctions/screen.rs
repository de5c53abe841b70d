//! Screening a transaction's addresses against a snapshot.
//!
//! The input is every address the decoded action tree involves (targets, recipients, spenders,
//! operators, new owners, modules, guards, handlers, delegatecall targets, refund receiver, gas
//! token) and, when a simulation ran, every address it touched. Each address is looked up by its
//! 20 bytes on every loaded list; each hit keeps the place it was found so that a reason can say
//! `multiSend[2] → transfer.recipient` or `simulation: Transfer log topic 2`.
//!
//! Freshness is checked first, against the `now` the caller passes in: with any list stale,
//! unavailable or missing the answer is [`ScreeningOutcome::CannotScreen`] — never a pass. Hits
//! found on the lists that were usable are still returned with it, for the reason text.

use std::{fmt, time::SystemTime};

use alloy_primitives::Address;
use serde::Serialize;
use signgate_simulator::{
    decode::{ActionPath, AddressRole, Involvement},
    report::{Location, SimulationReport, TouchedAddress},
};

use super::{ListAction, SanctionsMatch, SanctionsSnapshot, ScreeningProblem, Sha256Digest};

/// Where an address was found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "source", rename_all = "snake_case")]
pub enum SubjectLocation {
    /// In the decoded calldata: the batch path, the function and the role.
    Calldata {
        /// The call's path in the action tree: empty for the top-level call, else batch indices.
        path: ActionPath,
        /// The decoded function the address is an argument of (`transfer`).
        function: &'static str,
        /// The address's role in that function (recipient, spender, new owner …).
        role: AddressRole,
    },
    /// In the simulation (call target, value recipient, log topic), as the report describes it.
    Simulation {
        /// The report's description of where it was touched.
        description: Description,
    },
    /// Anywhere else the caller found an address (an EIP-712 message field, a request field).
    Other {
        /// Where, in the caller's words.
        description: String,
    },
}

impl fmt::Display for SubjectLocation {
    /// `multiSend[2] → transfer.recipient`, `simulation: Transfer log topic 2`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Calldata {
                path,
                function,
                role,
            } => write!(f, "{path} → {function}.{}", role.as_str()),
            // The report's words already say where ("simulation: Transfer log 0 topic 2").
            Self::Simulation {
                description: Description::Touched(location),
            } => location.fmt(f),
            Self::Simulation {
                description: Description::Text(text),
            } => write!(f, "simulation: {text}"),
            Self::Other { description } => f.write_str(description),
        }
    }
}

/// Where in a simulation an address was touched, in the report's words. A touched place is
/// kept as the report's [`Location`] and put into words only when shown or recorded: a
/// submission's simulation touches dozens of places, and only a listed address is ever shown.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Description {
    /// A place in the report.
    Touched(Location),
    /// Words given by the caller.
    Text(String),
}

impl fmt::Display for Description {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Touched(location) => location.fmt(f),
            Self::Text(text) => f.write_str(text),
        }
    }
}

/// Written as its words, whichever form it is kept in.
impl Serialize for Description {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// One address to screen and where it came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ScreeningSubject {
    /// The address to look up.
    pub address: Address,
    /// Where it was found, carried into any hit.
    pub location: SubjectLocation,
}

impl ScreeningSubject {
    /// An address the simulation touched, described as the report describes it.
    pub fn simulation(address: Address, description: impl Into<String>) -> Self {
        Self {
            address,
            location: SubjectLocation::Simulation {
                description: Description::Text(description.into()),
            },
        }
    }
}

impl From<&Involvement> for ScreeningSubject {
    fn from(involvement: &Involvement) -> Self {
        Self {
            address: involvement.address,
            location: SubjectLocation::Calldata {
                path: involvement.path.clone(),
                function: involvement.function,
                role: involvement.role,
            },
        }
    }
}

impl From<&TouchedAddress> for ScreeningSubject {
    fn from(touched: &TouchedAddress) -> Self {
        Self {
            address: touched.address,
            location: SubjectLocation::Simulation {
                description: Description::Touched(touched.location.clone()),
            },
        }
    }
}

/// Every address a simulation touched, as screening subjects.
pub fn simulation_subjects(report: &SimulationReport) -> Vec<ScreeningSubject> {
    report
        .touched_addresses()
        .iter()
        .map(ScreeningSubject::from)
        .collect()
}

/// An address found on at least one list, where it was found, and every listing it matched.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SanctionsHit {
    /// The listed address.
    pub address: Address,
    /// Where in the transaction it was found.
    pub location: SubjectLocation,
    /// Never empty.
    pub matches: Vec<SanctionsMatch>,
}

impl SanctionsHit {
    /// The most severe action of the matched lists.
    pub fn action(&self) -> ListAction {
        self.matches
            .iter()
            .map(|m| m.action)
            .max()
            .unwrap_or(ListAction::Deny)
    }
}

impl fmt::Display for SanctionsHit {
    /// `multiSend[1] → transfer.recipient 0x098b…2f96 is on ofac-sdn (UID 27307 Lazarus Group,
    /// Digital Currency Address - ETH, list sha256 36c517bd…)`
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {} is on ", self.location, self.address)?;
        for (n, m) in self.matches.iter().enumerate() {
            if n > 0 {
                f.write_str("; ")?;
            }
            write!(f, "{} (", m.list)?;
            if let Some(uid) = &m.uid {
                write!(f, "UID {uid} ")?;
            }
            f.write_str(m.name.as_deref().unwrap_or("unnamed entry"))?;
            if let Some(label) = &m.label {
                write!(f, ", {label}")?;
            }
            let digest = m.list_sha256.to_string();
            write!(f, ", list sha256 {})", digest.get(..16).unwrap_or(&digest))?;
        }
        Ok(())
    }
}

/// The answer of screening.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum ScreeningOutcome {
    /// Every list was fresh; `hits` may be empty (clear) or not.
    Screened {
        /// Identity of the snapshot screened against.
        snapshot_id: Sha256Digest,
        /// How many subjects (address occurrences, not distinct addresses) were screened.
        subjects: usize,
        /// Listed addresses found; empty means clear.
        hits: Vec<SanctionsHit>,
    },
    /// At least one list could not be used; policy denies. Hits on the usable lists are kept.
    CannotScreen {
        /// Identity of the snapshot screened against.
        snapshot_id: Sha256Digest,
        /// Every list that could not be used, and why; never empty.
        problems: Vec<ScreeningProblem>,
        /// Hits on the lists that were usable, for the reason text.
        hits: Vec<SanctionsHit>,
    },
}

impl ScreeningOutcome {
    /// Every hit, whatever the outcome.
    pub fn hits(&self) -> &[SanctionsHit] {
        match self {
            Self::Screened { hits, .. } | Self::CannotScreen { hits, .. } => hits,
        }
    }

    /// True only when every list was usable and nothing matched.
    pub fn is_clear(&self) -> bool {
        matches!(self, Self::Screened { hits, .. } if hits.is_empty())
    }
}

/// Screens the decoded transaction's involvements and, if given, the simulation's touched
/// addresses.
pub fn screen(
    snapshot: &SanctionsSnapshot,
    involvements: &[Involvement],
    simulation: &[ScreeningSubject],
    now: SystemTime,
) -> ScreeningOutcome {
    let subjects: Vec<ScreeningSubject> = involvements
        .iter()
        .map(ScreeningSubject::from)
        .chain(simulation.iter().cloned())
        .collect();
    screen_subjects(snapshot, &subjects, now)
}

/// Screens arbitrary subjects.
pub fn screen_subjects(
    snapshot: &SanctionsSnapshot,
    subjects: &[ScreeningSubject],
    now: SystemTime,
) -> ScreeningOutcome {
    let hits: Vec<SanctionsHit> = subjects
        .iter()
        .filter(|s| snapshot.is_listed(&s.address))
        .map(|s| SanctionsHit {
            address: s.address,
            location: s.location.clone(),
            matches: snapshot.lookup(&s.address),
        })
        .collect();
    let problems = snapshot.problems(now);
    if problems.is_empty() {
        ScreeningOutcome::Screened {
            snapshot_id: snapshot.id(),
            subjects: subjects.len(),
            hits,
        }
    } else {
        ScreeningOutcome::CannotScreen {
            snapshot_id: snapshot.id(),
            problems,
            hits,
        }
    }
}

#[cfg(test)]
mod tests {
    use alloy_primitives::Address;
    use signgate_simulator::report::{Location, TouchedAddress};

    use super::*;

    #[test]
    fn a_touched_place_reads_as_the_report_words_it_once() {
        let touched = TouchedAddress {
            address: Address::repeat_byte(0x11),
            location: Location::LogTopic {
                log_index: 0,
                event: "Transfer".to_owned(),
                topic: 2,
            },
        };
        let subject = ScreeningSubject::from(&touched);
        assert_eq!(
            subject.location.to_string(),
            "simulation: Transfer log 0 topic 2"
        );
        // Recorded as the same words.
        assert_eq!(
            serde_json::to_value(&subject.location).unwrap(),
            serde_json::json!({
                "source": "simulation",
                "description": "simulation: Transfer log 0 topic 2",
            })
        );
        assert_eq!(
            ScreeningSubject::simulation(touched.address, "call target")
                .location
                .to_string(),
            "simulation: call target"
        );
    }
}
