//! Throwaway certificates for test servers on loopback: a CA of its own and a server
//! certificate it issues for `localhost` and 127.0.0.1.

use rcgen::{
    BasicConstraints, Certificate, CertificateParams, DnType, IsCa, Issuer, KeyPair, SanType,
};

/// A server certificate for `localhost` and 127.0.0.1, its key, and the CA that issued it.
#[derive(Debug)]
pub struct LocalhostCertificate {
    /// The CA certificate clients trust.
    pub ca: Certificate,
    /// The server's certificate.
    pub cert: Certificate,
    /// The server's private key.
    pub key: KeyPair,
}

/// Issues a [`LocalhostCertificate`] from a new CA named `ca_name`.
///
/// # Panics
/// When rcgen fails (it does not for these parameters).
pub fn localhost_certificate(ca_name: &str) -> LocalhostCertificate {
    let ca_key = KeyPair::generate().unwrap();
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(DnType::CommonName, ca_name);
    let ca = ca_params.self_signed(&ca_key).unwrap();
    let issuer = Issuer::new(ca_params, ca_key);
    let key = KeyPair::generate().unwrap();
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params.subject_alt_names = vec![
        SanType::DnsName("localhost".try_into().unwrap()),
        SanType::IpAddress(std::net::IpAddr::from([127, 0, 0, 1])),
    ];
    let cert = params.signed_by(&key, &issuer).unwrap();
    LocalhostCertificate { ca, cert, key }
}
