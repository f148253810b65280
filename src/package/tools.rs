//! albkit's own tool directory: where `albkit doctor --fix` installs cargo-zigbuild and
//! zig (a Python virtualenv, `<tool dir>/venv`), and where builds look for them; and
//! where cargo finds its subcommands. Pure but for [`tool_dir`], [`installed_bin`],
//! [`has_subcommand`] and [`is_executable`], which read the environment or the disk.
//!
//! The directory is `$XDG_CACHE_HOME/albkit/tools` when `XDG_CACHE_HOME` is set (to an
//! absolute path), else `~/Library/Caches/albkit/tools` on macOS and
//! `~/.cache/albkit/tools` elsewhere. Deleting it undoes `doctor --fix`'s install.

use std::ffi::{OsStr, OsString};
use std::path::{Path, PathBuf};

/// The pinned builders, one source of truth with scripts/test: the file it installs
/// into target/tools/builders.
const REQUIREMENTS: &str = include_str!("../../scripts/tools/builders-requirements.txt");

/// The packages `doctor --fix` installs (cargo-lambda is not one: cargo-zigbuild does the
/// same for albkit's builds, and zig is the bulk of both).
const FIX_PACKAGES: [&str; 2] = ["cargo-zigbuild", "ziglang"];

/// `name==version` for each of [`FIX_PACKAGES`], as pinned in the requirements file.
pub fn pins() -> Vec<&'static str> {
    FIX_PACKAGES
        .iter()
        .filter_map(|name| {
            REQUIREMENTS.lines().map(str::trim).find(|l| {
                l.strip_prefix(name)
                    .is_some_and(|rest| rest.starts_with("=="))
            })
        })
        .collect()
}

/// The tool directory from the environment's values (pure): `XDG_CACHE_HOME` (ignored
/// when empty or relative, as the XDG spec says), else `HOME`'s cache directory.
pub fn tool_dir_from(
    xdg_cache_home: Option<&OsStr>,
    home: Option<&OsStr>,
    macos: bool,
) -> Option<PathBuf> {
    let xdg = xdg_cache_home.map(Path::new).filter(|p| p.is_absolute());
    let cache = if let Some(dir) = xdg {
        dir.to_path_buf()
    } else {
        let home = home.map(Path::new).filter(|p| p.is_absolute())?;
        if macos {
            home.join("Library").join("Caches")
        } else {
            home.join(".cache")
        }
    };
    Some(cache.join("albkit").join("tools"))
}

/// albkit's tool directory for this process's environment; `None` without a home.
pub fn tool_dir() -> Option<PathBuf> {
    tool_dir_from(
        std::env::var_os("XDG_CACHE_HOME").as_deref(),
        std::env::var_os("HOME").as_deref(),
        cfg!(target_os = "macos"),
    )
}

/// The virtualenv `doctor --fix` creates in a tool directory.
pub fn venv(tool_dir: &Path) -> PathBuf {
    tool_dir.join("venv")
}

/// The virtualenv's programs (`cargo-zigbuild`, and the `python3` that cargo-zigbuild
/// runs zig with).
pub fn venv_bin(tool_dir: &Path) -> PathBuf {
    venv(tool_dir).join("bin")
}

/// The tool directory's programs, when `doctor --fix` installed them.
pub fn installed_bin() -> Option<PathBuf> {
    tool_dir().map(|d| venv_bin(&d)).filter(|b| b.is_dir())
}

/// `PATH` with `bin` first (pure).
pub fn path_with_first(bin: &Path, path: Option<&OsStr>) -> OsString {
    let mut dirs = vec![bin.to_path_buf()];
    if let Some(path) = path {
        dirs.extend(std::env::split_paths(path).filter(|d| d != bin));
    }
    std::env::join_paths(dirs).unwrap_or_else(|_| bin.as_os_str().to_os_string())
}

/// cargo's home from the environment's values (pure): `CARGO_HOME`, else `~/.cargo`.
/// Empty values count as unset.
pub fn cargo_home_from(cargo_home: Option<&OsStr>, home: Option<&OsStr>) -> Option<PathBuf> {
    let set = |v: Option<&OsStr>| v.filter(|v| !v.is_empty()).map(PathBuf::from);
    set(cargo_home).or_else(|| set(home).map(|h| h.join(".cargo")))
}

/// The directories cargo searches for an external subcommand (`cargo lambda` runs
/// `cargo-lambda`), in cargo's order (pure): those of `path`, with `<cargo home>/bin`
/// first unless `path` already names it.
pub fn subcommand_dirs(cargo_home: Option<&Path>, path: Option<&OsStr>) -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = path
        .map(|p| std::env::split_paths(p).collect())
        .unwrap_or_default();
    if let Some(bin) = cargo_home.map(|h| h.join("bin")) {
        if !dirs.contains(&bin) {
            dirs.insert(0, bin);
        }
    }
    dirs
}

/// Whether cargo would find the external subcommand `name` in `dirs`: an executable
/// file `cargo-<name>` in one of them. Reads the disk, runs nothing.
pub fn has_subcommand(name: &str, dirs: &[PathBuf]) -> bool {
    let file = format!("cargo-{name}{}", std::env::consts::EXE_SUFFIX);
    dirs.iter().any(|d| is_executable(&d.join(&file)))
}

/// Whether `path` is a file this user's processes may run: on Unix, a file with an
/// execute bit; elsewhere, any file.
#[cfg(unix)]
pub fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// Whether `path` is a file (no execute bit to look at outside Unix).
#[cfg(not(unix))]
pub fn is_executable(path: &Path) -> bool {
    path.is_file()
}

/// What `doctor --fix` does for the builders, as commands to run by hand.
pub fn manual_install(tool_dir: &Path) -> String {
    let venv = venv(tool_dir);
    format!(
        "`python3 -m venv {v} && {v}/bin/python -m pip install {pins}` (albkit finds it there)",
        v = venv.display(),
        pins = pins().join(" ")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_pins_are_those_of_the_requirements_file() {
        let pins = pins();
        assert_eq!(pins.len(), 2, "{pins:?}");
        assert!(pins[0].starts_with("cargo-zigbuild=="), "{pins:?}");
        assert!(pins[1].starts_with("ziglang=="), "{pins:?}");
    }

    #[test]
    fn the_tool_dir_follows_xdg_then_home() {
        let os = |s: &str| OsString::from(s);
        let dir = |xdg: Option<&str>, home: Option<&str>, macos| {
            tool_dir_from(xdg.map(os).as_deref(), home.map(os).as_deref(), macos)
        };
        let p = |s: &str| Some(PathBuf::from(s));
        assert_eq!(
            dir(Some("/x/cache"), Some("/home/a"), false),
            p("/x/cache/albkit/tools")
        );
        assert_eq!(
            dir(Some("/x/cache"), Some("/Users/a"), true),
            p("/x/cache/albkit/tools")
        );
        // Empty or relative XDG_CACHE_HOME is ignored.
        for xdg in [Some(""), Some("rel/cache"), None] {
            assert_eq!(
                dir(xdg, Some("/home/a"), false),
                p("/home/a/.cache/albkit/tools")
            );
        }
        assert_eq!(
            dir(None, Some("/Users/a"), true),
            p("/Users/a/Library/Caches/albkit/tools")
        );
        assert_eq!(dir(None, None, false), None);
        assert_eq!(dir(None, Some(""), false), None);
    }

    #[test]
    fn the_tool_bin_comes_first_on_path_once() {
        let bin = Path::new("/t/venv/bin");
        let path = path_with_first(bin, Some(OsStr::new("/usr/bin:/t/venv/bin:/bin")));
        assert_eq!(path, OsString::from("/t/venv/bin:/usr/bin:/bin"));
        assert_eq!(path_with_first(bin, None), OsString::from("/t/venv/bin"));
    }

    #[test]
    fn cargo_home_is_cargo_home_then_dot_cargo() {
        let os = |s: &str| OsString::from(s);
        let home = |c: Option<&str>, h: Option<&str>| {
            cargo_home_from(c.map(os).as_deref(), h.map(os).as_deref())
        };
        assert_eq!(
            home(Some("/opt/cargo"), Some("/home/a")),
            Some(PathBuf::from("/opt/cargo"))
        );
        assert_eq!(
            home(Some(""), Some("/home/a")),
            Some(PathBuf::from("/home/a/.cargo"))
        );
        assert_eq!(
            home(None, Some("/home/a")),
            Some(PathBuf::from("/home/a/.cargo"))
        );
        assert_eq!(home(None, None), None);
    }

    #[test]
    fn subcommands_are_looked_for_in_cargo_home_bin_then_path() {
        let home = Path::new("/h/.cargo");
        let dirs = subcommand_dirs(Some(home), Some(OsStr::new("/t/bin:/usr/bin")));
        let p = PathBuf::from;
        assert_eq!(dirs, [p("/h/.cargo/bin"), p("/t/bin"), p("/usr/bin")]);
        // Where PATH names cargo's bin, PATH's order wins.
        let dirs = subcommand_dirs(Some(home), Some(OsStr::new("/usr/bin:/h/.cargo/bin")));
        assert_eq!(dirs, [p("/usr/bin"), p("/h/.cargo/bin")]);
        assert_eq!(subcommand_dirs(None, None), Vec::<PathBuf>::new());
    }

    #[cfg(unix)]
    #[test]
    fn a_subcommand_is_an_executable_file_named_cargo_dash_name() {
        use std::os::unix::fs::PermissionsExt;
        let a = tempfile::tempdir().expect("tmp");
        let b = tempfile::tempdir().expect("tmp");
        let write = |dir: &Path, name: &str, mode: u32| {
            let path = dir.join(name);
            std::fs::write(&path, "#!/bin/sh\n").expect("write");
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).expect("chmod");
        };
        write(a.path(), "cargo-zigbuild", 0o644);
        std::fs::create_dir(a.path().join("cargo-dir")).expect("mkdir");
        write(b.path(), "cargo-lambda", 0o755);
        let dirs = [a.path().to_path_buf(), b.path().to_path_buf()];
        assert!(has_subcommand("lambda", &dirs));
        // Not executable, a directory, absent.
        assert!(!has_subcommand("zigbuild", &dirs));
        assert!(!has_subcommand("dir", &dirs));
        assert!(!has_subcommand("watch", &dirs));
        write(b.path(), "cargo-zigbuild", 0o700);
        assert!(has_subcommand("zigbuild", &dirs));
    }

    #[test]
    fn the_manual_install_names_the_venv_and_the_pins() {
        let m = manual_install(Path::new("/c/albkit/tools"));
        assert!(
            m.starts_with("`python3 -m venv /c/albkit/tools/venv && "),
            "{m}"
        );
        assert!(
            m.contains("cargo-zigbuild==") && m.contains("ziglang=="),
            "{m}"
        );
    }
}
