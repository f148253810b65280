//! What of a stack exists, read straight from the emulator (moto or MiniStack) through
//! the AWS SDK: the one inventory behind the tests that check what `up` built and what
//! `down` left.
//!
//! [`take`] lists the ids of each asked [`Kind`]. [`leftovers`] flattens them into
//! `kind id` lines and panics when a listing call fails; [`census`] counts them and
//! reports a failed listing as 99, so that it can never pass for "nothing" or
//! "exactly one".

use aws_config::SdkConfig;
use aws_sdk_ec2::types::Filter;
use aws_smithy_types::error::display::DisplayErrorContext;

use super::s3_client;
#[cfg(doc)]
use super::ACCOUNT_ID;

/// A kind of resource albkit makes for a stack.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Vpc,
    Subnet,
    InternetGateway,
    RouteTable,
    SecurityGroup,
    LoadBalancer,
    TargetGroup,
    Function,
    Role,
    LogGroup,
    LogBucket,
    /// The stack's lock object in the account's lock bucket.
    Lock,
    /// An ACM certificate tagged for the stack.
    Certificate,
    /// The `[waf]` web ACL, by its name `<stack>-waf`.
    WebAcl,
}

impl Kind {
    pub(crate) fn name(self) -> &'static str {
        match self {
            Kind::Vpc => "vpc",
            Kind::Subnet => "subnet",
            Kind::InternetGateway => "internet-gateway",
            Kind::RouteTable => "route-table",
            Kind::SecurityGroup => "security-group",
            Kind::LoadBalancer => "load-balancer",
            Kind::TargetGroup => "target-group",
            Kind::Function => "function",
            Kind::Role => "role",
            Kind::LogGroup => "log-group",
            Kind::LogBucket => "log-bucket",
            Kind::Lock => "lock",
            Kind::Certificate => "certificate",
            Kind::WebAcl => "web-acl",
        }
    }
}

/// Every resource `up` may make for a stack: the network, the load balancer and its
/// target groups, the functions with their roles and log groups, the access-log bucket.
pub(crate) const RESOURCES: [Kind; 11] = [
    Kind::Vpc,
    Kind::Subnet,
    Kind::InternetGateway,
    Kind::RouteTable,
    Kind::SecurityGroup,
    Kind::LoadBalancer,
    Kind::TargetGroup,
    Kind::Function,
    Kind::Role,
    Kind::LogGroup,
    Kind::LogBucket,
];

/// IAM is global: a stack's roles are under `/albkit/<stack>/<region>/`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Roles {
    /// The stack's roles of every region.
    AllRegions,
    /// Only those of the scope's region (the same stack may live in another region).
    ThisRegion,
}

/// Which stack to look for, and where.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Scope<'a> {
    pub stack: &'a str,
    /// The region `cfg` points at; names the access-log and lock buckets.
    pub region: &'a str,
    /// The emulator's account (moto's [`ACCOUNT_ID`], MiniStack's is another); names
    /// the same buckets.
    pub account: &'a str,
    pub roles: Roles,
}

/// The ids found of one kind, or why they could not be listed.
#[derive(Debug)]
pub(crate) struct Found {
    pub kind: Kind,
    pub ids: Result<Vec<String>, String>,
}

/// Lists each of `kinds` for `scope`, in that order.
pub(crate) async fn take(cfg: &SdkConfig, scope: &Scope<'_>, kinds: &[Kind]) -> Vec<Found> {
    let mut found = Vec::new();
    for &kind in kinds {
        let ids = list(cfg, scope, kind).await;
        found.push(Found { kind, ids });
    }
    found
}

/// Every id found, as `kind id`; empty means nothing of `kinds` is left. Panics when a
/// listing fails.
pub(crate) async fn leftovers(cfg: &SdkConfig, scope: &Scope<'_>, kinds: &[Kind]) -> Vec<String> {
    let mut left = Vec::new();
    for found in take(cfg, scope, kinds).await {
        let name = found.kind.name();
        let ids = found
            .ids
            .unwrap_or_else(|e| panic!("inventory of {}: listing {name} failed: {e}", scope.stack));
        left.extend(ids.into_iter().map(|id| format!("{name} {id}")));
    }
    left
}

/// How many of each kind exist; a kind whose listing failed counts 99.
pub(crate) async fn census(
    cfg: &SdkConfig,
    scope: &Scope<'_>,
    kinds: &[Kind],
) -> Vec<(&'static str, usize)> {
    take(cfg, scope, kinds)
        .await
        .into_iter()
        .map(|f| (f.kind.name(), f.ids.map_or(99, |ids| ids.len())))
        .collect()
}

fn failed(e: impl std::error::Error) -> String {
    DisplayErrorContext(e).to_string()
}

async fn list(cfg: &SdkConfig, scope: &Scope<'_>, kind: Kind) -> Result<Vec<String>, String> {
    let stack = scope.stack;
    match kind {
        Kind::Vpc
        | Kind::Subnet
        | Kind::InternetGateway
        | Kind::RouteTable
        | Kind::SecurityGroup => network(cfg, stack, kind).await,
        Kind::LoadBalancer | Kind::TargetGroup => load_balancing(cfg, stack, kind).await,
        Kind::Function => functions(cfg, stack).await,
        Kind::Role => roles(cfg, scope).await,
        Kind::LogGroup => log_groups(cfg, stack).await,
        Kind::LogBucket => {
            let bucket = format!("albkit-{stack}-logs-{}-{}", scope.account, scope.region);
            let s3 = s3_client(cfg);
            let exists = s3.head_bucket().bucket(&bucket).send().await.is_ok();
            Ok(if exists { vec![bucket] } else { Vec::new() })
        }
        Kind::Lock => {
            let bucket = format!("albkit-locks-{}-{}", scope.account, scope.region);
            let key = format!("{stack}/lock.json");
            let s3 = s3_client(cfg);
            let exists = s3.head_object().bucket(&bucket).key(&key).send().await;
            Ok(if exists.is_ok() {
                vec![format!("{bucket}/{key}")]
            } else {
                Vec::new()
            })
        }
        Kind::Certificate => certificates(cfg, stack).await,
        Kind::WebAcl => web_acls(cfg, stack).await,
    }
}

/// The regional web ACLs named `<stack>-waf`, by ARN.
async fn web_acls(cfg: &SdkConfig, stack: &str) -> Result<Vec<String>, String> {
    let waf = aws_sdk_wafv2::Client::new(cfg);
    let out = waf
        .list_web_acls()
        .scope(aws_sdk_wafv2::types::Scope::Regional)
        .limit(100)
        .send()
        .await
        .map_err(failed)?;
    let name = format!("{stack}-waf");
    Ok(ids(out
        .web_acls()
        .iter()
        .filter(|a| a.name() == Some(name.as_str()))
        .map(|a| a.arn())))
}

/// The EC2 resources tagged `albkit:stack = <stack>`.
async fn network(cfg: &SdkConfig, stack: &str, kind: Kind) -> Result<Vec<String>, String> {
    let ec2 = aws_sdk_ec2::Client::new(cfg);
    let tagged = Filter::builder()
        .name("tag:albkit:stack")
        .values(stack)
        .build();
    Ok(match kind {
        Kind::Vpc => {
            let out = ec2.describe_vpcs().filters(tagged).send().await;
            ids(out.map_err(failed)?.vpcs().iter().map(|v| v.vpc_id()))
        }
        Kind::Subnet => {
            let out = ec2.describe_subnets().filters(tagged).send().await;
            ids(out.map_err(failed)?.subnets().iter().map(|s| s.subnet_id()))
        }
        Kind::InternetGateway => {
            let out = ec2
                .describe_internet_gateways()
                .filters(tagged)
                .send()
                .await;
            let out = out.map_err(failed)?;
            ids(out
                .internet_gateways()
                .iter()
                .map(|g| g.internet_gateway_id()))
        }
        Kind::RouteTable => {
            let out = ec2.describe_route_tables().filters(tagged).send().await;
            let out = out.map_err(failed)?;
            ids(out.route_tables().iter().map(|t| t.route_table_id()))
        }
        Kind::SecurityGroup => {
            let out = ec2.describe_security_groups().filters(tagged).send().await;
            let out = out.map_err(failed)?;
            ids(out.security_groups().iter().map(|g| g.group_id()))
        }
        _ => unreachable!("{kind:?} is not an EC2 kind"),
    })
}

fn ids<'a>(found: impl Iterator<Item = Option<&'a str>>) -> Vec<String> {
    found.map(|i| i.unwrap_or_default().to_string()).collect()
}

/// Load balancers and target groups whose name starts with the stack's.
async fn load_balancing(cfg: &SdkConfig, stack: &str, kind: Kind) -> Result<Vec<String>, String> {
    let elb = aws_sdk_elasticloadbalancingv2::Client::new(cfg);
    let names: Vec<String> = if kind == Kind::LoadBalancer {
        let pages = elb
            .describe_load_balancers()
            .into_paginator()
            .items()
            .send();
        let all: Result<Vec<_>, _> = pages.collect().await;
        let all = all.map_err(failed)?;
        let names = all.iter().filter_map(|l| l.load_balancer_name());
        names.map(str::to_string).collect()
    } else {
        let pages = elb.describe_target_groups().into_paginator().items().send();
        let all: Result<Vec<_>, _> = pages.collect().await;
        let all = all.map_err(failed)?;
        let names = all.iter().filter_map(|t| t.target_group_name());
        names.map(str::to_string).collect()
    };
    Ok(names.into_iter().filter(|n| n.starts_with(stack)).collect())
}

/// Functions named `<stack>-…`.
async fn functions(cfg: &SdkConfig, stack: &str) -> Result<Vec<String>, String> {
    let lambda = aws_sdk_lambda::Client::new(cfg);
    let pages = lambda.list_functions().into_paginator().items().send();
    let all: Result<Vec<_>, _> = pages.collect().await;
    let prefix = format!("{stack}-");
    Ok(all
        .map_err(failed)?
        .iter()
        .filter_map(|f| f.function_name())
        .filter(|n| n.starts_with(&prefix))
        .map(str::to_string)
        .collect())
}

/// Roles under the stack's IAM path (of one region or of all, per [`Roles`]).
async fn roles(cfg: &SdkConfig, scope: &Scope<'_>) -> Result<Vec<String>, String> {
    let iam = aws_sdk_iam::Client::new(cfg);
    let path = match scope.roles {
        Roles::AllRegions => format!("/albkit/{}/", scope.stack),
        Roles::ThisRegion => format!("/albkit/{}/{}/", scope.stack, scope.region),
    };
    let pages = iam.list_roles().path_prefix(path).into_paginator().items();
    let all: Result<Vec<_>, _> = pages.send().collect().await;
    Ok(all
        .map_err(failed)?
        .iter()
        .map(|r| r.role_name().to_string())
        .collect())
}

/// Log groups named `/aws/lambda/<stack>-…`.
async fn log_groups(cfg: &SdkConfig, stack: &str) -> Result<Vec<String>, String> {
    let logs = aws_sdk_cloudwatchlogs::Client::new(cfg);
    let prefix = format!("/aws/lambda/{stack}-");
    let pages = logs.describe_log_groups().log_group_name_prefix(prefix);
    let all: Result<Vec<_>, _> = pages.into_paginator().items().send().collect().await;
    Ok(all
        .map_err(failed)?
        .iter()
        .map(|g| g.log_group_name().unwrap_or_default().to_string())
        .collect())
}

/// ACM certificates tagged `albkit:stack = <stack>`.
async fn certificates(cfg: &SdkConfig, stack: &str) -> Result<Vec<String>, String> {
    let acm = aws_sdk_acm::Client::new(cfg);
    let pages = acm.list_certificates().into_paginator().items().send();
    let all: Result<Vec<_>, _> = pages.collect().await;
    let mut mine = Vec::new();
    for cert in all.map_err(failed)? {
        let arn = cert.certificate_arn().unwrap_or_default();
        let tags = acm.list_tags_for_certificate().certificate_arn(arn).send();
        let tags = tags.await.map_err(failed)?;
        if tags
            .tags()
            .iter()
            .any(|t| t.key() == "albkit:stack" && t.value() == Some(stack))
        {
            mine.push(arn.to_string());
        }
    }
    Ok(mine)
}
