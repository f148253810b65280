//! `[waf]`: what albkit knows of AWS WAF to check the section and to build the web
//! ACL's rules from it (docs/waf.md). Pure.

use super::config::{RateLimit, WafSettings};
use super::spec::WafRule;

/// An AWS managed rule group albkit offers by a short name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ManagedGroup {
    /// The name in `[waf] managed_rules`.
    pub short: &'static str,
    /// The group's name in AWS WAF (vendor `AWS`).
    pub aws: &'static str,
    /// Its web ACL capacity units (WCU), as AWS WAF's developer guide lists them.
    pub capacity: u32,
}

const fn group(short: &'static str, aws: &'static str, capacity: u32) -> ManagedGroup {
    ManagedGroup {
        short,
        aws,
        capacity,
    }
}

/// The baseline and IP-reputation groups of AWS's managed rules, which cost nothing
/// beyond the web ACL's own rule price. (Bot Control, account takeover and fraud
/// prevention are paid per request and need configuration: not offered.)
pub const MANAGED_GROUPS: &[ManagedGroup] = &[
    group("common", "AWSManagedRulesCommonRuleSet", 700),
    group(
        "admin-protection",
        "AWSManagedRulesAdminProtectionRuleSet",
        100,
    ),
    group(
        "known-bad-inputs",
        "AWSManagedRulesKnownBadInputsRuleSet",
        200,
    ),
    group("sqli", "AWSManagedRulesSQLiRuleSet", 200),
    group("linux", "AWSManagedRulesLinuxRuleSet", 200),
    group("unix", "AWSManagedRulesUnixRuleSet", 100),
    group("windows", "AWSManagedRulesWindowsRuleSet", 200),
    group("php", "AWSManagedRulesPHPRuleSet", 100),
    group("wordpress", "AWSManagedRulesWordPressRuleSet", 100),
    group("ip-reputation", "AWSManagedRulesAmazonIpReputationList", 25),
    group("anonymous-ip", "AWSManagedRulesAnonymousIpList", 50),
];

/// `managed_rules` when `[waf]` does not set it: the groups AWS recommends for any web
/// application.
pub const DEFAULT_MANAGED_RULES: &[&str] = &["common", "known-bad-inputs", "ip-reputation"];

/// The most capacity a web ACL can hold; over [`INCLUDED_CAPACITY`] its requests cost
/// more.
pub const MAX_CAPACITY: u32 = 5000;
/// The capacity included in the web ACL's base request price.
pub const INCLUDED_CAPACITY: u32 = 1500;
/// A rate-based rule's capacity (aggregated by IP, no scope-down statement).
const RATE_LIMIT_CAPACITY: u32 = 2;
/// A geographic match statement's capacity.
const GEO_MATCH_CAPACITY: u32 = 1;

/// The rate limit's smallest and largest number of requests.
pub const RATE_LIMIT_REQUESTS: (u32, u32) = (10, 2_000_000_000);

/// The country codes a geographic match statement takes: ISO 3166-1 alpha-2, and `XK`
/// (Kosovo).
const COUNTRY_CODES: &str = "AD AE AF AG AI AL AM AO AQ AR AS AT AU AW AX AZ BA BB BD BE BF BG \
    BH BI BJ BL BM BN BO BQ BR BS BT BV BW BY BZ CA CC CD CF CG CH CI CK CL CM CN CO CR CU CV CW \
    CX CY CZ DE DJ DK DM DO DZ EC EE EG EH ER ES ET FI FJ FK FM FO FR GA GB GD GE GF GG GH GI GL \
    GM GN GP GQ GR GS GT GU GW GY HK HM HN HR HT HU ID IE IL IM IN IO IQ IR IS IT JE JM JO JP KE \
    KG KH KI KM KN KP KR KW KY KZ LA LB LC LI LK LR LS LT LU LV LY MA MC MD ME MF MG MH MK ML MM \
    MN MO MP MQ MR MS MT MU MV MW MX MY MZ NA NC NE NF NG NI NL NO NP NR NU NZ OM PA PE PF PG PH \
    PK PL PM PN PR PS PT PW PY QA RE RO RS RU RW SA SB SC SD SE SG SH SI SJ SK SL SM SN SO SR SS \
    ST SV SX SY SZ TC TD TF TG TH TJ TK TL TM TN TO TR TT TV TW TZ UA UG UM US UY UZ VA VC VE VG \
    VI VN VU WF WS XK YE YT ZA ZM ZW";

/// Every country code AWS WAF matches on.
pub fn country_codes() -> impl Iterator<Item = &'static str> {
    COUNTRY_CODES.split_whitespace()
}

/// Whether `code` is one of [`country_codes`].
pub fn is_country_code(code: &str) -> bool {
    country_codes().any(|c| c == code)
}

/// The managed group with the short name `short`.
pub fn managed_group(short: &str) -> Option<&'static ManagedGroup> {
    MANAGED_GROUPS.iter().find(|g| g.short == short)
}

/// The managed group whose AWS name is `aws`.
pub fn managed_group_by_aws_name(aws: &str) -> Option<&'static ManagedGroup> {
    MANAGED_GROUPS.iter().find(|g| g.aws == aws)
}

/// The rate limit's evaluation windows, as written in the config and in seconds.
pub const WINDOWS: &[(&str, u32)] = &[("1m", 60), ("2m", 120), ("5m", 300), ("10m", 600)];

impl WafSettings {
    /// The web ACL's rules, in priority order: countries first (the cheapest check and a
    /// plain block), then the rate limit, then the managed groups as the config lists
    /// them.
    pub fn rules(&self) -> Vec<WafRule> {
        let mut rules = Vec::new();
        if !self.block_countries.is_empty() {
            rules.push(WafRule::BlockCountries(self.block_countries.clone()));
        }
        if let Some(RateLimit {
            requests,
            window_seconds,
        }) = self.rate_limit
        {
            rules.push(WafRule::RateLimit {
                requests: u64::from(requests),
                window_seconds,
            });
        }
        rules.extend(
            self.managed_rules
                .iter()
                .map(|g| WafRule::Managed(g.aws.to_string())),
        );
        rules
    }

    /// The web ACL capacity units its rules use.
    pub fn capacity(&self) -> u32 {
        let countries = if self.block_countries.is_empty() {
            0
        } else {
            GEO_MATCH_CAPACITY
        };
        let rate = if self.rate_limit.is_some() {
            RATE_LIMIT_CAPACITY
        } else {
            0
        };
        countries + rate + self.managed_rules.iter().map(|g| g.capacity).sum::<u32>()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(managed: &[&str], rate: Option<RateLimit>, countries: &[&str]) -> WafSettings {
        WafSettings {
            managed_rules: managed
                .iter()
                .map(|s| *managed_group(s).expect("known group"))
                .collect(),
            rate_limit: rate,
            block_countries: countries.iter().map(ToString::to_string).collect(),
        }
    }

    #[test]
    fn rules_go_countries_rate_limit_then_managed_groups_in_config_order() {
        let waf = settings(
            &["sqli", "common"],
            Some(RateLimit {
                requests: 500,
                window_seconds: 60,
            }),
            &["KP"],
        );
        assert_eq!(
            waf.rules(),
            vec![
                WafRule::BlockCountries(vec!["KP".into()]),
                WafRule::RateLimit {
                    requests: 500,
                    window_seconds: 60
                },
                WafRule::Managed("AWSManagedRulesSQLiRuleSet".into()),
                WafRule::Managed("AWSManagedRulesCommonRuleSet".into()),
            ]
        );
        assert_eq!(waf.capacity(), 1 + 2 + 200 + 700);
    }

    #[test]
    fn the_default_groups_fit_in_the_included_capacity() {
        let waf = settings(DEFAULT_MANAGED_RULES, None, &[]);
        assert_eq!(waf.capacity(), 925);
        assert!(waf.capacity() <= INCLUDED_CAPACITY);
        let all: Vec<&str> = MANAGED_GROUPS.iter().map(|g| g.short).collect();
        assert!(settings(&all, None, &[]).capacity() <= MAX_CAPACITY);
    }

    #[test]
    fn country_codes_are_two_upper_case_letters_each_once() {
        let codes: Vec<&str> = country_codes().collect();
        assert_eq!(codes.len(), 250);
        let unique: std::collections::BTreeSet<&str> = codes.iter().copied().collect();
        assert_eq!(unique.len(), codes.len());
        assert!(codes
            .iter()
            .all(|c| c.len() == 2 && c.bytes().all(|b| b.is_ascii_uppercase())));
        assert!(is_country_code("XK") && is_country_code("US") && !is_country_code("UK"));
    }

    #[test]
    fn groups_are_found_by_either_name() {
        assert_eq!(
            managed_group("ip-reputation").map(|g| g.aws),
            Some("AWSManagedRulesAmazonIpReputationList")
        );
        assert_eq!(
            managed_group_by_aws_name("AWSManagedRulesCommonRuleSet").map(|g| g.short),
            Some("common")
        );
        assert!(managed_group("AWSManagedRulesCommonRuleSet").is_none());
    }
}
