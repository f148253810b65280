//! The checks of `[alarms]` (docs/alarms.md).

use super::*;
use crate::model::config::fields::{alarms as a, top};
use crate::model::config::rules::q;
use crate::model::config::AlarmSettings;

/// How many email addresses `notify` takes: each is a subscription AWS mails.
pub(crate) const MAX_NOTIFY: usize = 10;

impl Checker<'_> {
    /// `[alarms]`, or `None` when it is absent or wrong (reported).
    pub(super) fn alarms(&mut self, top: &Tbl) -> Option<AlarmSettings> {
        let Got::Val(t) = self.sub_table(top, &top::ALARMS) else {
            return None;
        };
        self.check_unknown_keys(&t, &fields::ALARMS);
        let http_5xx_percent = self.get_int_in_range(&t, &a::HTTP_5XX_PERCENT);
        let http_5xx = self.get_int_in_range(&t, &a::HTTP_5XX);
        let lambda_errors = self.get_int_in_range(&t, &a::LAMBDA_ERRORS);
        let latency_p99_ms = self.get_int_in_range(&t, &a::LATENCY_P99_MS);
        let throttles = self.get_int_in_range(&t, &a::THROTTLES);
        let unhealthy_targets = self.get_int_in_range(&t, &a::UNHEALTHY_TARGETS);
        let dashboard = self.get_bool(&t, &a::DASHBOARD);
        let notify = match self.get_str_array(&t, &a::NOTIFY) {
            Got::Val(list) => self.check_notify(&t, &list),
            Got::Missing => Some(Vec::new()),
            Got::Bad => None,
        };
        Some(AlarmSettings {
            http_5xx_percent: http_5xx_percent?,
            http_5xx: http_5xx?,
            lambda_errors: lambda_errors?,
            latency_p99_ms: latency_p99_ms?,
            throttles: throttles?,
            unhealthy_targets: unhealthy_targets?,
            notify: notify?,
            dashboard: dashboard?,
        })
    }

    /// Email addresses: each one `local@domain` (SNS refuses others), no duplicates,
    /// at most [`MAX_NOTIFY`]. Sorted and lower-cased, as the plan shows them.
    fn check_notify(&mut self, t: &Tbl, list: &[Str]) -> Option<Vec<String>> {
        self.check_duplicates("email address", list, str::to_ascii_lowercase);
        let mut ok = true;
        for s in list {
            if !is_email(&s.value) {
                ok = false;
                self.bad(
                    s,
                    format!("{} is not an email address", q(&s.value)),
                    "write one address per entry, e.g. \"ops@example.com\"",
                );
            }
        }
        if let (true, Some((_, path, span))) =
            (list.len() > MAX_NOTIFY, Self::lookup(t, a::NOTIFY.key))
        {
            ok = false;
            self.push(
                &path,
                span,
                format!(
                    "notify lists {} addresses; at most {MAX_NOTIFY}",
                    list.len()
                ),
                "send the alarms to a mailing list's one address instead",
            );
        }
        let mut out: Vec<String> = list.iter().map(|s| s.value.to_ascii_lowercase()).collect();
        out.sort();
        out.dedup();
        ok.then_some(out)
    }
}

/// `local@domain.tld`: one `@`, something before it, a dot inside the domain, no
/// spaces or control characters, at most 254 characters.
fn is_email(s: &str) -> bool {
    let Some((local, domain)) = s.split_once('@') else {
        return false;
    };
    let clean = s
        .chars()
        .all(|c| c.is_ascii_graphic() && c != ',' && c != ';');
    clean
        && s.len() <= 254
        && !local.is_empty()
        && !domain.contains('@')
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
}
