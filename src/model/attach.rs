//! Attach mode (docs/attach.md): the stack's rules on the listeners of a shared load
//! balancer. Pure: where albkit's rules go among the other teams' (their priorities), and
//! which route collides with a rule albkit does not own.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use super::config::{Config, PriorityRange};
use super::names::logical;
use super::spec::RuleSpec;

/// A rule found on an attached listener (its default rule aside).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListenerRule {
    pub arn: String,
    pub priority: u32,
    pub paths: Vec<String>,
    pub hosts: Vec<String>,
    pub methods: Vec<String>,
    /// The logical id of one of the stack's rules (its `albkit:resource` tag, beside the
    /// stack's `albkit:stack`); `None`: a rule of another owner, only ever read.
    pub owner: Option<String>,
}

/// An attached listener as discovery read it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttachedListener {
    /// The config key that names it (`load_balancer.listener_arn`).
    pub key: &'static str,
    /// Whether it is `http_listener_arn`, whose rules have their own logical ids.
    pub http: bool,
    pub arn: String,
    /// `HTTPS:443` as AWS reports it; `None`: the listener does not exist.
    pub protocol_port: Option<String>,
    pub rules: Vec<ListenerRule>,
}

/// The conditions of a route, function's or `[[routes]]`, and its place in the order of
/// the stack's rules (its configured `priority`).
#[derive(Debug, Clone, Copy)]
pub struct RouteConditions<'a> {
    pub order: u32,
    pub paths: &'a [String],
    pub hosts: &'a [String],
    pub methods: &'a [String],
}

/// Every route of the config, in the order the stack's rules are matched.
pub fn routes(config: &Config) -> Vec<RouteConditions<'_>> {
    let functions = config.functions.iter().flat_map(|f| &f.routes);
    let mut out: Vec<RouteConditions> = functions
        .map(|r| RouteConditions {
            order: r.priority,
            paths: &r.paths,
            hosts: &r.hosts,
            methods: &r.methods,
        })
        .chain(config.routes.iter().map(|r| RouteConditions {
            order: r.priority,
            paths: &r.paths,
            hosts: &r.hosts,
            methods: &r.methods,
        }))
        .collect();
    out.sort_by_key(|r| r.order);
    out
}

/// The logical id of the rule of the route ordered `order` on the main listener, or on
/// `http_listener_arn`'s.
pub fn rule_id(order: u32, http: bool) -> String {
    if http {
        logical::rule_http(order)
    } else {
        logical::rule(order)
    }
}

/// What stops `plan` and `up` in attach mode before any change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Problem {
    /// The listener a key names does not exist.
    Missing { key: &'static str, arn: String },
    /// A rule of another owner has the same host and path conditions as a route.
    Collision {
        key: &'static str,
        route: String,
        foreign: ListenerRule,
    },
    /// No free priority is left in the range for a route's rule.
    Full {
        key: &'static str,
        route: String,
        range: PriorityRange,
    },
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Problem::Missing { key, arn } => write!(f, "{key} {arn} does not exist"),
            Problem::Collision {
                key,
                route,
                foreign,
            } => write!(
                f,
                "{route} collides with rule {} (priority {}, {}) on {key}, which is not the \
                 stack's: both match the same hosts and paths",
                foreign.arn,
                foreign.priority,
                RuleSpec::conditions_prop(&foreign.paths, &foreign.hosts, &foreign.methods)
            ),
            Problem::Full { key, route, range } => write!(
                f,
                "no free priority is left for {route} on {key} in priority_range [{}, {}] \
                 (after the rules ordered before it)",
                range.from, range.to
            ),
        }
    }
}

impl Problem {
    /// What to do about it.
    pub fn help(&self) -> &'static str {
        match self {
            Problem::Missing { .. } => {
                "check the ARN and the region (`aws elbv2 describe-listeners`), or remove the key"
            }
            Problem::Collision { .. } => {
                "change the route's hosts or paths, or agree with the rule's owner who serves \
                 them; albkit never changes or deletes another owner's rule"
            }
            Problem::Full { .. } => {
                "widen load_balancer.priority_range, or free priorities in it on the listener"
            }
        }
    }
}

/// Where each of the stack's rules goes, by logical id, on every attached listener; or
/// everything that stops the stack from going there.
pub fn place(
    config: &Config,
    listeners: &[AttachedListener],
) -> Result<BTreeMap<String, u32>, Vec<Problem>> {
    let Some(attach) = &config.load_balancer.attach else {
        return Ok(BTreeMap::new());
    };
    let routes = routes(config);
    let mut problems = Vec::new();
    let mut out = BTreeMap::new();
    for l in listeners {
        if l.protocol_port.is_none() {
            problems.push(Problem::Missing {
                key: l.key,
                arn: l.arn.clone(),
            });
            continue;
        }
        for r in &routes {
            let foreign = l.rules.iter().filter(|rule| rule.owner.is_none());
            for rule in foreign.filter(|rule| collides(r, rule)) {
                problems.push(Problem::Collision {
                    key: l.key,
                    route: rule_id(r.order, l.http),
                    foreign: rule.clone(),
                });
            }
        }
        let ids: Vec<String> = routes.iter().map(|r| rule_id(r.order, l.http)).collect();
        match allocate(attach.priority_range, &ids, &l.rules) {
            Ok(placed) => out.extend(placed),
            Err(route) => problems.push(Problem::Full {
                key: l.key,
                route,
                range: attach.priority_range,
            }),
        }
    }
    if problems.is_empty() {
        Ok(out)
    } else {
        Err(problems)
    }
}

/// Whether a route and a rule match the same requests: the same path patterns and the
/// same hosts (hosts compared without case, as ELB matches them), and methods that
/// overlap (no method condition overlaps every one).
pub fn collides(route: &RouteConditions<'_>, rule: &ListenerRule) -> bool {
    let set = |v: &[String], fold: bool| -> BTreeSet<String> {
        v.iter()
            .map(|s| {
                if fold {
                    s.to_ascii_lowercase()
                } else {
                    s.clone()
                }
            })
            .collect()
    };
    let methods = set(route.methods, true);
    let theirs = set(&rule.methods, true);
    set(route.paths, false) == set(&rule.paths, false)
        && set(route.hosts, true) == set(&rule.hosts, true)
        && (methods.is_empty() || theirs.is_empty() || !methods.is_disjoint(&theirs))
}

/// The priorities of the stack's rules `ids` (in the order they must be matched) on a
/// listener holding `rules` (the stack's and others'), within `range`.
///
/// A rule of the stack already on the listener keeps its priority when that is in the
/// range and after the priority of the rule before it; any other rule takes the lowest
/// priority after that one which no rule on the listener holds (a rule that moves keeps
/// its old priority taken until the next run) and no rule placed before it took. So the
/// order of the stack's rules is the order of its routes, existing rules move only when
/// that order needs it, and the same listener and config always give the same answer.
/// `Err`: the id of the first rule that found no free priority.
pub fn allocate(
    range: PriorityRange,
    ids: &[String],
    rules: &[ListenerRule],
) -> Result<BTreeMap<String, u32>, String> {
    let taken: BTreeSet<u32> = rules.iter().map(|r| r.priority).collect();
    let placed: BTreeMap<&str, u32> = rules
        .iter()
        .filter_map(|r| Some((r.owner.as_deref()?, r.priority)))
        .collect();
    let mut out = BTreeMap::new();
    let mut after = range.from - 1;
    for id in ids {
        let keep = placed
            .get(id.as_str())
            .copied()
            .filter(|p| *p > after && *p <= range.to);
        let priority = match keep {
            Some(p) => p,
            None => (after + 1..=range.to)
                .find(|p| !taken.contains(p) && !out.values().any(|v| v == p))
                .ok_or_else(|| id.clone())?,
        };
        out.insert(id.clone(), priority);
        after = priority;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(priority: u32, owner: Option<&str>, paths: &[&str]) -> ListenerRule {
        ListenerRule {
            arn: format!("arn:rule/{priority}"),
            priority,
            paths: paths.iter().map(|p| (*p).to_owned()).collect(),
            hosts: vec![],
            methods: vec![],
            owner: owner.map(str::to_owned),
        }
    }

    fn ids(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| (*s).to_owned()).collect()
    }

    const ALL: PriorityRange = PriorityRange::ALL;

    #[test]
    fn new_rules_take_the_lowest_free_priorities_in_route_order() {
        let foreign = [rule(1, None, &["/a"]), rule(3, None, &["/b"])];
        let got = allocate(ALL, &ids(&["rule/10", "rule/20", "rule/30"]), &foreign);
        let want = BTreeMap::from([
            ("rule/10".to_owned(), 2),
            ("rule/20".to_owned(), 4),
            ("rule/30".to_owned(), 5),
        ]);
        assert_eq!(got, Ok(want));
        // Within a range.
        let range = PriorityRange { from: 3, to: 10 };
        let got = allocate(range, &ids(&["rule/10"]), &foreign);
        assert_eq!(got, Ok(BTreeMap::from([("rule/10".to_owned(), 4)])));
    }

    #[test]
    fn placed_rules_keep_their_priority_and_new_ones_fit_around_them() {
        let rules = [
            rule(100, Some("rule/10"), &["/a"]),
            rule(101, None, &["/x"]),
            rule(200, Some("rule/30"), &["/c"]),
        ];
        let got = allocate(ALL, &ids(&["rule/10", "rule/20", "rule/30"]), &rules);
        let want = BTreeMap::from([
            ("rule/10".to_owned(), 100),
            ("rule/20".to_owned(), 102),
            ("rule/30".to_owned(), 200),
        ]);
        assert_eq!(got, Ok(want));
        // The same listener, the same answer.
        assert_eq!(
            allocate(ALL, &ids(&["rule/10", "rule/20", "rule/30"]), &rules),
            got
        );
    }

    #[test]
    fn a_rule_moves_only_when_the_order_of_the_routes_needs_it() {
        // rule/5 is new and ordered first; rule/10 sits at 1, so rule/5 takes 2 and
        // rule/10 moves after it, to a priority nobody holds.
        let rules = [rule(1, Some("rule/10"), &["/a"])];
        let got = allocate(ALL, &ids(&["rule/5", "rule/10"]), &rules);
        let want = BTreeMap::from([("rule/5".to_owned(), 2), ("rule/10".to_owned(), 3)]);
        assert_eq!(got, Ok(want));
        // A placed rule outside a narrowed range moves into it.
        let range = PriorityRange { from: 50, to: 60 };
        let got = allocate(range, &ids(&["rule/10"]), &rules);
        assert_eq!(got, Ok(BTreeMap::from([("rule/10".to_owned(), 50)])));
    }

    #[test]
    fn a_full_range_names_the_rule_without_a_place() {
        let range = PriorityRange { from: 1, to: 2 };
        let rules = [rule(1, None, &["/a"])];
        assert_eq!(
            allocate(range, &ids(&["rule/10", "rule/20"]), &rules),
            Err("rule/20".to_owned())
        );
    }

    #[test]
    fn a_collision_is_the_same_hosts_and_paths_with_overlapping_methods() {
        let (paths, hosts) = (ids(&["/orders", "/orders/*"]), ids(&["Shop.example.com"]));
        let get = ids(&["GET"]);
        let route = RouteConditions {
            order: 10,
            paths: &paths,
            hosts: &hosts,
            methods: &get,
        };
        let mut theirs = ListenerRule {
            hosts: ids(&["shop.example.com"]),
            ..rule(7, None, &["/orders/*", "/orders"])
        };
        assert!(collides(&route, &theirs));
        theirs.methods = ids(&["GET", "POST"]);
        assert!(collides(&route, &theirs));
        theirs.methods = ids(&["POST"]);
        assert!(!collides(&route, &theirs), "disjoint methods");
        theirs.methods = vec![];
        theirs.paths = ids(&["/orders"]);
        assert!(!collides(&route, &theirs), "other paths");
        theirs.paths = ids(&["/Orders", "/orders/*"]);
        assert!(!collides(&route, &theirs), "paths are case-sensitive");
    }

    /// The plan tests' two functions (`cart` at 10, `orders` at 20), attached to a
    /// listener and, with `http`, to a second one.
    fn attached_config(http: bool) -> Config {
        use crate::model::ids::ListenerArn;
        let mut config = crate::model::plan::tests::config(false);
        let arn = |id: &str| {
            ListenerArn::new(format!(
                "arn:aws:elasticloadbalancing:eu-west-1:123456789012:listener/app/shared/abc/{id}"
            ))
        };
        config.load_balancer.attach = Some(crate::model::config::Attach {
            listener_arn: arn("main"),
            http_listener_arn: http.then(|| arn("http")),
            priority_range: PriorityRange { from: 100, to: 200 },
        });
        config
    }

    #[test]
    fn an_attached_stack_is_functions_target_groups_and_rules_on_the_listeners() {
        use crate::model::plan::tests::ctx;
        use crate::model::spec::{Kind, Ref, Spec};
        use crate::model::stack::desired;
        let config = attached_config(true);
        let listeners = [false, true].map(|http| AttachedListener {
            key: "k",
            http,
            arn: String::new(),
            protocol_port: Some("HTTP:80".into()),
            rules: vec![rule(100, None, &["/other"])],
        });
        let placed = place(&config, &listeners).expect("room");
        assert_eq!(placed.get("rule/10"), Some(&101));
        assert_eq!(placed.get("rule/20"), Some(&102));
        assert_eq!(placed.get("rule/http/20"), Some(&102));
        let mut context = ctx();
        context.rule_priorities = placed;
        let d = desired(&config, &context);
        let kinds: BTreeSet<Kind> = d.resources.iter().map(|r| r.kind).collect();
        for never in [
            Kind::Vpc,
            Kind::SecurityGroup,
            Kind::LoadBalancer,
            Kind::Listener,
            Kind::LogBucket,
        ] {
            assert!(!kinds.contains(&never), "{never:?} in an attached stack");
        }
        assert!(kinds.contains(&Kind::TargetGroup) && kinds.contains(&Kind::Function));
        let Some(Spec::ListenerRule(rule)) = d.spec("rule/http/10") else {
            panic!("the http listener's rule of route 10");
        };
        assert_eq!(rule.priority, 101);
        assert_eq!(
            rule.listener,
            Ref::External(
                "arn:aws:elasticloadbalancing:eu-west-1:123456789012:listener/app/shared/abc/http"
                    .into()
            )
        );
    }

    #[test]
    fn placing_reports_every_problem_at_once() {
        let config = attached_config(false);
        let missing = AttachedListener {
            key: "load_balancer.listener_arn",
            http: false,
            arn: "arn:gone".into(),
            protocol_port: None,
            rules: vec![],
        };
        assert_eq!(
            place(&config, std::slice::from_ref(&missing)),
            Err(vec![Problem::Missing {
                key: "load_balancer.listener_arn",
                arn: "arn:gone".into()
            }])
        );
        let mut theirs = rule(150, None, &["/orders", "/orders/*"]);
        theirs.methods = vec!["GET".into()];
        let crowded = AttachedListener {
            protocol_port: Some("HTTPS:443".into()),
            rules: (100..=200)
                .filter(|p| *p != 150)
                .map(|p| rule(p, None, &["/x"]))
                .chain([theirs])
                .collect(),
            ..missing
        };
        let problems = place(&config, &[crowded]).expect_err("collision and no room");
        assert!(
            matches!(&problems[0], Problem::Collision { route, foreign, .. }
                if route == "rule/20" && foreign.priority == 150),
            "{problems:?}"
        );
        assert!(
            matches!(&problems[1], Problem::Full { route, .. } if route == "rule/10"),
            "{problems:?}"
        );
        // Outside attach mode nothing is placed.
        let own = crate::model::plan::tests::config(false);
        assert_eq!(place(&own, &[]), Ok(BTreeMap::new()));
    }

    #[test]
    fn problems_say_what_where_and_what_to_do() {
        let foreign = ListenerRule {
            hosts: ids(&["shop.example.com"]),
            ..rule(7, None, &["/orders"])
        };
        let p = Problem::Collision {
            key: "load_balancer.listener_arn",
            route: "rule/10".into(),
            foreign,
        };
        assert_eq!(
            p.to_string(),
            "rule/10 collides with rule arn:rule/7 (priority 7, path-pattern in [/orders] and \
             host-header in [shop.example.com]) on load_balancer.listener_arn, which is not \
             the stack's: both match the same hosts and paths"
        );
        assert!(p.help().contains("change the route's hosts or paths"));
        let full = Problem::Full {
            key: "load_balancer.listener_arn",
            route: "rule/10".into(),
            range: PriorityRange { from: 1, to: 2 },
        };
        assert!(full.to_string().contains("priority_range [1, 2]"));
    }
}
