//! The `-o json` documents of the commands, as types. Their JSON Schemas in `schemas/`
//! are generated from these types ([`schemas`]); a test fails when the files differ from
//! what the types generate (`ALBKIT_UPDATE_SCHEMAS=1 cargo test --lib schemas` rewrites
//! them), and the integration tests validate real output against the files.

use std::collections::BTreeMap;

use schemars::{json_schema, JsonSchema, Schema, SchemaGenerator};
use serde::Serialize;

use crate::model::config::Warning;
use crate::model::cost::Workload;
use crate::model::doctor::Check;
use crate::model::lifecycle::{format_rfc3339, LogEvent};
use crate::model::lock::LockRecord;
use crate::model::plan::{Change, Counts};
use crate::model::stack::Kind;
use crate::package::Builder;

// `albkit plan -o json`.
#[derive(Debug, Serialize, JsonSchema)]
#[schemars(
    title = "albkit plan -o json: what up would change",
    deny_unknown_fields
)]
pub(crate) struct PlanDoc {
    /// [stack].name
    pub stack: String,
    /// The AWS region used
    pub region: String,
    pub has_changes: bool,
    #[schemars(with = "PlanCounts")]
    pub counts: Counts,
    /// Every resource that would change, in the order up would act (unchanged ones are
    /// left out)
    #[schemars(with = "Vec<ChangeSchema>")]
    pub changes: Vec<Change>,
    /// Valid settings of albkit.toml worth knowing about (a TLS policy without TLS 1.3),
    /// in file order
    #[schemars(with = "Vec<WarningSchema>")]
    pub warnings: Vec<Warning>,
}

// The schema of the plan's [`Counts`] as they serialize.
#[allow(dead_code)]
#[derive(JsonSchema)]
#[schemars(deny_unknown_fields)]
struct PlanCounts {
    create: usize,
    update: usize,
    replace: usize,
    delete: usize,
    unchanged: usize,
}

// The schema of a [`Change`] as it serializes (never a `keep`: the document leaves
// those out).
#[allow(dead_code)]
#[derive(JsonSchema)]
#[schemars(rename = "change", deny_unknown_fields)]
struct ChangeSchema {
    /// Logical id, e.g. vpc, subnet/1, function/hello
    logical: String,
    #[schemars(schema_with = "kind_schema")]
    kind: String,
    #[schemars(schema_with = "action_schema")]
    action: String,
    /// The existing AWS id or ARN; null for a creation
    id: Option<String>,
    fields: Vec<FieldSchema>,
}

// The actions a plan's change can carry, as `Action` serializes them.
fn action_schema(_: &mut SchemaGenerator) -> Schema {
    json_schema!({ "enum": ["create", "update", "replace", "delete"] })
}

// The schema of a changed field of a [`Change`].
#[allow(dead_code)]
#[derive(JsonSchema)]
#[schemars(rename = "field", deny_unknown_fields)]
struct FieldSchema {
    name: String,
    old: Option<String>,
    new: Option<String>,
    forces_replacement: bool,
}

// The schema of a config [`Warning`] as it serializes.
#[allow(dead_code)]
#[derive(JsonSchema)]
#[schemars(rename = "warning", deny_unknown_fields)]
struct WarningSchema {
    /// Dotted key path, e.g. https.ssl_policy
    key: String,
    message: String,
    /// What to do about it
    help: String,
    #[schemars(range(min = 1))]
    line: Option<usize>,
    #[schemars(range(min = 1))]
    column: Option<usize>,
}

// `albkit build -o json`.
#[derive(Debug, Serialize, JsonSchema)]
#[schemars(
    title = "albkit build -o json: the functions built and packaged, and where",
    deny_unknown_fields
)]
pub(crate) struct BuildDoc {
    /// One per function built, in albkit.toml's order
    pub functions: Vec<BuiltDoc>,
}

#[derive(Debug, Serialize, JsonSchema)]
#[schemars(rename = "built", deny_unknown_fields)]
pub(crate) struct BuiltDoc {
    /// [[functions]].name
    pub function: String,
    /// [[functions]].architecture: x86_64 or arm64
    pub architecture: String,
    /// How it was built: cargo lambda build, cargo zigbuild, a static musl build or
    /// plain cargo build
    pub builder: String,
    /// The bootstrap's ELF machine (x86-64, AArch64); null when it is not an ELF file
    pub machine: Option<String>,
    /// The newest glibc version the bootstrap needs; null for a static executable
    pub glibc: Option<String>,
    /// The zip written, holding one executable `bootstrap`
    pub zip: String,
    pub zip_bytes: u64,
    pub bootstrap_bytes: u64,
    /// Base64 SHA-256 of the zip, as Lambda reports `CodeSha256`
    pub sha256: String,
}

// `albkit top -o json`.
#[derive(Debug, Serialize, JsonSchema)]
#[schemars(
    title = "albkit top -o json: the stack's metrics over the last minutes",
    deny_unknown_fields
)]
pub(crate) struct TopDoc {
    /// [stack].name
    pub stack: String,
    /// The AWS region used
    pub region: String,
    /// The window's length
    #[schemars(range(min = 1))]
    pub minutes: usize,
    /// The period of every point (60)
    pub period_seconds: i32,
    /// The window's first minute, RFC 3339
    pub start: String,
    /// The end of the window's last minute (the current one), RFC 3339
    pub end: String,
    /// The load balancer's own HTTPCode_ELB_5XX_Count over the window; null without a
    /// load balancer
    pub load_balancer_5xx: Option<u64>,
    pub functions: Vec<TopFunction>,
}

/// One function's numbers in `albkit top -o json`. The target group's (requests,
/// target_4xx, …) are null when the function is behind no load balancer.
#[derive(Debug, Serialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub(crate) struct TopFunction {
    /// Its name in albkit.toml
    pub function: String,
    /// The Lambda function's name
    pub name: String,
    /// RequestCount, summed over the window
    pub requests: Option<u64>,
    /// HTTPCode_Target_4XX_Count, summed
    pub target_4xx: Option<u64>,
    /// HTTPCode_Target_5XX_Count, summed
    pub target_5xx: Option<u64>,
    /// target_5xx as a percent of requests; null without requests
    pub percent_5xx: Option<f64>,
    /// TargetResponseTime p50 of the latest minute with data, in milliseconds
    pub p50_ms: Option<f64>,
    /// TargetResponseTime p99 of the latest minute with data, in milliseconds
    pub p99_ms: Option<f64>,
    /// LambdaUserError, summed
    pub lambda_user_errors: Option<u64>,
    /// LambdaInternalError, summed
    pub lambda_internal_errors: Option<u64>,
    /// Lambda Errors, summed
    pub errors: u64,
    /// Lambda Throttles, summed
    pub throttles: u64,
    /// The largest ConcurrentExecutions (Maximum) of a minute; null without data
    pub max_concurrency: Option<u64>,
    /// The traffic shift of its `live` alias, as `status` shows it; null without one
    pub traffic_shift: Option<String>,
    /// Each metric read, one point per minute oldest first (null: no data that minute);
    /// keys: requests, target_4xx, target_5xx, p50_seconds, p99_seconds,
    /// lambda_user_errors, lambda_internal_errors, errors, throttles, concurrency
    pub per_minute: BTreeMap<String, Vec<Option<f64>>>,
}

// `albkit up -o json`.
#[derive(Debug, Serialize, JsonSchema)]
#[schemars(title = "albkit up -o json: the converged stack", deny_unknown_fields)]
pub(crate) struct UpDoc {
    /// [stack].name
    pub stack: String,
    /// The AWS region used
    pub region: String,
    /// Where the stack answers (https://domain or http://dns-name)
    pub url: Option<String>,
    /// The load balancer's DNS name
    pub dns_name: Option<String>,
    /// AWS id or ARN of each resource, by logical id
    pub resources: BTreeMap<String, String>,
    pub counts: UpCounts,
    /// Things to know (DNS records to create by hand, kept resources)
    pub notes: Vec<String>,
    /// Valid settings of albkit.toml worth knowing about (a TLS policy without TLS 1.3),
    /// in file order
    #[schemars(with = "Vec<WarningSchema>")]
    pub warnings: Vec<Warning>,
}

/// What `up` did, by action.
#[derive(Debug, Serialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub(crate) struct UpCounts {
    pub created: usize,
    pub updated: usize,
    pub replaced: usize,
    pub deleted: usize,
    pub unchanged: usize,
}

impl From<Counts> for UpCounts {
    fn from(c: Counts) -> Self {
        UpCounts {
            created: c.create,
            updated: c.update,
            replaced: c.replace,
            deleted: c.delete,
            unchanged: c.unchanged,
        }
    }
}

// `albkit status -o json`.
#[derive(Debug, Serialize, JsonSchema)]
#[schemars(
    title = "albkit status -o json: every resource of the stack",
    deny_unknown_fields
)]
pub(crate) struct StatusDoc {
    /// [stack].name
    pub stack: String,
    /// The AWS region used
    pub region: String,
    pub exists: bool,
    pub url: Option<String>,
    pub dns_name: Option<String>,
    pub resources: Vec<StatusRow>,
}

/// One resource of `albkit status`.
#[derive(Debug, Serialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub(crate) struct StatusRow {
    pub logical: String,
    #[schemars(schema_with = "kind_schema")]
    pub kind: Kind,
    pub id: String,
    /// e.g. active, ISSUED, target healthy, retention 14, present
    pub state: String,
}

// The kinds of resource, as `Kind` serializes them: every kind of the registry.
fn kind_schema(_: &mut SchemaGenerator) -> Schema {
    let kinds: Vec<serde_json::Value> = Kind::ALL
        .iter()
        .filter_map(|k| serde_json::to_value(k).ok())
        .collect();
    json_schema!({
        "enum": kinds,
        "description": "Resource kind"
    })
}

// `albkit doctor -o json`.
#[derive(Debug, Serialize, JsonSchema)]
#[schemars(
    title = "albkit doctor -o json: the checks of the account and this machine",
    deny_unknown_fields
)]
pub(crate) struct DoctorDoc {
    /// [stack].name
    pub stack: String,
    /// The AWS region used
    pub region: String,
    /// What `--fix` did, before the checks, each reported like a check (fix:builders,
    /// fix:target:<triple>); empty without `--fix` or when nothing was missing
    #[schemars(with = "Vec<CheckSchema>")]
    pub fixes: Vec<Check>,
    /// Every check, in the order run; the exit code is 1 when one (or a fix) has status
    /// fail
    #[schemars(with = "Vec<CheckSchema>")]
    pub checks: Vec<Check>,
}

// The schema of a doctor [`Check`] as it serializes.
#[allow(dead_code)]
#[derive(JsonSchema)]
#[schemars(rename = "check", deny_unknown_fields)]
struct CheckSchema {
    /// credentials, hosted-zone, quota:..., log-delivery, build:<function>, dev:cargo,
    /// dev:port; the fixes: fix:builders, fix:target:<triple>
    name: String,
    #[schemars(schema_with = "check_status_schema")]
    status: String,
    /// What was found
    detail: String,
    /// What to do; null when there is nothing to do
    fix: Option<String>,
}

// The statuses of a doctor check, as `Status` serializes them.
fn check_status_schema(_: &mut SchemaGenerator) -> Schema {
    json_schema!({ "enum": ["ok", "warn", "fail", "skip"] })
}

// `albkit down -o json`.
#[derive(Debug, Serialize, JsonSchema)]
#[schemars(
    title = "albkit down -o json: what was removed and what was kept",
    deny_unknown_fields
)]
pub(crate) struct DownDoc {
    /// [stack].name
    pub stack: String,
    /// The AWS region used
    pub region: String,
    /// false: there was nothing to remove
    pub existed: bool,
    /// Logical ids removed
    pub removed: Vec<String>,
    /// Logs kept without --purge-logs
    pub kept: Vec<Kept>,
    /// Resources found in the stack's place without the proof that they are the stack's:
    /// left in place, never changed
    pub foreign: Vec<ForeignDoc>,
    /// What the run wants the user to know (validation records kept or deleted, the lock
    /// bucket left in place, ...)
    pub notes: Vec<String>,
}

/// A resource `down` kept (logs without `--purge-logs`).
#[derive(Debug, Serialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub(crate) struct Kept {
    pub logical: String,
    pub id: Option<String>,
}

/// A resource in the stack's place that is not the stack's.
#[derive(Debug, Serialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub(crate) struct ForeignDoc {
    pub kind: String,
    pub name: String,
    /// Why it is not the stack's
    pub reason: String,
}

// `albkit unlock -o json`.
#[derive(Debug, Serialize, JsonSchema)]
#[schemars(
    title = "albkit unlock -o json: the stack lock that was removed, if any",
    deny_unknown_fields
)]
pub(crate) struct UnlockDoc {
    /// [stack].name
    pub stack: String,
    /// The AWS region used
    pub region: String,
    /// Where the lock object lives: s3://albkit-locks-<account>-<region>/<stack>/lock.json
    pub lock: String,
    /// false: there was no lock to remove
    pub was_locked: bool,
    /// The record of the removed lock; null when there was none or it was unreadable
    #[schemars(with = "Option<LockRecordSchema>")]
    pub removed: Option<LockRecord>,
}

// The schema of [`LockRecord`] as it serializes.
#[allow(dead_code)]
#[derive(JsonSchema)]
#[schemars(rename = "LockRecord", deny_unknown_fields)]
struct LockRecordSchema {
    /// Random id of this acquisition
    id: String,
    /// The command that held it (up, down)
    command: String,
    /// user@host of the holder
    holder: String,
    pid: u32,
    /// Hash identifying the holder's machine, boot and pid namespace; empty when unknown
    host_id: String,
    /// Unix seconds
    acquired_at: u64,
    /// Unix seconds; renewed while the holder runs
    expires_at: u64,
    albkit_version: String,
}

// `albkit deploy -o json`.
#[derive(Debug, Serialize, JsonSchema)]
#[schemars(
    title = "albkit deploy -o json: the outcome per function",
    deny_unknown_fields
)]
pub(crate) struct DeployDoc {
    /// [stack].name
    pub stack: String,
    /// The AWS region used
    pub region: String,
    pub functions: Vec<Deployed>,
    /// `deploy --abort`: the traffic shifts it rolled back (empty otherwise)
    pub aborted: Vec<Aborted>,
}

/// A traffic shift that `deploy --abort` rolled back.
#[derive(Debug, Clone, Serialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub(crate) struct Aborted {
    pub function: String,
    /// The version the shift was moving to, which now gets no traffic
    pub version: String,
    /// The version `live` serves, as before the shift
    pub live_version: String,
    /// The shift as the alias recorded it, e.g. `to version 7 at 10% (from 6, canary:10%:5m, step 1/1)`
    pub shift: String,
}

/// One step of a traffic shift, in the order they happened.
#[derive(Debug, Clone, Serialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub(crate) struct ShiftStep {
    /// 1-based; the last entry is the end of the shift
    pub step: usize,
    /// The new version's share of the traffic from `at` on: 100 when it completed, 0
    /// when it was rolled back
    pub percent: u8,
    /// RFC 3339, when the weight was set
    pub at: String,
    /// How long the gate was watched at this weight, in seconds
    pub baked_seconds: u64,
    /// The gate at the end of the step: ok, alarm <name>, or aborted
    pub gate: String,
}

/// What `deploy` did to one function.
#[derive(Debug, Clone, Serialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub(crate) struct Deployed {
    pub function: String,
    /// unhealthy: the smoke check failed and --no-rollback kept live on the new version
    pub result: DeployResult,
    pub zip_bytes: usize,
    #[schemars(schema_with = "builder_schema")]
    pub builder: Builder,
    /// Newest glibc symbol version the bootstrap needs; null when static
    pub required_glibc: Option<String>,
    /// Base64 SHA-256 of the zip, as Lambda's CodeSha256
    pub code_sha256: String,
    pub previous_version: String,
    pub live_version: String,
    /// Smoke check result: healthy: …, inconclusive: …, or why it failed; null when
    /// nothing was deployed
    pub smoke: Option<String>,
    /// all-at-once, canary:<p>%:<d> or linear:<p>%:<d>
    pub strategy: String,
    /// The traffic shift step by step (canary and linear); empty for all-at-once
    pub shift: Vec<ShiftStep>,
}

/// The result of `deploy` for one function.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub(crate) enum DeployResult {
    Unchanged,
    Deployed,
    #[serde(rename = "rolled back")]
    RolledBack,
    Unhealthy,
    /// `deploy --abort` from another run rolled the traffic shift back
    Aborted,
}

// The builders, as `Builder` serializes them.
fn builder_schema(_: &mut SchemaGenerator) -> Schema {
    json_schema!({ "enum": ["CargoLambda", "Zigbuild", "Musl", "Cargo"] })
}

// `albkit rollback -o json`.
#[derive(Debug, Serialize, JsonSchema)]
#[schemars(
    title = "albkit rollback -o json: where live moved",
    deny_unknown_fields
)]
pub(crate) struct RollbackDoc {
    pub functions: Vec<Moved>,
}

/// Where `rollback` moved one function's `live` alias.
#[derive(Debug, Serialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub(crate) struct Moved {
    pub function: String,
    pub from: String,
    pub to: String,
    /// false: live already served that version
    pub changed: bool,
}

// `albkit versions -o json`.
#[derive(Debug, Serialize, JsonSchema)]
#[schemars(
    title = "albkit versions -o json: published versions per function",
    deny_unknown_fields
)]
pub(crate) struct VersionsDoc {
    pub functions: Vec<FunctionVersions>,
}

/// The published versions of one function.
#[derive(Debug, Serialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub(crate) struct FunctionVersions {
    pub function: String,
    /// The Lambda function name
    pub name: String,
    /// The version the live alias serves
    pub live: String,
    pub versions: Vec<super::versions::Version>,
}

// `albkit invoke -o json`.
#[derive(Debug, Serialize, JsonSchema)]
#[schemars(
    title = "albkit invoke -o json: the HTTP response the load balancer would send",
    deny_unknown_fields
)]
pub(crate) struct InvokeDoc {
    pub function: String,
    pub local: bool,
    #[schemars(range(min = 100, max = 599))]
    pub status: u16,
    /// [name, value] pairs in order
    pub headers: Vec<(String, String)>,
    pub body: String,
    /// Why the load balancer would answer 502 instead of the function's response
    pub error: Option<String>,
}

/// `albkit init -o json`: the files written, or with `--list` the templates.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(untagged)]
#[schemars(title = "albkit init -o json: the files written, or with --list the templates")]
pub(crate) enum InitDoc {
    Written(Written),
    /// --list
    List(Vec<TemplateDoc>),
}

/// What `init` wrote.
#[derive(Debug, Serialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub(crate) struct Written {
    pub template: String,
    pub stack: String,
    pub directory: String,
    pub files: Vec<String>,
}

/// A template of `init --list`.
#[derive(Debug, Serialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub(crate) struct TemplateDoc {
    pub name: String,
    pub description: String,
}

/// One line of `albkit logs -o json`, which prints one such object per line: a log
/// event of a function, or with `--access` a request of the load balancer's access log.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(untagged)]
#[schemars(title = "albkit logs -o json: ONE line; the command prints one such object per line")]
pub(crate) enum LogsLine {
    Event(LogLine),
    Access(AccessLine),
}

/// One log event of a function.
#[derive(Debug, Clone, Serialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub(crate) struct LogLine {
    /// Milliseconds since the Unix epoch
    pub timestamp: i64,
    /// The same as RFC 3339
    pub time: String,
    pub function: String,
    pub event_id: String,
    pub message: String,
}

impl From<&LogEvent> for LogLine {
    fn from(e: &LogEvent) -> Self {
        LogLine {
            timestamp: e.timestamp,
            time: format_rfc3339(e.timestamp),
            function: e.function.clone(),
            event_id: e.event_id.clone(),
            message: e.message.clone(),
        }
    }
}

/// One request of the load balancer's access log (`logs --access`), with the log
/// events of the function that carry its trace id.
#[derive(Debug, Serialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub(crate) struct AccessLine {
    /// When the load balancer answered, milliseconds since the Unix epoch
    pub timestamp: i64,
    /// The same, as logged (RFC 3339, microseconds)
    pub time: String,
    /// The status the client got
    #[schemars(range(min = 100, max = 599))]
    pub status: u16,
    /// The function's status; null when it gave none
    pub target_status: Option<u16>,
    pub method: String,
    pub path: String,
    /// protocol://host:port/uri as logged
    pub url: String,
    pub client: String,
    /// The stack's function whose target group served it; null for none
    pub function: Option<String>,
    /// Seconds from the request to the function's answer; null when no target answered
    pub target_processing_time: Option<f64>,
    pub trace_id: Option<String>,
    /// Why the Lambda invocation failed (LambdaInvalidResponse, ...); null when it did not
    pub error_reason: Option<String>,
    /// forward, redirect, fixed-response, authenticate, waf...
    pub actions: Vec<String>,
    /// The function's log events that name this request's trace id
    pub lambda: Vec<LogLine>,
}

// `albkit man -o json`.
#[derive(Debug, Serialize, JsonSchema)]
#[schemars(
    title = "albkit man -o json: the man pages written",
    deny_unknown_fields
)]
pub(crate) struct ManDoc {
    pub directory: String,
    #[schemars(inner(regex(pattern = r"^albkit(-[a-z]+(-[a-z]+)*)?\.1$")))]
    pub pages: Vec<String>,
}

// `albkit cost -o json`.
#[derive(Debug, Serialize, JsonSchema)]
#[schemars(
    title = "albkit cost -o json: a monthly estimate in USD (no AWS call)",
    deny_unknown_fields
)]
pub(crate) struct CostDoc {
    pub stack: Option<String>,
    pub prices: PricesDoc,
    #[schemars(with = "WorkloadSchema")]
    pub workload: Workload,
    #[schemars(range(min = 0))]
    pub monthly_requests: f64,
    #[schemars(range(min = 0))]
    pub lambda_gb_seconds: f64,
    pub lcu: Lcu,
    pub monthly_usd: MonthlyUsd,
    pub break_even: BreakEvens,
    pub assumptions: Vec<String>,
    pub excluded: Vec<String>,
    pub notes: Vec<String>,
}

/// Which price table the estimate uses.
#[derive(Debug, Serialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub(crate) struct PricesDoc {
    pub region: String,
    #[schemars(regex(pattern = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$"))]
    pub taken: String,
    #[schemars(schema_with = "usd_schema")]
    pub currency: &'static str,
}

fn usd_schema(_: &mut SchemaGenerator) -> Schema {
    json_schema!({ "const": "USD" })
}

// The schema of the cost model's [`Workload`] as it serializes.
#[allow(dead_code)]
#[derive(JsonSchema)]
#[schemars(rename = "Workload", deny_unknown_fields)]
struct WorkloadSchema {
    #[schemars(range(min = 0))]
    requests_per_second: f64,
    #[schemars(range(min = 0))]
    avg_duration_ms: f64,
    functions: Vec<FunctionLoadSchema>,
    #[schemars(range(min = 0))]
    kb_per_request: f64,
    #[schemars(range(min = 1))]
    requests_per_connection: f64,
    #[schemars(range(min = 0))]
    connection_seconds: f64,
    listener_rules: u32,
    alarms: u32,
    dashboards: u32,
}

// The schema of the cost model's `FunctionLoad` as it serializes.
#[allow(dead_code)]
#[derive(JsonSchema)]
#[schemars(rename = "FunctionLoad", deny_unknown_fields)]
struct FunctionLoadSchema {
    name: String,
    #[schemars(range(min = 128, max = 10240))]
    memory_mb: u32,
    #[schemars(schema_with = "architecture_schema")]
    architecture: String,
    provisioned_concurrency: u32,
}

fn architecture_schema(_: &mut SchemaGenerator) -> Schema {
    json_schema!({ "enum": ["x86_64", "arm64"] })
}

/// The load balancer capacity units an hour, and which dimension sets them.
#[derive(Debug, Serialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub(crate) struct Lcu {
    #[schemars(range(min = 0))]
    pub per_hour: f64,
    #[schemars(schema_with = "dimension_schema")]
    pub dominant: &'static str,
    pub dimensions: Dimensions,
}

fn dimension_schema(_: &mut SchemaGenerator) -> Schema {
    json_schema!({
        "enum": ["new connections", "active connections", "processed bytes", "rule evaluations"]
    })
}

/// LCUs an hour that each dimension needs.
#[derive(Debug, Serialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub(crate) struct Dimensions {
    #[schemars(range(min = 0))]
    pub new_connections: f64,
    #[schemars(range(min = 0))]
    pub active_connections: f64,
    #[schemars(range(min = 0))]
    pub processed_bytes: f64,
    #[schemars(range(min = 0))]
    pub rule_evaluations: f64,
}

/// USD a month per option.
#[derive(Debug, Serialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub(crate) struct MonthlyUsd {
    pub alb: AlbUsd,
    pub rest_api: ApiUsd,
    pub http_api: ApiUsd,
}

/// USD a month of ALB + Lambda.
#[derive(Debug, Serialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub(crate) struct AlbUsd {
    #[schemars(range(min = 0))]
    pub lambda_requests: f64,
    #[schemars(range(min = 0))]
    pub lambda_duration: f64,
    #[schemars(range(min = 0))]
    pub lambda_provisioned_concurrency: f64,
    /// The stack's CloudWatch alarms, the same in every option.
    #[schemars(range(min = 0))]
    pub cloudwatch_alarms: f64,
    /// The stack's CloudWatch dashboard, the same in every option.
    #[schemars(range(min = 0))]
    pub cloudwatch_dashboards: f64,
    #[schemars(range(min = 0))]
    pub total: f64,
    #[schemars(range(min = 0))]
    pub load_balancer_hours: f64,
    #[schemars(range(min = 0))]
    pub load_balancer_lcus: f64,
}

/// USD a month of an API Gateway + Lambda.
#[derive(Debug, Serialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub(crate) struct ApiUsd {
    #[schemars(range(min = 0))]
    pub lambda_requests: f64,
    #[schemars(range(min = 0))]
    pub lambda_duration: f64,
    #[schemars(range(min = 0))]
    pub lambda_provisioned_concurrency: f64,
    /// The stack's CloudWatch alarms, the same in every option.
    #[schemars(range(min = 0))]
    pub cloudwatch_alarms: f64,
    /// The stack's CloudWatch dashboard, the same in every option.
    #[schemars(range(min = 0))]
    pub cloudwatch_dashboards: f64,
    #[schemars(range(min = 0))]
    pub total: f64,
    #[schemars(range(min = 0))]
    pub api_requests: f64,
}

/// The traffic from which ALB + Lambda is the cheaper option, per API Gateway kind.
#[derive(Debug, Serialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub(crate) struct BreakEvens {
    pub rest_api: BreakEvenDoc,
    pub http_api: BreakEvenDoc,
}

/// Where ALB + Lambda is cheaper than one API Gateway kind + Lambda.
#[derive(Debug, Serialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub(crate) struct BreakEvenDoc {
    /// ALB + Lambda is cheaper from this traffic on; null: never
    #[schemars(range(min = 0))]
    pub from_rps: Option<f64>,
    #[schemars(range(min = 0))]
    pub from_monthly_requests: Option<f64>,
    /// …up to this traffic; null: at any higher traffic
    #[schemars(range(min = 0))]
    pub until_rps: Option<f64>,
    #[schemars(range(min = 0))]
    pub until_monthly_requests: Option<f64>,
}

/// The schema of output type `T`: of what it serializes to, so that a field that is
/// always there is required, even when it may be null.
#[cfg(test)]
fn schema<T: JsonSchema>() -> Schema {
    schemars::generate::SchemaSettings::draft2020_12()
        .for_serialize()
        .into_generator()
        .into_root_schema_for::<T>()
}

/// Every generated schema as (file stem in `schemas/`, schema).
#[cfg(test)]
pub(crate) fn schemas() -> Vec<(&'static str, Schema)> {
    vec![
        ("build", schema::<BuildDoc>()),
        ("cost", schema::<CostDoc>()),
        ("deploy", schema::<DeployDoc>()),
        ("doctor", schema::<DoctorDoc>()),
        ("down", schema::<DownDoc>()),
        ("init", schema::<InitDoc>()),
        ("invoke", schema::<InvokeDoc>()),
        ("logs", schema::<LogsLine>()),
        ("man", schema::<ManDoc>()),
        ("plan", schema::<PlanDoc>()),
        ("rollback", schema::<RollbackDoc>()),
        ("status", schema::<StatusDoc>()),
        ("top", schema::<TopDoc>()),
        ("unlock", schema::<UnlockDoc>()),
        ("up", schema::<UpDoc>()),
        ("versions", schema::<VersionsDoc>()),
    ]
}

/// The text of a schema file.
#[cfg(test)]
pub(crate) fn schema_text(schema: &Schema) -> String {
    let mut text = serde_json::to_string_pretty(schema).unwrap_or_default();
    text.push('\n');
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Fails when a file in schemas/ differs from what the types generate; with
    /// `ALBKIT_UPDATE_SCHEMAS=1`, writes the files instead.
    #[test]
    fn schemas_are_generated_from_the_output_types() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("schemas");
        let update = std::env::var_os("ALBKIT_UPDATE_SCHEMAS").is_some();
        let mut stale = Vec::new();
        for (name, schema) in schemas() {
            let path = dir.join(format!("{name}.schema.json"));
            let text = schema_text(&schema);
            if update {
                std::fs::write(&path, &text).expect("write schema");
            } else if std::fs::read_to_string(&path).ok().as_deref() != Some(text.as_str()) {
                stale.push(path.display().to_string());
            }
        }
        assert!(
            stale.is_empty(),
            "stale schemas (run `ALBKIT_UPDATE_SCHEMAS=1 cargo test --lib schemas`): {}",
            stale.join(", ")
        );
    }
}
