//! What discovery found, before it is compared: each resource as its kind's [`Spec`],
//! the same type the desired stack is built of, with its references as AWS ids
//! ([`Ref::External`]). [`resolve`] turns the ids of the stack's own resources into
//! their logical ids ([`Ref::Stack`]) and renders every resource with the same
//! [`Spec::render`] as the desired stack, so that both sides of the plan are written
//! alike. Pure.

use std::collections::HashMap;

use super::plan::{Facts, Observed};
use super::spec::{LogicalId, Props, Spec};
use super::stack::{Kind, Resource, Tags};

/// One resource as discovery read it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Found {
    /// The AWS id or ARN.
    pub id: String,
    pub logical: String,
    pub spec: Spec,
    /// What AWS reported that the spec does not hold (a state, a target's health, a
    /// setting albkit never changes that somebody did), as the plan shows it: set over
    /// the properties the spec renders. Never a reference.
    pub extras: Props,
    /// A function's `$LATEST` when its `live` alias serves a published version: a value
    /// of it that differs is shown beside the live one (see [`with_unpublished`]).
    pub latest: Option<Box<(Spec, Props)>>,
    /// Its tags as read (a rule's: its load balancer's, see `rule::inherit_tags`).
    pub tags: Tags,
    pub facts: Facts,
}

impl Found {
    pub fn new(
        id: impl Into<String>,
        logical: impl Into<String>,
        spec: impl Into<Spec>,
        tags: Tags,
    ) -> Self {
        Self {
            id: id.into(),
            logical: logical.into(),
            spec: spec.into(),
            extras: Props::new(),
            latest: None,
            tags,
            facts: Facts::None,
        }
    }

    pub fn with(self, facts: Facts) -> Self {
        Self { facts, ..self }
    }

    /// With `extras` shown in place of what the spec renders (or beside it).
    pub fn extras(mut self, extras: Props) -> Self {
        self.extras.extend(extras);
        self
    }

    /// The name of a function, role, target group or log group.
    pub fn name(&self) -> Option<&str> {
        self.facts.name()
    }
}

/// Kinds whose id no other resource refers to, or that is not theirs alone: a bucket's
/// or log group's name, an alias record's domain, the extra certificates' listener ARN,
/// the reserved and provisioned concurrency's function name, the web ACL association's
/// load balancer ARN.
fn referable(kind: Kind) -> bool {
    !matches!(
        kind,
        Kind::LogBucket
            | Kind::LogGroup
            | Kind::DnsRecord
            | Kind::ListenerCertificates
            | Kind::FunctionConcurrency
            | Kind::WebAclAssociation
            | Kind::FunctionProvisioned
    )
}

/// Resolves the references of everything found, and renders it. A reference to an id
/// the stack does not own stays that id. `aliases` are further `(name, logical id)`
/// pairs: the load balancer's DNS names, which alias records point at.
pub fn resolve(found: Vec<Found>, aliases: &[(String, String)]) -> Vec<Observed> {
    let ids: HashMap<String, String> = found
        .iter()
        .filter(|f| referable(f.spec.kind()))
        .map(|f| (f.id.clone(), f.logical.clone()))
        .chain(aliases.iter().cloned())
        .collect();
    let logical_of = |id: &str| ids.get(id).map(|l| LogicalId::from(l.as_str()));
    found
        .into_iter()
        .map(|mut f| {
            let mut refs = f.spec.refs_mut();
            refs.extend(f.latest.iter_mut().flat_map(|l| l.0.refs_mut()));
            for r in refs {
                r.resolve(logical_of);
            }
            render(f)
        })
        .collect()
}

/// The resource as the plan compares it.
fn render(f: Found) -> Observed {
    let render = |logical: &str, spec: &Spec, extras: Props| {
        let props = spec.render(&LogicalId::from(logical));
        let mut resource = Resource {
            logical: logical.to_string(),
            kind: spec.kind(),
            props,
        };
        for (name, value) in extras {
            resource.set(name, value);
        }
        resource
    };
    let mut resource = render(&f.logical, &f.spec, f.extras);
    if let Some(latest) = f.latest {
        let latest = render(&f.logical, &latest.0, latest.1);
        for (name, value) in &mut resource.props {
            if let Some(other) = latest.get(name) {
                *value = with_unpublished(value, other);
            }
        }
    }
    Observed {
        id: f.id,
        resource,
        tags: f.tags,
        facts: f.facts,
    }
}

/// A setting as `plan` shows it: the value the live version serves, followed by the
/// one `$LATEST` holds when somebody changed it there by hand.
pub fn with_unpublished(published: &str, latest: &str) -> String {
    if published == latest {
        return published.to_string();
    }
    let shown = |v: &str| {
        if v.is_empty() {
            "(none)".to_string()
        } else {
            v.to_string()
        }
    };
    format!(
        "{} (unpublished in $LATEST: {})",
        shown(published),
        shown(latest)
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::config::{IpAddressType, Scheme};
    use crate::model::spec::{LoadBalancerSpec, Ref, SubnetSpec, VpcSpec};

    fn subnet(vpc: &str) -> SubnetSpec {
        SubnetSpec {
            vpc: Ref::External(vpc.into()),
            cidr: "10.0.0.0/20".into(),
            availability_zone: "us-east-1a".into(),
            ipv6: None,
            tags: Tags::new(),
        }
    }

    fn load_balancer(subnets: &[&str]) -> LoadBalancerSpec {
        LoadBalancerSpec {
            name: "shop".into(),
            scheme: Scheme::InternetFacing,
            ip_address_type: IpAddressType::Ipv4,
            subnets: subnets
                .iter()
                .map(|s| Ref::External(s.to_string()))
                .collect(),
            security_groups: vec![Ref::External("sg-9".into())],
            access_logs: None,
            log_bucket: None,
            route_table: None,
            idle_timeout_seconds: 60,
            deletion_protection: false,
            tags: Tags::new(),
        }
    }

    #[test]
    fn references_become_logical_ids_and_lists_are_sorted() {
        let vpc = VpcSpec {
            cidr: "10.0.0.0/16".into(),
            ipv6: false,
            tags: Tags::new(),
        };
        let found = vec![
            Found::new("vpc-1", "vpc", vpc, Tags::new()),
            Found::new("subnet-b", "subnet/1", subnet("vpc-1"), Tags::new()),
            Found::new("subnet-a", "subnet/2", subnet("vpc-1"), Tags::new()),
            Found::new("log", "s3-bucket-id", subnet("vpc-9"), Tags::new()),
            Found::new(
                "arn:lb",
                "load-balancer",
                load_balancer(&["subnet-a", "subnet-b", "subnet-c"]),
                Tags::new(),
            ),
        ];
        let observed = resolve(found, &[]);
        let get = |logical: &str, prop: &str| {
            let o = observed.iter().find(|o| o.resource.logical == logical);
            o.and_then(|o| o.resource.get(prop)).map(str::to_string)
        };
        assert_eq!(get("subnet/1", "vpc").as_deref(), Some("vpc"));
        // An id the stack does not own stays as it is.
        assert_eq!(get("s3-bucket-id", "vpc").as_deref(), Some("vpc-9"));
        assert_eq!(
            get("load-balancer", "subnets").as_deref(),
            Some("subnet-c, subnet/1, subnet/2")
        );
        assert_eq!(
            get("load-balancer", "security_groups").as_deref(),
            Some("sg-9")
        );
    }

    #[test]
    fn extras_and_aliases() {
        let found =
            Found::new("subnet-1", "subnet/1", subnet("x.example"), Tags::new()).extras(vec![
                ("map_public_ip", "true".into()),
                ("state", "ok".into()),
            ]);
        let alias = [("x.example".to_string(), "load-balancer".to_string())];
        let observed = resolve(vec![found], &alias);
        let r = &observed[0].resource;
        assert_eq!(r.get("vpc"), Some("load-balancer"));
        assert_eq!(r.get("map_public_ip"), Some("true"));
        assert_eq!(r.get("state"), Some("ok"));
    }

    #[test]
    fn an_unpublished_value_is_shown_beside_the_published_one() {
        assert_eq!(with_unpublished("128", "128"), "128");
        assert_eq!(
            with_unpublished("128", "512"),
            "128 (unpublished in $LATEST: 512)"
        );
        assert_eq!(
            with_unpublished("", "DEBUG=1"),
            "(none) (unpublished in $LATEST: DEBUG=1)"
        );
        assert_eq!(
            with_unpublished("A=1", ""),
            "A=1 (unpublished in $LATEST: (none))"
        );
        let mut found = Found::new("subnet-1", "subnet/1", subnet("vpc-1"), Tags::new());
        found.latest = Some(Box::new((subnet("vpc-2").into(), Props::new())));
        let vpc = [("vpc-1".to_string(), "vpc".to_string())];
        let observed = resolve(vec![found], &vpc);
        assert_eq!(
            observed[0].resource.get("vpc"),
            Some("vpc (unpublished in $LATEST: vpc-2)")
        );
    }
}
