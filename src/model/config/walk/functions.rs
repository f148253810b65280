//! The checks of `[[functions]]`, their health checks and routes.

use super::*;
use crate::model::config::fields::{
    deploy_gate as gate, function as func, health_check as hc, route, top,
};
use crate::model::config::rules::*;
use crate::model::config::{
    Architecture, FunctionSettings, HealthCheck, Matcher, Route, SecretRef,
};
use crate::model::shift::{GateThresholds, Strategy, STRATEGY_HELP};
use std::collections::{BTreeMap, HashSet};

impl Checker<'_> {
    // [[functions]]

    /// `reserved`: a priority albkit's own rule takes (the CORS preflight), which no
    /// route may use; `priorities`: those the `[[routes]]` took already, which the
    /// functions' routes may not take again.
    pub(super) fn functions(
        &mut self,
        top: &Tbl,
        root: &Path,
        reserved: Option<u32>,
        mut priorities: Vec<PriorityUse>,
    ) -> (PathBuf, Vec<FunctionSettings>) {
        let base = root.canonicalize();
        let root_out = base
            .as_ref()
            .map_or_else(|_| root.to_path_buf(), Clone::clone);
        let example = format!(
            "add a function:\n[[functions]]\nname = {}\npath = {}",
            func::NAME.example_toml(),
            func::PATH.example_toml()
        );
        let list = match self.table_list(top, &top::FUNCTIONS) {
            Got::Val(list) => list,
            Got::Bad => return (root_out, Vec::new()),
            Got::Missing => {
                self.missing(
                    top,
                    top::FUNCTIONS.key,
                    "[[functions]]: at least one function is required",
                    example,
                );
                return (root_out, Vec::new());
            }
        };
        if list.is_empty() {
            let span = Self::lookup(top, top::FUNCTIONS.key).and_then(|(_, _, s)| s);
            self.push(
                top::FUNCTIONS.key,
                span,
                "functions is empty: at least one function is required",
                example,
            );
        }
        let base = base.map_err(|e| format!("cannot resolve {}: {e}", root.display()));
        let https = Self::lookup(top, top::HTTPS.key).is_some();
        let mut names: HashMap<String, String> = HashMap::new();
        let mut out = Vec::new();
        for t in &list {
            if let Some(f) = self.function(t, &base, &mut names, &mut priorities, https) {
                out.push(f);
            }
        }
        self.check_priorities(&priorities);
        if let Some(reserved) = reserved {
            self.check_reserved_priority(&priorities, reserved);
        }
        (root_out, out)
    }

    fn function(
        &mut self,
        t: &Tbl,
        base: &Result<PathBuf, String>,
        names: &mut HashMap<String, String>,
        priorities: &mut Vec<PriorityUse>,
        https: bool,
    ) -> Option<FunctionSettings> {
        self.check_unknown_keys(t, &fields::FUNCTION);
        let name = self.function_name(t, names);
        let path = self
            .get_str(t, &func::PATH)
            .val()
            .and_then(|s| self.check_function_path(&s, base));
        let memory = self.get_int_in_range(t, &func::MEMORY_MB);
        let timeout = self.get_int_in_range(t, &func::TIMEOUT_SECONDS);
        let reserved = self.get_opt_int(t, &func::RESERVED_CONCURRENCY);
        let provisioned = self
            .get_opt_int(t, &func::PROVISIONED_CONCURRENCY)
            .and_then(|p| self.check_provisioned(t, p, reserved.flatten()));
        let archs = [Architecture::X86_64, Architecture::Arm64];
        let arch = self.get_enum(t, &func::ARCHITECTURE, &archs);
        let environment = self
            .get_str_map(t, &func::ENVIRONMENT)
            .check(BTreeMap::new(), |(table, entries)| {
                self.check_environment(&table, entries)
            });
        let secrets = self
            .get_str_map(t, &func::SECRETS)
            .check(BTreeMap::new(), |(_, entries)| {
                self.check_secrets(entries, environment.as_ref())
            });
        let kms_key_arn = self.kms_key_arn(t);
        let retention = self.log_retention(t);
        let multi = self.get_bool(t, &func::MULTI_VALUE_HEADERS);
        let health = self
            .sub_table(t, &func::HEALTH_CHECK)
            .check(None, |h| self.health_check(&h).map(Some));
        let strategy = self.deploy_strategy(t);
        let gate = self
            .sub_table(t, &func::DEPLOY_GATE)
            .check(GateThresholds::default(), |g| self.deploy_gate(&g));
        let label = name.clone().unwrap_or_else(|| t.path.clone());
        let routes = self.routes(t, &label, priorities, https);
        Some(FunctionSettings {
            name: name?,
            path: path?,
            target_dir: base.as_ref().ok()?.join("target"),
            memory_mb: memory?,
            timeout_seconds: timeout?,
            reserved_concurrency: reserved?,
            provisioned_concurrency: provisioned?,
            architecture: arch?,
            environment: environment?,
            secrets: secrets?,
            kms_key_arn: kms_key_arn?,
            log_retention_days: retention?,
            multi_value_headers: multi?,
            health_check: health?,
            deploy_strategy: strategy?,
            deploy_gate: gate?,
            routes: routes?,
        })
    }

    /// `deploy_strategy`: parsed as `--strategy` is.
    fn deploy_strategy(&mut self, t: &Tbl) -> Option<Strategy> {
        match self.get_str(t, &func::DEPLOY_STRATEGY) {
            Got::Val(s) => match s.value.parse() {
                Ok(strategy) => Some(strategy),
                Err(why) => {
                    self.bad(&s, why, STRATEGY_HELP);
                    None
                }
            },
            Got::Missing => Some(Strategy::AllAtOnce),
            Got::Bad => None,
        }
    }

    /// `[functions.deploy_gate]`.
    fn deploy_gate(&mut self, t: &Tbl) -> Option<GateThresholds> {
        self.check_unknown_keys(t, &fields::DEPLOY_GATE);
        let errors = self.get_int_in_range(t, &gate::ERRORS);
        let throttles = self.get_int_in_range(t, &gate::THROTTLES);
        let user = self.get_int_in_range(t, &gate::LAMBDA_USER_ERRORS);
        let internal = self.get_int_in_range(t, &gate::LAMBDA_INTERNAL_ERRORS);
        let target_5xx = self.get_int_in_range(t, &gate::TARGET_5XX);
        Some(GateThresholds {
            errors: errors?,
            throttles: throttles?,
            lambda_user_errors: user?,
            lambda_internal_errors: internal?,
            target_5xx: target_5xx?,
        })
    }

    /// A valid function name, not used by an earlier function.
    fn function_name(&mut self, t: &Tbl, names: &mut HashMap<String, String>) -> Option<String> {
        let s = self.get_str(t, &func::NAME).val()?;
        if !self.check_name("function name", &s, 32) {
            return None;
        }
        if let Some(first) = names.get(&s.value) {
            self.bad(
                &s,
                format!("function name {} is used twice", q(&s.value)),
                format!(
                    "{first} is already named {}; give each function a unique name, \
                     e.g. \"{}-2\"",
                    q(&s.value),
                    s.value
                ),
            );
            return None;
        }
        names.insert(s.value.clone(), t.path.clone());
        Some(s.value)
    }

    /// `kms_key_arn`: `Some(None)` when absent, `None` when wrong (reported).
    fn kms_key_arn(&mut self, t: &Tbl) -> Option<Option<String>> {
        let k = match self.get_str(t, &func::KMS_KEY_ARN) {
            Got::Val(k) => k,
            Got::Missing => return Some(None),
            Got::Bad => return None,
        };
        let key_id = |r: &str| r.strip_prefix("key/").is_some_and(|id| !id.is_empty());
        match check_arn(&k.value, "kms", key_id) {
            Ok(()) => Some(Some(k.value)),
            Err(why) => {
                self.bad(
                    &k,
                    format!("kms_key_arn {} is not a KMS key ARN: {why}", q(&k.value)),
                    "use the key's ARN (not an alias), e.g. \
                     \"arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab\"",
                );
                None
            }
        }
    }

    /// The routes of a function; their priorities are collected for the stack-wide check.
    fn routes(
        &mut self,
        t: &Tbl,
        function: &str,
        priorities: &mut Vec<PriorityUse>,
        https: bool,
    ) -> Option<Vec<Route>> {
        let list = match self.table_list(t, &func::ROUTES) {
            Got::Val(list) => list,
            Got::Missing => return Some(Vec::new()),
            Got::Bad => return None,
        };
        let mut routes = Some(Vec::new());
        for r in &list {
            let route = self.route(r, function, priorities, https);
            routes = routes.zip(route).map(|(mut v, r)| {
                v.push(r);
                v
            });
        }
        routes
    }

    fn check_function_path(&mut self, s: &Str, base: &Result<PathBuf, String>) -> Option<PathBuf> {
        match resolve_function_path(&s.value, base) {
            Ok(p) => Some(p),
            Err((message, help)) => {
                self.bad(s, message, help);
                None
            }
        }
    }

    fn check_environment(
        &mut self,
        table: &Tbl,
        entries: Vec<Entry>,
    ) -> Option<BTreeMap<String, String>> {
        let mut ok = true;
        let mut size = 0usize;
        let mut out = BTreeMap::new();
        for e in entries {
            size += e.key.len() + e.value.len();
            if RESERVED_ENV.contains(&e.key.as_str()) {
                self.push(
                    &e.path,
                    e.key_span,
                    format!("environment variable {} is reserved by Lambda", e.key),
                    format!("remove {}; Lambda sets it for every function", e.key),
                );
                ok = false;
            } else if !is_env_name(&e.key) {
                self.push(
                    &e.path,
                    e.key_span,
                    format!("environment variable name {} is not valid", q(&e.key)),
                    "use a letter followed by letters, digits and '_', e.g. \"RUST_LOG\"",
                );
                ok = false;
            } else {
                out.insert(e.key, e.value);
            }
        }
        if size > 4096 {
            self.push(
                &table.path,
                table.header.clone(),
                format!("environment is {size} bytes; Lambda allows at most 4096"),
                format!(
                    "shorten or remove variables ({} bytes too many), or load large settings at \
                     run time (e.g. from SSM Parameter Store)",
                    size - 4096
                ),
            );
            ok = false;
        }
        ok.then_some(out)
    }

    /// `secrets = { DB_URL = "arn:aws:secretsmanager:…", API_KEY = "ssm:/shop/api-key" }`.
    fn check_secrets(
        &mut self,
        entries: Vec<Entry>,
        environment: Option<&BTreeMap<String, String>>,
    ) -> Option<BTreeMap<String, SecretRef>> {
        let mut ok = true;
        let mut out = BTreeMap::new();
        for e in entries {
            if RESERVED_ENV.contains(&e.key.as_str()) || !is_env_name(&e.key) {
                self.push(
                    &e.path,
                    e.key_span,
                    format!(
                        "secret {} cannot be an environment variable name",
                        q(&e.key)
                    ),
                    "name it as an environment variable: a letter followed by letters, digits \
                     and '_', not one Lambda reserves, e.g. \"DB_URL\"",
                );
                ok = false;
                continue;
            }
            if environment.is_some_and(|env| env.contains_key(&e.key)) {
                self.push(
                    &e.path,
                    e.key_span,
                    format!(
                        "variable {} is both in `environment` and in `secrets`",
                        e.key
                    ),
                    format!(
                        "keep {} in one of them: the secret's variable holds its reference",
                        e.key
                    ),
                );
                ok = false;
                continue;
            }
            match parse_secret(&e.value) {
                Ok(r) => {
                    out.insert(e.key, r);
                }
                Err(why) => {
                    self.push(
                        &e.path,
                        e.value_span,
                        format!("secret {} is not a secret reference: {why}", e.key),
                        "use a Secrets Manager secret ARN \
                         (\"arn:aws:secretsmanager:us-east-1:123456789012:secret:shop/db-AbCdEf\") \
                         or an SSM parameter name prefixed with \"ssm:\" (\"ssm:/shop/api-key\")",
                    );
                    ok = false;
                }
            }
        }
        ok.then_some(out)
    }

    fn log_retention(&mut self, t: &Tbl) -> Option<u32> {
        let f = &func::LOG_RETENTION_DAYS;
        let Ty::IntOf { values, default } = f.ty else {
            unreachable!("{} is not an integer out of a list", f.key)
        };
        let (n, path, span) = match self.get_int(t, f.key) {
            Got::Val(v) => v,
            Got::Missing => return Some(default),
            Got::Bad => return None,
        };
        if let Some(v) = u32::try_from(n).ok().filter(|v| values.contains(v)) {
            return Some(v);
        }
        let below = values.iter().rev().find(|&&d| i64::from(d) < n);
        let above = values.iter().find(|&&d| i64::from(d) > n);
        let nearest = match (below, above) {
            (Some(b), Some(a)) => format!("{b} or {a}"),
            (Some(x), None) | (None, Some(x)) => x.to_string(),
            (None, None) => default.to_string(),
        };
        self.push(
            &path,
            span,
            format!("log_retention_days {n} is not a retention period CloudWatch Logs offers"),
            format!("the nearest allowed values are {nearest}"),
        );
        None
    }

    fn health_check(&mut self, t: &Tbl) -> Option<HealthCheck> {
        self.check_unknown_keys(t, &fields::HEALTH_CHECK);
        let path = self.health_path(t);
        let interval = self.get_int_in_range(t, &hc::INTERVAL_SECONDS);
        let timeout = self.get_int_in_range(t, &hc::TIMEOUT_SECONDS);
        let timing = match (interval, timeout) {
            (Some(i), Some(to)) => self.check_health_timing(t, i, to),
            _ => None,
        };
        let healthy = self.get_int_in_range(t, &hc::HEALTHY_THRESHOLD);
        let unhealthy = self.get_int_in_range(t, &hc::UNHEALTHY_THRESHOLD);
        let matcher = match self.get_str(t, &hc::MATCHER) {
            Got::Val(s) => self.check_matcher(&s),
            Got::Missing => hc::MATCHER.default.and_then(|d| d.parse().ok()),
            Got::Bad => None,
        };
        let (interval_seconds, timeout_seconds) = timing?;
        Some(HealthCheck {
            path: path?,
            interval_seconds,
            timeout_seconds,
            healthy_threshold: healthy?,
            unhealthy_threshold: unhealthy?,
            matcher: matcher?,
        })
    }

    fn health_path(&mut self, t: &Tbl) -> Option<String> {
        let s = self.get_str(t, &hc::PATH).val()?;
        let len = s.value.chars().count();
        if s.value.starts_with('/') && len <= 1024 {
            return Some(s.value);
        }
        let message = if len > 1024 {
            format!("health check path is {len} characters long; the limit is 1024")
        } else {
            format!("health check path {} must start with '/'", q(&s.value))
        };
        self.bad(
            &s,
            message,
            format!(
                "use a path such as \"/{}\"",
                s.value.trim_start_matches('/')
            ),
        );
        None
    }

    /// `provisioned_concurrency` when it fits in the function's reservation: Lambda
    /// refuses provisioned concurrency above the reserved concurrency.
    fn check_provisioned(
        &mut self,
        t: &Tbl,
        provisioned: Option<u32>,
        reserved: Option<u32>,
    ) -> Option<Option<u32>> {
        let (Some(p), Some(r)) = (provisioned, reserved) else {
            return Some(provisioned);
        };
        if p <= r {
            return Some(provisioned);
        }
        let key = func::PROVISIONED_CONCURRENCY.key;
        let span = Self::lookup(t, key).and_then(|(_, _, s)| s);
        self.push(
            &join(&t.path, key),
            span,
            format!(
                "provisioned_concurrency {p} is more than reserved_concurrency {r}: \
                 Lambda keeps provisioned environments within the reservation"
            ),
            format!(
                "set `provisioned_concurrency` to at most {r} or `reserved_concurrency` to at \
                 least {p}"
            ),
        );
        None
    }

    /// The interval and the timeout, when the timeout is below the interval.
    fn check_health_timing(&mut self, t: &Tbl, i: u32, to: u32) -> Option<(u32, u32)> {
        if to < i {
            return Some((i, to));
        }
        let key = if t.t.contains_key(hc::TIMEOUT_SECONDS.key) {
            hc::TIMEOUT_SECONDS.key
        } else {
            hc::INTERVAL_SECONDS.key
        };
        let span = Self::lookup(t, key).and_then(|(_, _, s)| s);
        self.push(
            &join(&t.path, key),
            span,
            format!("health check timeout_seconds {to} must be less than interval_seconds {i}"),
            format!(
                "set `timeout_seconds` to at most {} or `interval_seconds` to at least {}",
                i.saturating_sub(1).max(2),
                to + 1
            ),
        );
        None
    }

    fn check_matcher(&mut self, s: &Str) -> Option<Matcher> {
        match s.value.parse() {
            Ok(m) => Some(m),
            Err(why) => {
                self.bad(
                    s,
                    format!("health check matcher {} is not valid: {why}", q(&s.value)),
                    "use HTTP codes from 200 to 499: one code \"200\", a range \"200-299\" \
                     or a list \"200,204\"",
                );
                None
            }
        }
    }

    // -----------------------------------------------------------------------------------
    // [[functions.routes]]

    fn route(
        &mut self,
        t: &Tbl,
        function: &str,
        priorities: &mut Vec<PriorityUse>,
        https: bool,
    ) -> Option<Route> {
        self.check_unknown_keys(t, &fields::ROUTE);
        let auth = self.auth(t, &route::AUTH, https);
        let route = self.route_conditions(t, &format!("function {}", q(function)), priorities);
        Some(Route {
            auth: auth?,
            ..route?
        })
    }

    /// The priority and conditions of a route (`[[functions.routes]]` or `[[routes]]`),
    /// whose `owner` the duplicate-priority message names.
    pub(super) fn route_conditions(
        &mut self,
        t: &Tbl,
        owner: &str,
        priorities: &mut Vec<PriorityUse>,
    ) -> Option<Route> {
        let priority = self.priority(t, owner, priorities);
        let paths = self.route_values(t, &route::PATHS, "path", check_route_path);
        let methods = self.route_values(t, &route::METHODS, "method", check_method);
        let hosts = self.route_values(t, &route::HOSTS, "host", check_host);
        if !self.check_conditions(t, &paths, &methods, &hosts) {
            return None;
        }
        self.check_attached_route(t, paths.as_ref(), hosts.as_ref());
        Some(Route {
            priority: priority?,
            paths: paths?,
            methods: methods?,
            hosts: hosts?,
            // A function's route reads its own (`route`); `[[routes]]` have none.
            auth: None,
        })
    }

    /// A route's priority, in range; recorded in `priorities`.
    fn priority(&mut self, t: &Tbl, owner: &str, priorities: &mut Vec<PriorityUse>) -> Option<u32> {
        let f = &route::PRIORITY;
        let Ty::Int { min, max, .. } = f.ty else {
            unreachable!("{} is not a ranged integer", f.key)
        };
        let (n, path, span) = match self.get_int(t, f.key) {
            Got::Val(v) => v,
            Got::Bad => return None,
            Got::Missing => {
                self.missing(
                    t,
                    f.key,
                    "required key `priority`",
                    format!(
                        "add `priority = N` ({min} to {max}, unique across the stack; lower \
                         numbers are matched first)"
                    ),
                );
                return None;
            }
        };
        match u32::try_from(n) {
            Ok(p) if (min..=max).contains(&p) => {
                priorities.push(PriorityUse {
                    priority: p,
                    span,
                    path,
                    route: t.path.clone(),
                    owner: owner.to_owned(),
                });
                Some(p)
            }
            _ => {
                self.push(
                    &path,
                    span,
                    format!("route priority {n} is out of range ({min}–{max})"),
                    format!(
                        "use a value from {min} to {max}, e.g. `priority = {}`",
                        n.clamp(i64::from(min), i64::from(max))
                    ),
                );
                None
            }
        }
    }

    /// ALB's limits on a rule's conditions: at least one, at most 5 values and 5 wildcards.
    fn check_conditions(
        &mut self,
        t: &Tbl,
        paths: &Option<Vec<String>>,
        methods: &Option<Vec<String>>,
        hosts: &Option<Vec<String>>,
    ) -> bool {
        let count = |v: &Option<Vec<String>>| v.as_ref().map_or(0, Vec::len);
        let all_known = paths.is_some() && methods.is_some() && hosts.is_some();
        let total = count(paths) + count(methods) + count(hosts);
        if all_known && total == 0 {
            self.push(
                &t.path,
                t.header.clone(),
                format!("route {} has no condition", t.path),
                "set at least one of `paths`, `hosts` or `methods`, e.g. `paths = [\"/*\"]` to \
                 send every request to this function",
            );
        }
        if total > 5 {
            self.push(
                &t.path,
                t.header.clone(),
                format!(
                    "route {} has {total} condition values (paths + methods + hosts); an ALB \
                     rule allows at most 5",
                    t.path
                ),
                "split it into two routes with different priorities, each with at most 5 values",
            );
        }
        let wildcards: usize = [paths, hosts]
            .iter()
            .filter_map(|v| v.as_ref())
            .flatten()
            .map(|s| s.chars().filter(|c| matches!(c, '*' | '?')).count())
            .sum();
        if wildcards > 5 {
            self.push(
                &t.path,
                t.header.clone(),
                format!(
                    "route {} uses {wildcards} wildcards ('*' and '?') in paths and hosts; an ALB \
                     rule allows at most 5",
                    t.path
                ),
                "split it into two routes with different priorities, or use fewer wildcards",
            );
        }
        total > 0 && total <= 5 && wildcards <= 5
    }

    /// A list of route condition values, each checked by `check` (which returns the problem
    /// message tail and help), without duplicates.
    fn route_values(
        &mut self,
        t: &Tbl,
        f: &Field,
        what: &str,
        check: fn(&str) -> Result<(), (String, String)>,
    ) -> Option<Vec<String>> {
        let list = match self.get_str_array(t, f) {
            Got::Val(list) => list,
            Got::Missing => return Some(Vec::new()),
            Got::Bad => return None,
        };
        let before = self.problems.len();
        for s in &list {
            if let Err((why, help)) = check(&s.value) {
                self.bad(s, format!("{what} {} {why}", q(&s.value)), help);
            }
        }
        self.check_duplicates(what, &list, str::to_owned);
        (self.problems.len() == before).then(|| list.into_iter().map(|s| s.value).collect())
    }

    /// The CORS preflight rule takes `reserved`; a route there is reported.
    fn check_reserved_priority(&mut self, uses: &[PriorityUse], reserved: u32) {
        let taken: HashSet<u32> = uses.iter().map(|u| u.priority).collect();
        let free = (reserved + 1..)
            .find(|p| !taken.contains(p))
            .unwrap_or(reserved);
        for u in uses.iter().filter(|u| u.priority == reserved) {
            self.push(
                &u.path,
                u.span.clone(),
                format!(
                    "route priority {reserved} is reserved for the CORS preflight rule of \
                     [https.headers.cors]"
                ),
                format!(
                    "give {} ({}) another priority, such as {free}: albkit answers OPTIONS \
                     requests at priority {reserved}, before every route",
                    u.route, u.owner
                ),
            );
        }
    }

    fn check_priorities(&mut self, uses: &[PriorityUse]) {
        let taken: HashSet<u32> = uses.iter().map(|u| u.priority).collect();
        let mut first: HashMap<u32, &PriorityUse> = HashMap::new();
        for u in uses {
            match first.get(&u.priority) {
                None => {
                    first.insert(u.priority, u);
                }
                Some(f) => {
                    let Ty::Int { min, max, .. } = route::PRIORITY.ty else {
                        unreachable!("priority is a ranged integer")
                    };
                    let free = (u.priority..=max)
                        .chain(min..u.priority)
                        .find(|p| !taken.contains(p))
                        .unwrap_or(u.priority);
                    self.push(
                        &u.path,
                        u.span.clone(),
                        format!("route priority {} is used twice", u.priority),
                        format!(
                            "{} ({}) already has priority {}; priorities must be unique \
                             across the stack: use a free one such as {free}",
                            f.route, f.owner, u.priority
                        ),
                    );
                }
            }
        }
    }
}

pub(super) struct PriorityUse {
    priority: u32,
    span: Span,
    path: String,
    route: String,
    /// `function "api"`, or `a [[routes]] entry`.
    owner: String,
}
