//! The tonic services: `Gateway` and `Admin`, their authorisation and the layer that observes
//! every call. How they are assembled and served (transport, TLS, health, reflection, shutdown)
//! is [`crate::serve`].
//!
//! - [`auth`]: client certificate identity → permission, as an interceptor per service;
//! - [`gateway`], [`admin`]: the service implementations (parse with [`crate::api`], act
//!   through the [`DecisionPipeline`](crate::pipeline::DecisionPipeline), render with [`crate::api::view`]);
//! - [`alerts`]: the `Admin.WatchAlerts` stream of anomaly alerts;
//! - [`observe`]: the layer that runs every Gateway and Admin call in its span and times it;
//! - [`lifecycle`]: the server's own start and stop records in the audit log.

pub mod admin;
pub mod alerts;
pub mod auth;

pub mod gateway;
pub mod lifecycle;
pub mod observe;

pub use admin::AdminService;
pub use auth::{Authorizer, Caller, Permission};
pub use gateway::GatewayService;
