//! `albkit top`: a live view of the stack's metrics over the last minutes, one
//! `GetMetricData` call per refresh ([`crate::model::metrics`] builds the queries and
//! reads the answers), with each function's traffic shift read from its `live` alias.
//! Read-only.

use std::collections::BTreeMap;
use std::time::Duration;

use super::output::{TopDoc, TopFunction};
use super::planning::check_conflicts;
use super::session::Session;
use super::shift::grace;
use super::Outcome;
use crate::aws::discover::discover;
use crate::aws::events::ResourceNotify;
use crate::aws::metrics::read;
use crate::aws::resources::function::{read_live, unix_now};
use crate::cli::{Cli, TopArgs};
use crate::error::{Error, Result};
use crate::model::lifecycle::format_rfc3339;
use crate::model::metrics::{
    queries, render, shift_line, Heading, Metric, Snapshot, Watched, Window, PERIOD_SECONDS,
};
use crate::model::names::logical;
use crate::model::shift::TargetDims;
use crate::ui::screen::Screen;

/// The functions to watch (all, or the one `--function` names) as discovery found them:
/// Lambda name, target group and load balancer.
async fn watched(s: &Session, only: Option<&str>) -> Result<Vec<Watched>> {
    let selected: Vec<String> = s.select(only)?.iter().map(|f| f.name.clone()).collect();
    let empty = Default::default();
    let ctx = s.ctx(&empty);
    let d = discover(&ctx).await?;
    check_conflicts(&d)?;
    let lb = d.observed.get(logical::LOAD_BALANCER).map(|o| o.id.clone());
    let out: Vec<Watched> = selected
        .iter()
        .filter_map(|f| {
            let Some(function) = d.observed.get(&logical::function(f)) else {
                s.note(format!(
                    "function {f}: not deployed in {}: not watched (`albkit up` deploys it)",
                    s.aws.region
                ));
                return None;
            };
            let target = d
                .observed
                .get(&logical::target_group(f))
                .zip(lb.as_deref())
                .and_then(|(tg, lb)| TargetDims::from_arns(&tg.id, lb));
            Some(Watched {
                function: f.clone(),
                lambda_name: function.name()?.to_string(),
                target,
            })
        })
        .collect();
    if out.is_empty() {
        return Err(Error::usage(
            format!(
                "stack {} has no deployed function in {} to watch",
                s.config.stack.name, s.aws.region
            ),
            "run `albkit up` first (or check --region and --function)",
        ));
    }
    Ok(out)
}

/// Each function's traffic shift, as its `live` alias records it.
async fn shifts(s: &Session, watched: &[Watched]) -> Result<BTreeMap<String, String>> {
    let mut out = BTreeMap::new();
    let grace = grace().as_secs();
    let now = unix_now();
    for w in watched {
        if let Some(live) = read_live(&s.aws.lambda, &w.lambda_name).await? {
            if let Some(line) = shift_line(&live.shift(now), &live.weights, now, grace) {
                out.insert(w.function.clone(), line);
            }
        }
    }
    Ok(out)
}

/// One refresh: the metrics over the window ending now, and the shifts.
async fn refresh(
    s: &Session,
    watched: &[Watched],
    minutes: usize,
) -> Result<(Window, Snapshot, BTreeMap<String, String>)> {
    let window = Window::ending_at(i64::try_from(unix_now()).unwrap_or(i64::MAX), minutes);
    let queries = queries(watched);
    let notify = ResourceNotify {
        reporter: &s.reporter,
        logical: "metrics".into(),
    };
    let answers = read(&s.aws.cloudwatch, &queries, window, &notify).await?;
    let shifts = shifts(s, watched).await?;
    Ok((
        window,
        Snapshot::of(watched, &queries, &answers, window),
        shifts,
    ))
}

fn document(
    s: &Session,
    watched: &[Watched],
    w: Window,
    snap: &Snapshot,
    shifts: &BTreeMap<String, String>,
) -> TopDoc {
    let functions = snap
        .functions
        .iter()
        .zip(watched)
        .map(|(f, x)| TopFunction {
            function: f.function.clone(),
            name: x.lambda_name.clone(),
            requests: f.count(Metric::Requests),
            target_4xx: f.count(Metric::Target4xx),
            target_5xx: f.count(Metric::Target5xx),
            percent_5xx: f.percent_5xx(),
            p50_ms: f.latest(Metric::P50).map(|v| v * 1000.0),
            p99_ms: f.latest(Metric::P99).map(|v| v * 1000.0),
            lambda_user_errors: f.count(Metric::LambdaUserErrors),
            lambda_internal_errors: f.count(Metric::LambdaInternalErrors),
            errors: f.count(Metric::Errors).unwrap_or_default(),
            throttles: f.count(Metric::Throttles).unwrap_or_default(),
            max_concurrency: f
                .max(Metric::Concurrency)
                .map(|v| v.round().max(0.0) as u64),
            traffic_shift: shifts.get(&f.function).cloned(),
            per_minute: f
                .series
                .iter()
                .map(|(m, points)| (m.key().to_string(), points.clone()))
                .collect(),
        })
        .collect();
    TopDoc {
        stack: s.config.stack.name.clone(),
        region: s.aws.region.clone(),
        minutes: w.minutes,
        period_seconds: PERIOD_SECONDS,
        start: format_rfc3339(w.start * 1000),
        end: format_rfc3339(w.end() * 1000),
        load_balancer_5xx: (!snap.elb_5xx.is_empty())
            .then(|| snap.elb_5xx.iter().flatten().sum::<f64>().round().max(0.0) as u64),
        functions,
    }
}

/// `12:04:31 UTC` of Unix seconds `now`.
fn clock(now: u64) -> String {
    let day = now % 86_400;
    format!(
        "{:02}:{:02}:{:02} UTC",
        day / 3600,
        day % 3600 / 60,
        day % 60
    )
}

pub(crate) async fn run(cli: &Cli, args: &TopArgs) -> Result<Outcome> {
    let s = Session::open(cli).await?;
    let watched = s
        .with_account(watched(&s, args.function.as_deref()))
        .await?
        .1;
    let minutes = usize::from(args.minutes);
    if s.json() {
        let (w, snap, shifts) = refresh(&s, &watched, minutes).await?;
        return Ok(Outcome::json(
            0,
            true,
            &document(&s, &watched, w, &snap, &shifts),
        ));
    }
    let screen = Screen::new(!args.once);
    let mut ticker = tokio::time::interval(Duration::from_secs(args.interval));
    // One listener for the whole run: a Ctrl-C typed while a screen is being drawn
    // is kept for the next `select!` instead of being lost between two listeners.
    let interrupted = tokio::signal::ctrl_c();
    tokio::pin!(interrupted);
    loop {
        tokio::select! {
            _ = ticker.tick() => {}
            _ = &mut interrupted => return Ok(Outcome::code(0)),
        }
        let (_, snap, shifts) = tokio::select! {
            r = refresh(&s, &watched, minutes) => r?,
            _ = &mut interrupted => return Ok(Outcome::code(0)),
        };
        let heading = Heading {
            stack: s.config.stack.name.clone(),
            region: s.aws.region.clone(),
            minutes,
            at: clock(unix_now()),
            shifts,
        };
        screen.draw(&render(&heading, &snap, screen.width()));
        if !screen.live() {
            return Ok(Outcome::code(0));
        }
    }
}
