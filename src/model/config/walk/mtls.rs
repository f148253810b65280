//! The checks of `[https.mtls]` (docs/mtls.md): the CA bundle is read and checked here,
//! before any AWS call.

use super::*;
use crate::model::config::fields::{https as h, mtls as m};
use crate::model::config::MtlsSettings;
use crate::model::mtls::{check_bundle, MAX_BUNDLE_BYTES};

impl Checker<'_> {
    /// `[https.mtls]`: `Some(None)` when absent, `None` when wrong (reported). `root` is
    /// the directory of albkit.toml, which `ca_bundle` is relative to.
    pub(super) fn mtls(&mut self, https: &Tbl, root: &Path) -> Option<Option<MtlsSettings>> {
        let t = match self.sub_table(https, &h::MTLS) {
            Got::Val(t) => t,
            Got::Missing => return Some(None),
            Got::Bad => return None,
        };
        self.check_unknown_keys(&t, &fields::MTLS);
        let s = self.get_str(&t, &m::CA_BUNDLE).val()?;
        let bytes = match read_bundle(&root.join(&s.value)) {
            Ok(bytes) => bytes,
            Err((why, help)) => {
                self.bad(&s, format!("ca_bundle {} {why}", q(&s.value)), help);
                return None;
            }
        };
        match check_bundle(&bytes) {
            Ok(bundle) => Some(Some(MtlsSettings {
                path: s.value,
                bundle,
            })),
            Err((why, help)) => {
                self.bad(&s, format!("ca_bundle {} {why}", q(&s.value)), help);
                None
            }
        }
    }
}

/// The bundle's bytes, read only when the file is small enough to be a bundle (a larger
/// one is reported by its size, unread).
fn read_bundle(path: &Path) -> Result<Vec<u8>, (String, String)> {
    let too_big = |len: u64| {
        (
            format!("is {len} bytes, more than the {MAX_BUNDLE_BYTES} bytes AWS takes for a trust store's CA bundle"),
            "keep only the CA certificates that issue your clients' certificates".to_owned(),
        )
    };
    let meta = std::fs::metadata(path).map_err(|e| {
        if e.kind() == std::io::ErrorKind::NotFound {
            (
                "does not exist".to_owned(),
                format!(
                    "write the PEM file of your clients' CA certificates at {} (the path is \
                     relative to albkit.toml), or correct `ca_bundle`",
                    path.display()
                ),
            )
        } else {
            (
                format!("cannot be read: {e}"),
                "check that the file exists and is readable".to_owned(),
            )
        }
    })?;
    if !meta.is_file() {
        return Err((
            "is not a file".to_owned(),
            "point `ca_bundle` at a PEM file of CA certificates".to_owned(),
        ));
    }
    let max = u64::try_from(MAX_BUNDLE_BYTES).unwrap_or(u64::MAX);
    if meta.len() > max {
        return Err(too_big(meta.len()));
    }
    std::fs::read(path).map_err(|e| {
        (
            format!("cannot be read: {e}"),
            "check that the file is readable".to_owned(),
        )
    })
}
