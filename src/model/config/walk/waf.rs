//! The checks of `[waf]` (docs/waf.md).

use super::*;
use crate::model::config::fields::{rate_limit as rl, top, waf as w};
use crate::model::config::rules::q;
use crate::model::config::{RateLimit, WafSettings};
use crate::model::waf::{
    self, managed_group, ManagedGroup, DEFAULT_MANAGED_RULES, INCLUDED_CAPACITY, WINDOWS,
};

impl Checker<'_> {
    /// `[waf]`, or `None` when it is absent or wrong (reported).
    pub(super) fn waf(&mut self, top: &Tbl) -> Option<WafSettings> {
        let Got::Val(t) = self.sub_table(top, &top::WAF) else {
            return None;
        };
        self.check_unknown_keys(&t, &fields::WAF);
        let managed = match self.get_str_array(&t, &w::MANAGED_RULES) {
            Got::Val(list) => self.check_managed_rules(&list),
            Got::Missing => Some(
                DEFAULT_MANAGED_RULES
                    .iter()
                    .filter_map(|s| managed_group(s).copied())
                    .collect(),
            ),
            Got::Bad => None,
        };
        let rate_limit = match self.sub_table(&t, &w::RATE_LIMIT) {
            Got::Val(r) => self.rate_limit(&r).map(Some),
            Got::Missing => Some(None),
            Got::Bad => None,
        };
        let countries = match self.get_str_array(&t, &w::BLOCK_COUNTRIES) {
            Got::Val(list) => self.check_countries(&list),
            Got::Missing => Some(Vec::new()),
            Got::Bad => None,
        };
        let settings = WafSettings {
            managed_rules: managed?,
            rate_limit: rate_limit?,
            block_countries: countries?,
        };
        self.check_waf_capacity(&t, &settings)?;
        Some(settings)
    }

    fn check_managed_rules(&mut self, list: &[Str]) -> Option<Vec<ManagedGroup>> {
        self.check_duplicates("managed rule group", list, str::to_owned);
        let names: Vec<&str> = waf::MANAGED_GROUPS.iter().map(|g| g.short).collect();
        let mut groups = Vec::new();
        let mut ok = true;
        for s in list {
            if let Some(g) = managed_group(&s.value) {
                if !groups.contains(g) {
                    groups.push(*g);
                }
                continue;
            }
            ok = false;
            let by_aws_name = waf::managed_group_by_aws_name(&s.value).map(|g| g.short);
            let guess = by_aws_name.or_else(|| did_you_mean(&s.value, &names));
            let list = names.join(", ");
            let help = match guess {
                Some(g) => format!("did you mean \"{g}\"? The groups albkit offers: {list}"),
                None => format!("use one of {list}"),
            };
            self.bad(
                s,
                format!("{} is not a managed rule group albkit offers", q(&s.value)),
                help,
            );
        }
        ok.then_some(groups)
    }

    fn rate_limit(&mut self, t: &Tbl) -> Option<RateLimit> {
        self.check_unknown_keys(t, &fields::WAF_RATE_LIMIT);
        let requests = match self.get_int(t, rl::REQUESTS.key) {
            Got::Val(v) => {
                let (min, max) = waf::RATE_LIMIT_REQUESTS;
                self.in_range(rl::REQUESTS.key, min, max, v)
            }
            Got::Missing => {
                let help = format!("add `requests = {}`", rl::REQUESTS.example_toml());
                self.missing(t, "requests", "required key `requests`", help);
                None
            }
            Got::Bad => None,
        };
        let seconds: Vec<u32> = WINDOWS.iter().map(|w| w.1).collect();
        let window_seconds = self.get_enum(t, &rl::PER, &seconds);
        Some(RateLimit {
            requests: requests?,
            window_seconds: window_seconds?,
        })
    }

    fn check_countries(&mut self, list: &[Str]) -> Option<Vec<String>> {
        self.check_duplicates("country", list, str::to_ascii_uppercase);
        let mut codes = Vec::new();
        let mut ok = true;
        for s in list {
            let upper = s.value.to_ascii_uppercase();
            if waf::is_country_code(&upper) {
                codes.push(upper);
                continue;
            }
            ok = false;
            let help = match upper.as_str() {
                "UK" => "the United Kingdom's code is \"GB\"".to_owned(),
                _ => "use the two-letter ISO 3166-1 alpha-2 code of the country, e.g. \"KP\""
                    .to_owned(),
            };
            self.bad(
                s,
                format!("{} is not a country code AWS WAF knows", q(&s.value)),
                help,
            );
        }
        codes.sort();
        codes.dedup();
        ok.then_some(codes)
    }

    /// Over [`INCLUDED_CAPACITY`] web ACL capacity units, AWS WAF charges more per
    /// request: a warning. (Every group albkit offers fits in a web ACL's maximum at
    /// once: `model::waf`'s tests.)
    fn check_waf_capacity(&mut self, t: &Tbl, settings: &WafSettings) -> Option<()> {
        let used = settings.capacity();
        let span = Self::lookup(t, w::MANAGED_RULES.key).and_then(|(_, _, s)| s);
        let path = join(&t.path, w::MANAGED_RULES.key);
        if used > INCLUDED_CAPACITY {
            self.warn(
                &path,
                span,
                format!(
                    "these rules need {used} web ACL capacity units: over {INCLUDED_CAPACITY}, \
                     AWS WAF charges more per request"
                ),
                "see docs/waf.md, \"Cost\"; remove a managed rule group to stay under it"
                    .to_owned(),
            );
        }
        Some(())
    }
}
