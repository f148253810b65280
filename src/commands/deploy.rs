//! `albkit deploy`: the CI fast path. Builds, and ships only code: one
//! `GetFunction(Qualifier=live)` per function when nothing changed (its tags prove the
//! function is the stack's; a stack named under the previous scheme takes two); else
//! upload, wait until the update is `Successful`, publish a version, move `live`, and a
//! smoke check that rolls `live` back when the new version cannot answer. With a canary
//! or linear strategy the smoke check runs before any traffic reaches the new version,
//! then `live` shifts to it step by step behind the gate ([`super::shift`]). One
//! `GetAlias` beside the `GetFunction` finds a shift another run left.

use std::time::Duration;

use super::code::{account_of, invoke, prove, Live};
use super::confirm::confirm;
use super::output::{DeployDoc, DeployResult, Deployed};
use super::session::Session;
use super::shift::{self, Ended, ShiftPlan};
use super::{Document, Outcome};
use crate::alb::event::health_check_event;
use crate::aws::error::AwsError;
use crate::aws::events::{Event, Reporter};
use crate::aws::resources::function::{
    point_alias, publish_version, read_live, upload_code, wait_ready_with, LiveAlias,
};
use crate::cli::{Cli, DeployArgs};
use crate::error::{Error, Result};
use crate::model::config::{Architecture, FunctionSettings};
use crate::model::lifecycle::{smoke_verdict, Verdict};
use crate::model::names::LIVE_ALIAS;
use crate::model::shift::Strategy;
use crate::package;

fn arch(a: Architecture) -> aws_sdk_lambda::types::Architecture {
    match a {
        Architecture::X86_64 => aws_sdk_lambda::types::Architecture::X8664,
        Architecture::Arm64 => aws_sdk_lambda::types::Architecture::Arm64,
    }
}

pub(crate) async fn run(cli: &Cli, o: &DeployArgs) -> Result<Outcome> {
    let s = Session::connect(cli).await?;
    let functions = s.select(o.function.as_deref())?;
    if o.abort {
        return abort(&s, &functions).await;
    }
    let mut outcomes = Vec::new();
    let mut failed = Vec::new();
    let mut gated = Vec::new();
    for f in functions {
        let (out, gate) = deploy_one(&s, f, o).await?;
        if gate.is_none()
            && matches!(
                out.result,
                DeployResult::RolledBack | DeployResult::Unhealthy
            )
        {
            failed.push(format!(
                "{}: {}",
                f.name,
                out.smoke.clone().unwrap_or_default()
            ));
        }
        gated.extend(gate);
        outcomes.push(out);
    }
    let document = s.json().then(|| {
        Document::of(&DeployDoc {
            stack: s.config.stack.name.clone(),
            region: s.aws.region.clone(),
            functions: outcomes,
            aborted: Vec::new(),
        })
    });
    let mut problems = gated;
    if !failed.is_empty() {
        problems.insert(
            0,
            format!(
                "the new code cannot answer: {}{}",
                failed.join("; "),
                if o.no_rollback {
                    " (--no-rollback: `live` was left on the new version; `albkit rollback` moves it back)"
                } else {
                    " (`live` serves the previous version)"
                }
            ),
        );
    }
    if problems.is_empty() {
        return Ok(Outcome::with(0, document));
    }
    Ok(Outcome {
        document,
        result: Err(Error::Other(problems.join("; "))),
    })
}

/// `deploy --abort`: rolls back the traffic shift of each function that has one. No
/// build, no upload.
async fn abort(s: &Session, functions: &[&FunctionSettings]) -> Result<Outcome> {
    let mut aborted = Vec::new();
    for f in functions {
        let (proven, _) = prove(s, &f.name, false).await?;
        match shift::abort(s, f, &proven.name).await? {
            Some(a) => {
                if !s.json() {
                    eprintln!(
                        "Function {}: traffic shift {} rolled back: no weights, `{LIVE_ALIAS}` stays on version {}.",
                        f.name, a.shift, a.live_version
                    );
                }
                aborted.push(a);
            }
            None if !s.json() => {
                eprintln!(
                    "Function {}: no traffic shift in flight: nothing to abort.",
                    f.name
                );
            }
            None => {}
        }
    }
    let document = s.json().then(|| {
        Document::of(&DeployDoc {
            stack: s.config.stack.name.clone(),
            region: s.aws.region.clone(),
            functions: Vec::new(),
            aborted,
        })
    });
    Ok(Outcome::with(0, document))
}

/// Deploys one function; beside what it did, why the gate or another run stopped its
/// shift (`None`: it completed, or failed its smoke check, which `outcome.smoke` says).
async fn deploy_one(
    s: &Session,
    f: &FunctionSettings,
    o: &DeployArgs,
) -> Result<(Deployed, Option<String>)> {
    let strategy = o.strategy.unwrap_or(f.deploy_strategy);
    let (artifact, (proven, current, live)) = build_and_read(s, f).await?;
    let name = proven.name;
    let alias = shift::settle(s, f, &name, live).await?;
    let current = current
        .ok_or_else(|| Error::Aws(AwsError::incomplete("GetFunction", &name, "configuration")))?;
    let mut outcome = Deployed {
        function: f.name.clone(),
        result: DeployResult::Unchanged,
        zip_bytes: artifact.zip.len(),
        builder: artifact.builder,
        required_glibc: package::elf::newest_glibc(&artifact.required_versions)
            .map(|v| v.to_string()),
        code_sha256: artifact.sha256.clone(),
        previous_version: current.version.clone(),
        live_version: current.version.clone(),
        smoke: None,
        strategy: strategy.to_string(),
        shift: Vec::new(),
    };
    if current.code_sha256 == artifact.sha256 {
        if !s.json() {
            eprintln!(
                "Function {}: code unchanged (SHA-256 {}), `{LIVE_ALIAS}` stays on version {}: nothing uploaded.",
                f.name, artifact.sha256, current.version
            );
        }
        return Ok((outcome, None));
    }
    let question = format!(
        "Deploy new code to function {name} in {} (`{LIVE_ALIAS}` is version {})?",
        s.aws.region, current.version
    );
    if !confirm(o.yes, &question, s.json())? {
        return Err(Error::Other("cancelled: nothing was changed".into()));
    }
    let notify = s.notify(&f.name);
    let version = ship(s, f, &name, &artifact).await?;
    let shipped = Shipped {
        name: &name,
        version: &version,
        previous: &current,
        legacy: proven.legacy,
        moved: strategy == Strategy::AllAtOnce,
    };
    if !shipped.moved {
        // The smoke check is the first gate, before any traffic reaches the version.
        smoke(s, f, o, &shipped, &mut outcome).await?;
        if outcome.result != DeployResult::Unchanged {
            return Ok((outcome, None));
        }
        let revision = alias.and_then(|a| a.revision);
        let gate = progressive(s, f, &shipped, strategy, revision, &mut outcome).await?;
        return Ok((outcome, gate));
    }
    // The smoke check invokes the version itself, not the alias: it runs while `live`
    // moves, and its verdict is acted on once the move is done.
    let (moved, checked) = tokio::join!(
        point_alias(&s.aws.lambda, &name, &version, true, &notify),
        smoke_check(s, f, &shipped)
    );
    moved?;
    outcome.result = DeployResult::Deployed;
    outcome.live_version = version.clone();
    if !s.json() {
        eprintln!(
            "Function {}: published version {version}, `{LIVE_ALIAS}` moved from {} to {version}.",
            f.name, current.version
        );
    }
    settle(s, f, o, &shipped, &mut outcome, checked).await?;
    Ok((outcome, None))
}

/// The function's build, and beside it its reads: one `GetFunction(Qualifier=live)`,
/// the tags that prove the function is the stack's and the code `live` serves; and at
/// the same time one `GetAlias` of the function's current name, a shift another run
/// left (read again under the proven name when that is the previous scheme's). Both are
/// awaited: a failed build is reported before a failed read, whichever ended first (a
/// broken crate is the error to fix, as when the build came first).
async fn build_and_read(
    s: &Session,
    f: &FunctionSettings,
) -> Result<(
    package::Artifact,
    (super::code::Proven, Option<Live>, Option<LiveAlias>),
)> {
    let reads = async {
        let name = s.names.function(&f.name);
        // The alias is only looked at once the function is proven the stack's.
        let (proved, guessed) =
            tokio::join!(prove(s, &f.name, true), read_live(&s.aws.lambda, &name));
        let (proven, current) = proved?;
        let live = if proven.name == name {
            guessed?
        } else {
            read_live(&s.aws.lambda, &proven.name).await?
        };
        Ok::<_, Error>((proven, current, live))
    };
    let (artifact, reads) = tokio::join!(build(s, f), reads);
    Ok((artifact?, reads?))
}

/// Uploads the code, waits for the update and publishes it; returns the new version.
async fn ship(
    s: &Session,
    f: &FunctionSettings,
    name: &str,
    artifact: &package::Artifact,
) -> Result<String> {
    let notify = s.notify(&f.name);
    s.phase(format!(
        "Uploading {} ({} bytes)",
        f.name,
        artifact.zip.len()
    ));
    let arch = Some(arch(f.architecture));
    upload_code(&s.aws.lambda, name, &artifact.zip, arch, &notify).await?;
    wait_ready_with(&s.aws.lambda, name, &notify).await?;
    Ok(publish_version(&s.aws.lambda, name, &artifact.sha256, &notify).await?)
}

/// The traffic shift of a canary or linear deploy, after a smoke check that passed (or
/// was inconclusive). Returns why it did not complete.
async fn progressive(
    s: &Session,
    f: &FunctionSettings,
    shipped: &Shipped<'_>,
    strategy: Strategy,
    revision: Option<String>,
    outcome: &mut Deployed,
) -> Result<Option<String>> {
    let plan = ShiftPlan {
        s,
        f,
        name: shipped.name,
        from: &shipped.previous.version,
        to: shipped.version,
        strategy,
        target_group: shipped.target_group(s, &f.name),
        revision,
    };
    let (from, to) = (plan.from, plan.to);
    let ended = shift::run(&plan, &mut outcome.shift).await?;
    let (detail, gate) = match ended {
        Ended::Completed => {
            outcome.result = DeployResult::Deployed;
            outcome.live_version = to.to_string();
            (
                format!("{strategy} complete: `{LIVE_ALIAS}` is version {to}"),
                None,
            )
        }
        Ended::RolledBack { alarm, reason } => {
            outcome.result = DeployResult::RolledBack;
            let why = format!(
                "{}: gate alarm {alarm} went to ALARM ({reason}): weights back to 0, `{LIVE_ALIAS}` stays on version {from}",
                f.name
            );
            (why.clone(), Some(why))
        }
        Ended::Aborted(why) => {
            outcome.result = DeployResult::Aborted;
            let why = format!("{}: the traffic shift to version {to} was aborted: {why}; `{LIVE_ALIAS}` stays on version {from}", f.name);
            (why.clone(), Some(why))
        }
    };
    s.reporter.event(Event::ShiftEnded {
        function: f.name.clone(),
        detail: detail.clone(),
    });
    if !s.json() {
        eprintln!("Function {}: {detail}.", f.name);
    }
    Ok(gate)
}

/// Builds the function and checks that Lambda can run its bootstrap.
async fn build(s: &Session, f: &FunctionSettings) -> Result<package::Artifact> {
    s.phase(format!(
        "Building function {} ({}, release)",
        f.name,
        f.architecture.as_str()
    ));
    let artifact = package::build(f).await?;
    let report = format!(
        "Built function {} with {}: bootstrap {} KiB, zip {} KiB ({} bytes), needs glibc {}",
        f.name,
        artifact.builder.describe(),
        artifact.bootstrap_size / 1024,
        artifact.zip.len() / 1024,
        artifact.zip.len(),
        package::elf::newest_glibc(&artifact.required_versions)
            .map_or("none (static)".to_string(), |v| format!("<= {v}")),
    );
    s.phase(report);
    // Before any AWS call: a bootstrap Lambda cannot start is never shipped.
    package::check_runtime(&artifact)?;
    Ok(artifact)
}

/// A new version that `live` now serves.
struct Shipped<'a> {
    /// The Lambda function name.
    name: &'a str,
    version: &'a str,
    /// What `live` served before.
    previous: &'a Live,
    /// Whether the stack uses the previous naming scheme.
    legacy: bool,
    /// Whether `live` was moved to it (all-at-once) before the smoke check.
    moved: bool,
}

impl Shipped<'_> {
    /// The name of the function's target group.
    fn target_group(&self, s: &Session, function: &str) -> String {
        if self.legacy {
            s.names.legacy_target_group(function)
        } else {
            s.names.target_group(function)
        }
    }
}

/// The smoke check of a shipped version; moves `live` back when it cannot answer
/// (unless `--no-rollback`).
async fn smoke(
    s: &Session,
    f: &FunctionSettings,
    o: &DeployArgs,
    shipped: &Shipped<'_>,
    outcome: &mut Deployed,
) -> Result<()> {
    let checked = smoke_check(s, f, shipped).await;
    settle(s, f, o, shipped, outcome, checked).await
}

/// A smoke check's request path and verdict.
struct Checked<'p> {
    path: &'p str,
    verdict: Verdict,
}

/// Invokes the shipped version (not `live`) with what an ALB health check would send.
async fn smoke_check<'f>(
    s: &Session,
    f: &'f FunctionSettings,
    shipped: &Shipped<'_>,
) -> Checked<'f> {
    let (name, version, current) = (shipped.name, shipped.version, shipped.previous);
    // Smoke check: what an ALB health check would get from the new version. The target
    // group ARN is not looked up (no ELB call on the fast path); the function sees a
    // well-formed ARN of the stack's target group name.
    let tg_arn = format!(
        "arn:aws:elasticloadbalancing:{}:{}:targetgroup/{}/0000000000000000",
        s.aws.region,
        account_of(&current.function_arn),
        shipped.target_group(s, &f.name)
    );
    let path = f.health_check.as_ref().map_or("/", |h| h.path.as_str());
    let event = health_check_event(path, &tg_arn, f.multi_value_headers);
    s.phase(format!("Smoke check: GET {path} on {}:{version}", f.name));
    let limit = Duration::from_secs(u64::from(f.timeout_seconds) + 15);
    let result = invoke(&s.aws, name, version, &event, limit).await;
    Checked {
        path,
        verdict: smoke_verdict(&result, f.multi_value_headers, s.aws.custom_endpoint),
    }
}

/// Records a smoke check's verdict, and moves `live` back when the version cannot
/// answer (unless `--no-rollback`, or `live` was not moved to it).
async fn settle(
    s: &Session,
    f: &FunctionSettings,
    o: &DeployArgs,
    shipped: &Shipped<'_>,
    outcome: &mut Deployed,
    checked: Checked<'_>,
) -> Result<()> {
    let (name, version, current) = (shipped.name, shipped.version, shipped.previous);
    let notify = s.notify(&f.name);
    let path = checked.path;
    match &checked.verdict {
        Verdict::Healthy(status) => {
            outcome.smoke = Some(format!("healthy: GET {path} answered {status}"));
        }
        Verdict::Inconclusive(why) => {
            let text = format!(
                "smoke check inconclusive, `{LIVE_ALIAS}` kept on version {version}: {why}"
            );
            s.note(text.clone());
            if !s.json() {
                eprintln!("Warning: function {}: {text}", f.name);
            }
            outcome.smoke = Some(format!("inconclusive: {why}"));
        }
        Verdict::Unhealthy(why) => {
            outcome.smoke = Some(why.clone());
            if o.no_rollback && shipped.moved {
                outcome.result = DeployResult::Unhealthy;
            } else if !shipped.moved {
                outcome.result = DeployResult::RolledBack;
                if !s.json() {
                    eprintln!(
                        "Function {}: version {version} cannot answer ({why}); no traffic was shifted to it, `{LIVE_ALIAS}` stays on version {}.",
                        f.name, current.version
                    );
                }
            } else {
                point_alias(&s.aws.lambda, name, &current.version, true, &notify).await?;
                outcome.result = DeployResult::RolledBack;
                outcome.live_version = current.version.clone();
                if !s.json() {
                    eprintln!(
                        "Function {}: version {version} cannot answer ({why}); `{LIVE_ALIAS}` moved back to version {}.",
                        f.name, current.version
                    );
                }
            }
        }
    }
    Ok(())
}
