//! `albkit status`: every resource of the stack with its id and state.

use super::output::{StatusDoc, StatusRow};
use super::planning::{attached_summary, check_conflicts};
use super::session::Session;
use super::{url, Outcome};
use crate::aws::discover::discover;
use crate::aws::resources::load_balancer;
use crate::cli::Cli;
use crate::error::Result;
use crate::model::names::logical;
use crate::model::stack::Kind;

fn state(kind: Kind, r: &crate::model::stack::Resource) -> String {
    let get = |k: &str| r.get(k).unwrap_or_default().to_string();
    match kind {
        Kind::LoadBalancer => get("state"),
        Kind::Certificate => get("status"),
        Kind::Function => {
            let shift = r
                .get("traffic_shift")
                .map(|s| format!("; traffic shift {s}"))
                .unwrap_or_default();
            format!(
                "{} (live = version {}){shift}",
                get("state"),
                get("live_version")
            )
        }
        Kind::TargetGroup => {
            let health = get("target_health");
            if health.is_empty() {
                "no target".into()
            } else {
                format!("target {health}")
            }
        }
        Kind::LogGroup => format!("retention {}", get("retention_days")),
        _ => "present".into(),
    }
}

pub(crate) async fn run(cli: &Cli) -> Result<Outcome> {
    let s = Session::open(cli).await?;
    let empty = Default::default();
    let ctx = s.ctx(&empty);
    let (account, d) = s
        .with_account(async { discover(&ctx).await.map_err(Into::into) })
        .await?;
    check_conflicts(&d)?;
    let lb = d.observed.get(logical::LOAD_BALANCER);
    let dns = lb
        .and_then(|o| load_balancer::endpoint(&o.facts))
        .map(|e| e.dns_name);
    let url = if lb.is_some() {
        url(&s.config, dns.as_deref())
    } else {
        None
    };
    let rows: Vec<StatusRow> = d
        .observed
        .values()
        .map(|o| StatusRow {
            logical: o.resource.logical.clone(),
            kind: o.resource.kind,
            id: o.id.clone(),
            state: state(o.resource.kind, &o.resource),
        })
        .collect();
    if s.json() {
        let document = StatusDoc {
            stack: s.config.stack.name.clone(),
            region: s.aws.region.clone(),
            exists: !rows.is_empty(),
            url,
            dns_name: dns,
            resources: rows,
        };
        return Ok(Outcome::json(0, true, &document));
    }
    if rows.is_empty() {
        println!(
            "Stack {} does not exist in {} (account {}).",
            s.config.stack.name, s.aws.region, account
        );
        return Ok(Outcome::code(0));
    }
    let w1 = rows.iter().map(|r| r.logical.len()).max().unwrap_or(0);
    let w2 = rows
        .iter()
        .map(|r| r.kind.as_str().len())
        .max()
        .unwrap_or(0);
    println!(
        "Stack {} in {} (account {}):",
        s.config.stack.name, s.aws.region, account
    );
    for r in &rows {
        let (l, st, id) = (&r.logical, &r.state, &r.id);
        println!("  {l:<w1$}  {:<w2$}  {st:<28}  {id}", r.kind.as_str());
    }
    for l in &d.attached {
        println!("{}", attached_summary(l));
    }
    if let Some(url) = url {
        println!("URL: {url}");
    }
    Ok(Outcome::code(0))
}
