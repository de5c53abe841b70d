//! One observed call, as the gateway saw it: who, from where, when, what, on which wallet, and
//! how it ended.
//!
//! Everything is typed so that a rule never parses a string: the source address is reduced to
//! its network prefix here, once, because a /24 (IPv4) or /48 (IPv6) is what stays stable for
//! one person's office or home line while single addresses churn.

use std::{
    fmt,
    net::{IpAddr, Ipv4Addr, Ipv6Addr},
};

use alloy_primitives::{Address, B256, FixedBytes};
use serde::{Deserialize, Serialize};

use crate::{
    operators::{OperatorId, Probation},
    time::Timestamp,
};

/// The SHA-256 fingerprint of a client certificate (DER): the device a call came from, as far
/// as mutual TLS can tell.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct CertFingerprint(pub B256);

impl CertFingerprint {
    /// The fingerprint of a certificate: SHA-256 of its DER encoding.
    pub fn of_der(der: &[u8]) -> Self {
        use sha2::Digest as _;
        Self(B256::from_slice(&sha2::Sha256::digest(der)))
    }
}

impl fmt::Display for CertFingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// An operator's ed25519 approval key, by its public bytes (what the policy enrols).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct KeyId(pub FixedBytes<32>);

impl fmt::Display for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// The network a call came from: the IPv4 /24 or IPv6 /48 around the peer address.
///
/// An IPv4-mapped IPv6 address (`::ffff:a.b.c.d`) counts as the IPv4 address it maps, so a
/// dual-stack listener does not make one office look like two networks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SourceNetwork {
    /// The first three octets of an IPv4 address.
    V4([u8; 3]),
    /// The first three 16-bit groups of an IPv6 address.
    V6([u16; 3]),
}

impl SourceNetwork {
    /// The network prefix around `ip`.
    pub fn of(ip: IpAddr) -> Self {
        match ip.to_canonical() {
            IpAddr::V4(v4) => {
                let [a, b, c, _] = v4.octets();
                Self::V4([a, b, c])
            }
            IpAddr::V6(v6) => {
                let [a, b, c, ..] = v6.segments();
                Self::V6([a, b, c])
            }
        }
    }
}

impl fmt::Display for SourceNetwork {
    /// `203.0.113.0/24` or `2001:db8:7::/48`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Self::V4([a, b, c]) => write!(f, "{}/24", Ipv4Addr::new(a, b, c, 0)),
            Self::V6([a, b, c]) => write!(f, "{}/48", Ipv6Addr::new(a, b, c, 0, 0, 0, 0, 0)),
        }
    }
}

/// A governed wallet as calls name it: the Safe and its chain. Typed by address rather than by
/// the policy's wallet name so that a call on a Safe the policy does not govern (itself worth
/// noticing) still has an identity.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct WalletId {
    /// The EIP-155 chain id.
    pub chain_id: u64,
    /// The Safe's address.
    pub safe: Address,
}

impl fmt::Display for WalletId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Safe {} on chain {}", self.safe, self.chain_id)
    }
}

/// The read calls: how someone maps the system before acting.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReadCall {
    /// `GetProposal`.
    Get,
    /// `ListProposals`.
    List,
    /// `WatchProposal`.
    Watch,
}

/// The administrative calls (the `Admin` service).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AdminCall {
    /// `ReloadSanctionsLists`.
    ReloadSanctionsLists,
    /// `ApplyPolicy`.
    ApplyPolicy,
    /// `ListOperators`.
    ListOperators,
    /// `GetHealthDetails`.
    GetHealthDetails,
    /// `WatchAlerts` (the stream of these alerts).
    WatchAlerts,
}

/// What the call asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CallKind {
    /// `SubmitProposal`.
    Submit,
    /// `Approve`.
    Approve,
    /// `Reject`.
    Reject,
    /// `Cancel`.
    Cancel,
    /// `RequestSignatures`: releasing an approved proposal to the signers.
    Release,
    /// A read.
    Read(ReadCall),
    /// An administrative call.
    Admin(AdminCall),
}

impl CallKind {
    /// Whether the call acts on a proposal (rather than reading or administering): what a
    /// probationary operator on a restricted wallet must not do.
    pub const fn is_action(self) -> bool {
        matches!(
            self,
            Self::Submit | Self::Approve | Self::Reject | Self::Cancel | Self::Release
        )
    }

    /// A verb for alert messages.
    pub const fn verb(self) -> &'static str {
        match self {
            Self::Submit => "submitted a proposal",
            Self::Approve => "approved",
            Self::Reject => "rejected",
            Self::Cancel => "cancelled",
            Self::Release => "released a proposal for signing",
            Self::Read(_) => "read",
            Self::Admin(_) => "made an admin call",
        }
    }
}

/// Which kind of client certificate the call presented; the gateway's authentication layer
/// decides it from the certificate's extended key usage and names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IdentityClass {
    /// A person's client, calling with their own key.
    Operator,
    /// A service calling the gateway API (a wallet backend, a bot).
    GatewayClient,
    /// An administrator's client, for the `Admin` service.
    AdminClient,
}

/// Why the gateway refused a call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RefusalKind {
    /// A signature that does not verify against the key it names.
    ForgedSignature,
    /// A signature that expired or names another proposal state.
    StaleSignature,
    /// A key the policy does not enrol.
    UnknownKey,
    /// An identity without permission for the call.
    PermissionDenied,
    /// An approval over a hash other than the proposal's.
    WrongHashApproval,
    /// A submission denied for touching a sanctioned address.
    DeniedSanctions,
    /// A submission denied for a DELEGATECALL the policy does not allow.
    DeniedDelegatecall,
    /// A WebAuthn assertion whose signature counter is not above the highest its credential
    /// showed before: two copies of one authenticator in use.
    ClonedAuthenticator,
    /// Any other refusal (malformed input, a proposal in the wrong state).
    Other,
}

impl RefusalKind {
    /// Every kind, in declaration order (settings parse their names from this list).
    pub const ALL: [Self; 9] = [
        Self::ForgedSignature,
        Self::StaleSignature,
        Self::UnknownKey,
        Self::PermissionDenied,
        Self::WrongHashApproval,
        Self::DeniedSanctions,
        Self::DeniedDelegatecall,
        Self::ClonedAuthenticator,
        Self::Other,
    ];

    /// The name the policy file uses.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::ForgedSignature => "forged_signature",
            Self::StaleSignature => "stale_signature",
            Self::UnknownKey => "unknown_key",
            Self::PermissionDenied => "permission_denied",
            Self::WrongHashApproval => "wrong_hash_approval",
            Self::DeniedSanctions => "denied_sanctions",
            Self::DeniedDelegatecall => "denied_delegatecall",
            Self::ClonedAuthenticator => "cloned_authenticator",
            Self::Other => "other",
        }
    }

    /// The kind a policy file names.
    pub fn parse(word: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == word)
    }
}

impl fmt::Display for RefusalKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How the call ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// The gateway did what was asked.
    Allowed,
    /// The gateway refused.
    Refused(RefusalKind),
}

/// For an approval: the proposal it approves, as far as the rules need it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApprovalContext {
    /// When the proposal was submitted.
    pub submitted_at: Timestamp,
    /// Whether the caller (the gateway, from the tier that matched) counts it as a large
    /// transfer: only those make a quick approval look like rubber-stamping.
    pub large_transfer: bool,
}

/// Probation facts for this call, computed by the gateway from the compiled policy (see
/// [`super::ProbationFacts::from_policy`]) so that the rules stay a function of the observation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProbationFacts {
    /// Why and until when the operator is probationary.
    pub probation: Probation,
    /// The restricted tag the call's wallet carries (`probation.restricted_wallet_tags`).
    pub restricted_tag: String,
}

/// One observed call.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Observation {
    /// When the gateway received it (the gateway's one clock).
    pub at: Timestamp,
    /// The operator the call was authenticated as, if any (an unknown key or a service has none).
    pub operator: Option<OperatorId>,
    /// The approval key used, if the call carried a signature.
    pub key: Option<KeyId>,
    /// The client certificate's fingerprint, if the connection presented one.
    pub client_cert: Option<CertFingerprint>,
    /// The peer's network (a forwarded address only when the gateway trusts the proxy).
    pub network: Option<SourceNetwork>,
    /// The class of the client identity.
    pub identity: IdentityClass,
    /// What was asked.
    pub call: CallKind,
    /// The wallet the call concerns, if it concerns one.
    pub wallet: Option<WalletId>,
    /// How it ended.
    pub outcome: Outcome,
    /// For approvals: the proposal's submission time and size class.
    pub approval: Option<ApprovalContext>,
    /// Present when the operator is probationary and the wallet carries a restricted tag.
    pub probation: Option<ProbationFacts>,
}

impl Observation {
    /// Whose profile this call belongs to: the operator, else the client certificate (a
    /// service identity or an unknown key still has a device). `None` when neither is known;
    /// such a call can only trip the stateless rules.
    pub fn subject(&self) -> Option<Subject> {
        self.operator
            .clone()
            .map(Subject::Operator)
            .or(self.client_cert.map(Subject::Certificate))
    }

    /// Whether this is an approval the gateway accepted.
    pub fn is_accepted_approval(&self) -> bool {
        self.call == CallKind::Approve && self.outcome == Outcome::Allowed
    }
}

/// Who a profile and an alert are about.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Subject {
    /// An operator of the policy.
    Operator(OperatorId),
    /// A client known only by its certificate.
    Certificate(CertFingerprint),
}

impl fmt::Display for Subject {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Operator(id) => write!(f, "operator `{id}`"),
            Self::Certificate(c) => write!(f, "client certificate {c}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn networks_are_the_24_and_48_around_the_address() {
        let v4 = SourceNetwork::of("203.0.113.77".parse().unwrap());
        assert_eq!(v4, SourceNetwork::of("203.0.113.1".parse().unwrap()));
        assert_ne!(v4, SourceNetwork::of("203.0.114.77".parse().unwrap()));
        assert_eq!(v4.to_string(), "203.0.113.0/24");
        let mapped = SourceNetwork::of("::ffff:203.0.113.9".parse().unwrap());
        assert_eq!(mapped, v4);
        let v6 = SourceNetwork::of("2001:db8:7:1::5".parse().unwrap());
        assert_eq!(v6, SourceNetwork::of("2001:db8:7:ffff::1".parse().unwrap()));
        assert_ne!(v6, SourceNetwork::of("2001:db8:8::1".parse().unwrap()));
        assert_eq!(v6.to_string(), "2001:db8:7::/48");
    }

    #[test]
    fn refusal_kinds_round_trip_their_names() {
        for k in RefusalKind::ALL {
            assert_eq!(RefusalKind::parse(k.as_str()), Some(k));
        }
        assert_eq!(RefusalKind::parse("forged"), None);
    }
}
