//! `albkit deploy`: the CI fast path. Builds, and ships only code: one
//! `GetFunction(Qualifier=live)` per function when nothing changed (its tags prove the
//! function is the stack's; a stack named under the previous scheme takes two); else
//! upload, wait until the update is `Successful`, publish a version, move `live`, and a
//! smoke check that rolls `live` back when the new version cannot answer.

use std::time::Duration;

use super::code::{account_of, invoke, prove, Live};
use super::confirm::confirm;
use super::output::{DeployDoc, DeployResult, Deployed};
use super::session::Session;
use super::{Document, Outcome};
use crate::alb::event::health_check_event;
use crate::aws::error::AwsError;
use crate::aws::resources::function::{point_alias, publish_version, upload_code, wait_ready_with};
use crate::cli::{Cli, DeployArgs};
use crate::error::{Error, Result};
use crate::model::config::{Architecture, FunctionSettings};
use crate::model::lifecycle::{smoke_verdict, Verdict};
use crate::model::names::LIVE_ALIAS;
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
    let mut outcomes = Vec::new();
    let mut failed = Vec::new();
    for f in functions {
        let out = deploy_one(&s, f, o).await?;
        if matches!(
            out.result,
            DeployResult::RolledBack | DeployResult::Unhealthy
        ) {
            failed.push(format!(
                "{}: {}",
                f.name,
                out.smoke.clone().unwrap_or_default()
            ));
        }
        outcomes.push(out);
    }
    let document = s.json().then(|| {
        Document::of(&DeployDoc {
            stack: s.config.stack.name.clone(),
            region: s.aws.region.clone(),
            functions: outcomes,
        })
    });
    if failed.is_empty() {
        return Ok(Outcome::with(0, document));
    }
    Ok(Outcome {
        document,
        result: Err(Error::Other(format!(
            "the new code cannot answer: {}{}",
            failed.join("; "),
            if o.no_rollback {
                " (--no-rollback: `live` was left on the new version; `albkit rollback` moves it back)"
            } else {
                " (`live` was moved back to the previous version)"
            }
        ))),
    })
}

async fn deploy_one(s: &Session, f: &FunctionSettings, o: &DeployArgs) -> Result<Deployed> {
    let artifact = build(s, f).await?;
    // One `GetFunction(Qualifier=live)`: the tags that prove the function is the
    // stack's, and the code `live` serves.
    let (proven, current) = prove(s, &f.name, true).await?;
    let name = proven.name;
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
    };
    if current.code_sha256 == artifact.sha256 {
        if !s.json() {
            eprintln!(
                "Function {}: code unchanged (SHA-256 {}), `{LIVE_ALIAS}` stays on version {}: nothing uploaded.",
                f.name, artifact.sha256, current.version
            );
        }
        return Ok(outcome);
    }
    let question = format!(
        "Deploy new code to function {name} in {} (`{LIVE_ALIAS}` is version {})?",
        s.aws.region, current.version
    );
    if !confirm(o.yes, &question, s.json())? {
        return Err(Error::Other("cancelled: nothing was changed".into()));
    }
    let notify = s.notify(&f.name);
    s.phase(format!(
        "Uploading {} ({} bytes)",
        f.name,
        artifact.zip.len()
    ));
    upload_code(
        &s.aws.lambda,
        &name,
        &artifact.zip,
        Some(arch(f.architecture)),
        &notify,
    )
    .await?;
    wait_ready_with(&s.aws.lambda, &name, &notify).await?;
    let version = publish_version(&s.aws.lambda, &name, &artifact.sha256, &notify).await?;
    point_alias(&s.aws.lambda, &name, &version, true, &notify).await?;
    outcome.result = DeployResult::Deployed;
    outcome.live_version = version.clone();
    if !s.json() {
        eprintln!(
            "Function {}: published version {version}, `{LIVE_ALIAS}` moved from {} to {version}.",
            f.name, current.version
        );
    }

    let shipped = Shipped {
        name: &name,
        version: &version,
        previous: &current,
        legacy: proven.legacy,
    };
    smoke(s, f, o, &shipped, &mut outcome).await?;
    Ok(outcome)
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
    s.phase(report.clone());
    if !s.json() {
        eprintln!("{report}");
    }
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
    let (name, version, current) = (shipped.name, shipped.version, shipped.previous);
    let notify = s.notify(&f.name);
    // Smoke check: what an ALB health check would get from the new version. The target
    // group ARN is not looked up (no ELB call on the fast path); the function sees a
    // well-formed ARN of the stack's target group name.
    let tg_arn = format!(
        "arn:aws:elasticloadbalancing:{}:{}:targetgroup/{}/0000000000000000",
        s.aws.region,
        account_of(&current.function_arn),
        if shipped.legacy {
            s.names.legacy_target_group(&f.name)
        } else {
            s.names.target_group(&f.name)
        }
    );
    let path = f.health_check.as_ref().map_or("/", |h| h.path.as_str());
    let event = health_check_event(path, &tg_arn, f.multi_value_headers);
    s.phase(format!("Smoke check: GET {path} on {}:{version}", f.name));
    let limit = Duration::from_secs(u64::from(f.timeout_seconds) + 15);
    let result = invoke(&s.aws, name, version, &event, limit).await;
    let verdict = smoke_verdict(&result, f.multi_value_headers, s.aws.custom_endpoint);
    match &verdict {
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
            if o.no_rollback {
                outcome.result = DeployResult::Unhealthy;
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
