//! The HTTPS listener's extra certificates: served by SNI beside its default one, for
//! clients that ask for another name (`[https] extra_certificate_arns`).

use super::{Describe, KindFacts, LogicalId, Props, Ref};
use crate::model::ids::CertificateArn;

/// The `certificates` property of a listener without extra certificates.
const NO_CERTIFICATES: &str = "(none)";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListenerCertificatesSpec {
    /// The HTTPS listener they are added to.
    pub listener: Ref,
    /// Exactly these, beside the default certificate; sorted, without duplicates.
    pub certificates: Vec<CertificateArn>,
}

impl ListenerCertificatesSpec {
    pub fn new(listener: Ref, certificates: &[CertificateArn]) -> Self {
        let mut certificates = certificates.to_vec();
        certificates.sort();
        certificates.dedup();
        Self {
            listener,
            certificates,
        }
    }
}

impl KindFacts for ListenerCertificatesSpec {
    const NAME: &'static str = "listener-certificates";
    const RANK: u8 = 5;
    const REPLACE_ON: &'static [&'static str] = &["listener"];
}

impl Describe for ListenerCertificatesSpec {
    fn render(&self, _id: &LogicalId) -> Props {
        // They have no tags of their own: they belong to the stack's listener.
        vec![
            ("listener", self.listener.to_string()),
            ("certificates", {
                // Sorted, without duplicates: see `new`.
                let arns: Vec<&str> = self
                    .certificates
                    .iter()
                    .map(CertificateArn::as_str)
                    .collect();
                if arns.is_empty() {
                    NO_CERTIFICATES.to_string()
                } else {
                    arns.join(", ")
                }
            }),
        ]
    }

    fn refs_mut(&mut self) -> Vec<&mut Ref> {
        vec![&mut self.listener]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn arn(id: &str) -> CertificateArn {
        CertificateArn::new(format!(
            "arn:aws:acm:us-east-1:123456789012:certificate/{id}"
        ))
    }

    #[test]
    fn renders_sorted_and_needs_its_listener() {
        let spec = ListenerCertificatesSpec::new(
            Ref::Stack(LogicalId::from("listener/https")),
            &[arn("b"), arn("a"), arn("b")],
        );
        let props = spec.render(&LogicalId::from("listener/https/certificates"));
        assert_eq!(props[0], ("listener", "listener/https".to_string()));
        assert_eq!(
            props[1].1,
            "arn:aws:acm:us-east-1:123456789012:certificate/a, \
             arn:aws:acm:us-east-1:123456789012:certificate/b"
        );
        let spec = crate::model::spec::Spec::from(spec);
        assert_eq!(spec.needs(), vec![LogicalId::from("listener/https")]);
    }

    #[test]
    fn without_certificates_it_says_none() {
        let empty = ListenerCertificatesSpec::new(Ref::External("l".into()), &[]);
        assert_eq!(empty.render(&LogicalId::from("x"))[1].1, NO_CERTIFICATES);
    }
}
