//! Which cargo workspace a function crate belongs to, found the way cargo finds it, so
//! that every function crate of one workspace is built by one cargo run
//! (`cargo build --manifest-path <root> -p a -p b …`): one dependency graph, links side
//! by side on every core, and one no-op for the whole workspace when nothing changed.
//!
//! Cargo's rule (the Cargo Book, "Workspaces", `package.workspace`): a crate whose
//! manifest has a `[workspace]` table is its own root; a crate with
//! `package.workspace = "dir"` belongs to `dir`; otherwise cargo walks up the parent
//! directories and the first `Cargo.toml` with a `[workspace]` table is the root, unless
//! that table's `exclude` names the crate, which then stands alone. Whether the root's
//! `members` really list the crate is left to cargo, which says so in its own error.
//!
//! Pure: manifests are read through the `read` function given.

use std::path::{Path, PathBuf};

use toml_edit::DocumentMut;

/// A function crate and the workspace it is built in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CrateInfo {
    /// The crate's own `Cargo.toml`.
    pub manifest: PathBuf,
    /// `package.name`; `None` when the manifest could not be read (cargo then reports
    /// why when it builds the crate alone).
    pub package: Option<String>,
    /// The `Cargo.toml` of the workspace root: the crate's own when it stands alone.
    pub root: PathBuf,
}

impl CrateInfo {
    /// Whether the crate is built from another manifest than its own.
    pub fn in_workspace(&self) -> bool {
        self.root != self.manifest
    }
}

/// Finds the workspace of the crate in `dir`, reading manifests with `read` (a path to
/// its text, `None` when there is no such file).
pub fn locate(dir: &Path, read: impl Fn(&Path) -> Option<String>) -> CrateInfo {
    let manifest = dir.join("Cargo.toml");
    let parsed = read(&manifest).and_then(|text| text.parse::<DocumentMut>().ok());
    let alone = |package| CrateInfo {
        manifest: manifest.clone(),
        package,
        root: manifest.clone(),
    };
    let Some(doc) = parsed else {
        return alone(None);
    };
    let package = doc
        .get("package")
        .and_then(|p| p.get("name"))
        .and_then(|n| n.as_str())
        .map(str::to_string);
    if doc.contains_key("workspace") {
        return alone(package);
    }
    if let Some(to) = doc
        .get("package")
        .and_then(|p| p.get("workspace"))
        .and_then(|w| w.as_str())
    {
        return CrateInfo {
            root: normalize(&dir.join(to).join("Cargo.toml")),
            manifest,
            package,
        };
    }
    for ancestor in dir.ancestors().skip(1) {
        let candidate = ancestor.join("Cargo.toml");
        let Some(root) = read(&candidate).and_then(|t| t.parse::<DocumentMut>().ok()) else {
            continue;
        };
        let Some(workspace) = root.get("workspace") else {
            continue;
        };
        let relative = dir.strip_prefix(ancestor).unwrap_or(dir);
        if excluded(workspace, relative) {
            return alone(package);
        }
        return CrateInfo {
            manifest,
            package,
            root: candidate,
        };
    }
    alone(package)
}

/// Whether the `[workspace]` table's `exclude` list names `relative` or a directory
/// above it.
fn excluded(workspace: &toml_edit::Item, relative: &Path) -> bool {
    workspace
        .get("exclude")
        .and_then(|e| e.as_array())
        .is_some_and(|list| {
            list.iter()
                .filter_map(|v| v.as_str())
                .any(|e| relative.starts_with(normalize(Path::new(e))))
        })
}

/// `path` with its `.` and `..` parts resolved as text (the file system is not asked).
fn normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for part in path.components() {
        match part {
            std::path::Component::CurDir => {}
            std::path::Component::ParentDir => {
                if !out.pop() {
                    out.push("..");
                }
            }
            other => out.push(other),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn files(entries: &[(&str, &str)]) -> impl Fn(&Path) -> Option<String> {
        let map: HashMap<PathBuf, String> = entries
            .iter()
            .map(|(p, t)| (PathBuf::from(p), (*t).to_string()))
            .collect();
        move |p: &Path| map.get(p).cloned()
    }

    const MEMBER: &str = "[package]\nname = \"api\"\nversion = \"0.1.0\"\n";

    #[test]
    fn a_crate_with_its_own_workspace_table_stands_alone() {
        let read = files(&[
            (
                "/p/Cargo.toml",
                "[workspace]\nmembers = [\"functions/*\"]\n",
            ),
            (
                "/p/functions/api/Cargo.toml",
                "[package]\nname = \"api\"\n\n[workspace]\n",
            ),
        ]);
        let c = locate(Path::new("/p/functions/api"), read);
        assert_eq!(c.root, PathBuf::from("/p/functions/api/Cargo.toml"));
        assert_eq!(c.package.as_deref(), Some("api"));
        assert!(!c.in_workspace());
    }

    #[test]
    fn the_nearest_ancestor_with_a_workspace_table_is_the_root() {
        let read = files(&[
            ("/Cargo.toml", "[workspace]\n"),
            (
                "/p/Cargo.toml",
                "[workspace]\nmembers = [\"functions/*\"]\n",
            ),
            (
                "/p/functions/Cargo.toml",
                "[package]\nname = \"not-a-root\"\n",
            ),
            ("/p/functions/api/Cargo.toml", MEMBER),
        ]);
        let c = locate(Path::new("/p/functions/api"), read);
        assert_eq!(c.root, PathBuf::from("/p/Cargo.toml"));
        assert_eq!(c.manifest, PathBuf::from("/p/functions/api/Cargo.toml"));
        assert!(c.in_workspace());
    }

    #[test]
    fn package_workspace_names_the_root_and_exclude_makes_a_crate_stand_alone() {
        let pointed = "[package]\nname = \"api\"\nworkspace = \"../../ws\"\n";
        let read = files(&[
            ("/p/ws/Cargo.toml", "[workspace]\n"),
            ("/p/functions/api/Cargo.toml", pointed),
        ]);
        let c = locate(Path::new("/p/functions/api"), read);
        assert_eq!(c.root, PathBuf::from("/p/ws/Cargo.toml"));

        let read = files(&[
            (
                "/p/Cargo.toml",
                "[workspace]\nmembers = [\"functions/*\"]\nexclude = [\"./functions/api\"]\n",
            ),
            ("/p/functions/api/Cargo.toml", MEMBER),
        ]);
        let c = locate(Path::new("/p/functions/api"), read);
        assert_eq!(c.root, PathBuf::from("/p/functions/api/Cargo.toml"));
    }

    #[test]
    fn no_workspace_anywhere_or_an_unreadable_manifest_builds_the_crate_alone() {
        let c = locate(
            Path::new("/p/functions/api"),
            files(&[("/p/functions/api/Cargo.toml", MEMBER)]),
        );
        assert_eq!(c.root, c.manifest);
        assert_eq!(c.package.as_deref(), Some("api"));

        let c = locate(
            Path::new("/p/functions/api"),
            files(&[
                ("/p/Cargo.toml", "[workspace]\n"),
                ("/p/functions/api/Cargo.toml", "[package\n"),
            ]),
        );
        assert_eq!(c.root, c.manifest);
        assert_eq!(c.package, None);
    }
}
