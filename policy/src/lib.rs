//! signgate's decision logic: pure, synchronous, no I/O and no clock (`now` is an input).
//!
//! - [`raw`] / [`compile`]: the TOML policy file and its one-time compilation into [`Policy`];
//! - [`governance`]: admin signatures over a policy's content hash before it takes effect;
//! - [`operators`], [`wallets`], [`tiers`]: the typed parts of a policy;
//! - [`evidence`]: what a decision is made from; [`adapters`]: simulator types into evidence;
//! - [`admission`]: whether a key's holder may submit, approve or reject at all, before any
//!   work;
//! - [`approvals`]: the signed approval message and validity checks;
//! - [`movements`]: what the whole proposal moves, per asset and destination, refund included;
//! - [`facets`]: a proposal cut into separately governed facets;
//! - [`rules`]: the deny rules no quorum overrides; [`quorum`]: segregation of duties,
//!   probation and role counting;
//! - [`reasons`], [`decision`]: typed reasons with stable codes and the decision;
//! - [`evaluate`](mod@evaluate): the pure function tying it together;
//! - [`cases`]: the case-file format shared by the test corpus and `signgate policy test`;
//! - [`amount`], [`time`]: checked decimal amounts and UTC instants;
//! - [`sanctions`]: sanctions list parsers, immutable snapshots and address screening;
//! - [`anomaly`]: operator behaviour profiles and the pure anomaly rules over one observed
//!   call (`[anomaly]`), with what their alerts do to a decision.

#![warn(missing_docs)]
#![warn(unreachable_pub)]

pub mod adapters;
pub mod admission;
pub mod amount;
pub mod anomaly;
pub mod approvals;
pub mod cases;
pub mod compile;
pub mod decision;
pub mod evaluate;
pub mod evidence;
pub mod facets;
pub mod governance;
pub mod movements;
pub mod operators;
pub mod quorum;
pub mod raw;
pub mod reasons;
pub mod rules;
pub mod sanctions;
pub mod tiers;
pub mod time;
pub mod wallets;

pub use compile::{CompileError, Policy, PolicyHash};
pub use decision::{Decision, DenyReasons, Evaluation};
pub use evaluate::{assess, evaluate, evaluate_with};
pub use evidence::Evidence;
pub use reasons::{MissingApprovals, Reason};
