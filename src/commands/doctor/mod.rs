//! `albkit doctor`: read-only checks of what makes a first `albkit up` (or `dev`) fail
//! for reasons of the account or the machine rather than albkit's: credentials, the
//! hosted zone's delegation, quotas, the log-delivery principal, the build toolchain,
//! `dev`'s port. Each prints `ok`, `warn`, `fail` or `skip` with what to do; exit 1 when
//! one fails. This module reads (AWS, DNS, the machine); [`crate::model::doctor`] decides.
//! No AWS call it makes changes anything; only `--fix` changes this machine ([`fix`]).

mod dns;
mod fix;
mod machine;

use aws_sdk_elasticloadbalancingv2::types::LoadBalancerTypeEnum;

use super::output::DoctorDoc;
use super::session::{Session, NO_REGION, NO_REGION_HELP};
use super::Outcome;
use crate::aws::clients::Aws;
use crate::aws::error::{AwsError, AwsResultExt};
use crate::cli::{Cli, DoctorArgs, Output};
use crate::error::{Error, Result};
use crate::model::config::HttpsSettings;
use crate::model::doctor::{self, Check, IdentityError, Quota, Status, Unread, Zone};

pub(crate) async fn run(cli: &Cli, args: &DoctorArgs) -> Result<Outcome> {
    let session = match Session::open(cli).await {
        Ok(s) => Some(s),
        // Without a region, the AWS checks cannot run: reported as the first check.
        Err(Error::Usage { message, .. }) if message == NO_REGION => None,
        Err(e) => return Err(e),
    };
    let config = match &session {
        Some(s) => s.config.clone(),
        None => crate::model::validate::load(&cli.config)?,
    };
    let json = cli.output == Output::Json;
    // Before the checks, which then see what the fixes installed.
    let fixes = if args.fix {
        fix::run(&config, args.yes, json, cli.quiet).await?
    } else {
        Vec::new()
    };
    let cargo = machine::cargo_version().await;
    let aws = async {
        match &session {
            Some(s) => {
                let mut checks = aws_checks(s, args).await;
                checks.push(doctor::log_delivery(
                    &s.aws.region,
                    config.load_balancer.access_logs,
                ));
                checks
            }
            None => without_region(&config),
        }
    };
    let (mut checks, build) = tokio::join!(aws, machine::build_checks(&config, cargo.as_deref()));
    checks.extend(build);
    checks.extend(machine::dev_checks(cargo.as_deref()));
    let code = doctor::exit_code(&checks).max(doctor::exit_code(&fixes));
    let doc = DoctorDoc {
        stack: config.stack.name.clone(),
        region: session
            .as_ref()
            .map_or_else(|| "(none)".to_string(), |s| s.aws.region.clone()),
        fixes,
        checks,
    };
    if !json {
        print(&doc, cli.quiet);
    }
    Ok(Outcome::json(code, json, &doc))
}

/// The checks after `credentials` that ask AWS: the hosted zone's (with one), the
/// quotas.
fn aws_check_names(config: &crate::model::config::Config) -> Vec<&'static str> {
    let zone = config
        .https
        .as_ref()
        .is_some_and(|h| h.hosted_zone_id.is_some());
    let mut names: Vec<&str> = zone.then_some(doctor::HOSTED_ZONE).into_iter().collect();
    names.extend(ELB_QUOTAS.iter().map(|(_, name, _)| *name));
    names.push(doctor::LAMBDA_CONCURRENCY);
    names
}

/// The AWS checks when no region is set: the first fails and says how to set one, the
/// others are skipped for that reason.
fn without_region(config: &crate::model::config::Config) -> Vec<Check> {
    let mut out = vec![Check::fail(doctor::CREDENTIALS, NO_REGION, NO_REGION_HELP)];
    let mut names = aws_check_names(config);
    names.push(doctor::LOG_DELIVERY);
    let why = format!("needs an AWS region (see check `{}`)", doctor::CREDENTIALS);
    out.extend(names.into_iter().map(|n| Check::skip(n, why.clone())));
    out
}

/// The fixes made and the checks as lines on stdout, each not-ok one followed by its
/// fix.
fn print(doc: &DoctorDoc, quiet: bool) {
    let all = || doc.fixes.iter().chain(&doc.checks);
    let width = all().map(|c| c.name.len()).max().unwrap_or(0);
    let line = |c: &Check| {
        if quiet && matches!(c.status, Status::Ok | Status::Skip) {
            return;
        }
        println!(
            "  {:<4}  {:<width$}  {}",
            c.status.as_str(),
            c.name,
            c.detail
        );
        if let Some(fix) = &c.fix {
            println!("  {:<4}  {:<width$}  fix: {fix}", "", "");
        }
    };
    if !doc.fixes.is_empty() {
        println!("albkit doctor --fix:");
        doc.fixes.iter().for_each(line);
    }
    println!("albkit doctor: stack {} in {}", doc.stack, doc.region);
    doc.checks.iter().for_each(line);
    let count = |s: Status| doc.checks.iter().filter(|c| c.status == s).count();
    println!(
        "{} ok, {} warn, {} fail, {} skip",
        count(Status::Ok),
        count(Status::Warn),
        count(Status::Fail),
        count(Status::Skip)
    );
}

/// The checks that ask AWS (and DNS): identity first; without credentials the others
/// are skipped, since each would fail for the same reason.
async fn aws_checks(s: &Session, args: &DoctorArgs) -> Vec<Check> {
    let caller = caller(&s.aws).await;
    let who = caller.as_ref().map(|(a, r)| (a.as_str(), r.as_str()));
    let mut out = vec![doctor::identity(&s.aws.region, who)];
    let zone = s
        .config
        .https
        .as_ref()
        .filter(|h| h.hosted_zone_id.is_some());
    if caller.is_err() {
        let names = aws_check_names(&s.config);
        out.extend(names.into_iter().map(doctor::needs_credentials));
        return out;
    }
    let (delegation, elb, lambda) = tokio::join!(
        async {
            match zone {
                Some(https) => Some(hosted_zone(&s.aws, https, args).await),
                None => None,
            }
        },
        elb_quotas(s),
        lambda_quota(s)
    );
    out.extend(delegation);
    out.extend(elb);
    out.push(lambda);
    out
}

/// The caller's account and ARN.
async fn caller(aws: &Aws) -> std::result::Result<(String, String), IdentityError> {
    let out = aws
        .sts
        .get_caller_identity()
        .send()
        .await
        .aws("GetCallerIdentity", "credentials")
        .map_err(|e| {
            if e.message.contains("credential") {
                IdentityError::NoCredentials(e.message)
            } else if let Some(code) = e.code {
                IdentityError::Refused {
                    code,
                    message: e.message,
                }
            } else {
                IdentityError::Unreachable(e.message)
            }
        })?;
    let field = |v: Option<&str>| v.unwrap_or("(not in the answer)").to_string();
    Ok((field(out.account()), field(out.arn())))
}

/// The hosted zone as Route 53 has it, and its delegation as DNS has it.
async fn hosted_zone(aws: &Aws, https: &HttpsSettings, args: &DoctorArgs) -> Check {
    let Some(id) = https
        .hosted_zone_id
        .as_ref()
        .map(|z| z.as_str().to_string())
    else {
        return Check::skip(doctor::HOSTED_ZONE, "[https] hosted_zone_id is not set");
    };
    let got = aws
        .route53
        .get_hosted_zone()
        .id(&id)
        .send()
        .await
        .aws("GetHostedZone", &id);
    let out = match got {
        Ok(out) => out,
        Err(e) => {
            let not_found = e.is("NoSuchHostedZone") || e.not_found();
            return doctor::zone_unreadable(&id, not_found, &e.to_string());
        }
    };
    let zone = Zone {
        id: id.clone(),
        name: out
            .hosted_zone()
            .map(|z| z.name().to_string())
            .unwrap_or_default(),
        private: out
            .hosted_zone()
            .and_then(|z| z.config())
            .is_some_and(aws_sdk_route53::types::HostedZoneConfig::private_zone),
        name_servers: out
            .delegation_set()
            .map(|d| d.name_servers().to_vec())
            .unwrap_or_default(),
    };
    let resolvers = match args.resolver {
        Some(addr) => Ok(vec![addr]),
        None => dns::system_resolvers(),
    };
    let answer = match resolvers {
        Ok(list) => dns::ns_records(&zone.name, &list).await,
        Err(why) => doctor::NsAnswer::Unreachable(why),
    };
    doctor::delegation(&zone, &answer)
}

/// The ELB quotas checked: the name in DescribeAccountLimits, the check's name, and what
/// it counts.
const ELB_QUOTAS: [(&str, &str, &str); 3] = [
    (
        "application-load-balancers",
        "quota:load-balancers",
        "application load balancers in the region",
    ),
    (
        "target-groups",
        "quota:target-groups",
        "target groups in the region",
    ),
    (
        "rules-per-application-load-balancer",
        "quota:listener-rules",
        "listener rules of the stack's load balancer (its routes; default rules do not count)",
    ),
];

/// Whether an error says the endpoint lacks the operation (an emulator), rather than
/// that the call failed.
fn unread(e: &AwsError) -> Unread {
    let code = e.code.as_deref().unwrap_or_default();
    let missing = matches!(e.status, Some(404 | 501))
        || matches!(
            code,
            "InvalidAction" | "UnknownOperationException" | "NotImplemented"
        )
        || e.message.contains("not yet implemented");
    if missing {
        Unread::NotImplemented(e.to_string())
    } else {
        Unread::Failed(e.to_string())
    }
}

/// What the region holds of the stack's kind of resources, and the ELB limits.
struct ElbUsage {
    limits: Vec<(String, u64)>,
    load_balancers: Vec<String>,
    target_groups: Vec<String>,
}

async fn elb_usage(aws: &Aws) -> std::result::Result<ElbUsage, AwsError> {
    let limits = aws
        .elb
        .describe_account_limits()
        .send()
        .await
        .aws("DescribeAccountLimits", "the account")?;
    let limits = limits
        .limits()
        .iter()
        .filter_map(|l| Some((l.name()?.to_string(), l.max()?.trim().parse().ok()?)))
        .collect();
    let mut load_balancers = Vec::new();
    let mut pages = aws.elb.describe_load_balancers().into_paginator().send();
    while let Some(page) = pages.next().await {
        let page = page.aws("DescribeLoadBalancers", "load balancers")?;
        load_balancers.extend(
            page.load_balancers()
                .iter()
                .filter(|lb| lb.r#type() == Some(&LoadBalancerTypeEnum::Application))
                .filter_map(|lb| lb.load_balancer_name().map(str::to_string)),
        );
    }
    let mut target_groups = Vec::new();
    let mut pages = aws.elb.describe_target_groups().into_paginator().send();
    while let Some(page) = pages.next().await {
        let page = page.aws("DescribeTargetGroups", "target groups")?;
        target_groups.extend(
            page.target_groups()
                .iter()
                .filter_map(|t| t.target_group_name().map(str::to_string)),
        );
    }
    Ok(ElbUsage {
        limits,
        load_balancers,
        target_groups,
    })
}

/// The three ELB quotas against what is in use and what the stack adds.
async fn elb_quotas(s: &Session) -> Vec<Check> {
    let usage = match elb_usage(&s.aws).await {
        Ok(u) => u,
        Err(e) => {
            let why = unread(&e);
            let operation = format!("elasticloadbalancing:{}", e.operation);
            return ELB_QUOTAS
                .iter()
                .map(|(_, name, _)| doctor::quota_unread(name, &operation, &why))
                .collect();
        }
    };
    let c = &s.config;
    let lb_exists = usage.load_balancers.contains(&s.names.load_balancer());
    let tg_missing = c
        .functions
        .iter()
        .filter(|f| {
            ![
                s.names.target_group(&f.name),
                s.names.legacy_target_group(&f.name),
            ]
            .iter()
            .any(|n| usage.target_groups.contains(n))
        })
        .count();
    let routes: usize = c.functions.iter().map(|f| f.routes.len()).sum();
    let counts = [
        (usage.load_balancers.len(), usize::from(!lb_exists)),
        (usage.target_groups.len(), tg_missing),
        (0, routes),
    ];
    ELB_QUOTAS
        .iter()
        .zip(counts)
        .map(|((limit_name, name, what), (used, needed))| {
            let Some((_, limit)) = usage.limits.iter().find(|(n, _)| n == limit_name) else {
                return Check::skip(
                    *name,
                    format!("DescribeAccountLimits did not list {limit_name}"),
                );
            };
            doctor::quota(&Quota {
                name: (*name).to_string(),
                what: (*what).to_string(),
                limit: *limit,
                used: used as u64,
                needed: needed as u64,
                fix: format!(
                    "ask for a higher {limit_name} quota (Service Quotas, Elastic Load \
                     Balancing), or remove unused ones in {}",
                    s.aws.region
                ),
            })
        })
        .collect()
}

/// Lambda's account concurrency, for the stack's functions.
async fn lambda_quota(s: &Session) -> Check {
    let got = s
        .aws
        .lambda
        .get_account_settings()
        .send()
        .await
        .aws("GetAccountSettings", "the account");
    let out = match got {
        Ok(out) => out,
        Err(e) => {
            return doctor::quota_unread(
                doctor::LAMBDA_CONCURRENCY,
                "lambda:GetAccountSettings",
                &unread(&e),
            )
        }
    };
    let Some(limit) = out.account_limit() else {
        return Check::skip(
            doctor::LAMBDA_CONCURRENCY,
            "GetAccountSettings answered without the account's limits",
        );
    };
    doctor::lambda_concurrency(
        i64::from(limit.concurrent_executions()),
        i64::from(limit.unreserved_concurrent_executions().unwrap_or(0)),
        s.config.functions.len(),
    )
}
