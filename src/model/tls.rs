//! The ELB security policies an HTTPS listener of an Application Load Balancer can use,
//! with the TLS versions each one lets a client negotiate, and what albkit makes of them.
//!
//! The table follows AWS's page "Security policies for your Application Load Balancer"
//! (<https://docs.aws.amazon.com/elasticloadbalancing/latest/application/describe-ssl-policies.html>);
//! docs/tls-policies.md explains it. Every policy allows a contiguous range of versions,
//! so a policy is its oldest and its newest version.
//!
//! - Oldest version below TLS 1.2 (TLS 1.0 or 1.1, deprecated by RFC 8996): refused.
//! - TLS 1.2 without TLS 1.3: accepted with a warning.
//! - A name the table does not know: accepted with a warning (AWS adds policies; ELB
//!   itself refuses a name it does not know when the listener is created).

use std::fmt;

use TlsVersion::{V1_0, V1_1, V1_2, V1_3};

/// A TLS protocol version, oldest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum TlsVersion {
    V1_0,
    V1_1,
    V1_2,
    V1_3,
}

impl fmt::Display for TlsVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            TlsVersion::V1_0 => "TLS 1.0",
            TlsVersion::V1_1 => "TLS 1.1",
            TlsVersion::V1_2 => "TLS 1.2",
            TlsVersion::V1_3 => "TLS 1.3",
        })
    }
}

/// One predefined ELB security policy: its name and the versions it allows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SecurityPolicy {
    pub name: &'static str,
    pub oldest: TlsVersion,
    pub newest: TlsVersion,
}

impl SecurityPolicy {
    pub fn allows(&self, v: TlsVersion) -> bool {
        self.oldest <= v && v <= self.newest
    }

    /// The versions it allows, oldest first.
    pub fn versions(&self) -> Vec<TlsVersion> {
        [
            TlsVersion::V1_0,
            TlsVersion::V1_1,
            TlsVersion::V1_2,
            TlsVersion::V1_3,
        ]
        .into_iter()
        .filter(|v| self.allows(*v))
        .collect()
    }
}

const fn p(name: &'static str, oldest: TlsVersion, newest: TlsVersion) -> SecurityPolicy {
    SecurityPolicy {
        name,
        oldest,
        newest,
    }
}

/// Every predefined policy of an Application Load Balancer's HTTPS listener, grouped as
/// docs/tls-policies.md lists them.
pub const POLICIES: &[SecurityPolicy] = &[
    // TLS 1.3 policies.
    p("ELBSecurityPolicy-TLS13-1-3-2021-06", V1_3, V1_3),
    p("ELBSecurityPolicy-TLS13-1-2-2021-06", V1_2, V1_3),
    p("ELBSecurityPolicy-TLS13-1-2-Res-2021-06", V1_2, V1_3),
    p("ELBSecurityPolicy-TLS13-1-2-Ext1-2021-06", V1_2, V1_3),
    p("ELBSecurityPolicy-TLS13-1-2-Ext2-2021-06", V1_2, V1_3),
    p("ELBSecurityPolicy-TLS13-1-1-2021-06", V1_1, V1_3),
    p("ELBSecurityPolicy-TLS13-1-0-2021-06", V1_0, V1_3),
    // TLS 1.3 policies with hybrid post-quantum key exchange (ML-KEM).
    p("ELBSecurityPolicy-TLS13-1-3-PQ-2025-09", V1_3, V1_3),
    p("ELBSecurityPolicy-TLS13-1-2-PQ-2025-09", V1_2, V1_3),
    p("ELBSecurityPolicy-TLS13-1-2-Res-PQ-2025-09", V1_2, V1_3),
    p("ELBSecurityPolicy-TLS13-1-2-Ext1-PQ-2025-09", V1_2, V1_3),
    p("ELBSecurityPolicy-TLS13-1-2-Ext2-PQ-2025-09", V1_2, V1_3),
    p("ELBSecurityPolicy-TLS13-1-0-PQ-2025-09", V1_0, V1_3),
    // FIPS policies.
    p("ELBSecurityPolicy-TLS13-1-3-FIPS-2023-04", V1_3, V1_3),
    p("ELBSecurityPolicy-TLS13-1-2-FIPS-2023-04", V1_2, V1_3),
    p("ELBSecurityPolicy-TLS13-1-2-Res-FIPS-2023-04", V1_2, V1_3),
    p("ELBSecurityPolicy-TLS13-1-2-Ext0-FIPS-2023-04", V1_2, V1_3),
    p("ELBSecurityPolicy-TLS13-1-2-Ext1-FIPS-2023-04", V1_2, V1_3),
    p("ELBSecurityPolicy-TLS13-1-2-Ext2-FIPS-2023-04", V1_2, V1_3),
    p("ELBSecurityPolicy-TLS13-1-1-FIPS-2023-04", V1_1, V1_3),
    p("ELBSecurityPolicy-TLS13-1-0-FIPS-2023-04", V1_0, V1_3),
    // FIPS policies with hybrid post-quantum key exchange.
    p("ELBSecurityPolicy-TLS13-1-3-FIPS-PQ-2025-09", V1_3, V1_3),
    p("ELBSecurityPolicy-TLS13-1-2-FIPS-PQ-2025-09", V1_2, V1_3),
    p(
        "ELBSecurityPolicy-TLS13-1-2-Res-FIPS-PQ-2025-09",
        V1_2,
        V1_3,
    ),
    p(
        "ELBSecurityPolicy-TLS13-1-2-Ext0-FIPS-PQ-2025-09",
        V1_2,
        V1_3,
    ),
    p(
        "ELBSecurityPolicy-TLS13-1-2-Ext1-FIPS-PQ-2025-09",
        V1_2,
        V1_3,
    ),
    p(
        "ELBSecurityPolicy-TLS13-1-2-Ext2-FIPS-PQ-2025-09",
        V1_2,
        V1_3,
    ),
    p("ELBSecurityPolicy-TLS13-1-1-FIPS-PQ-2025-09", V1_1, V1_3),
    p("ELBSecurityPolicy-TLS13-1-0-FIPS-PQ-2025-09", V1_0, V1_3),
    // Forward-secrecy policies (no TLS 1.3).
    p("ELBSecurityPolicy-FS-1-2-Res-2020-10", V1_2, V1_2),
    p("ELBSecurityPolicy-FS-1-2-Res-2019-08", V1_2, V1_2),
    p("ELBSecurityPolicy-FS-1-2-2019-08", V1_2, V1_2),
    p("ELBSecurityPolicy-FS-1-1-2019-08", V1_1, V1_2),
    p("ELBSecurityPolicy-FS-2018-06", V1_0, V1_2),
    // TLS 1.0–1.2 policies and the API's historical default.
    p("ELBSecurityPolicy-TLS-1-2-Ext-2018-06", V1_2, V1_2),
    p("ELBSecurityPolicy-TLS-1-2-2017-01", V1_2, V1_2),
    p("ELBSecurityPolicy-TLS-1-1-2017-01", V1_1, V1_2),
    p("ELBSecurityPolicy-TLS-1-0-2015-04", V1_0, V1_2),
    p("ELBSecurityPolicy-2016-08", V1_0, V1_2),
    p("ELBSecurityPolicy-2015-05", V1_0, V1_2),
];

/// The policy of that exact name (ELB's names are case-sensitive).
pub fn lookup(name: &str) -> Option<&'static SecurityPolicy> {
    POLICIES.iter().find(|p| p.name == name)
}

/// What albkit makes of a policy name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// TLS 1.2 and newer, TLS 1.3 included.
    Good,
    /// Allows TLS 1.2 but not TLS 1.3: accepted with a warning.
    NoTls13,
    /// Allows these versions below TLS 1.2: refused.
    Weak(Vec<TlsVersion>),
    /// Not in [`POLICIES`].
    Unknown,
}

pub fn judge(name: &str) -> Verdict {
    let Some(policy) = lookup(name) else {
        return Verdict::Unknown;
    };
    let weak: Vec<TlsVersion> = policy
        .versions()
        .into_iter()
        .filter(|v| *v < V1_2)
        .collect();
    if !weak.is_empty() {
        Verdict::Weak(weak)
    } else if !policy.allows(V1_3) {
        Verdict::NoTls13
    } else {
        Verdict::Good
    }
}

/// "TLS 1.0 and TLS 1.1", "TLS 1.2 and TLS 1.3", "TLS 1.3".
pub fn list(versions: &[TlsVersion]) -> String {
    let names: Vec<String> = versions.iter().map(ToString::to_string).collect();
    match names.split_last() {
        None => String::new(),
        Some((last, [])) => last.clone(),
        Some((last, rest)) => format!("{} and {last}", rest.join(", ")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::config::DEFAULT_SSL_POLICY;
    use std::collections::HashSet;

    #[test]
    fn names_are_unique_and_well_formed() {
        let mut seen = HashSet::new();
        for p in POLICIES {
            assert!(seen.insert(p.name), "{} listed twice", p.name);
            assert!(p.name.starts_with("ELBSecurityPolicy-"), "{}", p.name);
            assert!(p.oldest <= p.newest, "{}", p.name);
        }
    }

    #[test]
    fn the_default_is_good() {
        assert_eq!(judge(DEFAULT_SSL_POLICY), Verdict::Good);
        assert_eq!(
            lookup(DEFAULT_SSL_POLICY).map(SecurityPolicy::versions),
            Some(vec![V1_2, V1_3])
        );
    }

    #[test]
    fn policies_allowing_tls_1_0_or_1_1_are_weak() {
        for (name, weak) in [
            ("ELBSecurityPolicy-2016-08", vec![V1_0, V1_1]),
            ("ELBSecurityPolicy-2015-05", vec![V1_0, V1_1]),
            ("ELBSecurityPolicy-TLS-1-0-2015-04", vec![V1_0, V1_1]),
            ("ELBSecurityPolicy-TLS-1-1-2017-01", vec![V1_1]),
            ("ELBSecurityPolicy-FS-2018-06", vec![V1_0, V1_1]),
            ("ELBSecurityPolicy-FS-1-1-2019-08", vec![V1_1]),
            ("ELBSecurityPolicy-TLS13-1-1-2021-06", vec![V1_1]),
            ("ELBSecurityPolicy-TLS13-1-0-2021-06", vec![V1_0, V1_1]),
            ("ELBSecurityPolicy-TLS13-1-0-PQ-2025-09", vec![V1_0, V1_1]),
            ("ELBSecurityPolicy-TLS13-1-1-FIPS-2023-04", vec![V1_1]),
            (
                "ELBSecurityPolicy-TLS13-1-0-FIPS-PQ-2025-09",
                vec![V1_0, V1_1],
            ),
        ] {
            assert_eq!(judge(name), Verdict::Weak(weak), "{name}");
        }
    }

    #[test]
    fn tls_1_2_only_policies_are_warned_about() {
        for name in [
            "ELBSecurityPolicy-TLS-1-2-2017-01",
            "ELBSecurityPolicy-TLS-1-2-Ext-2018-06",
            "ELBSecurityPolicy-FS-1-2-2019-08",
            "ELBSecurityPolicy-FS-1-2-Res-2019-08",
            "ELBSecurityPolicy-FS-1-2-Res-2020-10",
        ] {
            assert_eq!(judge(name), Verdict::NoTls13, "{name}");
        }
    }

    #[test]
    fn tls_1_3_policies_from_1_2_up_are_good() {
        for name in [
            "ELBSecurityPolicy-TLS13-1-3-2021-06",
            "ELBSecurityPolicy-TLS13-1-2-Res-2021-06",
            "ELBSecurityPolicy-TLS13-1-2-Ext1-2021-06",
            "ELBSecurityPolicy-TLS13-1-2-Ext2-2021-06",
            "ELBSecurityPolicy-TLS13-1-2-Res-PQ-2025-09",
            "ELBSecurityPolicy-TLS13-1-3-FIPS-2023-04",
            "ELBSecurityPolicy-TLS13-1-2-Ext0-FIPS-PQ-2025-09",
        ] {
            assert_eq!(judge(name), Verdict::Good, "{name}");
        }
    }

    #[test]
    fn the_verdict_follows_the_versions_for_every_policy() {
        for p in POLICIES {
            let expected = if p.oldest < V1_2 {
                "weak"
            } else if p.newest < V1_3 {
                "no 1.3"
            } else {
                "good"
            };
            let got = match judge(p.name) {
                Verdict::Weak(_) => "weak",
                Verdict::NoTls13 => "no 1.3",
                Verdict::Good => "good",
                Verdict::Unknown => "unknown",
            };
            assert_eq!(got, expected, "{}", p.name);
        }
    }

    #[test]
    fn names_are_matched_exactly() {
        assert_eq!(
            judge("ELBSecurityPolicy-TLS13-1-2-2021-6"),
            Verdict::Unknown
        );
        assert_eq!(judge("elbsecuritypolicy-2016-08"), Verdict::Unknown);
        assert_eq!(judge(""), Verdict::Unknown);
    }

    #[test]
    fn version_lists_read_as_english() {
        assert_eq!(list(&[V1_1]), "TLS 1.1");
        assert_eq!(list(&[V1_0, V1_1]), "TLS 1.0 and TLS 1.1");
        assert_eq!(list(&[V1_0, V1_1, V1_2]), "TLS 1.0, TLS 1.1 and TLS 1.2");
        assert_eq!(list(&[]), "");
    }
}
