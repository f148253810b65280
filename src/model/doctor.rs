//! `albkit doctor`: the decisions of each check, over what the command read (AWS
//! answers, DNS answers, what is installed on this machine). Pure: no network, no
//! process, no file; `commands::doctor` gathers the facts and prints the checks.
//!
//! A check is about the account or the machine, never about albkit: it says `ok`,
//! `warn` (up may still work, or may work today and not under load), `fail` (the first
//! `up`, `deploy` or `dev` would fail for this reason) or `skip` (not checkable here,
//! with why: never a false `ok`).

use serde::Serialize;

use super::config::Architecture;
use super::stack::elb_account;
use crate::package::elf::{GlibcVersion, AL2023_GLIBC};
use crate::package::{choose_builder, musl_target, Builder, Installed, Toolbox};

/// The outcome of one check.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Ok,
    Warn,
    Fail,
    Skip,
}

impl Status {
    pub fn as_str(&self) -> &'static str {
        match self {
            Status::Ok => "ok",
            Status::Warn => "warn",
            Status::Fail => "fail",
            Status::Skip => "skip",
        }
    }
}

/// One check: its name, its outcome, what was found and, unless it is `ok`, what to do.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Check {
    pub name: String,
    pub status: Status,
    pub detail: String,
    pub fix: Option<String>,
}

impl Check {
    fn new(name: impl Into<String>, status: Status, detail: impl Into<String>) -> Check {
        Check {
            name: name.into(),
            status,
            detail: detail.into(),
            fix: None,
        }
    }

    pub fn ok(name: impl Into<String>, detail: impl Into<String>) -> Check {
        Check::new(name, Status::Ok, detail)
    }

    pub fn skip(name: impl Into<String>, why: impl Into<String>) -> Check {
        Check::new(name, Status::Skip, why)
    }

    pub fn warn(
        name: impl Into<String>,
        detail: impl Into<String>,
        fix: impl Into<String>,
    ) -> Check {
        Check::new(name, Status::Warn, detail).fixed_by(fix)
    }

    pub fn fail(
        name: impl Into<String>,
        detail: impl Into<String>,
        fix: impl Into<String>,
    ) -> Check {
        Check::new(name, Status::Fail, detail).fixed_by(fix)
    }

    fn fixed_by(mut self, fix: impl Into<String>) -> Check {
        self.fix = Some(fix.into());
        self
    }
}

/// The exit code of a doctor run: 1 when a check fails, 0 otherwise.
pub fn exit_code(checks: &[Check]) -> u8 {
    u8::from(checks.iter().any(|c| c.status == Status::Fail))
}

// ---------------------------------------------------------------------------------
// 1. Credentials, identity, region
// ---------------------------------------------------------------------------------

pub const CREDENTIALS: &str = "credentials";

/// Why STS did not say who the caller is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IdentityError {
    /// No credentials were found, or they could not be loaded.
    NoCredentials(String),
    /// STS answered with an error (expired token, invalid key, ...).
    Refused { code: String, message: String },
    /// STS could not be reached.
    Unreachable(String),
}

/// Who the caller is, in which region.
pub fn identity(region: &str, caller: Result<(&str, &str), &IdentityError>) -> Check {
    let fix_credentials = "configure credentials (`aws configure`, `aws sso login`, \
         AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY) or pass --profile";
    match caller {
        Ok((account, arn)) => Check::ok(
            CREDENTIALS,
            format!("account {account} as {arn}, region {region}"),
        ),
        Err(IdentityError::NoCredentials(why)) => Check::fail(
            CREDENTIALS,
            format!("no usable AWS credentials (region {region}): {why}"),
            fix_credentials,
        ),
        Err(IdentityError::Refused { code, message }) => Check::fail(
            CREDENTIALS,
            format!("STS GetCallerIdentity refused the credentials in {region}: {code}: {message}"),
            format!(
                "{fix_credentials}; an expired SSO or session token needs a new login \
                 (`aws sso login`)"
            ),
        ),
        Err(IdentityError::Unreachable(why)) => Check::fail(
            CREDENTIALS,
            format!("could not reach AWS STS in {region}: {why}"),
            "check the network, any HTTPS proxy (HTTPS_PROXY), and --endpoint-url / \
             AWS_ENDPOINT_URL if set",
        ),
    }
}

/// The check of an AWS read that could not be made because the credentials failed.
pub fn needs_credentials(name: &str) -> Check {
    Check::skip(
        name,
        format!("needs working AWS credentials (see check `{CREDENTIALS}`)"),
    )
}

// ---------------------------------------------------------------------------------
// 2. Hosted zone delegation
// ---------------------------------------------------------------------------------

pub const HOSTED_ZONE: &str = "hosted-zone";

/// What Route 53 says about `[https] hosted_zone_id`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Zone {
    pub id: String,
    /// The zone's name, e.g. `example.com.`
    pub name: String,
    pub private: bool,
    /// The name servers of the zone's delegation set.
    pub name_servers: Vec<String>,
}

/// What DNS answered for the NS records of the zone's name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NsAnswer {
    /// The name servers the name is delegated to.
    Servers(Vec<String>),
    /// The name does not exist (NXDOMAIN) or has no NS records: nothing delegates it.
    NotDelegated(String),
    /// No resolver answered (timeout, refused, unreadable answer).
    Unreachable(String),
}

/// A DNS name compared as DNS compares it: without case or the final dot.
fn dns_name(name: &str) -> String {
    name.trim_end_matches('.').to_ascii_lowercase()
}

fn name_set(names: &[String]) -> std::collections::BTreeSet<String> {
    names.iter().map(|n| dns_name(n)).collect()
}

/// Whether the world reaches the hosted zone: the parent of its name must delegate to
/// the zone's own name servers, or ACM's DNS validation and the domain's alias record
/// are written where nobody looks.
pub fn delegation(zone: &Zone, answer: &NsAnswer) -> Check {
    let name = dns_name(&zone.name);
    let ours = name_set(&zone.name_servers);
    let listed = zone
        .name_servers
        .iter()
        .map(|n| dns_name(n))
        .collect::<Vec<_>>()
        .join(" ");
    let at_registrar = format!(
        "set the name servers of {name} at its registrar (or in the parent zone) to the \
         zone's: {listed}"
    );
    let pending = "until then the certificate stays PENDING_VALIDATION (for up to 72 hours, \
         then ACM gives up) and the domain does not resolve to the load balancer";
    if zone.private {
        return Check::fail(
            HOSTED_ZONE,
            format!(
                "{} ({name}) is a private hosted zone: ACM cannot see its validation records",
                zone.id
            ),
            "set [https] hosted_zone_id to the public hosted zone of the domain",
        );
    }
    match answer {
        NsAnswer::Servers(found) if name_set(found) == ours => Check::ok(
            HOSTED_ZONE,
            format!("{name} is delegated to the zone {} ({listed})", zone.id),
        ),
        NsAnswer::Servers(found) => {
            let theirs = name_set(found);
            let shared = theirs.intersection(&ours).count();
            let seen = theirs.into_iter().collect::<Vec<_>>().join(" ");
            let (status, how) = if shared == 0 {
                (Status::Fail, "delegated elsewhere")
            } else {
                (Status::Warn, "only partly delegated to this zone")
            };
            Check::new(
                HOSTED_ZONE,
                status,
                format!(
                    "{name} is {how}: DNS names {seen}, the zone {} has {listed}; {pending}",
                    zone.id
                ),
            )
            .fixed_by(at_registrar)
        }
        NsAnswer::NotDelegated(why) => Check::fail(
            HOSTED_ZONE,
            format!("{name} is not delegated at all ({why}); {pending}"),
            at_registrar,
        ),
        NsAnswer::Unreachable(why) => Check::warn(
            HOSTED_ZONE,
            format!("could not ask DNS for the name servers of {name}: {why}"),
            format!(
                "check that DNS is reachable (or pass --resolver IP:PORT), then run doctor \
                 again; `dig NS {name}` should list {listed}"
            ),
        ),
    }
}

/// The check when Route 53 could not read the zone.
pub fn zone_unreadable(id: &str, not_found: bool, why: &str) -> Check {
    if not_found {
        Check::fail(
            HOSTED_ZONE,
            format!("hosted zone {id} does not exist in this account: {why}"),
            "set [https] hosted_zone_id to the id `aws route53 list-hosted-zones` shows for \
             the domain, or remove it and create the DNS records by hand",
        )
    } else {
        Check::warn(
            HOSTED_ZONE,
            format!("could not read hosted zone {id}: {why}"),
            "allow route53:GetHostedZone on the zone (`albkit iam-policy --for plan` \
             includes it), then run doctor again",
        )
    }
}

// ---------------------------------------------------------------------------------
// 3. Quotas and usage
// ---------------------------------------------------------------------------------

/// A quota against what is in use and what the stack needs on top.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Quota {
    /// The check's name, e.g. `quota:target-groups`.
    pub name: String,
    /// What it counts, for the detail: "load balancers in us-east-1".
    pub what: String,
    pub limit: u64,
    pub used: u64,
    /// What the stack adds to `used` (0 when what it needs already exists).
    pub needed: u64,
    /// How to raise the limit or make room.
    pub fix: String,
}

/// `fail` when the stack cannot fit, `warn` when it comes within 10% of the limit.
pub fn quota(q: &Quota) -> Check {
    let after = u128::from(q.used) + u128::from(q.needed);
    let detail = format!(
        "{}: {} in use, the stack adds {}, the limit is {}",
        q.what, q.used, q.needed, q.limit
    );
    if after > u128::from(q.limit) {
        Check::fail(&q.name, format!("{detail}: it does not fit"), &q.fix)
    } else if after * 10 > u128::from(q.limit) * 9 {
        Check::warn(
            &q.name,
            format!("{detail}: within 10% of the limit"),
            &q.fix,
        )
    } else {
        Check::ok(&q.name, detail)
    }
}

/// Why a quota could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Unread {
    /// The endpoint does not implement the operation (an emulator).
    NotImplemented(String),
    /// The call failed (denied, throttled, ...).
    Failed(String),
}

/// The check of a quota that could not be read: `skip` where the endpoint lacks the
/// operation, `warn` otherwise (never `ok`: nothing was checked).
pub fn quota_unread(name: &str, operation: &str, why: &Unread) -> Check {
    match why {
        Unread::NotImplemented(what) => Check::skip(
            name,
            format!("the endpoint does not implement {operation}: {what}"),
        ),
        Unread::Failed(what) => Check::warn(
            name,
            format!("{operation} failed: {what}"),
            format!(
                "allow {operation} (`albkit iam-policy --for plan` includes it), or compare \
                 the quota in the Service Quotas console by hand"
            ),
        ),
    }
}

pub const LAMBDA_CONCURRENCY: &str = "quota:lambda-concurrency";

/// What AWS keeps unreserved in an account whose concurrency quota was never lowered:
/// below this, the account is new (its quota can start at 10) or most of it is reserved.
pub const UNRESERVED_FLOOR: i64 = 100;

/// Lambda's account concurrency: each function needs some unreserved concurrency (albkit
/// reserves none), and a low account quota throttles under the first real load.
pub fn lambda_concurrency(total: i64, unreserved: i64, functions: usize) -> Check {
    let needed = i64::try_from(functions).unwrap_or(i64::MAX);
    let detail = format!(
        "{unreserved} of {total} concurrent executions unreserved, for {functions} function(s)"
    );
    let fix = "ask for a higher \"Concurrent executions\" quota (Service Quotas, AWS Lambda), \
               or free reserved concurrency of other functions";
    if unreserved < needed.max(1) {
        Check::fail(
            LAMBDA_CONCURRENCY,
            format!("{detail}: invocations would be throttled (the load balancer answers 503)"),
            fix,
        )
    } else if unreserved < UNRESERVED_FLOOR {
        Check::warn(
            LAMBDA_CONCURRENCY,
            format!(
                "{detail}: fewer than {UNRESERVED_FLOOR} (a new account's lowered quota?): \
                 requests beyond that many at once are throttled"
            ),
            fix,
        )
    } else {
        Check::ok(LAMBDA_CONCURRENCY, detail)
    }
}

// ---------------------------------------------------------------------------------
// 4. Log delivery principal
// ---------------------------------------------------------------------------------

pub const LOG_DELIVERY: &str = "log-delivery";

/// Which principal the access-log bucket's policy lets write, for `region`.
pub fn log_delivery(region: &str, access_logs: bool) -> Check {
    if !access_logs {
        return Check::skip(LOG_DELIVERY, "[load_balancer] access_logs is off");
    }
    let detail = match elb_account(region) {
        Some(account) => format!(
            "the log bucket policy lets the Elastic Load Balancing account of {region} \
             ({account}) write the access logs"
        ),
        None => format!(
            "{region} has no Elastic Load Balancing account: the log bucket policy lets the \
             service principal logdelivery.elasticloadbalancing.amazonaws.com write the \
             access logs"
        ),
    };
    Check::ok(LOG_DELIVERY, detail)
}

// ---------------------------------------------------------------------------------
// 5. Build toolchain per function
// ---------------------------------------------------------------------------------

/// What is installed for one function's build.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BuildProbe {
    /// `cargo --version` ran.
    pub cargo: bool,
    /// `rustup --version` ran.
    pub rustup: bool,
    /// cargo-lambda, cargo-zigbuild, the musl std, whether the architecture is native.
    pub tools: Toolbox,
    /// The standard library for the architecture's gnu target is installed.
    pub target_std: bool,
    /// A C cross linker for the architecture (`aarch64-linux-gnu-gcc`) ran.
    pub cross_linker: bool,
    /// This machine's glibc, when it has one that `getconf` names.
    pub glibc: Option<GlibcVersion>,
    /// `ALBKIT_BUILDER`, when set and not empty.
    pub forced: Option<String>,
}

/// How to install the standard library of `target`.
fn add_target(target: &str, rustup: bool) -> String {
    if rustup {
        format!("`rustup target add {target}`")
    } else {
        format!(
            "install the Rust standard library for {target} (no rustup found: \
             https://rustup.rs manages targets)"
        )
    }
}

/// Which builder albkit would use for function `function` of `arch`, and whether what
/// that builder needs is installed.
pub fn build(function: &str, arch: Architecture, probe: &BuildProbe) -> Check {
    let name = format!("build:{function}");
    if !probe.cargo {
        return Check::fail(
            name,
            "cargo is not on PATH: no function can be built",
            "install Rust with rustup (https://rustup.rs) so that `cargo` is on PATH",
        );
    }
    let builder = choose_builder(&probe.tools, probe.forced.as_deref());
    let chosen = format!("{} for {}", builder.describe(), arch.as_str());
    let forced = match probe.forced.as_deref() {
        Some(f) if !KNOWN_BUILDERS.contains(&f) => format!(
            " (ALBKIT_BUILDER={f:?} is not one of {}: ignored)",
            KNOWN_BUILDERS.join(", ")
        ),
        Some(f) => format!(" (ALBKIT_BUILDER={f})"),
        None => String::new(),
    };
    let detail = format!("{chosen}{forced}");
    match builder {
        Builder::CargoLambda => Check::ok(
            name,
            format!("{detail}: it cross-compiles with zig and adds the Rust target itself"),
        ),
        Builder::Zigbuild | Builder::Musl => target_build(name, detail, builder, arch, probe),
        Builder::Cargo if probe.tools.native => native_cargo(name, detail, arch, probe),
        Builder::Cargo => cross_cargo(name, detail, arch, probe),
    }
}

/// The values of `ALBKIT_BUILDER` that [`choose_builder`] knows.
const KNOWN_BUILDERS: &[&str] = &["lambda", "cargo-lambda", "zigbuild", "zig", "musl", "cargo"];

/// cargo-zigbuild and musl builds need the standard library of their target.
fn target_build(
    name: String,
    detail: String,
    builder: Builder,
    arch: Architecture,
    probe: &BuildProbe,
) -> Check {
    let (target, installed) = match builder {
        Builder::Musl => (musl_target(arch), probe.tools.musl_std),
        _ => (arch.rust_target(), probe.target_std),
    };
    if installed {
        Check::ok(
            name,
            format!("{detail}; the Rust target {target} is installed"),
        )
    } else {
        Check::fail(
            name,
            format!("{detail}, but the Rust target {target} is not installed"),
            format!(
                "run `albkit doctor --fix` (it runs rustup for you), or {}",
                add_target(target, probe.rustup)
            ),
        )
    }
}

/// A plain build for this machine: it links against this machine's glibc, which must
/// not be newer than Lambda's.
fn native_cargo(name: String, detail: String, arch: Architecture, probe: &BuildProbe) -> Check {
    let old_glibc = format!(
        "run `albkit doctor --fix`, which installs cargo-zigbuild and zig into albkit's tool \
         directory; or install cargo-lambda (`pip install cargo-lambda` or `cargo install cargo-lambda`) or \
         cargo-zigbuild (`cargo install cargo-zigbuild` and zig), or the static musl target \
         ({}): albkit uses whichever is installed",
        add_target(musl_target(arch), probe.rustup)
    );
    match probe.glibc {
        Some(g) if g <= AL2023_GLIBC => Check::ok(
            name,
            format!("{detail}, against this machine's glibc {g} (Lambda's provided.al2023 has {AL2023_GLIBC})"),
        ),
        Some(g) => Check::warn(
            name,
            format!(
                "{detail}, against this machine's glibc {g}, newer than Lambda's \
                 {AL2023_GLIBC}: albkit refuses the bootstrap if it needs a symbol newer \
                 than {AL2023_GLIBC}"
            ),
            old_glibc,
        ),
        None => Check::warn(
            name,
            format!(
                "{detail}, against this machine's C library, whose glibc version is unknown: \
                 albkit refuses the bootstrap if it needs a glibc newer than {AL2023_GLIBC}"
            ),
            old_glibc,
        ),
    }
}

/// A plain cross build (arm64 on an x86_64 machine): the target's standard library and
/// a C cross linker.
fn cross_cargo(name: String, detail: String, arch: Architecture, probe: &BuildProbe) -> Check {
    let target = arch.rust_target();
    let linker = match arch {
        Architecture::Arm64 => "gcc-aarch64-linux-gnu",
        Architecture::X86_64 => "gcc-x86-64-linux-gnu",
    };
    if probe.target_std && probe.cross_linker {
        return Check::ok(
            name,
            format!("{detail}; the Rust target {target} and a cross linker are installed"),
        );
    }
    let mut missing = Vec::new();
    let mut steps = Vec::new();
    if !probe.target_std {
        missing.push(format!("the Rust target {target}"));
        steps.push(add_target(target, probe.rustup));
    }
    if !probe.cross_linker {
        missing.push("a C cross linker".to_string());
        steps.push(format!(
            "`sudo apt-get install {linker}` (or your system's cross gcc)"
        ));
    }
    let verb = if missing.len() > 1 { "are" } else { "is" };
    let other = match arch {
        Architecture::Arm64 => "x86_64",
        Architecture::X86_64 => "arm64",
    };
    Check::fail(
        name,
        format!(
            "{detail} is a cross build, and {} {verb} missing",
            missing.join(" and ")
        ),
        format!(
            "run `albkit doctor --fix`, which installs cargo-zigbuild and zig (they \
             cross-compile) into albkit's tool directory and adds the Rust target; or run {}; \
             or install cargo-lambda (`pip install cargo-lambda` or `cargo install \
             cargo-lambda`), which cross-compiles with zig; or set architecture = \"{other}\"",
            steps.join(" and ")
        ),
    )
}

// ---------------------------------------------------------------------------------
// 6. `albkit dev` prerequisites
// ---------------------------------------------------------------------------------

pub const DEV_CARGO: &str = "dev:cargo";
pub const DEV_PORT: &str = "dev:port";

/// `albkit dev` builds the functions with cargo for this machine.
pub fn dev_cargo(cargo: Option<&str>) -> Check {
    match cargo {
        Some(version) => Check::ok(DEV_CARGO, version.to_string()),
        None => Check::fail(
            DEV_CARGO,
            "cargo is not on PATH: `albkit dev` builds the functions with it",
            "install Rust with rustup (https://rustup.rs) so that `cargo` is on PATH",
        ),
    }
}

/// Whether `albkit dev`'s default listener address is free: `taken` is why it could
/// not be bound, if it could not.
pub fn dev_port(addr: &str, taken: Option<&str>) -> Check {
    match taken {
        None => Check::ok(DEV_PORT, format!("{addr} is free for `albkit dev`")),
        Some(why) => Check::warn(
            DEV_PORT,
            format!("{addr} is not free ({why}): `albkit dev` would not start on it"),
            "stop what listens there, or run `albkit dev --port 0` (a free port) or \
             `--port N`",
        ),
    }
}

// ---------------------------------------------------------------------------------
// 7. `albkit doctor --fix`
// ---------------------------------------------------------------------------------

/// What `albkit doctor --fix` can change on this machine.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fix {
    /// A virtualenv with cargo-zigbuild and zig in albkit's tool directory.
    Builders,
    /// `rustup target add <triple>`.
    Target(&'static str),
}

impl Fix {
    /// Its name in the report, as a check's.
    pub fn name(&self) -> String {
        match self {
            Fix::Builders => "fix:builders".to_string(),
            Fix::Target(t) => format!("fix:target:{t}"),
        }
    }

    /// What it does, for the question `--fix` asks.
    pub fn describe(&self, tool_dir: &str) -> String {
        match self {
            Fix::Builders => format!("install cargo-zigbuild and zig into {tool_dir}"),
            Fix::Target(t) => format!("run `rustup target add {t}`"),
        }
    }
}

/// The fixes the functions' builds need, from what is installed for each of their
/// architectures (pure): cargo-zigbuild and zig unless cargo-lambda or cargo-zigbuild is
/// found, then the Rust target of each architecture whose builder (as chosen once the
/// builders are installed) needs one that is missing.
pub fn fixes_needed(found: &[(Architecture, Installed)], forced: Option<&str>) -> Vec<Fix> {
    let builders = found
        .iter()
        .any(|(_, i)| !i.tools.cargo_lambda && !i.tools.zigbuild);
    let mut fixes: Vec<Fix> = builders.then_some(Fix::Builders).into_iter().collect();
    for (arch, i) in found {
        let tools = Toolbox {
            zigbuild: i.tools.zigbuild || builders,
            ..i.tools
        };
        let target = match choose_builder(&tools, forced) {
            Builder::CargoLambda => None,
            Builder::Musl => (!tools.musl_std).then(|| musl_target(*arch)),
            Builder::Cargo if tools.native => None,
            Builder::Zigbuild | Builder::Cargo => (!i.target_std).then(|| arch.rust_target()),
        };
        if let Some(t) = target.map(Fix::Target).filter(|f| !fixes.contains(f)) {
            fixes.push(t);
        }
    }
    fixes
}

/// A fix that worked: `what` is what it installed.
pub fn fix_done(fix: Fix, what: &str) -> Check {
    Check::ok(fix.name(), what)
}

/// A fix that failed, with why and what to do instead: `manual` is how to install the
/// builders by hand, `other_arch` the architecture that needs no cross build.
pub fn fix_failed(fix: Fix, why: &str, manual: &str, other_arch: &str) -> Check {
    match fix {
        Fix::Builders => Check::fail(
            fix.name(),
            format!("installing cargo-zigbuild and zig failed: {why}"),
            format!(
                "install python3 with its venv module (Debian: `apt-get install \
                 python3-venv`), let pip reach its index (or set PIP_INDEX_URL), then run \
                 `albkit doctor --fix` again; or by hand: {manual}"
            ),
        ),
        Fix::Target(t) => Check::fail(
            fix.name(),
            format!("the Rust target {t} could not be added: {why}"),
            format!(
                "run `rustup target add {t}` where rustup can download the standard library \
                 (from static.rust-lang.org, or RUSTUP_DIST_SERVER), or install it with your \
                 Rust distribution; or set architecture = \"{other_arch}\""
            ),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn found(tools: Toolbox, target_std: bool) -> Installed {
        Installed {
            tools,
            target_std,
            cross_linker: false,
        }
    }

    #[test]
    fn fix_installs_the_builders_and_the_targets_they_lack() {
        let native = Toolbox {
            native: true,
            ..Toolbox::default()
        };
        let cross = Toolbox::default();
        // Nothing installed: the builders, and arm64's target (x86_64's is the host's).
        let fixes = fixes_needed(
            &[
                (Architecture::X86_64, found(native, true)),
                (Architecture::Arm64, found(cross, false)),
            ],
            None,
        );
        assert_eq!(
            fixes,
            [Fix::Builders, Fix::Target("aarch64-unknown-linux-gnu")]
        );
        // cargo-zigbuild found: only the target.
        let zig = Toolbox {
            zigbuild: true,
            ..cross
        };
        assert_eq!(
            fixes_needed(&[(Architecture::Arm64, found(zig, false))], None),
            [Fix::Target("aarch64-unknown-linux-gnu")]
        );
        assert!(fixes_needed(&[(Architecture::Arm64, found(zig, true))], None).is_empty());
        // cargo-lambda adds its targets itself.
        let lambda = Toolbox {
            cargo_lambda: true,
            ..cross
        };
        assert!(fixes_needed(&[(Architecture::Arm64, found(lambda, false))], None).is_empty());
        // Forced musl needs the musl target; two functions of one architecture, one fix.
        let x86 = (Architecture::X86_64, found(native, true));
        assert_eq!(
            fixes_needed(&[x86, x86], Some("musl")),
            [Fix::Builders, Fix::Target("x86_64-unknown-linux-musl")]
        );
        assert!(fixes_needed(&[], None).is_empty());
    }

    #[test]
    fn fixes_report_like_checks_with_what_to_do() {
        assert_eq!(Fix::Builders.name(), "fix:builders");
        let t = Fix::Target("aarch64-unknown-linux-gnu");
        assert_eq!(t.name(), "fix:target:aarch64-unknown-linux-gnu");
        assert!(Fix::Builders
            .describe("/c/albkit/tools")
            .contains("/c/albkit/tools"));
        let ok = fix_done(Fix::Builders, "cargo-zigbuild 0.24.1");
        assert_eq!((ok.status, ok.fix), (Status::Ok, None));
        let c = fix_failed(
            Fix::Builders,
            "no python3",
            "`python3 -m venv ...`",
            "x86_64",
        );
        assert_eq!(c.status, Status::Fail);
        assert!(c.detail.ends_with("no python3"), "{}", c.detail);
        let fix = c.fix.expect("fix");
        assert!(fix.contains("python3-venv") && fix.ends_with("`python3 -m venv ...`"));
        let c = fix_failed(t, "could not download", "", "x86_64");
        assert_eq!(
            c.detail,
            "the Rust target aarch64-unknown-linux-gnu could not be added: could not download"
        );
        assert!(c.fix.expect("fix").contains("architecture = \"x86_64\""));
    }

    fn zone(servers: &[&str]) -> Zone {
        Zone {
            id: "Z0123456789".into(),
            name: "example.com.".into(),
            private: false,
            name_servers: servers.iter().map(ToString::to_string).collect(),
        }
    }

    const R53: &[&str] = &["ns-1.awsdns-01.com", "ns-2.awsdns-02.net"];

    fn servers(names: &[&str]) -> NsAnswer {
        NsAnswer::Servers(names.iter().map(ToString::to_string).collect())
    }

    #[test]
    fn the_exit_code_is_one_only_when_a_check_fails() {
        let ok = Check::ok("a", "fine");
        let warn = Check::warn("b", "hm", "do");
        let skip = Check::skip("c", "n/a");
        assert_eq!(exit_code(&[ok.clone(), warn.clone(), skip.clone()]), 0);
        assert_eq!(
            exit_code(&[ok, warn, skip, Check::fail("d", "no", "do")]),
            1
        );
        assert_eq!(exit_code(&[]), 0);
    }

    #[test]
    fn identity_names_the_account_and_region_or_fails_with_the_fix() {
        let ok = identity(
            "eu-west-3",
            Ok(("123456789012", "arn:aws:iam::123456789012:user/me")),
        );
        assert_eq!(ok.status, Status::Ok);
        assert!(ok.detail.contains("123456789012") && ok.detail.contains("eu-west-3"));
        assert!(ok.fix.is_none());
        for e in [
            IdentityError::NoCredentials("no providers in chain".into()),
            IdentityError::Refused {
                code: "ExpiredToken".into(),
                message: "expired".into(),
            },
            IdentityError::Unreachable("dns error".into()),
        ] {
            let c = identity("us-east-1", Err(&e));
            assert_eq!(c.status, Status::Fail, "{e:?}");
            assert!(c.fix.is_some(), "{e:?}");
            assert_eq!(c.name, CREDENTIALS);
        }
        let refused = identity(
            "us-east-1",
            Err(&IdentityError::Refused {
                code: "ExpiredToken".into(),
                message: "expired".into(),
            }),
        );
        assert!(refused.detail.contains("ExpiredToken"));
        assert_eq!(needs_credentials("x").status, Status::Skip);
    }

    #[test]
    fn a_zone_delegated_to_its_own_servers_is_ok_whatever_the_case_and_final_dot() {
        let c = delegation(
            &zone(R53),
            &servers(&["NS-2.AWSDNS-02.NET.", "ns-1.awsdns-01.com."]),
        );
        assert_eq!(c.status, Status::Ok, "{c:?}");
        assert!(c.detail.contains("example.com is delegated"));
    }

    #[test]
    fn a_zone_delegated_elsewhere_fails_and_names_the_servers_to_set() {
        let c = delegation(&zone(R53), &servers(&["ns1.registrar.example"]));
        assert_eq!(c.status, Status::Fail);
        assert!(c.detail.contains("delegated elsewhere"));
        assert!(c.detail.contains("ns1.registrar.example"));
        assert!(c.detail.contains("PENDING_VALIDATION"));
        let fix = c.fix.expect("fix");
        assert!(fix.contains("registrar") && fix.contains("ns-1.awsdns-01.com"));
    }

    #[test]
    fn a_zone_partly_delegated_warns() {
        let c = delegation(
            &zone(R53),
            &servers(&["ns-1.awsdns-01.com", "ns1.registrar.example"]),
        );
        assert_eq!(c.status, Status::Warn);
        assert!(c.detail.contains("partly"));
    }

    #[test]
    fn a_zone_not_delegated_at_all_fails() {
        let c = delegation(&zone(R53), &NsAnswer::NotDelegated("NXDOMAIN".into()));
        assert_eq!(c.status, Status::Fail);
        assert!(c.detail.contains("not delegated") && c.detail.contains("NXDOMAIN"));
        assert!(c.fix.expect("fix").contains("ns-2.awsdns-02.net"));
    }

    #[test]
    fn unreachable_dns_warns_and_a_private_zone_fails() {
        let c = delegation(&zone(R53), &NsAnswer::Unreachable("timed out".into()));
        assert_eq!(c.status, Status::Warn);
        assert!(c.fix.expect("fix").contains("--resolver"));
        let private = Zone {
            private: true,
            ..zone(&[])
        };
        let c = delegation(&private, &servers(R53));
        assert_eq!(c.status, Status::Fail);
        assert!(c.detail.contains("private"));
    }

    #[test]
    fn an_unreadable_zone_fails_when_missing_and_warns_otherwise() {
        assert_eq!(
            zone_unreadable("Z1", true, "NoSuchHostedZone").status,
            Status::Fail
        );
        let denied = zone_unreadable("Z1", false, "AccessDenied");
        assert_eq!(denied.status, Status::Warn);
        assert!(denied.fix.expect("fix").contains("route53:GetHostedZone"));
    }

    fn q(limit: u64, used: u64, needed: u64) -> Check {
        quota(&Quota {
            name: "quota:target-groups".into(),
            what: "target groups".into(),
            limit,
            used,
            needed,
            fix: "raise it".into(),
        })
    }

    #[test]
    fn a_quota_fails_when_the_stack_cannot_fit_and_warns_within_ten_percent() {
        assert_eq!(q(100, 10, 2).status, Status::Ok);
        assert_eq!(q(100, 88, 2).status, Status::Ok);
        assert_eq!(q(100, 89, 2).status, Status::Warn);
        assert_eq!(q(100, 98, 2).status, Status::Warn);
        let full = q(100, 99, 2);
        assert_eq!(full.status, Status::Fail);
        assert!(full.detail.contains("99 in use") && full.detail.contains("limit is 100"));
        assert_eq!(full.fix.as_deref(), Some("raise it"));
        // Nothing to add: an existing stack already fits, even at the limit.
        assert_eq!(q(50, 50, 0).status, Status::Warn);
        assert_eq!(q(0, 0, 1).status, Status::Fail);
        assert_eq!(q(u64::MAX, u64::MAX, 1).status, Status::Fail);
    }

    #[test]
    fn an_unread_quota_is_skipped_when_unimplemented_and_never_ok() {
        let skip = quota_unread(
            LAMBDA_CONCURRENCY,
            "lambda:GetAccountSettings",
            &Unread::NotImplemented("404".into()),
        );
        assert_eq!(skip.status, Status::Skip);
        assert!(skip.detail.contains("does not implement"));
        let warn = quota_unread(
            LAMBDA_CONCURRENCY,
            "lambda:GetAccountSettings",
            &Unread::Failed("AccessDenied".into()),
        );
        assert_eq!(warn.status, Status::Warn);
    }

    #[test]
    fn lambda_concurrency_fails_without_room_and_warns_on_a_lowered_quota() {
        assert_eq!(lambda_concurrency(1000, 1000, 2).status, Status::Ok);
        assert_eq!(lambda_concurrency(10, 10, 2).status, Status::Warn);
        assert_eq!(lambda_concurrency(1000, 1, 2).status, Status::Fail);
        assert_eq!(lambda_concurrency(1000, 0, 0).status, Status::Fail);
        assert_eq!(lambda_concurrency(1000, 100, 1).status, Status::Ok);
    }

    #[test]
    fn log_delivery_names_the_regional_account_or_the_service_principal() {
        let c = log_delivery("us-east-1", true);
        assert_eq!(c.status, Status::Ok);
        assert!(c.detail.contains("127311923021"));
        let c = log_delivery("ap-southeast-4", true);
        assert_eq!(c.status, Status::Ok);
        assert!(c
            .detail
            .contains("logdelivery.elasticloadbalancing.amazonaws.com"));
        assert_eq!(log_delivery("us-east-1", false).status, Status::Skip);
    }

    fn probe() -> BuildProbe {
        BuildProbe {
            cargo: true,
            rustup: true,
            tools: Toolbox {
                native: true,
                ..Toolbox::default()
            },
            glibc: Some(GlibcVersion(2, 34)),
            ..BuildProbe::default()
        }
    }

    #[test]
    fn a_build_without_cargo_fails() {
        let c = build("hello", Architecture::X86_64, &BuildProbe::default());
        assert_eq!(c.status, Status::Fail);
        assert_eq!(c.name, "build:hello");
        assert!(c.fix.expect("fix").contains("rustup"));
    }

    #[test]
    fn a_native_plain_build_depends_on_this_machines_glibc() {
        let c = build("hello", Architecture::X86_64, &probe());
        assert_eq!(c.status, Status::Ok, "{c:?}");
        assert!(c.detail.contains("plain cargo build"));
        for glibc in [Some(GlibcVersion(2, 39)), None] {
            let c = build(
                "hello",
                Architecture::X86_64,
                &BuildProbe { glibc, ..probe() },
            );
            assert_eq!(c.status, Status::Warn, "{glibc:?}");
            let fix = c.fix.expect("fix");
            assert!(fix.contains("cargo-lambda") && fix.contains("x86_64-unknown-linux-musl"));
        }
    }

    #[test]
    fn cargo_lambda_is_ok_for_any_architecture() {
        let p = BuildProbe {
            tools: Toolbox {
                cargo_lambda: true,
                ..Toolbox::default()
            },
            ..probe()
        };
        let c = build("api", Architecture::Arm64, &p);
        assert_eq!(c.status, Status::Ok);
        assert!(c.detail.contains("cargo lambda build"));
    }

    #[test]
    fn arm64_without_a_cross_toolchain_fails_with_the_commands_to_run() {
        let cross = BuildProbe {
            tools: Toolbox::default(),
            ..probe()
        };
        let c = build("api", Architecture::Arm64, &cross);
        assert_eq!(c.status, Status::Fail);
        assert!(c.detail.contains("are missing"), "{}", c.detail);
        let fix = c.fix.expect("fix");
        assert!(
            fix.contains("`rustup target add aarch64-unknown-linux-gnu`"),
            "{fix}"
        );
        assert!(
            fix.contains("`sudo apt-get install gcc-aarch64-linux-gnu`"),
            "{fix}"
        );
        assert!(fix.contains("cargo install cargo-lambda"));
        assert!(fix.starts_with("run `albkit doctor --fix`"), "{fix}");
        assert!(fix.contains("architecture = \"x86_64\""));
        // Only the linker missing.
        let c = build(
            "api",
            Architecture::Arm64,
            &BuildProbe {
                target_std: true,
                ..cross.clone()
            },
        );
        assert_eq!(c.status, Status::Fail);
        let fix = c.fix.expect("fix");
        assert!(!fix.contains("rustup target add") && fix.contains("gcc-aarch64-linux-gnu"));
        // Without rustup, the target is named, not a rustup command.
        let c = build(
            "api",
            Architecture::Arm64,
            &BuildProbe {
                rustup: false,
                ..cross.clone()
            },
        );
        assert!(c.fix.expect("fix").contains("no rustup found"));
        let ready = BuildProbe {
            target_std: true,
            cross_linker: true,
            ..cross
        };
        assert_eq!(build("api", Architecture::Arm64, &ready).status, Status::Ok);
    }

    #[test]
    fn zigbuild_and_musl_need_their_target() {
        let zig = BuildProbe {
            tools: Toolbox {
                zigbuild: true,
                ..Toolbox::default()
            },
            ..probe()
        };
        let c = build("api", Architecture::Arm64, &zig);
        assert_eq!(c.status, Status::Fail);
        assert!(c
            .fix
            .expect("fix")
            .contains("rustup target add aarch64-unknown-linux-gnu"));
        let ready = BuildProbe {
            target_std: true,
            ..zig
        };
        assert_eq!(build("api", Architecture::Arm64, &ready).status, Status::Ok);
        let musl = BuildProbe {
            forced: Some("musl".into()),
            ..probe()
        };
        let c = build("hello", Architecture::X86_64, &musl);
        assert_eq!(c.status, Status::Fail);
        assert!(c.detail.contains("ALBKIT_BUILDER=musl"));
        assert!(c.fix.expect("fix").contains("x86_64-unknown-linux-musl"));
    }

    #[test]
    fn an_unknown_albkit_builder_is_named_as_ignored() {
        let c = build(
            "hello",
            Architecture::X86_64,
            &BuildProbe {
                forced: Some("nix".into()),
                ..probe()
            },
        );
        assert!(c.detail.contains("\"nix\" is not one of"), "{}", c.detail);
    }

    #[test]
    fn dev_needs_cargo_and_warns_when_the_port_is_taken() {
        assert_eq!(dev_cargo(Some("cargo 1.94.1")).status, Status::Ok);
        assert_eq!(dev_cargo(None).status, Status::Fail);
        assert_eq!(dev_port("127.0.0.1:3000", None).status, Status::Ok);
        let taken = dev_port("127.0.0.1:3000", Some("address in use"));
        assert_eq!(taken.status, Status::Warn);
        assert!(taken.fix.expect("fix").contains("--port 0"));
    }

    #[test]
    fn statuses_serialize_in_lowercase() {
        let c = Check::fail("x", "d", "f");
        let v = serde_json::to_value(&c).expect("json");
        assert_eq!(v["status"], "fail");
        assert_eq!(v["fix"], "f");
        assert_eq!(
            serde_json::to_value(Check::ok("x", "d")).expect("json")["fix"],
            serde_json::Value::Null
        );
        for s in [Status::Ok, Status::Warn, Status::Fail, Status::Skip] {
            assert_eq!(serde_json::to_value(s).expect("json"), s.as_str());
        }
    }
}
