//! `[https] mtls`: the CA bundle the load balancer verifies client certificates against
//! (docs/mtls.md). Checked here, pure, before any AWS call: PEM with at least one
//! `CERTIFICATE` block, each an X.509 certificate of a certificate authority
//! (basicConstraints `CA:TRUE`), the whole under AWS's size limit. The bundle is stored
//! in the stack's bucket under a key named by its SHA-256, so a changed bundle is a new
//! object.

use sha2::{Digest, Sha256};
use x509_parser::pem::Pem;

/// AWS's limit on a trust store's CA certificates bundle: 1 MB.
pub const MAX_BUNDLE_BYTES: usize = 1_000_000;

/// The prefix of the bundles' keys in the stack's bucket (outside the access logs'
/// prefix, so the logs' lifecycle rule never expires them).
pub const KEY_PREFIX: &str = "mtls/";

/// A checked CA bundle.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CaBundle {
    /// The file as read, uploaded as is.
    pub pem: Vec<u8>,
    /// How many CA certificates it holds.
    pub certificates: usize,
    /// Lower-case hex SHA-256 of [`Self::pem`].
    pub sha256: String,
}

impl CaBundle {
    /// Its key in the stack's bucket: `mtls/<sha256>.pem`.
    pub fn key(&self) -> String {
        format!("{KEY_PREFIX}{}.pem", self.sha256)
    }
}

/// Checks a bundle's bytes: `Err((what is wrong, what to do))`. Pure.
pub fn check_bundle(pem: &[u8]) -> Result<CaBundle, (String, String)> {
    if pem.len() > MAX_BUNDLE_BYTES {
        return Err((
            format!(
                "is {} bytes, more than the {MAX_BUNDLE_BYTES} bytes AWS takes for a trust \
                 store's CA bundle",
                pem.len()
            ),
            "keep only the CA certificates that issue your clients' certificates".to_owned(),
        ));
    }
    let mut certificates = 0;
    for (i, block) in Pem::iter_from_buffer(pem).enumerate() {
        let n = i + 1;
        let block = block.map_err(|e| {
            (
                format!("block {n} is not valid PEM: {e}"),
                "export the CA certificates as PEM (`-----BEGIN CERTIFICATE-----` blocks)"
                    .to_owned(),
            )
        })?;
        if block.label != "CERTIFICATE" {
            return Err((
                format!("block {n} is a {:?} block, not a CERTIFICATE", block.label),
                "the bundle holds CA certificates only: remove keys and other blocks".to_owned(),
            ));
        }
        check_ca(n, &block)?;
        certificates += 1;
    }
    if certificates == 0 {
        return Err((
            "holds no PEM CERTIFICATE block".to_owned(),
            "put the CA certificates that issue your clients' certificates in it, each as a \
             `-----BEGIN CERTIFICATE-----` block"
                .to_owned(),
        ));
    }
    Ok(CaBundle {
        pem: pem.to_vec(),
        certificates,
        sha256: hex::encode(Sha256::digest(pem)),
    })
}

/// The `n`th block parses as X.509 and is a CA certificate.
fn check_ca(n: usize, block: &Pem) -> Result<(), (String, String)> {
    let cert = block.parse_x509().map_err(|e| {
        (
            format!("certificate {n} is not a valid X.509 certificate: {e}"),
            "export it again from the certificate authority, as PEM".to_owned(),
        )
    })?;
    let ca = cert
        .basic_constraints()
        .ok()
        .flatten()
        .is_some_and(|b| b.value.ca);
    if ca {
        return Ok(());
    }
    Err((
        format!(
            "certificate {n} ({}) is not a CA certificate (no basicConstraints CA:TRUE)",
            cert.subject()
        ),
        "the bundle holds the certificate authorities that issue client certificates, not \
         the client certificates themselves: put the issuing CA's certificate there instead"
            .to_owned(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    const CA_ONE: &str = include_str!("../../tests/fixtures/mtls/ca-one.pem");
    const CA_TWO: &str = include_str!("../../tests/fixtures/mtls/ca-two.pem");
    const LEAF: &str = include_str!("../../tests/fixtures/mtls/leaf.pem");

    #[test]
    fn a_bundle_of_ca_certificates_is_taken_and_keyed_by_its_digest() {
        let both = format!("{CA_ONE}{CA_TWO}");
        let bundle = check_bundle(both.as_bytes()).expect("valid");
        assert_eq!(bundle.certificates, 2);
        assert_eq!(bundle.sha256.len(), 64);
        assert_eq!(bundle.key(), format!("mtls/{}.pem", bundle.sha256));
        let one = check_bundle(CA_ONE.as_bytes()).expect("valid");
        assert_ne!(one.key(), bundle.key());
    }

    #[test]
    fn a_bundle_without_certificates_is_refused() {
        let (why, _) = check_bundle(b"just text\n").unwrap_err();
        assert!(why.contains("no PEM CERTIFICATE block"), "{why}");
    }

    #[test]
    fn a_block_other_than_a_certificate_is_refused() {
        let key = "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n";
        let (why, _) = check_bundle(format!("{CA_ONE}{key}").as_bytes()).unwrap_err();
        assert!(why.contains("block 2 is a \"PRIVATE KEY\" block"), "{why}");
    }

    #[test]
    fn a_block_that_is_not_x509_is_refused() {
        let junk = "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n";
        let (why, _) = check_bundle(junk.as_bytes()).unwrap_err();
        assert!(why.contains("certificate 1 is not a valid X.509"), "{why}");
    }

    #[test]
    fn a_leaf_certificate_is_refused() {
        let (why, help) = check_bundle(format!("{CA_ONE}{LEAF}").as_bytes()).unwrap_err();
        assert!(why.contains("certificate 2 (CN=client.example)"), "{why}");
        assert!(why.contains("not a CA certificate"), "{why}");
        assert!(help.contains("issuing CA"), "{help}");
    }

    #[test]
    fn a_bundle_over_the_limit_is_refused() {
        let big = CA_ONE.repeat(MAX_BUNDLE_BYTES / CA_ONE.len() + 1);
        let (why, _) = check_bundle(big.as_bytes()).unwrap_err();
        assert!(why.contains("more than the 1000000 bytes"), "{why}");
    }
}
