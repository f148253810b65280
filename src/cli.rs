//! The command line: the contract that users and CI scripts depend on.

use std::path::PathBuf;
use std::time::Duration;

use clap::{ArgAction, Parser, Subcommand, ValueEnum};

use crate::model::shift::Strategy;

/// Where the stack's configuration is read from unless `--config` says otherwise.
pub const DEFAULT_CONFIG: &str = "albkit.toml";

/// The port `albkit dev` listens on unless `--port` says otherwise.
pub const DEV_PORT: u16 = 3000;

#[derive(Debug, Parser)]
#[command(name = "albkit", version, about = "An Application Load Balancer in front of Rust Lambda functions, straight through the AWS SDK", long_about = None)]
pub struct Cli {
    /// Path of the stack's configuration file.
    #[arg(
        short = 'c',
        long,
        global = true,
        default_value = DEFAULT_CONFIG,
        value_name = "PATH"
    )]
    pub config: PathBuf,

    /// AWS profile to use (default: the standard AWS credential chain).
    #[arg(long, global = true, value_name = "P")]
    pub profile: Option<String>,

    /// AWS region; wins over [stack].region and the environment.
    #[arg(long, global = true, value_name = "R")]
    pub region: Option<String>,

    /// Send every AWS call to this endpoint (a local emulator such as moto); AWS_ENDPOINT_URL works too.
    #[arg(long, global = true, value_name = "URL")]
    pub endpoint_url: Option<String>,

    /// Output format: human (progress on stderr) or json (one document on stdout).
    #[arg(short = 'o', long, global = true, value_enum, default_value_t = Output::Human)]
    pub output: Output,

    /// More detail (-v: every wait and retry; -vv: AWS SDK debug logs).
    #[arg(short = 'v', long, global = true, action = ArgAction::Count)]
    pub verbose: u8,

    /// Only errors and the final result.
    #[arg(short = 'q', long, global = true, conflicts_with = "verbose")]
    pub quiet: bool,

    #[command(subcommand)]
    pub command: Command,
}

/// The audiences of `albkit iam-policy --for`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum PolicyFor {
    Deploy,
    Plan,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Output {
    Human,
    Json,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Show what `up` would change; calls nothing that mutates.
    Plan(PlanArgs),
    /// Create or update the stack to match the config; prints the URL last.
    Up(UpArgs),
    /// Every resource of the stack with its id and state, target health and the URL.
    Status,
    /// A live view of the stack's metrics over the last minutes: requests, 4xx/5xx, p50/p99
    /// latency, Lambda errors, throttles and concurrency per function, and any traffic shift.
    Top(TopArgs),
    /// Check the account and this machine for what would make a first `up` or `dev` fail
    /// (credentials, DNS delegation, quotas, build toolchain); read-only unless `--fix`
    /// (installs what the builds lack), exit 1 on a failure.
    Doctor(DoctorArgs),
    /// Remove the stack.
    Down(DownArgs),
    /// Remove the stack's lock left by a run that was killed (it also expires by itself).
    Unlock(UnlockArgs),
    /// Build and ship only the functions' code (the CI fast path); unchanged code uploads nothing.
    Deploy(DeployArgs),
    /// Build and package the functions as `up` and `deploy` would, writing each zip to
    /// disk (target/albkit/<function>/bootstrap.zip); no AWS call.
    Build(BuildArgs),
    /// Move the `live` alias back (to the previous published version by default).
    Rollback(RollbackArgs),
    /// Print the least-privilege IAM policy (JSON) for running albkit on this stack.
    #[command(name = "iam-policy")]
    IamPolicy(IamPolicyArgs),
    /// Published versions with dates and sizes, and which one is live.
    Versions(VersionsArgs),
    /// Write a ready project: albkit.toml (every key with its default) and a function crate.
    Init(InitArgs),
    /// Send a synthetic ALB request to the function and print the HTTP response it maps to.
    Invoke(InvokeArgs),
    /// The functions' CloudWatch log events, in time order across functions.
    Logs(LogsArgs),
    /// Run the functions locally behind a faithful emulation of the stack's ALB (no AWS needed).
    Dev(DevArgs),
    /// Monthly cost estimate: ALB + Lambda against API Gateway (REST and HTTP), and the break-even traffic. No AWS call.
    Cost(CostArgs),
    /// The stack's resources and what each needs, as Graphviz DOT or Mermaid; with --plan, coloured by what `up` would do.
    Graph(GraphArgs),
    /// Print a shell completion script (e.g. `albkit completions bash > ~/.local/share/bash-completion/completions/albkit`).
    Completions(CompletionsArgs),
    /// Write the man pages (albkit.1 and one per command) generated from these definitions.
    #[command(hide = true)]
    Man(ManArgs),
}

// The option structs below carry no doc comment of their own: the command's help text is
// the doc comment of its variant in [`Command`].

#[derive(Debug, Clone, clap::Args)]
pub struct PlanArgs {
    /// Exit 0 when there are no changes, 2 when there are, 1 on error.
    #[arg(long)]
    pub detailed_exitcode: bool,
}

#[derive(Debug, Clone, clap::Args)]
pub struct UpArgs {
    /// Do not ask for confirmation (required without a terminal).
    #[arg(short = 'y', long)]
    pub yes: bool,
    /// How long to wait for another run's lock on the stack (0, 90, 30s, 5m).
    #[arg(long, default_value = "0s", value_name = "DURATION", value_parser = lock_timeout)]
    pub lock_timeout: Duration,
}

#[derive(Debug, Clone, clap::Args)]
pub struct TopArgs {
    /// How many minutes back the view reaches (one point per minute).
    #[arg(long, default_value_t = 15, value_name = "N", value_parser = clap::value_parser!(u16).range(1..=1440))]
    pub minutes: u16,
    /// Seconds between two refreshes.
    #[arg(long, default_value_t = 10, value_name = "SECONDS", value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub interval: u64,
    /// Print the view once and exit (always so without a terminal, and with -o json).
    #[arg(long)]
    pub once: bool,
    /// Only this function (default: every function of the stack).
    #[arg(short = 'f', long, value_name = "NAME")]
    pub function: Option<String>,
}

#[derive(Debug, Clone, clap::Args)]
pub struct DoctorArgs {
    /// Ask this DNS server (IP:PORT) for the hosted zone's delegation instead of the
    /// resolvers of /etc/resolv.conf.
    #[arg(long, value_name = "IP:PORT")]
    pub resolver: Option<std::net::SocketAddr>,
    /// Install what the functions' builds lack before checking: cargo-zigbuild and zig
    /// into albkit's tool directory (a Python virtualenv under the user's cache
    /// directory), and the Rust target of each function architecture (rustup). Asks
    /// first on a terminal.
    #[arg(long)]
    pub fix: bool,
    /// Do not ask before `--fix` changes this machine (required without a terminal).
    #[arg(short = 'y', long, requires = "fix")]
    pub yes: bool,
}

#[derive(Debug, Clone, clap::Args)]
pub struct DownArgs {
    /// Also delete the access-log bucket (every object version) and the function log groups.
    #[arg(long)]
    pub purge_logs: bool,
    /// Turn off the load balancer's deletion protection and remove it (without this flag
    /// `down` refuses a protected load balancer before changing anything).
    #[arg(long)]
    pub disable_deletion_protection: bool,
    /// Also delete the certificate's DNS validation CNAMEs (kept by default: ACM shares
    /// them with every certificate of the same domain name in the account).
    #[arg(long)]
    pub delete_validation_records: bool,
    /// Do not ask for confirmation (required without a terminal).
    #[arg(short = 'y', long)]
    pub yes: bool,
    /// How long to wait for another run's lock on the stack (0, 90, 30s, 5m).
    #[arg(long, default_value = "0s", value_name = "DURATION", value_parser = lock_timeout)]
    pub lock_timeout: Duration,
}

#[derive(Debug, Clone, clap::Args)]
pub struct UnlockArgs {
    /// The lock id printed by the refused command; without it, whatever lock is there.
    #[arg(value_name = "LOCK_ID")]
    pub lock_id: Option<String>,
    /// Do not ask for confirmation (required without a terminal).
    #[arg(short = 'y', long)]
    pub yes: bool,
}

#[derive(Debug, Clone, clap::Args)]
pub struct DeployArgs {
    /// Only this function (default: every function of the stack).
    #[arg(long, value_name = "NAME")]
    pub function: Option<String>,
    /// Keep `live` on the new version even if the smoke check fails (all-at-once only).
    #[arg(long)]
    pub no_rollback: bool,
    /// How `live` moves to the new version: all-at-once, canary:10%:5m (10% of the
    /// traffic for 5 minutes, then all) or linear:10%:1m (10% more every minute), gated
    /// by alarms (default: each function's deploy_strategy).
    #[arg(long, value_name = "STRATEGY", value_parser = strategy)]
    pub strategy: Option<Strategy>,
    /// Roll back a traffic shift in flight (from another terminal or CI job): no weights,
    /// `live` stays on the version it serves; builds and uploads nothing.
    #[arg(long, conflicts_with_all = ["strategy", "no_rollback"])]
    pub abort: bool,
    /// Do not ask for confirmation (required without a terminal).
    #[arg(short = 'y', long)]
    pub yes: bool,
}

fn strategy(text: &str) -> Result<Strategy, String> {
    text.parse()
        .map_err(|why| format!("{why}; {}", crate::model::shift::STRATEGY_HELP))
}

#[derive(Debug, Clone, clap::Args)]
pub struct RollbackArgs {
    /// Only this function (default: every function of the stack).
    #[arg(long, value_name = "NAME")]
    pub function: Option<String>,
    /// The version to serve (default: the one before the live one).
    #[arg(long, value_name = "VERSION")]
    pub to: Option<u64>,
    /// Do not ask for confirmation (required without a terminal).
    #[arg(short = 'y', long)]
    pub yes: bool,
}

#[derive(Debug, Clone, clap::Args)]
pub struct IamPolicyArgs {
    /// Which commands the policy is for: deploy (up, deploy, rollback, down) or plan
    /// (plan, status, versions, logs, doctor; read-only).
    #[arg(long = "for", value_enum, value_name = "WHAT")]
    pub audience: PolicyFor,
    /// The account the policy is for (default: the caller's, asked of STS).
    #[arg(long, value_name = "ID")]
    pub account: Option<String>,
}

#[derive(Debug, Clone, clap::Args)]
pub struct VersionsArgs {
    /// Only this function (default: every function of the stack).
    #[arg(long, value_name = "NAME")]
    pub function: Option<String>,
}

#[derive(Debug, Clone, clap::Args)]
pub struct InitArgs {
    /// Directory to write into (created if needed).
    #[arg(default_value = ".", value_name = "DIR")]
    pub dir: PathBuf,
    /// Which template (`--list` shows them).
    #[arg(long, default_value = "hello", value_name = "NAME")]
    pub template: String,
    /// Stack name (default: derived from the directory name).
    #[arg(long, value_name = "STACK")]
    pub name: Option<String>,
    /// Overwrite existing files.
    #[arg(long)]
    pub force: bool,
    /// List the templates and exit.
    #[arg(long)]
    pub list: bool,
}

#[derive(Debug, Clone, clap::Args)]
pub struct InvokeArgs {
    /// Which function (needed when the stack has several).
    #[arg(long, value_name = "NAME")]
    pub function: Option<String>,
    /// Request path, with an optional query string.
    #[arg(long, default_value = "/", value_name = "PATH")]
    pub path: String,
    /// HTTP method.
    #[arg(long, default_value = "GET", value_name = "METHOD")]
    pub method: String,
    /// A request header, NAME:VALUE (repeatable).
    #[arg(long = "header", value_name = "NAME:VALUE")]
    pub headers: Vec<String>,
    /// Request body.
    #[arg(long, value_name = "TEXT")]
    pub body: Option<String>,
    /// Build and run the function locally instead of invoking the deployed one.
    #[arg(long)]
    pub local: bool,
    /// With --local: run the bootstrap in this zip (from `albkit build`) instead of
    /// building the function for this machine.
    #[arg(long, value_name = "PATH", requires = "local")]
    pub zip: Option<PathBuf>,
}

#[derive(Debug, Clone, clap::Args)]
pub struct LogsArgs {
    /// Only this function (default: every function of the stack).
    #[arg(long, value_name = "NAME")]
    pub function: Option<String>,
    /// Start: a duration back from now (30s, 10m, 2h, 1d) or an RFC 3339 time.
    #[arg(long, default_value = "10m", value_name = "WHEN")]
    pub since: String,
    /// Keep polling for new events (Ctrl-C stops).
    #[arg(short = 'f', long)]
    pub follow: bool,
    /// Only events containing this text (with --access: entries containing it).
    #[arg(long, value_name = "TEXT")]
    pub filter: Option<String>,
    /// The load balancer's access log (from the stack's log bucket) instead, each request
    /// followed by the function's log lines that carry its trace id.
    #[arg(long, conflicts_with = "follow")]
    pub access: bool,
    /// With --access: only these statuses (502, 5xx, or several: 4xx,503).
    #[arg(long, value_name = "CODES", requires = "access")]
    pub status: Option<String>,
    /// With --access: only paths matching this pattern (* and ?, as a rule's path).
    #[arg(long, value_name = "PATTERN", requires = "access")]
    pub path: Option<String>,
}

#[derive(Debug, Clone, clap::Args)]
pub struct CompletionsArgs {
    /// The shell to complete in.
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}

#[derive(Debug, Clone, clap::Args)]
pub struct ManArgs {
    /// Directory to write into (created if needed).
    #[arg(long, default_value = "docs/man", value_name = "DIR")]
    pub out_dir: PathBuf,
}

/// Options of `albkit cost`. Memory, architecture, the number of functions and routes
/// and the idle timeout come from albkit.toml when there is one.
#[derive(Debug, Clone, clap::Args)]
pub struct CostArgs {
    /// Average traffic, steady over the month.
    #[arg(long, default_value_t = 10.0, value_name = "N", value_parser = at_least(0.0))]
    pub requests_per_second: f64,
    /// Average duration of one invocation, in milliseconds.
    #[arg(long, default_value_t = 20.0, value_name = "D", value_parser = at_least(0.0))]
    pub avg_duration_ms: f64,
    /// Memory of every function (default: each function's memory_mb, or 128).
    #[arg(long, value_name = "M", value_parser = clap::value_parser!(u32).range(128..=10240))]
    pub memory_mb: Option<u32>,
    /// Architecture of every function (default: each function's architecture, or x86_64).
    #[arg(long, value_name = "ARCH", value_parser = ["x86_64", "arm64"])]
    pub architecture: Option<String>,
    /// Bytes the load balancer processes per request, request and response with headers, in KB.
    #[arg(long, default_value_t = 2.0, value_name = "KB", value_parser = at_least(0.0))]
    pub kb_per_request: f64,
    /// Requests a client sends over one connection (1: a new connection per request).
    #[arg(long, default_value_t = 1.0, value_name = "N", value_parser = at_least(1.0))]
    pub requests_per_connection: f64,
    /// Also draw the monthly cost of the three fronts against traffic, with the
    /// break-evens and this traffic marked, into PATH (.svg or .png).
    #[arg(long, value_name = "PATH")]
    pub plot: Option<PathBuf>,
}

/// Options of `albkit build`.
#[derive(Debug, Clone, clap::Args)]
pub struct BuildArgs {
    /// Only this function (default: every function of the stack).
    #[arg(long, value_name = "NAME")]
    pub function: Option<String>,
    /// Directory for the zips (default: target/albkit beside albkit.toml).
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
}

/// Options of `albkit graph`.
#[derive(Debug, Clone, clap::Args)]
pub struct GraphArgs {
    /// Graphviz DOT (`| dot -Tsvg > stack.svg`) or a Mermaid flowchart (for Markdown).
    #[arg(long, value_enum, default_value_t = GraphFormat::Dot)]
    pub format: GraphFormat,
    /// Read the stack in AWS and colour each resource by what `up` would do (builds the
    /// functions, as `plan` does); without it, no AWS call is made.
    #[arg(long)]
    pub plan: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum GraphFormat {
    Dot,
    Mermaid,
}

/// A finite number of at least `min`.
fn at_least(min: f64) -> impl Fn(&str) -> Result<f64, String> + Clone + Send + Sync + 'static {
    move |text: &str| match text.parse::<f64>() {
        Ok(v) if v.is_finite() && v >= min => Ok(v),
        Ok(v) if v.is_finite() => Err(format!("must be {min} or more")),
        _ => Err(format!("{text:?} is not a number")),
    }
}

/// Options of `albkit dev`.
#[derive(Debug, Clone, clap::Args)]
pub struct DevArgs {
    /// Port of the local listener (0 picks a free one; the URL is printed).
    #[arg(long, default_value_t = DEV_PORT)]
    pub port: u16,
    /// Address to listen on; anything but loopback exposes the functions to the network.
    #[arg(long, default_value = "127.0.0.1")]
    pub bind: std::net::IpAddr,
    /// Run only this function (the other target groups answer 503).
    #[arg(long, value_name = "NAME")]
    pub function: Option<String>,
    /// Rebuild and restart a function when its crate's sources change.
    #[arg(long)]
    pub watch: bool,
    /// Build the functions in release mode (default: debug, faster to build).
    #[arg(long)]
    pub release: bool,
    /// Instances per function started when requests queue up (each runs one invocation at a time).
    #[arg(long, default_value_t = 1, value_name = "N", value_parser = clap::value_parser!(u16).range(1..=64))]
    pub concurrency: u16,
    /// JSON Web Key Set file whose RSA keys sign valid tokens on routes with JWT authentication (required by such a route).
    #[arg(long, value_name = "PATH")]
    pub jwks: Option<PathBuf>,
    /// The user routes with a Cognito or OIDC login see as logged in, as claim=value pairs (sub required; default sub=dev-user).
    #[arg(long, value_name = "CLAIMS")]
    pub identity: Option<String>,
    /// Serve HTTPS as the stack's HTTPS listener (needs [https]), with a fresh self-signed certificate unless --tls-cert is given; with [https.mtls], clients must present a certificate the CA bundle verifies.
    #[arg(long)]
    pub tls: bool,
    /// PEM certificate chain for --tls instead of a self-signed one (implies --tls; needs --tls-key).
    #[arg(long, value_name = "PATH", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    /// PEM private key of --tls-cert.
    #[arg(long, value_name = "PATH", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
}

fn lock_timeout(text: &str) -> Result<Duration, String> {
    crate::model::lock::parse_timeout(text)
}
