//! The checks of attach mode (`[load_balancer] listener_arn`, docs/attach.md): the
//! listener ARNs and the priority range, the keys that would build or change what
//! belongs to the shared load balancer's owner, and the routes a shared listener takes.

use super::*;
use crate::model::config::fields::{load_balancer as lb, top};
use crate::model::config::rules::*;
use crate::model::config::{Attach, PriorityRange};
use crate::model::ids::ListenerArn;

/// The keys of `[load_balancer]` that are attach mode's own.
const ATTACH_KEYS: [&str; 3] = [
    lb::LISTENER_ARN.key,
    lb::HTTP_LISTENER_ARN.key,
    lb::PRIORITY_RANGE.key,
];

/// The sections whose every setting is the shared load balancer's, and what to do.
const REFUSED_SECTIONS: [(&Field, &str); 4] = [
    (
        &top::NETWORK,
        "the VPC and subnets are the shared load balancer's: remove [network]",
    ),
    (
        &top::HTTPS,
        "the listener's certificates, TLS policy and response headers are its owner's, and \
         albkit writes no DNS record in attach mode: remove [https] (give listener_arn the \
         HTTPS listener to serve HTTPS)",
    ),
    (
        &top::WAF,
        "a web ACL is associated with the whole load balancer, every team's routes: remove \
         [waf], or ask the load balancer's owner to associate one",
    ),
    (
        &top::ALARMS,
        "the stack's alarms and dashboard watch a load balancer of its own; on a shared \
         one its metrics are every team's: remove [alarms] (docs/attach.md)",
    ),
];

impl Checker<'_> {
    /// Attach mode's keys of `[load_balancer]` (`t`): `Some(None)` without
    /// `listener_arn`, `None` when wrong (reported). With `listener_arn`, everything that
    /// would build or change the network, the load balancer or its listeners is refused.
    pub(super) fn attach(&mut self, top: &Tbl, t: &Tbl) -> Option<Option<Attach>> {
        let Some((_, main_path, main_span)) = Self::lookup(t, lb::LISTENER_ARN.key) else {
            for key in &ATTACH_KEYS[1..] {
                if let Some((_, path, span)) = Self::lookup(t, key) {
                    self.push(
                        &path,
                        span,
                        format!("`{key}` needs `listener_arn`: it is a setting of attach mode"),
                        "add `listener_arn = \"arn:aws:elasticloadbalancing:…:listener/app/…\"` \
                         to attach the stack to that listener, or remove `{key}`"
                            .replace("{key}", key),
                    );
                }
            }
            return Some(None);
        };
        self.attach = true;
        self.refuse_builders(top, t);
        let main = self.listener_arn(t, &lb::LISTENER_ARN);
        let http = self.listener_arn(t, &lb::HTTP_LISTENER_ARN);
        if let (Some(Some(main)), Some(Some(http))) = (&main, &http) {
            if main == http {
                self.push(
                    &main_path,
                    main_span,
                    "listener_arn and http_listener_arn name the same listener",
                    "remove `http_listener_arn`: the rules go on `listener_arn` once",
                );
                return None;
            }
            if main.load_balancer() != http.load_balancer() {
                self.push(
                    &join(&t.path, lb::HTTP_LISTENER_ARN.key),
                    Self::lookup(t, lb::HTTP_LISTENER_ARN.key).and_then(|(_, _, s)| s),
                    "http_listener_arn is a listener of another load balancer than listener_arn",
                    "give the second listener of the same load balancer (its port-80 one), or \
                     remove `http_listener_arn`",
                );
                return None;
            }
        }
        let range = self.priority_range(t);
        Some(Some(Attach {
            listener_arn: main??,
            http_listener_arn: http?,
            priority_range: range?,
        }))
    }

    /// A listener ARN of the stack's region: `Some(None)` when absent.
    fn listener_arn(&mut self, t: &Tbl, f: &Field) -> Option<Option<ListenerArn>> {
        let s = match self.get_str(t, f) {
            Got::Val(s) => s,
            Got::Missing => return Some(None),
            Got::Bad => return None,
        };
        let region = match listener_arn_region(&s.value) {
            Ok(region) => region.to_owned(),
            Err(why) => {
                self.bad(
                    &s,
                    format!("{} {} is not a listener ARN: {why}", f.key, q(&s.value)),
                    "copy the ListenerArn from `aws elbv2 describe-listeners --load-balancer-arn \
                     …`; it looks like \"arn:aws:elasticloadbalancing:us-east-1:123456789012:\
                     listener/app/<load balancer>/<id>/<id>\"",
                );
                return None;
            }
        };
        if let Some(stack) = self.region.clone().filter(|r| *r != region) {
            self.bad(
                &s,
                format!("{} is in {region}, but the stack is in {stack}", f.key),
                format!(
                    "a target group can only serve a load balancer of its own region: attach \
                     to a listener in {stack}, or set [stack] region = \"{region}\""
                ),
            );
            return None;
        }
        Some(Some(ListenerArn::new(s.value)))
    }

    /// `priority_range = [from, to]`, `1 <= from <= to <= 50000`; the whole range when
    /// absent.
    fn priority_range(&mut self, t: &Tbl) -> Option<PriorityRange> {
        let f = &lb::PRIORITY_RANGE;
        let Ty::IntRange { min, max } = f.ty else {
            unreachable!("{} is not an integer range", f.key)
        };
        let Some((item, path, span)) = Self::lookup(t, f.key) else {
            return Some(PriorityRange::ALL);
        };
        let pair = item.as_array().and_then(|a| {
            let ints: Vec<i64> = a.iter().filter_map(Value::as_integer).collect();
            (a.len() == 2 && ints.len() == 2).then(|| (ints[0], ints[1]))
        });
        let help = format!(
            "write two priorities from {min} to {max}, the lower first, e.g. `{} = {}`",
            f.key, f.example
        );
        let Some((from, to)) = pair else {
            let message = format!("{} must be two integers [from, to]", f.key);
            self.push(&path, span, message, help);
            return None;
        };
        let in_range = |n: i64| u32::try_from(n).ok().filter(|v| (min..=max).contains(v));
        match (in_range(from), in_range(to)) {
            (Some(from), Some(to)) if from <= to => Some(PriorityRange { from, to }),
            (Some(from), Some(to)) => {
                let message = format!("{} [{from}, {to}] ends before it starts", f.key);
                let help = format!(
                    "write the lower priority first: `{} = [{to}, {from}]`",
                    f.key
                );
                self.push(&path, span, message, help);
                None
            }
            _ => {
                let message = format!("{} [{from}, {to}] is out of range ({min}–{max})", f.key);
                self.push(&path, span, message, help);
                None
            }
        }
    }

    /// Refuses, each at its place, the keys of `[load_balancer]` besides attach mode's
    /// and the sections that would build or change the network, the load balancer or its
    /// listeners. Defaults of those keys simply do not apply.
    fn refuse_builders(&mut self, top: &Tbl, t: &Tbl) {
        for (key, item) in t.t.iter() {
            if ATTACH_KEYS.contains(&key) {
                continue;
            }
            let (path, span) = (join(&t.path, key), item.span());
            self.push(
                &path,
                span,
                format!(
                    "`{key}` cannot be combined with `listener_arn`: it is a setting of the \
                     load balancer, which belongs to the listener's owner"
                ),
                format!(
                    "remove `{key}` (ask the load balancer's owner to change it), or remove \
                     `listener_arn` to let albkit create its own load balancer"
                ),
            );
        }
        for (f, help) in REFUSED_SECTIONS {
            if let Some((item, path, span)) = Self::lookup(top, f.key) {
                // An empty `[network]` (a template's, its keys commented out) asks for
                // nothing; an empty `[https]` or `[waf]` turns HTTPS or a web ACL on.
                let empty = item.as_table_like().is_some_and(TableLike::is_empty);
                if empty && f.key == top::NETWORK.key {
                    continue;
                }
                let span = self.header_span(span);
                self.push(
                    &path,
                    span,
                    format!(
                        "[{}] cannot be combined with load_balancer.listener_arn",
                        f.key
                    ),
                    help,
                );
            }
        }
    }

    /// In attach mode a route needs a host or a path that does not match every request:
    /// a catch-all rule would take what the listener's default action and the other
    /// teams' rules should get.
    pub(super) fn check_attached_route(
        &mut self,
        t: &Tbl,
        paths: Option<&Vec<String>>,
        hosts: Option<&Vec<String>>,
    ) {
        let (Some(paths), Some(hosts)) = (paths, hosts) else {
            return;
        };
        let narrows = |p: &String| !matches!(p.as_str(), "*" | "/*");
        if !self.attach || !hosts.is_empty() || paths.iter().any(narrows) {
            return;
        }
        self.push(
            &t.path,
            t.header.clone(),
            format!(
                "route {} matches every request, which on a shared listener takes what the \
                 listener's default action and other teams' rules should get",
                t.path
            ),
            "give it `hosts` or `paths` naming what this stack serves, e.g. `paths = \
             [\"/orders\", \"/orders/*\"]` or `hosts = [\"orders.example.com\"]`",
        );
    }
}
