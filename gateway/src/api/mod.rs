//! The edge between the wire and the domain: `signgate.v1` messages in, domain requests out,
//! domain results rendered back — and the one mapping of errors to gRPC statuses.
//!
//! - [`requests`]: signed submissions and statements, verified (envelope signature, shape,
//!   freshness) and parsed into [`domain`](crate::domain) requests;
//! - [`alert`]: anomaly alerts rendered for `Admin.WatchAlerts`;
//! - [`convert`]: values both ways (transactions, states, listing entries);
//! - [`fields`]: the ten SafeTx fields in an approver's words, for the CLI and the console;
//! - [`view`]: stored proposals and decisions rendered as API messages;
//! - [`status`]: [`GatewayError`](crate::error::GatewayError) → `tonic::Status`.
//!
//! The tonic services in [`server`](crate::server) call only this module and the pipeline; the
//! pipeline never calls this module.

pub mod alert;
pub mod convert;
pub mod fields;
pub mod requests;
pub mod status;
pub mod view;
