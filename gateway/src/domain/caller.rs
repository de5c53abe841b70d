//! Who made a call, as the transport established it.

/// The authenticated caller of a call: the client certificate's identity, or any process on
/// loopback in the plaintext demo. Recorded with every state change it causes; never a
/// credential.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Caller {
    /// A plaintext connection from loopback (the demo).
    Loopback,
    /// The subjectAltName (a DNS name or a SPIFFE ID) the client certificate presented and
    /// was accepted for, as the certificate spells it: never a configured pattern.
    Certificate(String),
}

impl Caller {
    /// The identity as logs and audit records name it.
    pub fn identity(&self) -> &str {
        match self {
            Self::Loopback => "loopback",
            Self::Certificate(name) => name,
        }
    }
}
