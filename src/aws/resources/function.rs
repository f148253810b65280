//! The Lambda function, its published versions and the `live` alias the target group
//! invokes.

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use aws_sdk_lambda::operation::create_function::CreateFunctionOutput;
use aws_sdk_lambda::operation::get_alias::GetAliasOutput;
use aws_sdk_lambda::operation::get_function_configuration::GetFunctionConfigurationOutput;
use aws_sdk_lambda::primitives::Blob;
use aws_sdk_lambda::types::{
    AliasRoutingConfiguration, Architecture, Environment, FunctionCode, FunctionConfiguration,
    LastUpdateStatus, Runtime, State,
};
use futures::future::try_join_all;

use super::wait_error;
use super::{as_found, found, logical_of, read, tag_changes, teardown, Ctx, Foreign, Teardown};
use crate::aws::error::{AwsError, AwsResultExt, ErrorClass, ResourceError};
use crate::aws::events::Event;
use crate::aws::retry::{retry, wait_until, Notify, Policy, Poll};
use crate::model::found::Found;
use crate::model::names::{logical, LIVE_ALIAS, TAG_RESOURCE, TAG_STACK};
use crate::model::plan::{Change, Facts, Observed};
use crate::model::shift::ShiftState;
use crate::model::spec::{FunctionSpec, Props, Ref};
use crate::model::stack::Tags;
use crate::package::Artifact;

const ALIAS_PROP: &str = "live -> published version";

/// Why `tags` do not prove that a Lambda function is the stack's `function/<name>`
/// (`albkit:stack` = the stack and `albkit:resource` = the logical id), or `None` when
/// they do. Pure: the one proof discovery, `CreateFunction`'s conflict and the function
/// commands ask for.
pub(crate) fn not_ours(stack: &str, logical_id: &str, tags: &Tags) -> Option<String> {
    match (tags.get(TAG_STACK), tags.get(TAG_RESOURCE)) {
        (None, _) => Some(format!("it has no {TAG_STACK} tag")),
        (Some(other), _) if other != stack => {
            Some(format!("its {TAG_STACK} tag is {other:?}, not {stack:?}"))
        }
        (_, None) => Some(format!("it has no {TAG_RESOURCE} tag")),
        (_, Some(other)) if other != logical_id => Some(format!(
            "its {TAG_RESOURCE} tag is {other:?}, not {logical_id:?}"
        )),
        _ => None,
    }
}

/// The stack's functions and the foreign ones under their names, read concurrently.
pub(crate) async fn discover(ctx: &Ctx<'_>) -> Result<(Vec<Found>, Vec<Foreign>), AwsError> {
    let candidates = list_candidates(ctx).await?;
    let found = try_join_all(candidates.iter().map(|f| discover_one(ctx, f))).await?;
    Ok(super::split_found(found))
}

/// The functions whose names begin with the stack's name.
async fn list_candidates(ctx: &Ctx<'_>) -> Result<Vec<FunctionConfiguration>, AwsError> {
    let prefix = format!("{}-", ctx.stack());
    let mut candidates = Vec::new();
    let mut pages = ctx.aws.lambda.list_functions().into_paginator().send();
    while let Some(page) = pages.next().await {
        let page = page.aws("ListFunctions", "functions")?;
        candidates.extend(
            page.functions()
                .iter()
                .filter(|f| f.function_name().is_some_and(|n| n.starts_with(&prefix)))
                .cloned(),
        );
    }
    Ok(candidates)
}

/// One listed function: the stack's, foreign (in the place of one of the stack's), or
/// neither (`None`).
async fn discover_one(
    ctx: &Ctx<'_>,
    f: &FunctionConfiguration,
) -> Result<Option<Result<Found, Foreign>>, AwsError> {
    let lambda = &ctx.aws.lambda;
    let name = f.function_name().unwrap_or_default();
    let arn = f.function_arn().unwrap_or_default();
    // Tags, the alias, the configuration the alias serves and `$LATEST`, together.
    // `$LATEST`, beside the alias: a hand change there is what the next publication
    // would ship.
    let (tags, alias, live, latest) = tokio::try_join!(
        function_tags(ctx, name, arn),
        live_alias(lambda, name),
        configuration(lambda, name, Some(LIVE_ALIAS)),
        configuration(lambda, name, None),
    )?;
    let shift = alias.as_ref().and_then(shift_of);
    let alias = alias.and_then(|a| a.function_version().map(str::to_string));
    if let Some(foreign) = in_the_way(ctx, name, &tags) {
        return Ok(Some(Err(foreign)));
    }
    let Some(logical) = logical_of(&tags).filter(|_| ctx.owns(&tags)) else {
        return Ok(None);
    };
    let Some(latest) = latest else {
        // Deleted between the listing and this read.
        return Ok(None);
    };
    let config_name = logical.trim_start_matches("function/").to_string();
    let base = FunctionSpec {
        log_group: Ref::Stack(logical::log_group(&config_name).into()),
        config_name,
        name: name.to_string(),
        architecture: crate::model::config::Architecture::X86_64,
        memory_mb: 0,
        timeout_seconds: 0,
        role: Ref::External(String::new()),
        environment: BTreeMap::new(),
        kms_key_arn: None,
        code_sha256: String::new(),
        tags: tags.clone(),
    };
    // The alias's version (`live`) is what the load balancer serves: compare against
    // it, and show beside each setting the value `$LATEST` holds when it differs.
    // Without an alias (a run stopped before creating it) there is only `$LATEST`.
    let (config, latest) = match live.filter(|_| alias.is_some()) {
        Some(live) => (live, Some(settings(&latest, &base))),
        None => (latest, None),
    };
    let (spec, mut extras) = settings(&config, &base);
    let alias_text = alias_text(alias.is_some(), shift.as_ref());
    as_found(&mut extras, "alias", alias_text, ALIAS_PROP);
    extras.push(("live_version", alias.unwrap_or_else(|| "none".into())));
    if let Some((summary, _)) = shift {
        extras.push(("traffic_shift", summary));
    }
    extras.push((
        "state",
        config.state().map_or("unknown", |s| s.as_str()).to_string(),
    ));
    let mut found = Found::new(arn, logical, spec, tags).extras(extras);
    found.latest = latest.map(|(spec, extras)| Box::new((spec.into(), extras)));
    Ok(Some(Ok(found.with(Facts::Named(name.to_string())))))
}

/// The traffic shift on the alias, as `status` shows it, and whether it is stranded;
/// `None` without one.
fn shift_of(a: &GetAliasOutput) -> Option<(String, bool)> {
    let live = LiveAlias::of(
        a.function_version(),
        a.description(),
        a.routing_config(),
        a.revision_id(),
    );
    let state = live.shift(unix_now());
    Some((
        state.summary(&live.weights)?,
        matches!(state, ShiftState::Stranded(_)),
    ))
}

/// The alias as the plan compares it: a stranded traffic shift is a difference `up`
/// repairs (it points `live` at the version it publishes, with no weights); one in
/// flight is only shown.
fn alias_text(exists: bool, shift: Option<&(String, bool)>) -> &'static str {
    match (exists, shift) {
        (false, _) => "none",
        (true, Some((_, true))) => "live -> published version, with a stranded traffic shift",
        (true, _) => ALIAS_PROP,
    }
}

/// The tags of the function `name` (`arn`).
async fn function_tags(ctx: &Ctx<'_>, name: &str, arn: &str) -> Result<Tags, AwsError> {
    let out = read(ctx, "function", "read function tags", || async {
        ctx.aws
            .lambda
            .list_tags()
            .resource(arn)
            .send()
            .await
            .aws("ListTags", name)
    })
    .await?;
    Ok(Tags::from_iter(out.tags().cloned().unwrap_or_default()))
}

/// The `live` alias of the function `name`; `None` without one.
async fn live_alias(
    lambda: &aws_sdk_lambda::Client,
    name: &str,
) -> Result<Option<GetAliasOutput>, AwsError> {
    let alias = lambda.get_alias().function_name(name).name(LIVE_ALIAS);
    found(alias.send().await.aws("GetAlias", name))
}

/// A function under the current name of one of the stack's functions must be the
/// stack's: anything else there is in the way (`Some`).
fn in_the_way(ctx: &Ctx<'_>, name: &str, tags: &Tags) -> Option<Foreign> {
    let f = ctx
        .config
        .functions
        .iter()
        .find(|f| ctx.names.function(&f.name) == name)?;
    let reason = not_ours(ctx.stack(), &logical::function(&f.name), tags)?;
    Some(Foreign {
        kind: "Lambda function",
        name: name.to_string(),
        reason,
    })
}

/// The configuration of `qualifier` (a version or alias) or of `$LATEST`; `None` when
/// there is no such thing.
async fn configuration(
    lambda: &aws_sdk_lambda::Client,
    name: &str,
    qualifier: Option<&str>,
) -> Result<Option<GetFunctionConfigurationOutput>, AwsError> {
    let request = lambda.get_function_configuration().function_name(name);
    let request = request.set_qualifier(qualifier.map(str::to_string));
    found(request.send().await.aws("GetFunctionConfiguration", name))
}

/// The function as one configuration (a published version's or `$LATEST`'s) has it:
/// `base` (what no configuration holds: its names, its tags) with that configuration's
/// settings, the role as its ARN; what the spec cannot hold (another runtime or
/// handler) as extras. Pure.
fn settings(config: &GetFunctionConfigurationOutput, base: &FunctionSpec) -> (FunctionSpec, Props) {
    use crate::model::config::Architecture as Arch;
    let env = config.environment().and_then(|e| e.variables()).cloned();
    let text = |v: Option<&str>| v.unwrap_or_default().to_string();
    let number = |v: Option<i32>| u32::try_from(v.unwrap_or_default()).unwrap_or_default();
    let architecture = config
        .architectures()
        .first()
        .map_or("x86_64", |a| a.as_str());
    let spec = FunctionSpec {
        architecture: if architecture == Arch::Arm64.as_str() {
            Arch::Arm64
        } else {
            Arch::X86_64
        },
        memory_mb: number(config.memory_size()),
        timeout_seconds: number(config.timeout()),
        role: Ref::External(text(config.role())),
        environment: env.unwrap_or_default().into_iter().collect(),
        kms_key_arn: config
            .kms_key_arn()
            .filter(|k| !k.is_empty())
            .map(str::to_string),
        code_sha256: text(config.code_sha256()),
        ..base.clone()
    };
    let mut extras = Props::new();
    let runtime = text(config.runtime().map(Runtime::as_str));
    as_found(&mut extras, "runtime", runtime, FunctionSpec::RUNTIME);
    as_found(
        &mut extras,
        "handler",
        text(config.handler()),
        FunctionSpec::HANDLER,
    );
    as_found(
        &mut extras,
        "architecture",
        architecture,
        spec.architecture.as_str(),
    );
    (spec, extras)
}

/// Whether a published configuration has every setting the desired function has
/// (`want`, whose role stands for the role `role_arn`). Pure.
fn serves(config: &GetFunctionConfigurationOutput, want: &FunctionSpec, role_arn: &str) -> bool {
    let want = FunctionSpec {
        role: Ref::External(role_arn.to_string()),
        ..want.clone()
    };
    let (live, extras) = settings(config, &want);
    extras.is_empty() && live == want
}

/// Waits until the function is `Active` and no update is in progress.
pub(crate) async fn wait_ready(ctx: &Ctx<'_>, name: &str) -> Result<(), AwsError> {
    wait_ready_with(&ctx.aws.lambda, name, &ctx.notify("function")).await
}

/// [`wait_ready`] for callers without a full resource context (`deploy`, `rollback`).
pub(crate) async fn wait_ready_with(
    lambda: &aws_sdk_lambda::Client,
    name: &str,
    notify: &dyn Notify,
) -> Result<(), AwsError> {
    let what = format!("function {name} to be ready");
    wait_until(&what, Duration::from_secs(600), notify, || async {
        let c = lambda
            .get_function_configuration()
            .function_name(name)
            .send()
            .await
            .aws("GetFunctionConfiguration", name)?;
        let reason = || {
            c.state_reason()
                .or(c.last_update_status_reason())
                .unwrap_or("no reason given")
                .to_string()
        };
        Ok(match (c.state(), c.last_update_status()) {
            (Some(State::Failed), _) => Poll::Failed {
                state: "Failed".into(),
                reason: reason(),
            },
            (_, Some(LastUpdateStatus::Failed)) => Poll::Failed {
                state: "update Failed".into(),
                reason: reason(),
            },
            (Some(State::Active) | None, Some(LastUpdateStatus::Successful) | None) => {
                Poll::Ready(())
            }
            (state, update) => Poll::Pending(format!(
                "{} / update {}",
                state.map_or("unknown", aws_sdk_lambda::types::State::as_str),
                update.map_or("unknown", aws_sdk_lambda::types::LastUpdateStatus::as_str)
            )),
        })
    })
    .await
    .map_err(|e| wait_error(e, "GetFunctionConfiguration", name))
}

/// Uploads a new zip to `$LATEST` (the caller waits for the update with [`wait_ready_with`]).
pub(crate) async fn upload_code(
    lambda: &aws_sdk_lambda::Client,
    name: &str,
    zip: &[u8],
    arch: Option<Architecture>,
    notify: &dyn Notify,
) -> Result<(), AwsError> {
    retry(Policy::fresh(), "upload code", notify, || async {
        lambda
            .update_function_code()
            .function_name(name)
            .zip_file(Blob::new(zip.to_vec()))
            .set_architectures(arch.clone().map(|a| vec![a]))
            .send()
            .await
            .aws("UpdateFunctionCode", name)
    })
    .await
    .map(|_| ())
}

/// Publishes `$LATEST` as a version, guarded by the expected code hash, and returns the
/// version. Publishing an unchanged `$LATEST` returns the existing version, so this is
/// safe to repeat after an interruption.
pub(crate) async fn publish_version(
    lambda: &aws_sdk_lambda::Client,
    name: &str,
    sha256: &str,
    notify: &dyn Notify,
) -> Result<String, AwsError> {
    Ok(retry(Policy::fresh(), "publish version", notify, || async {
        lambda
            .publish_version()
            .function_name(name)
            .code_sha256(sha256)
            .send()
            .await
            .aws("PublishVersion", name)
    })
    .await?
    .version()
    .unwrap_or_default()
    .to_string())
}

/// Points the `live` alias at `version`, creating it when `exists` is false.
pub(crate) async fn point_alias(
    lambda: &aws_sdk_lambda::Client,
    name: &str,
    version: &str,
    exists: bool,
    notify: &dyn Notify,
) -> Result<(), AwsError> {
    let what = "point the live alias at the new version";
    retry(Policy::fresh(), what, notify, || async {
        // No additional weights and no shift record: pointing `live` ends any traffic
        // shift (docs/deploys.md).
        let update = || async {
            lambda
                .update_alias()
                .function_name(name)
                .name(LIVE_ALIAS)
                .function_version(version)
                .routing_config(no_weights())
                .description("")
                .send()
                .await
                .aws("UpdateAlias", name)
                .map(|_| ())
        };
        if exists {
            return update().await;
        }
        let created = lambda
            .create_alias()
            .function_name(name)
            .name(LIVE_ALIAS)
            .function_version(version)
            .send()
            .await
            .aws("CreateAlias", name);
        match created {
            // An earlier attempt created it but its response was lost (or another
            // run did): point the existing alias instead.
            Err(e) if e.is("ResourceConflictException") || e.is("ConflictException") => {
                update().await
            }
            other => other.map(|_| ()),
        }
    })
    .await
}

/// A routing configuration without additional versions.
fn no_weights() -> AliasRoutingConfiguration {
    AliasRoutingConfiguration::builder()
        .set_additional_version_weights(Some(HashMap::new()))
        .build()
}

/// The `live` alias as a traffic shift reads it.
#[derive(Debug, Clone)]
pub(crate) struct LiveAlias {
    /// The version that takes the traffic the additional weights leave.
    pub version: String,
    pub description: String,
    /// Additional versions and their weights (0.0–1.0).
    pub weights: BTreeMap<String, f64>,
    /// Changes with every update: `UpdateAlias` with it fails if another run changed
    /// the alias since it was read.
    pub revision: Option<String>,
}

impl LiveAlias {
    fn of(
        version: Option<&str>,
        description: Option<&str>,
        routing: Option<&AliasRoutingConfiguration>,
        revision: Option<&str>,
    ) -> Self {
        Self {
            version: version.unwrap_or_default().to_string(),
            description: description.unwrap_or_default().to_string(),
            weights: routing
                .and_then(|r| r.additional_version_weights())
                .map(|w| w.iter().map(|(v, w)| (v.clone(), *w)).collect())
                .unwrap_or_default(),
            revision: revision.map(str::to_string),
        }
    }

    /// Its shift state at `now` (Unix seconds).
    pub(crate) fn shift(&self, now: u64) -> ShiftState {
        ShiftState::of(Some(&self.description), &self.weights, now)
    }
}

/// The `live` alias of the function `name` with its weights; `None` without one.
pub(crate) async fn read_live(
    lambda: &aws_sdk_lambda::Client,
    name: &str,
) -> Result<Option<LiveAlias>, AwsError> {
    Ok(live_alias(lambda, name).await?.map(|a| {
        LiveAlias::of(
            a.function_version(),
            a.description(),
            a.routing_config(),
            a.revision_id(),
        )
    }))
}

/// Sets `live`'s routing: `primary` takes what `extra` (a version and a weight) leaves,
/// and the description records the shift (`""`: none). With `revision`, only if nobody
/// changed the alias since (Lambda refuses with `PreconditionFailedException`). Returns
/// the alias's new revision.
pub(crate) async fn route_live(
    lambda: &aws_sdk_lambda::Client,
    name: &str,
    primary: &str,
    extra: Option<(&str, f64)>,
    description: &str,
    revision: Option<&str>,
    notify: &dyn Notify,
) -> Result<LiveAlias, AwsError> {
    let weights: HashMap<String, f64> =
        extra.map(|(v, w)| (v.to_string(), w)).into_iter().collect();
    let routing = AliasRoutingConfiguration::builder()
        .set_additional_version_weights(Some(weights))
        .build();
    let out = retry(
        Policy::fresh(),
        "set the live alias's weights",
        notify,
        || async {
            lambda
                .update_alias()
                .function_name(name)
                .name(LIVE_ALIAS)
                .function_version(primary)
                .routing_config(routing.clone())
                .description(description)
                .set_revision_id(revision.map(str::to_string))
                .send()
                .await
                .aws("UpdateAlias", name)
        },
    )
    .await?;
    Ok(LiveAlias::of(
        out.function_version(),
        out.description(),
        out.routing_config(),
        out.revision_id(),
    ))
}

/// What the Lambda calls of one function take, computed once.
struct Inputs<'a> {
    name: &'a str,
    artifact: &'a Artifact,
    role: String,
    environment: Environment,
    architecture: Architecture,
    memory: i32,
    timeout: i32,
}

impl<'a> Inputs<'a> {
    fn new(ctx: &'a Ctx<'_>, want: &'a FunctionSpec) -> Result<Self, ResourceError> {
        let artifact = ctx
            .artifacts
            .get(&want.config_name)
            .ok_or_else(|| AwsError {
                operation: "CreateFunction",
                resource: want.name.clone(),
                code: None,
                message: "the function was not built".into(),
                status: None,
                class: ErrorClass::Permanent,
            })?;
        let variables = want.environment.clone().into_iter().collect();
        Ok(Inputs {
            name: &want.name,
            artifact,
            role: ctx.ids.of(&want.role)?,
            environment: Environment::builder()
                .set_variables(Some(variables))
                .build(),
            architecture: Architecture::from(want.architecture.as_str()),
            memory: i32::try_from(want.memory_mb).unwrap_or(128),
            timeout: i32::try_from(want.timeout_seconds).unwrap_or(3),
        })
    }
}

pub(crate) async fn apply(
    ctx: &Ctx<'_>,
    change: &Change,
    want: &FunctionSpec,
    have: Option<&Observed>,
) -> Result<String, ResourceError> {
    let lambda = &ctx.aws.lambda;
    let notify = ctx.notify(&change.logical);
    let inputs = Inputs::new(ctx, want)?;
    let name = inputs.name;
    let creating = change.id.is_none();
    let arn = match &change.id {
        Some(arn) => arn.clone(),
        None => create(ctx, change, want, &inputs).await?,
    };
    ctx.ids.insert(&change.logical, &arn);
    wait_ready(ctx, name).await?;
    if !creating {
        update(ctx, change, have, want, &inputs, &arn).await?;
    }
    // Decision: a new version is published when the live version does not serve the
    // desired function. When only `$LATEST` was changed by hand (every setting shows
    // an unpublished value and the live version already has the desired ones),
    // restoring `$LATEST` above is the whole repair: a new version would be a copy of
    // the live one, and `albkit rollback` would then step back to an identical version.
    let publish = creating
        || change.changed("alias")
        || (change.fields.iter().any(|f| f.name != "tags")
            && !live_serves(lambda, name, want, &inputs.role).await?);
    if publish {
        // Publishing an unchanged $LATEST returns the existing version, so this is safe
        // to repeat after an interruption.
        let version = publish_version(lambda, name, &inputs.artifact.sha256, &notify).await?;
        let live = read_live(lambda, name).await?;
        point_live(ctx, change, want, &version, live.as_ref()).await?;
    }
    Ok(arn)
}

/// Points `live` at `version`, unless a traffic shift is in flight (or weights albkit did
/// not set are on it): `up` never resets those weights. A stranded shift is ended: `live`
/// on `version` with no weights, its gate alarms deleted.
async fn point_live(
    ctx: &Ctx<'_>,
    change: &Change,
    want: &FunctionSpec,
    version: &str,
    live: Option<&LiveAlias>,
) -> Result<(), AwsError> {
    let (lambda, name) = (&ctx.aws.lambda, want.name.as_str());
    let notify = ctx.notify(&change.logical);
    let state = live.map(|l| l.shift(unix_now()));
    if let Some(ShiftState::InFlight(_) | ShiftState::Unmanaged(_)) = &state {
        let summary = state
            .as_ref()
            .and_then(|s| s.summary(&live.map(|l| l.weights.clone()).unwrap_or_default()));
        ctx.reporter.event(Event::Note(format!(
            "function {}: traffic shift {}: its weights are left alone; version {version} was published, `{LIVE_ALIAS}` not moved (the shift's `albkit deploy` ends it, `albkit deploy --abort` rolls it back)",
            want.config_name,
            summary.unwrap_or_default()
        )));
        return Ok(());
    }
    point_alias(lambda, name, version, live.is_some(), &notify).await?;
    if let Some(ShiftState::Stranded(shift)) = state {
        let prefix = ctx.names.gate_alarm_prefix(&want.config_name);
        let cloudwatch = &ctx.aws.cloudwatch;
        let alarms = match super::gate_alarms::delete_all(cloudwatch, &prefix, ctx.stack(), &notify).await {
            Ok(_) => String::new(),
            Err(e) => format!("; its gate alarms {prefix}* were left ({e}): the next deploy of the function removes them"),
        };
        ctx.reporter.event(Event::Note(format!(
            "function {}: finished a stranded traffic shift {}: `{LIVE_ALIAS}` is version {version} with no weights{alarms}",
            want.config_name,
            shift.summary(None)
        )));
    }
    Ok(())
}

/// Unix seconds now: what a shift's deadline is compared with.
pub(crate) fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// Creates the function; returns its ARN.
async fn create(
    ctx: &Ctx<'_>,
    change: &Change,
    want: &FunctionSpec,
    inputs: &Inputs<'_>,
) -> Result<String, AwsError> {
    let name = inputs.name;
    // The role may not be assumable by Lambda for a few seconds after it was created
    // (IAM propagation): that error is retried, one function at a time while it lasts
    // (`aws::propagation`).
    let notify = ctx.notify(&change.logical);
    let refused = AwsError::role_propagating;
    let created = retry(Policy::fresh(), "create function", &notify, || {
        ctx.propagation
            .call(refused, || create_call(ctx, want, inputs))
    })
    .await;
    match created {
        Ok(out) => Ok(out.function_arn().unwrap_or_default().to_string()),
        // A lost response to an earlier attempt created it already; or someone else's
        // function has the name: taken only with the stack's tags.
        Err(e) if e.is("ResourceConflictException") => adopt(ctx, &change.logical, name, e).await,
        Err(e) => Err(e),
    }
}

/// One `CreateFunction` call.
async fn create_call(
    ctx: &Ctx<'_>,
    want: &FunctionSpec,
    inputs: &Inputs<'_>,
) -> Result<CreateFunctionOutput, AwsError> {
    let (lambda, name) = (&ctx.aws.lambda, inputs.name);
    lambda
        .create_function()
        .function_name(name)
        .runtime(Runtime::Providedal2023)
        .handler(FunctionSpec::HANDLER)
        .role(&inputs.role)
        .architectures(inputs.architecture.clone())
        .memory_size(inputs.memory)
        .timeout(inputs.timeout)
        .environment(inputs.environment.clone())
        .set_kms_key_arn(want.kms_key_arn.clone())
        .code(
            FunctionCode::builder()
                .zip_file(Blob::new(inputs.artifact.zip.clone()))
                .build(),
        )
        .description(format!("albkit stack {}", ctx.stack()))
        .set_tags(Some(want.tags.clone().into_iter().collect()))
        .send()
        .await
        .aws("CreateFunction", name)
}

/// The function of this name, if its tags say it is this stack's `logical_id`.
async fn adopt(
    ctx: &Ctx<'_>,
    logical_id: &str,
    name: &str,
    e: AwsError,
) -> Result<String, AwsError> {
    let out = ctx
        .aws
        .lambda
        .get_function()
        .function_name(name)
        .send()
        .await
        .aws("GetFunction", name)?;
    let found = Tags::from_iter(out.tags().cloned().unwrap_or_default());
    if let Some(reason) = not_ours(ctx.stack(), logical_id, &found) {
        return Err(AwsError {
            message: format!(
                "function {name} exists but is not this stack's ({reason}); albkit will not use it: delete or rename that function, or rename the stack ([stack].name)"
            ),
            ..e
        });
    }
    out.configuration()
        .and_then(|c| c.function_arn())
        .map(str::to_string)
        .ok_or_else(|| AwsError::incomplete("GetFunction", name, "function ARN"))
}

/// Brings an existing function's tags, code and configuration to the desired ones.
async fn update(
    ctx: &Ctx<'_>,
    change: &Change,
    have: Option<&Observed>,
    want: &FunctionSpec,
    inputs: &Inputs<'_>,
    arn: &str,
) -> Result<(), AwsError> {
    let (lambda, name) = (&ctx.aws.lambda, inputs.name);
    let notify = ctx.notify(&change.logical);
    if change.changed("tags") {
        retag(lambda, arn, name, have, &want.tags).await?;
    }
    if change.changed("code_sha256") || change.changed("architecture") {
        let arch = Some(inputs.architecture.clone());
        upload_code(lambda, name, &inputs.artifact.zip, arch, &notify).await?;
        wait_ready(ctx, name).await?;
    }
    let configuration = [
        "memory_mb",
        "timeout_seconds",
        "environment",
        "kms_key",
        "role",
        "runtime",
        "handler",
    ];
    if configuration.iter().any(|f| change.changed(f)) {
        retry(Policy::fresh(), "update configuration", &notify, || async {
            lambda
                .update_function_configuration()
                .function_name(name)
                .runtime(Runtime::Providedal2023)
                .handler(FunctionSpec::HANDLER)
                .role(&inputs.role)
                .memory_size(inputs.memory)
                .timeout(inputs.timeout)
                .environment(inputs.environment.clone())
                // An empty ARN puts the environment back under Lambda's own key.
                .kms_key_arn(want.kms_key_arn.clone().unwrap_or_default())
                .send()
                .await
                .aws("UpdateFunctionConfiguration", name)
        })
        .await?;
        wait_ready(ctx, name).await?;
    }
    Ok(())
}

async fn retag(
    lambda: &aws_sdk_lambda::Client,
    arn: &str,
    name: &str,
    have: Option<&Observed>,
    tags: &Tags,
) -> Result<(), AwsError> {
    let (set, remove) = tag_changes(have, tags);
    if !set.is_empty() {
        lambda
            .tag_resource()
            .resource(arn)
            .set_tags(Some(set.into_iter().collect()))
            .send()
            .await
            .aws("TagResource", name)?;
    }
    if !remove.is_empty() {
        lambda
            .untag_resource()
            .resource(arn)
            .set_tag_keys(Some(remove))
            .send()
            .await
            .aws("UntagResource", name)?;
    }
    Ok(())
}

/// Whether the version the `live` alias points at has every desired setting.
async fn live_serves(
    lambda: &aws_sdk_lambda::Client,
    name: &str,
    want: &FunctionSpec,
    role_arn: &str,
) -> Result<bool, AwsError> {
    Ok(configuration(lambda, name, Some(LIVE_ALIAS))
        .await?
        .is_some_and(|live| serves(&live, want, role_arn)))
}

pub(crate) async fn delete(ctx: &Ctx<'_>, have: &Observed, _: Teardown) -> Result<(), AwsError> {
    let arn = have.id.as_str();
    teardown(ctx, "function", "delete function", || async {
        ctx.aws
            .lambda
            .delete_function()
            .function_name(arn)
            .send()
            .await
            .aws("DeleteFunction", arn)
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn want() -> FunctionSpec {
        FunctionSpec {
            config_name: "api".into(),
            name: "shop-api".into(),
            architecture: crate::model::config::Architecture::Arm64,
            memory_mb: 128,
            timeout_seconds: 3,
            role: Ref::Stack("role/api".into()),
            log_group: Ref::Stack("log-group/api".into()),
            environment: [("A".to_string(), "1".to_string())].into(),
            kms_key_arn: None,
            code_sha256: "abc=".into(),
            tags: Tags::new(),
        }
    }

    fn config(role: &str, memory: i32) -> GetFunctionConfigurationOutput {
        let env = aws_sdk_lambda::types::EnvironmentResponse::builder()
            .variables("A", "1")
            .build();
        GetFunctionConfigurationOutput::builder()
            .runtime(Runtime::from(FunctionSpec::RUNTIME))
            .handler(FunctionSpec::HANDLER)
            .architectures(Architecture::Arm64)
            .memory_size(memory)
            .timeout(3)
            .role(role)
            .environment(env)
            .code_sha256("abc=")
            .build()
    }

    #[test]
    fn a_live_version_with_the_desired_settings_serves_the_function() {
        let role = "arn:aws:iam::1:role/albkit-shop-api";
        assert!(serves(&config(role, 128), &want(), role));
        assert!(!serves(&config(role, 512), &want(), role));
        assert!(
            !serves(&config(role, 128), &want(), "arn:aws:iam::1:role/another"),
            "another role"
        );
        // A setting albkit does not set is a difference too.
        let mut other = config(role, 128);
        other.handler = Some("main".into());
        assert!(!serves(&other, &want(), role));
    }

    fn tags(pairs: &[(&str, &str)]) -> Tags {
        crate::model::stack::tags_from(pairs)
    }

    #[test]
    fn a_function_is_the_stacks_only_with_both_tags() {
        let ours = tags(&[(TAG_STACK, "shop"), (TAG_RESOURCE, "function/api")]);
        assert_eq!(not_ours("shop", "function/api", &ours), None);
        let reason = |t: &Tags| not_ours("shop", "function/api", t).unwrap_or_default();
        assert!(reason(&Tags::new()).contains("no albkit:stack tag"));
        assert!(reason(&tags(&[
            (TAG_STACK, "shop-api"),
            (TAG_RESOURCE, "function/api")
        ]))
        .contains("\"shop-api\""));
        assert!(reason(&tags(&[(TAG_STACK, "shop")])).contains("no albkit:resource tag"));
        assert!(reason(&tags(&[
            (TAG_STACK, "shop"),
            (TAG_RESOURCE, "function/web")
        ]))
        .contains("\"function/web\""));
    }
}
