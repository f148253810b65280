//! The ELB trust store of `[https.mtls]`: the CA bundle the HTTPS listener verifies
//! client certificates against (docs/mtls.md). The bundle is an object of the stack's
//! bucket under a key named by its SHA-256; the trust store is created from it, and a
//! changed bundle (a new key) is given to the same trust store (`ModifyTrustStore`).
//! AWS does not say which object a trust store was made from, so the key is also kept
//! in the trust store's [`BUNDLE_TAG`] tag.

use super::{tags, Describe, KindFacts, LogicalId, Props, Ref};
use crate::model::stack::Tags;

/// The trust store's tag naming the bundle's key in the stack's bucket.
pub const BUNDLE_TAG: &str = "albkit:ca-bundle";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrustStoreSpec {
    /// [`crate::model::names::Names::trust_store`].
    pub name: String,
    /// The stack's bucket, which holds the bundle.
    pub bucket: Ref,
    /// The bundle's key in it: `mtls/<sha256>.pem`.
    pub key: String,
    /// The bundle's bytes, uploaded under `key`; empty in what discovery read (only the
    /// key is compared).
    pub pem: Vec<u8>,
    /// Without [`BUNDLE_TAG`], which is the `bundle` property.
    pub tags: Tags,
}

impl KindFacts for TrustStoreSpec {
    const NAME: &'static str = "trust-store";
    const RANK: u8 = 1;
    const REPLACE_ON: &'static [&'static str] = &["name"];
}

impl Describe for TrustStoreSpec {
    fn render(&self, _id: &LogicalId) -> Props {
        vec![
            ("name", self.name.clone()),
            ("bucket", self.bucket.to_string()),
            ("bundle", self.key.clone()),
            ("tags", tags(&self.tags)),
        ]
    }

    fn refs_mut(&mut self) -> Vec<&mut Ref> {
        vec![&mut self.bucket]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_its_bundle_key_and_needs_the_bucket() {
        let spec = TrustStoreSpec {
            name: "shop-mtls".into(),
            bucket: Ref::Stack(LogicalId::from("log-bucket")),
            key: "mtls/abc.pem".into(),
            pem: b"pem".to_vec(),
            tags: Tags::new(),
        };
        let props = spec.render(&LogicalId::from("trust-store"));
        assert_eq!(props[1], ("bucket", "log-bucket".to_string()));
        assert_eq!(props[2], ("bundle", "mtls/abc.pem".to_string()));
        assert!(props.iter().all(|(_, v)| !v.contains("pem\"")));
        let spec = crate::model::spec::Spec::from(spec);
        assert_eq!(spec.needs(), vec![LogicalId::from("log-bucket")]);
    }
}
