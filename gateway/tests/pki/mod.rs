//! A throwaway PKI for mutual TLS tests: a CA and leaf certificates for DNS names and SPIFFE
//! IDs, as PEM.
//!
//! Shared by the `it` binary (in-process server) and `client_cli` (the real `signgate` binary).

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    SanType,
};

pub struct Pki {
    pub ca_pem: String,
    issuer: Issuer<'static, KeyPair>,
}

impl Pki {
    pub fn new(name: &str) -> Self {
        let key = KeyPair::generate().unwrap();
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.distinguished_name.push(DnType::CommonName, name);
        let cert = params.self_signed(&key).unwrap();
        Self {
            ca_pem: cert.pem(),
            issuer: Issuer::new(params, key),
        }
    }

    /// A leaf certificate for `dns_name` without extended key usage (a server certificate
    /// here): (cert PEM, key PEM).
    pub fn leaf(&self, dns_name: &str) -> (String, String) {
        self.issue(&[dns_name], &[])
    }

    /// A client certificate for `name` (a DNS name, or a SPIFFE ID if it starts with
    /// `spiffe:`), with the clientAuth extended key usage the gateway requires.
    pub fn client(&self, name: &str) -> (String, String) {
        self.issue(&[name], &[ExtendedKeyUsagePurpose::ClientAuth])
    }

    /// A client certificate as [`Pki::client`] makes it, with its DER encoding (what the
    /// gateway fingerprints).
    #[allow(
        dead_code,
        reason = "the e2e crate uses it; gateway's own test binaries do not"
    )]
    pub fn client_with_der(&self, name: &str) -> (String, String, Vec<u8>) {
        let key = KeyPair::generate().unwrap();
        let mut params = CertificateParams::new(vec![name.to_owned()]).unwrap();
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        let cert = params.signed_by(&key, &self.issuer).unwrap();
        (cert.pem(), key.serialize_pem(), cert.der().to_vec())
    }

    /// A leaf with these subjectAltNames (`spiffe:`… as URIs, the rest as DNS names) and
    /// extended key usages (none: no extension).
    pub fn issue(&self, sans: &[&str], usages: &[ExtendedKeyUsagePurpose]) -> (String, String) {
        let key = KeyPair::generate().unwrap();
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.subject_alt_names = sans
            .iter()
            .map(|san| {
                let text = (*san).try_into().unwrap();
                if san.starts_with("spiffe:") {
                    SanType::URI(text)
                } else {
                    SanType::DnsName(text)
                }
            })
            .collect();
        params.extended_key_usages = usages.to_vec();
        let cert = params.signed_by(&key, &self.issuer).unwrap();
        (cert.pem(), key.serialize_pem())
    }
}
