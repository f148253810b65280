//! The ACM certificate albkit requests for `[https] domain`, validated by DNS.

use super::{tags, Describe, LogicalId, Props};
use crate::model::stack::Tags;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertificateSpec {
    pub domain: String,
    pub tags: Tags,
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

    fn needs(&self) -> Vec<&LogicalId> {
        Vec::new()
    }
}
