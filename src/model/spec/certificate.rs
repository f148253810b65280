//! The ACM certificate albkit requests for `[https] domain`, validated by DNS.

use super::{tags, Describe, KindFacts, LogicalId, Props};
use crate::model::stack::Tags;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertificateSpec {
    pub domain: String,
    pub tags: Tags,
}

impl KindFacts for CertificateSpec {
    const NAME: &'static str = "certificate";
    const RANK: u8 = 0;
    const REPLACE_ON: &'static [&'static str] = &["domain"];
}

impl Describe for CertificateSpec {
    fn render(&self, _id: &LogicalId) -> Props {
        // Where the validation records went is not a property AWS reports, so it is
        // not compared; the status is.
        vec![
            ("domain", self.domain.clone()),
            ("status", "ISSUED".to_string()),
            ("tags", tags(&self.tags)),
        ]
    }
}
