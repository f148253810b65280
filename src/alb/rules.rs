//! PURE listener-rule matcher: the same `Config` routes that `up` turns into listener
//! rules decide, locally, which function answers a request.
//!
//! ALB semantics (docs/alb-lambda.md §5): rules are evaluated lowest priority first, the
//! conditions of a rule are AND-ed, the values inside one condition are OR-ed.
//! - `path-pattern`: case-sensitive, on the path only (never the query); `*` matches any
//!   run of characters including `/`, `?` exactly one character.
//! - `host-header`: case-insensitive, wildcards allowed, compared without the port.
//! - `http-request-method`: case-sensitive exact match.
//!
//! When nothing matches, the listener's default action answers: albkit deploys a fixed
//! 404 (`model::stack::fixed_404_action`). With `[https.headers.cors]`, a rule at
//! priority 1 answers every `OPTIONS` request with a fixed 204 (§11).

use crate::model::config::{Config, RouteAuth, StaticAnswer};
use crate::model::headers;
use crate::model::spec::{FixedResponse, Redirect};

/// What a rule does with a request it matches.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// Forward to this function's target group.
    Function(String),
    /// The load balancer answers itself.
    Fixed(FixedResponse),
    /// The load balancer redirects.
    Redirect(Redirect),
}

/// One listener rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    pub priority: u32,
    pub target: Target,
    pub paths: Vec<String>,
    pub methods: Vec<String>,
    pub hosts: Vec<String>,
    /// What the load balancer checks before it forwards (the route's own or the
    /// listener default's, `[https].auth`).
    pub auth: Option<RouteAuth>,
}

impl Rule {
    /// Whether every condition of the rule holds for this request.
    pub fn matches(&self, method: &str, path: &str, host: Option<&str>) -> bool {
        let path_ok = self.paths.is_empty() || self.paths.iter().any(|p| wildcard(p, path, false));
        let method_ok = self.methods.is_empty() || self.methods.iter().any(|m| m == method);
        let host_ok = self.hosts.is_empty()
            || host.is_some_and(|h| {
                let h = strip_port(h);
                self.hosts.iter().any(|p| wildcard(p, h, true))
            });
        path_ok && method_ok && host_ok
    }

    /// The function the rule forwards to, if it forwards.
    pub fn function(&self) -> Option<&str> {
        match &self.target {
            Target::Function(f) => Some(f),
            Target::Fixed(_) | Target::Redirect(_) => None,
        }
    }

    /// `rule 10 → hello`, `rule 1 → fixed-response 204`, for the access log.
    pub fn describe(&self) -> String {
        match &self.target {
            Target::Function(f) => format!("rule {} → {f}", self.priority),
            Target::Fixed(r) => format!("rule {} → fixed-response {}", self.priority, r.status),
            Target::Redirect(r) => format!("rule {} → redirect {}", self.priority, r.status),
        }
    }
}

/// The listener's rules, in evaluation order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RuleSet {
    rules: Vec<Rule>,
}

impl RuleSet {
    /// The rules of every function of the stack (or only of `only`, when given: the other
    /// functions' rules are left out, so their requests fall to the default 404), of
    /// `[[routes]]` and the CORS preflight.
    pub fn from_config(config: &Config, only: Option<&str>) -> RuleSet {
        let rules = config
            .functions
            .iter()
            .filter(|f| only.is_none_or(|o| o == f.name))
            .flat_map(|f| {
                f.routes.iter().map(|r| Rule {
                    priority: r.priority,
                    target: Target::Function(f.name.clone()),
                    paths: r.paths.clone(),
                    methods: r.methods.clone(),
                    hosts: r.hosts.clone(),
                    auth: config.route_auth(r).cloned(),
                })
            })
            .chain(config.routes.iter().map(|r| Rule {
                priority: r.priority,
                target: match &r.answer {
                    StaticAnswer::Redirect(redirect) => Target::Redirect(redirect.clone()),
                    StaticAnswer::Fixed(fixed) => Target::Fixed(fixed.clone()),
                },
                paths: r.paths.clone(),
                methods: r.methods.clone(),
                hosts: r.hosts.clone(),
                auth: None,
            }))
            .chain(preflight(config))
            .collect();
        RuleSet::new(rules)
    }

    pub fn new(mut rules: Vec<Rule>) -> RuleSet {
        rules.sort_by_key(|r| r.priority);
        RuleSet { rules }
    }

    pub fn rules(&self) -> &[Rule] {
        &self.rules
    }

    /// The first rule (lowest priority number) whose conditions all hold; `None` means
    /// the default action (fixed 404).
    pub fn find(&self, method: &str, path: &str, host: Option<&str>) -> Option<&Rule> {
        self.rules.iter().find(|r| r.matches(method, path, host))
    }
}

/// The CORS preflight rule `up` deploys with `[https.headers.cors]` (`desired.rs`): every
/// `OPTIONS` request, at priority 1, answered 204 without a body.
fn preflight(config: &Config) -> Option<Rule> {
    config.https.as_ref().filter(|h| h.headers.cors())?;
    Some(Rule {
        priority: headers::PREFLIGHT_PRIORITY,
        target: Target::Fixed(FixedResponse {
            status: headers::PREFLIGHT_STATUS,
            content_type: headers::PREFLIGHT_CONTENT_TYPE.to_string(),
            body: String::new(),
        }),
        paths: Vec::new(),
        methods: vec![headers::PREFLIGHT_METHOD.to_string()],
        hosts: Vec::new(),
        auth: None,
    })
}

/// `example.com:8080` → `example.com`; IPv6 literals (`[::1]:80`) keep their brackets.
pub(crate) fn strip_port(host: &str) -> &str {
    if let Some(end) = host.strip_prefix('[').and_then(|_| host.find(']')) {
        return &host[..=end];
    }
    match host.rsplit_once(':') {
        Some((h, port)) if port.bytes().all(|b| b.is_ascii_digit()) => h,
        _ => host,
    }
}

/// ALB wildcard match: `*` any run of characters (also `/`, also empty), `?` exactly one
/// character. Iterative with backtracking to the last `*`: linear-ish, no recursion.
pub(crate) fn wildcard(pattern: &str, text: &str, case_insensitive: bool) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let t: Vec<char> = text.chars().collect();
    let eq = |a: char, b: char| {
        if case_insensitive {
            a.to_lowercase().eq(b.to_lowercase())
        } else {
            a == b
        }
    };
    let (mut pi, mut ti) = (0usize, 0usize);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || (p[pi] != '*' && eq(p[pi], t[ti]))) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some((pi, ti));
            pi += 1;
        } else if let Some((sp, st)) = star {
            pi = sp + 1;
            ti = st + 1;
            star = Some((sp, st + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|c| *c == '*')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(
        priority: u32,
        function: &str,
        paths: &[&str],
        methods: &[&str],
        hosts: &[&str],
    ) -> Rule {
        let v = |x: &[&str]| x.iter().map(std::string::ToString::to_string).collect();
        Rule {
            priority,
            target: Target::Function(function.into()),
            paths: v(paths),
            methods: v(methods),
            hosts: v(hosts),
            auth: None,
        }
    }

    #[test]
    fn star_matches_any_run_including_slashes_and_empty() {
        assert!(wildcard("/api/*", "/api/a/b/c", false));
        assert!(wildcard("/api/*", "/api/", false));
        assert!(!wildcard("/api/*", "/api", false));
        assert!(wildcard("*", "", false));
        assert!(wildcard("/a*b*c", "/axxbyyc", false));
        assert!(!wildcard("/a*b*c", "/axxbyy", false));
    }

    #[test]
    fn question_mark_matches_exactly_one_character() {
        // serverless-offline ignored `?` (docs/alb-lambda.md §8).
        assert!(wildcard("/v?/x", "/v1/x", false));
        assert!(!wildcard("/v?/x", "/v/x", false));
        assert!(!wildcard("/v?/x", "/v12/x", false));
    }

    #[test]
    fn path_pattern_is_case_sensitive() {
        let r = rule(1, "f", &["/Hello"], &[], &[]);
        assert!(r.matches("GET", "/Hello", None));
        assert!(!r.matches("GET", "/hello", None));
    }

    #[test]
    fn trailing_slash_is_not_stripped() {
        // serverless-offline stripped trailing slashes (§8): `/hello/` is not `/hello`.
        let r = rule(1, "f", &["/hello"], &[], &[]);
        assert!(!r.matches("GET", "/hello/", None));
    }

    #[test]
    fn host_header_is_case_insensitive_without_port_and_takes_wildcards() {
        let r = rule(1, "f", &[], &[], &["*.Example.com"]);
        assert!(r.matches("GET", "/", Some("api.example.COM:8443")));
        assert!(r.matches("GET", "/", Some("API.EXAMPLE.COM")));
        assert!(!r.matches("GET", "/", Some("example.org")));
        assert!(!r.matches("GET", "/", None));
        assert_eq!(strip_port("[::1]:80"), "[::1]");
        assert_eq!(strip_port("localhost"), "localhost");
    }

    #[test]
    fn method_is_case_sensitive_exact_and_any_of_several() {
        // serverless-offline registered only the first of several methods (§8).
        let r = rule(1, "f", &[], &["GET", "POST"], &[]);
        assert!(r.matches("GET", "/", None));
        assert!(r.matches("POST", "/", None));
        assert!(!r.matches("post", "/", None));
        assert!(!r.matches("PUT", "/", None));
    }

    #[test]
    fn conditions_are_anded_values_ored() {
        let r = rule(1, "f", &["/a", "/b"], &["GET"], &["x.test"]);
        assert!(r.matches("GET", "/b", Some("x.test")));
        assert!(!r.matches("POST", "/b", Some("x.test")));
        assert!(!r.matches("GET", "/c", Some("x.test")));
        assert!(!r.matches("GET", "/a", Some("y.test")));
    }

    #[test]
    fn lowest_priority_number_wins_regardless_of_declaration_order() {
        let set = RuleSet::new(vec![
            rule(20, "broad", &["/*"], &[], &[]),
            rule(5, "narrow", &["/api/*"], &[], &[]),
        ]);
        assert_eq!(
            set.find("GET", "/api/x", None).and_then(Rule::function),
            Some("narrow")
        );
        assert_eq!(
            set.find("GET", "/other", None).and_then(Rule::function),
            Some("broad")
        );
    }

    #[test]
    fn no_match_falls_to_the_default_action() {
        let set = RuleSet::new(vec![rule(1, "f", &["/hello"], &["GET"], &[])]);
        assert!(set.find("GET", "/nope", None).is_none());
        assert!(set.find("DELETE", "/hello", None).is_none());
    }

    #[test]
    fn with_cors_every_options_request_meets_the_preflight_rule_first() {
        use crate::model::headers::Inserted;
        let mut config = crate::model::plan::tests::config(true);
        assert!(RuleSet::from_config(&config, None)
            .find("OPTIONS", "/anything", None)
            .is_none());
        if let Some(h) = config.https.as_mut() {
            h.headers
                .values
                .insert(Inserted::AccessControlAllowOrigin, "*".into());
        }
        let set = RuleSet::from_config(&config, None);
        let preflight = set.find("OPTIONS", "/anything", None).expect("preflight");
        assert_eq!(preflight.priority, 1);
        assert_eq!(preflight.function(), None);
        assert_eq!(preflight.describe(), "rule 1 → fixed-response 204");
        let Target::Fixed(fixed) = &preflight.target else {
            panic!("not a fixed response: {preflight:?}");
        };
        assert_eq!((fixed.status, fixed.body.as_str()), (204, ""));
        // Other methods still reach the functions' routes.
        let routed = set.rules().iter().find(|r| r.function().is_some());
        let route = routed.expect("a route");
        let path = route.paths.first().map_or("/", String::as_str);
        let method = route.methods.first().map_or("GET", String::as_str);
        assert!(set
            .find(method, path, None)
            .is_some_and(|r| r.function().is_some()));
    }

    #[test]
    fn routes_without_a_function_are_evaluated_in_priority_order_with_the_others() {
        use crate::model::config::{StaticAnswer, StaticRoute};
        let mut config = crate::model::plan::tests::config(false);
        let first = config.functions[0].routes[0].clone();
        config.routes = vec![StaticRoute {
            priority: first.priority - 1,
            paths: first.paths.clone(),
            methods: vec![],
            hosts: vec![],
            answer: StaticAnswer::Fixed(FixedResponse {
                status: 410,
                content_type: "text/plain".into(),
                body: "gone".into(),
            }),
        }];
        let set = RuleSet::from_config(&config, None);
        let path = first.paths[0].as_str();
        let hit = set.find("GET", path, None).expect("a rule");
        assert_eq!(
            hit.describe(),
            format!("rule {} → fixed-response 410", first.priority - 1)
        );
        config.routes[0].priority = 40000;
        let set = RuleSet::from_config(&config, None);
        let hit = set.find("GET", path, None).expect("a rule");
        assert!(hit.function().is_some(), "{hit:?}");
    }

    #[test]
    fn path_pattern_never_sees_the_query() {
        // The caller passes the path only; a pattern with `?` means one character.
        let r = rule(1, "f", &["/search"], &[], &[]);
        assert!(r.matches("GET", "/search", None));
        assert!(!r.matches("GET", "/search?q=1", None));
    }
}
