//! The time-to-URL lower bound: how fast any tool could build (or remove) a stack, given
//! a model of AWS (a latency per call and the delays AWS imposes), following albkit's
//! own dependency graph. The benchmark (`benches/time_to_url.rs`) prints albkit's wall
//! time against it. Pure.
//!
//! Each resource costs the calls that must follow one another to create it (a call that
//! needs the id the previous one returned), plus the waits AWS imposes on it; a resource
//! starts when everything it depends on is done. The URL answers when every resource is
//! done and the load balancer is active. One round of reads comes first: a tool that
//! does not look before it creates cannot be run twice.

use std::collections::BTreeMap;
use std::time::Duration;

use super::headers::HEADERS_NONE;
use super::plan::{deleted_after, dependencies};
use super::stack::{Desired, Kind, Resource, HSTS_OFF};
use crate::model::spec::MTLS_OFF;

/// What AWS costs, in the benchmark's scaled-down model of it.
#[derive(Debug, Clone, Copy)]
pub struct Model {
    /// Round trip of one API call.
    pub call: Duration,
    /// `CreateLoadBalancer` → `active`.
    pub alb_active: Duration,
    /// `RequestCertificate` → `ISSUED` (DNS validation).
    pub certificate_issued: Duration,
    /// `CreateRole` → assumable by Lambda.
    pub role_assumable: Duration,
    /// `CreateFunction` → `Active`; also an update → `Successful`.
    pub function_active: Duration,
    /// `DeleteLoadBalancer` → its network interfaces released.
    pub eni_release: Duration,
    /// Last listener deleted → certificate no longer in use.
    pub certificate_release: Duration,
}

/// Calls that must follow one another to create this resource, and the wait AWS imposes
/// after the first of them before the resource can be used.
fn create_cost(r: &Resource, m: &Model) -> Duration {
    let calls = |n: u32| m.call * n;
    match r.kind {
        // CreateVpc (tags inline) → ModifyVpcAttribute (DNS hostnames).
        Kind::Vpc => calls(2),
        // CreateListener → ModifyListenerAttributes (the response headers of HTTPS) →
        // ModifyListener (mutual authentication, `[https.mtls]`).
        Kind::Listener
            if r.get("hsts").is_some_and(|h| h != HSTS_OFF)
                || r.get("response_headers").is_some_and(|h| h != HEADERS_NONE)
                || r.get("mutual_authentication").is_some_and(|m| m != MTLS_OFF) =>
        {
            let headers = r.get("hsts").is_some_and(|h| h != HSTS_OFF)
                || r.get("response_headers").is_some_and(|h| h != HEADERS_NONE);
            let mtls = r.get("mutual_authentication").is_some_and(|m| m != MTLS_OFF);
            calls(1 + u32::from(headers) + u32::from(mtls))
        }
        // PutObject (the CA bundle) → CreateTrustStore (tags inline) → ACTIVE.
        Kind::TrustStore => calls(3),
        // PutFunctionConcurrency.
        Kind::Subnet
        | Kind::Listener
        | Kind::ListenerRule
        | Kind::DnsRecord
        | Kind::FunctionConcurrency
        // CreateWebACL (tags inline); AssociateWebACL.
        | Kind::WebAcl
        | Kind::WebAclAssociation
        // PutMetricAlarm (tags inline); PutDashboard.
        | Kind::Alarm
        | Kind::Dashboard => calls(1),
        // CreateTopic (tags inline) → list its subscriptions → subscribe each address
        // (counted as one: they go one after another, but are few).
        Kind::AlarmTopic => calls(3),
        // Read the listener's certificates → add the missing ones;
        // PutProvisionedConcurrencyConfig → READY (minutes on AWS, for environments
        // that start in parallel with everything else: nothing waits for them).
        Kind::ListenerCertificates | Kind::FunctionProvisioned => calls(2),
        // Create → attach; create → route and associations; create bucket → its
        // settings; create log group → retention.
        Kind::InternetGateway | Kind::RouteTable | Kind::LogBucket | Kind::LogGroup => calls(2),
        // Create → read its rules → authorize the missing ones.
        Kind::SecurityGroup => calls(3),
        // CreateLoadBalancer → ModifyLoadBalancerAttributes; `active` is counted apart,
        // since listeners and rules need not wait for it.
        Kind::LoadBalancer => calls(2),
        // Request → read the validation record → write it; issued after the delay.
        Kind::Certificate => m.call + calls(2).max(m.certificate_issued),
        // CreateRole → (AttachRolePolicy meanwhile) assumable.
        Kind::Role => m.call + m.call.max(m.role_assumable),
        // CreateFunction → Active → PublishVersion → CreateAlias.
        Kind::Function => calls(3) + m.function_active,
        // CreateTargetGroup → AddPermission → RegisterTargets.
        Kind::TargetGroup => calls(3),
    }
}

/// Calls that must follow one another to delete a resource of this kind.
fn delete_cost(kind: Kind, m: &Model) -> Duration {
    let calls = |n: u32| m.call * n;
    match kind {
        // Detach → delete; disassociate → delete.
        Kind::InternetGateway | Kind::RouteTable => calls(2),
        // List the versions → delete them → delete the bucket.
        Kind::LogBucket => calls(3),
        // Turn off deletion protection → delete.
        Kind::LoadBalancer => calls(2),
        // Deregister → remove the permission → delete.
        Kind::TargetGroup => calls(2),
        // Detach the policy → delete; read the lock token → delete the web ACL;
        // DeleteTrustStore → delete its bundle object.
        Kind::Role | Kind::WebAcl | Kind::TrustStore => calls(2),
        _ => calls(1),
    }
}

/// The bound of a fresh `up`.
pub fn create_bound(desired: &Desired, m: &Model) -> Duration {
    let mut done: BTreeMap<String, Duration> = BTreeMap::new();
    let mut alb_active = Duration::ZERO;
    // Resources in an order where dependencies come first.
    let mut pending: Vec<_> = desired.resources.iter().collect();
    while !pending.is_empty() {
        let before = pending.len();
        pending.retain(|r| {
            let deps = dependencies(r, desired);
            if !deps.iter().all(|d| done.contains_key(d)) {
                return true;
            }
            let start = deps
                .iter()
                .filter_map(|d| done.get(d))
                .max()
                .copied()
                .unwrap_or(m.call);
            if r.kind == Kind::LoadBalancer {
                alb_active = start + m.call + m.alb_active;
            }
            done.insert(r.logical.clone(), start + create_cost(r, m));
            false
        });
        if pending.len() == before {
            // A cycle cannot happen in a valid stack; stop rather than loop.
            break;
        }
    }
    done.values()
        .copied()
        .max()
        .unwrap_or_default()
        .max(alb_active)
}

/// The bound of `down`: dependents go first, and AWS holds the network back while the
/// load balancer's interfaces detach and the certificate while it is still in use.
pub fn delete_bound(desired: &Desired, m: &Model) -> Duration {
    // The reverse graph: a resource can go once everything that depends on it is gone.
    let dependents = |logical: &str| -> Vec<&str> {
        desired
            .resources
            .iter()
            .filter(|r| dependencies(r, desired).iter().any(|d| d == logical))
            .map(|r| r.logical.as_str())
            .collect()
    };
    let mut gone: BTreeMap<String, Duration> = BTreeMap::new();
    let mut pending: Vec<_> = desired.resources.iter().collect();
    while !pending.is_empty() {
        let before = pending.len();
        pending.retain(|r| {
            let after = dependents(&r.logical);
            if !after.iter().all(|d| gone.contains_key(*d)) {
                return true;
            }
            let mut start = after
                .iter()
                .filter_map(|d| gone.get(*d))
                .max()
                .copied()
                .unwrap_or(m.call);
            let alb_gone = desired
                .resources
                .iter()
                .find(|x| x.kind == Kind::LoadBalancer)
                .and_then(|x| gone.get(&x.logical))
                .copied();
            match r.kind {
                Kind::SecurityGroup | Kind::Subnet | Kind::InternetGateway => {
                    if let Some(t) = alb_gone {
                        start = start.max(t + m.eni_release);
                    }
                }
                Kind::Certificate => start += m.certificate_release,
                _ => {}
            }
            gone.insert(r.logical.clone(), start + delete_cost(r.kind, m));
            false
        });
        if pending.len() == before {
            break;
        }
    }
    gone.values().copied().max().unwrap_or_default()
}

/// What the executor assumes of real AWS to order its work (only the order matters):
/// minutes for a load balancer and a DNS-validated certificate, seconds for a role or a
/// function.
pub const AWS: Model = Model {
    call: Duration::from_millis(100),
    alb_active: Duration::from_secs(180),
    certificate_issued: Duration::from_secs(120),
    role_assumable: Duration::from_secs(8),
    function_active: Duration::from_secs(5),
    eni_release: Duration::from_secs(60),
    certificate_release: Duration::from_secs(10),
};

/// For each resource of `desired`, the time `up` has left once it starts, at best: its
/// own cost, then the longest of what waits for it (for the load balancer, also
/// becoming active). The executor gives its slots to the highest first, so the critical
/// path is never queued behind work that can wait.
pub fn create_ranks(desired: &Desired, m: &Model) -> BTreeMap<String, Duration> {
    let mut dependents: BTreeMap<&str, Vec<&Resource>> = BTreeMap::new();
    for r in &desired.resources {
        for d in dependencies(r, desired) {
            if let Some(dep) = desired.get(&d) {
                dependents.entry(dep.logical.as_str()).or_default().push(r);
            }
        }
    }
    fn rank<'a>(
        r: &'a Resource,
        dependents: &BTreeMap<&str, Vec<&'a Resource>>,
        m: &Model,
        memo: &mut BTreeMap<&'a str, Duration>,
        depth: usize,
    ) -> Duration {
        if let Some(known) = memo.get(r.logical.as_str()) {
            return *known;
        }
        // The graph has no cycles (the executor refuses one); the depth only guards.
        let after = match dependents.get(r.logical.as_str()) {
            Some(ds) if depth < 64 => ds
                .iter()
                .map(|d| rank(d, dependents, m, memo, depth + 1))
                .max()
                .unwrap_or_default(),
            _ => Duration::ZERO,
        };
        let active = if r.kind == Kind::LoadBalancer {
            m.alb_active
        } else {
            Duration::ZERO
        };
        let total = create_cost(r, m) + after.max(active);
        memo.insert(r.logical.as_str(), total);
        total
    }
    let mut memo = BTreeMap::new();
    for r in &desired.resources {
        rank(r, &dependents, m, &mut memo, 0);
    }
    memo.into_iter().map(|(k, v)| (k.to_string(), v)).collect()
}

/// For each of `kinds` (those being deleted), the time `down` has left once a deletion
/// of that kind starts, following [`deleted_after`]: its own calls, then the longest of
/// the kinds that wait for it, after the network interfaces are released (the load
/// balancer) or the certificate is no longer in use (a listener).
pub fn delete_ranks(kinds: &[Kind], m: &Model) -> BTreeMap<Kind, Duration> {
    fn rank(k: Kind, kinds: &[Kind], m: &Model, memo: &mut BTreeMap<Kind, Duration>) -> Duration {
        if let Some(known) = memo.get(&k) {
            return *known;
        }
        let after = kinds
            .iter()
            .filter(|j| **j != k && deleted_after(**j).contains(&k))
            .map(|j| {
                let released = match (k, *j) {
                    (
                        Kind::LoadBalancer,
                        Kind::Subnet | Kind::SecurityGroup | Kind::InternetGateway,
                    ) => m.eni_release,
                    (Kind::Listener, Kind::Certificate) => m.certificate_release,
                    _ => Duration::ZERO,
                };
                released + rank(*j, kinds, m, memo)
            })
            .max()
            .unwrap_or_default();
        let total = delete_cost(k, m) + after;
        memo.insert(k, total);
        total
    }
    let mut kinds: Vec<Kind> = kinds.to_vec();
    kinds.sort();
    kinds.dedup();
    let mut memo = BTreeMap::new();
    for k in &kinds {
        rank(*k, &kinds, m, &mut memo);
    }
    memo
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::stack::{desired, Context};
    use crate::model::validate::parse_str;

    fn model() -> Model {
        Model {
            call: Duration::from_millis(50),
            alb_active: Duration::from_secs(20),
            certificate_issued: Duration::from_secs(15),
            role_assumable: Duration::from_secs(8),
            function_active: Duration::from_secs(3),
            eni_release: Duration::from_secs(10),
            certificate_release: Duration::from_secs(5),
        }
    }

    fn stack(https: bool) -> Desired {
        let mut toml = String::from(
            "[stack]\nname = \"b\"\n\n[[functions]]\nname = \"api\"\npath = \".\"\n\n[[functions.routes]]\npriority = 10\npaths = [\"/a\"]\n",
        );
        if https {
            toml.push_str("\n[https]\ndomain = \"a.example.com\"\nhosted_zone_id = \"Z1\"\n");
        }
        // The config names a function crate; validation checks that it exists.
        let root = std::env::temp_dir().join(format!("albkit-bound-{}", std::process::id()));
        std::fs::create_dir_all(&root).expect("temp dir");
        std::fs::write(root.join("Cargo.toml"), "[package]\nname = \"api\"\n").expect("write");
        let config = parse_str(&toml, &root).expect("valid config");
        desired(
            &config,
            &Context {
                account: "123456789012".into(),
                region: "us-east-1".into(),
                availability_zones: vec!["us-east-1a".into(), "us-east-1b".into()],
                code_sha256: Default::default(),
                existing_vpc_cidr: None,
                existing_vpc_ipv6: false,
                names_in_use: Default::default(),
                rule_priorities: Default::default(),
            },
        )
    }

    #[test]
    fn the_network_and_the_load_balancer_rank_above_what_can_wait() {
        let d = stack(true);
        let ranks = create_ranks(&d, &AWS);
        assert_eq!(ranks.len(), d.resources.len(), "every resource is ranked");
        let rank = |logical: &str| ranks[logical];
        let function = d
            .resources
            .iter()
            .find(|r| r.kind == Kind::Function)
            .map(|r| r.logical.as_str())
            .expect("a function");
        // VPC → … → load balancer → active: minutes; the function: seconds.
        assert!(rank("vpc") > rank("load-balancer"));
        assert!(rank("load-balancer") >= AWS.alb_active);
        assert!(rank("load-balancer") > rank(function) * 5, "{ranks:?}");
        // The certificate's validation outranks the function too.
        assert!(rank("certificate") > rank(function));
        // A resource ranks at least as high as any that waits for it.
        for r in &d.resources {
            for dep in dependencies(r, &d) {
                assert!(
                    ranks[&dep] > ranks[&r.logical],
                    "{dep} before {}",
                    r.logical
                );
            }
        }
    }

    #[test]
    fn deletions_on_the_way_to_the_network_rank_first() {
        let kinds = [
            Kind::Vpc,
            Kind::Subnet,
            Kind::LoadBalancer,
            Kind::Listener,
            Kind::ListenerRule,
            Kind::TargetGroup,
            Kind::Function,
            Kind::Role,
            Kind::LogGroup,
            Kind::Certificate,
        ];
        let ranks = delete_ranks(&kinds, &AWS);
        assert_eq!(ranks.len(), kinds.len());
        // rule → listener → load balancer → 60 s of interfaces → subnet → VPC.
        let path = [
            Kind::ListenerRule,
            Kind::Listener,
            Kind::LoadBalancer,
            Kind::Subnet,
            Kind::Vpc,
        ];
        for pair in path.windows(2) {
            assert!(ranks[&pair[0]] > ranks[&pair[1]], "{pair:?}: {ranks:?}");
        }
        assert!(ranks[&Kind::LoadBalancer] > AWS.eni_release);
        assert!(ranks[&Kind::Listener] > ranks[&Kind::Function] + AWS.eni_release);
        // What nothing waits for costs its own calls only.
        assert_eq!(ranks[&Kind::Role], AWS.call * 2);
        assert_eq!(ranks[&Kind::Certificate], AWS.call);
    }

    #[test]
    fn a_fresh_stack_is_bounded_by_the_load_balancer_becoming_active() {
        // reads (1 call) → VPC (2) → IGW (2) → route table (2) → ALB create (1) + 20 s.
        let bound = create_bound(&stack(false), &model());
        assert_eq!(
            bound,
            Duration::from_millis(50 * 8) + Duration::from_secs(20)
        );
    }

    #[test]
    fn without_the_load_balancer_wait_the_function_chain_is_the_longest() {
        let m = Model {
            alb_active: Duration::ZERO,
            ..model()
        };
        // reads (1) → role: create + 8 s → function: 3 calls + 3 s → target group (3) → rule (1).
        let expected = Duration::from_millis(50) * 9 + Duration::from_secs(11);
        assert_eq!(create_bound(&stack(false), &m), expected);
    }

    #[test]
    fn certificate_issuance_overlaps_the_load_balancer() {
        let m = model();
        let with_https = create_bound(&stack(true), &m);
        // The 15 s of issuance run beside the 20 s of provisioning.
        assert_eq!(with_https, create_bound(&stack(false), &m));
        let slow_certificate = Model {
            certificate_issued: Duration::from_secs(40),
            ..m
        };
        // reads (1) → request (1) + 40 s → HTTPS listener and its HSTS header (2) →
        // rule (1).
        assert_eq!(
            create_bound(&stack(true), &slow_certificate),
            Duration::from_millis(50) * 5 + Duration::from_secs(40)
        );
    }

    #[test]
    fn teardown_waits_for_the_interfaces_of_the_load_balancer() {
        let m = model();
        let bound = delete_bound(&stack(false), &m);
        // reads (1) → rule (1) → listener (1) → ALB (2) → +10 s → IGW (2) → VPC (1);
        // the route table goes meanwhile.
        assert_eq!(
            bound,
            Duration::from_millis(50) * 8 + Duration::from_secs(10)
        );
    }
}
