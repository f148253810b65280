//! Reads the glibc symbol versions an ELF executable requires (`.gnu.version_r`, the
//! `SHT_GNU_verneed` section), to refuse a bootstrap that Lambda's runtime cannot load.
//! Pure: works on bytes, read with the `object` crate. Handles 32/64-bit, little/big
//! endian.

use object::elf::{FileHeader32, FileHeader64};
use object::read::elf::{FileHeader, SectionHeader};
use object::Endianness;

/// The glibc of Lambda's `provided.al2023` runtime (Amazon Linux 2023).
pub const AL2023_GLIBC: GlibcVersion = GlibcVersion(2, 34);

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct GlibcVersion(pub u32, pub u32);

impl std::fmt::Display for GlibcVersion {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}.{}", self.0, self.1)
    }
}

impl GlibcVersion {
    /// `GLIBC_2.34` → 2.34 (`GLIBC_2.2.5` → 2.2: the third component never matters
    /// against 2.34). Other names (`GLIBC_PRIVATE`, `GCC_3.0`) → `None`.
    pub fn parse(name: &str) -> Option<Self> {
        let rest = name.strip_prefix("GLIBC_")?;
        let mut parts = rest.split('.');
        let major = parts.next()?.parse().ok()?;
        let minor = parts.next().unwrap_or("0").parse().ok()?;
        Some(GlibcVersion(major, minor))
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ElfError {
    #[error("not an ELF file")]
    NotElf,
    #[error("truncated or malformed ELF file ({0})")]
    Malformed(&'static str),
}

/// Every version name the executable requires from shared libraries (`GLIBC_2.34`,
/// `GCC_3.0`, ...), sorted and deduplicated. A static executable requires none.
pub fn required_versions(bytes: &[u8]) -> Result<Vec<String>, ElfError> {
    if bytes.get(..4) != Some(b"\x7fELF") {
        return Err(ElfError::NotElf);
    }
    if !matches!(bytes.get(5), Some(1 | 2)) {
        return Err(ElfError::Malformed("byte order"));
    }
    let mut names = match bytes.get(4) {
        Some(1) => verneed_names::<FileHeader32<Endianness>>(bytes)?,
        Some(2) => verneed_names::<FileHeader64<Endianness>>(bytes)?,
        _ => return Err(ElfError::Malformed("class")),
    };
    names.sort();
    names.dedup();
    Ok(names)
}

/// The machine an ELF executable is for, as `e_machine` gives it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Machine {
    X86_64,
    Aarch64,
    /// Any other `e_machine` value.
    Other(u16),
}

impl Machine {
    /// `x86_64` or `arm64`: the name Lambda's `Architectures` uses, when it is one of
    /// them.
    pub fn lambda_architecture(self) -> Option<&'static str> {
        match self {
            Machine::X86_64 => Some("x86_64"),
            Machine::Aarch64 => Some("arm64"),
            Machine::Other(_) => None,
        }
    }
}

impl std::fmt::Display for Machine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Machine::X86_64 => f.write_str("x86-64"),
            Machine::Aarch64 => f.write_str("AArch64"),
            Machine::Other(m) => write!(f, "e_machine {m}"),
        }
    }
}

/// The machine of an ELF file (its header's `e_machine`).
pub fn machine(bytes: &[u8]) -> Result<Machine, ElfError> {
    if bytes.get(..4) != Some(b"\x7fELF") {
        return Err(ElfError::NotElf);
    }
    let raw = match bytes.get(4) {
        Some(1) => e_machine::<FileHeader32<Endianness>>(bytes)?,
        Some(2) => e_machine::<FileHeader64<Endianness>>(bytes)?,
        _ => return Err(ElfError::Malformed("class")),
    };
    Ok(match raw {
        object::elf::EM_X86_64 => Machine::X86_64,
        object::elf::EM_AARCH64 => Machine::Aarch64,
        other => Machine::Other(other.0),
    })
}

fn e_machine<Elf: FileHeader<Endian = Endianness>>(
    bytes: &[u8],
) -> Result<object::elf::Machine, ElfError> {
    let header = Elf::parse(bytes).map_err(|_| ElfError::Malformed("file header"))?;
    let endian = header
        .endian()
        .map_err(|_| ElfError::Malformed("byte order"))?;
    Ok(header.e_machine(endian))
}

/// The names of every `SHT_GNU_VERNEED` section's entries, in file order.
fn verneed_names<Elf: FileHeader<Endian = Endianness>>(
    bytes: &[u8],
) -> Result<Vec<String>, ElfError> {
    let header = Elf::parse(bytes).map_err(|_| ElfError::Malformed("file header"))?;
    let endian = header
        .endian()
        .map_err(|_| ElfError::Malformed("byte order"))?;
    let sections = header
        .section_headers(endian, bytes)
        .map_err(|_| ElfError::Malformed("section headers"))?;
    let mut names = Vec::new();
    for section in sections {
        let Some((mut needs, link)) = section
            .gnu_verneed(endian, bytes)
            .map_err(|_| ElfError::Malformed("verneed section"))?
        else {
            continue;
        };
        let strings = sections
            .get(link.0)
            .ok_or(ElfError::Malformed("verneed string table index"))?
            .data(endian, bytes)
            .map_err(|_| ElfError::Malformed("verneed string table"))?;
        while let Some((_, mut aux)) = needs
            .next()
            .map_err(|_| ElfError::Malformed("verneed entry"))?
        {
            while let Some(v) = aux
                .next()
                .map_err(|_| ElfError::Malformed("vernaux entry"))?
            {
                names.push(cstr(strings, v.vna_name.get(endian))?.to_string());
            }
        }
    }
    Ok(names)
}

/// The NUL-terminated string at `at` in a string table.
fn cstr(strings: &[u8], at: u32) -> Result<&str, ElfError> {
    let tail = usize::try_from(at)
        .ok()
        .and_then(|at| strings.get(at..))
        .ok_or(ElfError::Malformed("string offset"))?;
    let end = tail
        .iter()
        .position(|b| *b == 0)
        .ok_or(ElfError::Malformed("unterminated string"))?;
    std::str::from_utf8(&tail[..end]).map_err(|_| ElfError::Malformed("string not UTF-8"))
}

/// The newest glibc version among `versions`, if any.
pub fn newest_glibc(versions: &[String]) -> Option<GlibcVersion> {
    versions.iter().filter_map(|v| GlibcVersion::parse(v)).max()
}

/// The glibc versions above `max` that the binary needs (empty: it runs there).
pub fn too_new(versions: &[String], max: GlibcVersion) -> Vec<GlibcVersion> {
    let mut v: Vec<GlibcVersion> = versions
        .iter()
        .filter_map(|v| GlibcVersion::parse(v))
        .filter(|v| *v > max)
        .collect();
    v.sort();
    v.dedup();
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_glibc_version_names() {
        assert_eq!(GlibcVersion::parse("GLIBC_2.34"), Some(GlibcVersion(2, 34)));
        assert_eq!(GlibcVersion::parse("GLIBC_2.2.5"), Some(GlibcVersion(2, 2)));
        assert_eq!(GlibcVersion::parse("GLIBC_PRIVATE"), None);
        assert_eq!(GlibcVersion::parse("GCC_3.0"), None);
        assert!(GlibcVersion(2, 35) > AL2023_GLIBC);
        assert!(GlibcVersion(2, 4) < AL2023_GLIBC);
    }

    #[test]
    fn reads_the_machine_of_an_executable() {
        let mut elf = synthetic();
        // e_machine is at offset 18 of the header.
        elf[18..20].copy_from_slice(&object::elf::EM_X86_64.0.to_le_bytes());
        assert_eq!(machine(&elf), Ok(Machine::X86_64));
        elf[18..20].copy_from_slice(&object::elf::EM_AARCH64.0.to_le_bytes());
        assert_eq!(machine(&elf), Ok(Machine::Aarch64));
        assert_eq!(Machine::Aarch64.lambda_architecture(), Some("arm64"));
        elf[18..20].copy_from_slice(&3u16.to_le_bytes());
        assert_eq!(machine(&elf), Ok(Machine::Other(3)));
        assert_eq!(machine(b"#!/bin/sh\n"), Err(ElfError::NotElf));
        // The test binary itself is for this machine.
        let me = std::fs::read(std::env::current_exe().expect("exe")).expect("read");
        let expected = if cfg!(target_arch = "aarch64") {
            Machine::Aarch64
        } else {
            Machine::X86_64
        };
        assert_eq!(machine(&me), Ok(expected));
    }

    #[test]
    fn rejects_what_is_not_elf() {
        assert_eq!(required_versions(b"#!/bin/sh\n"), Err(ElfError::NotElf));
        assert!(matches!(
            required_versions(b"\x7fELF\x02\x01"),
            Err(ElfError::Malformed(_))
        ));
    }

    /// A minimal ELF64 LE file: null section, .dynstr, .gnu.version_r needing
    /// libc.so.6 with GLIBC_2.2.5 and GLIBC_2.35.
    fn synthetic() -> Vec<u8> {
        let strtab = b"\0libc.so.6\0GLIBC_2.2.5\0GLIBC_2.35\0".to_vec();
        let mut verneed = Vec::new();
        // Verneed: version 1, cnt 2, file "libc.so.6" (1), aux at 16, next 0.
        verneed.extend(1u16.to_le_bytes());
        verneed.extend(2u16.to_le_bytes());
        verneed.extend(1u32.to_le_bytes());
        verneed.extend(16u32.to_le_bytes());
        verneed.extend(0u32.to_le_bytes());
        for (name, next) in [(11u32, 16u32), (23, 0)] {
            verneed.extend(0u32.to_le_bytes()); // hash
            verneed.extend(0u16.to_le_bytes()); // flags
            verneed.extend(2u16.to_le_bytes()); // other
            verneed.extend(name.to_le_bytes());
            verneed.extend(next.to_le_bytes());
        }
        let mut elf = vec![0u8; 64];
        elf[..7].copy_from_slice(b"\x7fELF\x02\x01\x01");
        let str_off = elf.len();
        elf.extend(&strtab);
        let vn_off = elf.len();
        elf.extend(&verneed);
        let shoff = elf.len();
        elf[0x28..0x30].copy_from_slice(&(shoff as u64).to_le_bytes());
        elf[0x3a..0x3c].copy_from_slice(&64u16.to_le_bytes());
        elf[0x3c..0x3e].copy_from_slice(&3u16.to_le_bytes());
        let header = |kind: u32, off: usize, size: usize, link: u32, info: u32| {
            let mut h = vec![0u8; 64];
            h[4..8].copy_from_slice(&kind.to_le_bytes());
            h[0x18..0x20].copy_from_slice(&(off as u64).to_le_bytes());
            h[0x20..0x28].copy_from_slice(&(size as u64).to_le_bytes());
            h[0x28..0x2c].copy_from_slice(&link.to_le_bytes());
            h[0x2c..0x30].copy_from_slice(&info.to_le_bytes());
            h
        };
        elf.extend(vec![0u8; 64]);
        elf.extend(header(3, str_off, strtab.len(), 0, 0));
        // 0x6fff_fffe: SHT_GNU_VERNEED.
        elf.extend(header(0x6fff_fffe, vn_off, verneed.len(), 1, 1));
        elf
    }

    #[test]
    fn reads_a_synthetic_verneed_section() {
        let v = required_versions(&synthetic()).expect("parse");
        assert_eq!(v, ["GLIBC_2.2.5", "GLIBC_2.35"]);
        assert_eq!(newest_glibc(&v), Some(GlibcVersion(2, 35)));
        assert_eq!(too_new(&v, AL2023_GLIBC), [GlibcVersion(2, 35)]);
        // Truncated anywhere: an error, never a panic.
        let full = synthetic();
        for cut in (0..full.len()).step_by(7) {
            let _ = required_versions(&full[..cut]);
        }
    }

    /// Real executables, built here with the system C compiler.
    fn compile(dir: &std::path::Path, name: &str, source: &str, extra: &[&str]) -> Option<Vec<u8>> {
        let src = dir.join(format!("{name}.c"));
        std::fs::write(&src, source).ok()?;
        let out = dir.join(name);
        let status = std::process::Command::new("cc")
            .args(extra)
            .arg("-o")
            .arg(&out)
            .arg(&src)
            .status()
            .ok()?;
        status.success().then(|| std::fs::read(&out).ok()).flatten()
    }

    #[test]
    fn real_binaries_built_with_cc() {
        let dir = tempfile::tempdir().expect("tempdir");
        let Some(plain) = compile(
            dir.path(),
            "plain",
            "#include <stdio.h>\nint main(void){puts(\"hi\");return 0;}\n",
            &[],
        ) else {
            eprintln!("no working C compiler: skipped");
            return;
        };
        let v = required_versions(&plain).expect("parse");
        assert!(v.iter().any(|n| n.starts_with("GLIBC_")), "{v:?}");
        // A binary needing the host's newest glibc symbol, if the host is newer than
        // AL2023: open_tree@GLIBC_2.36 exists on glibc >= 2.36.
        let newer = compile(
            dir.path(),
            "newer",
            "__asm__(\".symver ot, open_tree@GLIBC_2.36\");\nextern int ot(int, const char*, unsigned);\nint main(int c, char**v){ if (c > 5) return ot(0, v[0], 0); return 0; }\n",
            &[],
        );
        match newer {
            Some(bytes) => {
                let v = required_versions(&bytes).expect("parse");
                assert!(v.contains(&"GLIBC_2.36".to_string()), "{v:?}");
                assert_eq!(too_new(&v, AL2023_GLIBC), [GlibcVersion(2, 36)]);
            }
            None => eprintln!("host glibc older than 2.36: newer-than-AL2023 case covered by the synthetic ELF only"),
        }
        // Static: requires nothing.
        if let Some(bytes) = compile(
            dir.path(),
            "static",
            "int main(void){return 0;}\n",
            &["-static"],
        ) {
            assert_eq!(
                required_versions(&bytes).expect("parse"),
                Vec::<String>::new()
            );
        }
        // 32-bit, when the toolchain has multilib.
        if let Some(bytes) = compile(dir.path(), "m32", "int main(void){return 0;}\n", &["-m32"]) {
            let v = required_versions(&bytes).expect("parse");
            assert!(v.iter().any(|n| n.starts_with("GLIBC_")), "{v:?}");
        }
    }

    #[test]
    fn a_rust_binary_of_this_build() {
        // The test executable itself: a real Rust ELF built by cargo.
        let exe = std::env::current_exe().expect("current exe");
        let bytes = std::fs::read(exe).expect("read");
        let v = required_versions(&bytes).expect("parse");
        assert!(newest_glibc(&v).is_some(), "{v:?}");
    }
}
