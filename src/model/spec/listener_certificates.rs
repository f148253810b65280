//! The HTTPS listener's extra certificates: served by SNI beside its default one, for
//! clients that ask for another name (`[https] extra_certificate_arns`).

use super::{Describe, KindFacts, LogicalId, Props};
use crate::model::ids::CertificateArn;

/// The `certificates` property of a listener without extra certificates.
pub(super) const NO_CERTIFICATES: &str = "(none)";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListenerCertificatesSpec {
    /// The HTTPS listener they are added to.
    pub listener: LogicalId,
    /// Exactly these, beside the default certificate; sorted, without duplicates.
    pub certificates: Vec<CertificateArn>,
}

impl ListenerCertificatesSpec {
    pub fn new(listener: LogicalId, certificates: &[CertificateArn]) -> Self {
        let mut certificates = certificates.to_vec();
        certificates.sort();
        certificates.dedup();
        Self {
            listener,
            certificates,
        }
    }
}

/// The `certificates` property: ARNs in sorted order (AWS lists them in no order), or
/// [`NO_CERTIFICATES`]. Discovery renders what it read with this too.
pub fn certificates_prop<'a>(arns: impl IntoIterator<Item = &'a str>) -> String {
    let mut arns: Vec<&str> = arns.into_iter().collect();
    arns.sort_unstable();
    arns.dedup();
    if arns.is_empty() {
        NO_CERTIFICATES.to_string()
    } else {
        arns.join(", ")
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
            (
                "certificates",
                certificates_prop(self.certificates.iter().map(CertificateArn::as_str)),
            ),
        ]
    }

    fn needs(&self) -> Vec<&LogicalId> {
        vec![&self.listener]
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
            LogicalId::from("listener/https"),
            &[arn("b"), arn("a"), arn("b")],
        );
        let props = spec.render(&LogicalId::from("listener/https/certificates"));
        assert_eq!(props[0], ("listener", "listener/https".to_string()));
        assert_eq!(
            props[1].1,
            "arn:aws:acm:us-east-1:123456789012:certificate/a, \
             arn:aws:acm:us-east-1:123456789012:certificate/b"
        );
        assert_eq!(spec.needs(), vec![&LogicalId::from("listener/https")]);
    }

    #[test]
    fn discovery_and_spec_render_alike() {
        let spec = ListenerCertificatesSpec::new(LogicalId::from("l"), &[arn("b"), arn("a")]);
        let read = [arn("a"), arn("b")];
        let id = LogicalId::from("x");
        assert_eq!(
            spec.render(&id)[1].1,
            certificates_prop(read.iter().map(CertificateArn::as_str))
        );
        let empty = ListenerCertificatesSpec::new(LogicalId::from("l"), &[]);
        assert_eq!(empty.render(&id)[1].1, NO_CERTIFICATES);
        assert_eq!(certificates_prop([]), NO_CERTIFICATES);
    }
}
