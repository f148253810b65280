//! One file per command, each with the same rhythm: load → discover → decide → (ask) →
//! act → render. This module holds the steps they share.

use std::collections::BTreeMap;
use std::io::{BufRead, IsTerminal, Write};
use std::sync::Mutex;
use std::time::Duration;

use crate::aws::clients::{Aws, ConnectOptions};
use crate::aws::discover::{discover, Discovery};
use crate::aws::error::AwsResultExt;
use crate::aws::events::{Event, Quiet, Reporter, ResourceNotify};
use crate::aws::executor::Teardown;
use crate::aws::identity::Identity;
use crate::aws::lock::{self, LockOptions, StackLock};
use crate::aws::lock_bucket;
use crate::aws::resources::{Ctx, Foreign, Ids};
use crate::cli::{Cli, Command, Output};
use crate::error::{Error, Result};
use crate::model::config::{Config, Network};
use crate::model::names::Names;
use crate::model::plan::{plan, Plan};
use crate::model::stack::{desired, Context, Desired};
use crate::package::{self, Artifact};
use crate::ui::reporter::{Plain, Tty};

pub mod code;
pub mod completions;
pub mod cost;
pub mod deploy;
pub mod dev;
pub mod down;
pub mod iam_policy;
pub mod init;
pub mod invoke;
pub mod logs;
pub mod man;
pub mod plan;
pub mod rollback;
pub mod status;
pub mod unlock;
pub mod up;
pub mod versions;

/// Forwards events and keeps the notes for the final document.
pub struct Collect {
    inner: Box<dyn Reporter>,
    pub notes: Mutex<Vec<String>>,
}

impl Reporter for Collect {
    fn event(&self, event: Event) {
        if let Event::Note(text) = &event {
            if let Ok(mut notes) = self.notes.lock() {
                notes.push(text.clone());
            }
        }
        self.inner.event(event);
    }
}

impl Collect {
    pub fn notes(&self) -> Vec<String> {
        self.notes.lock().map(|n| n.clone()).unwrap_or_default()
    }
}

/// Everything a command needs once the config is valid and AWS answers.
pub struct Session {
    pub cli_output: Output,
    pub config: Config,
    pub aws: Aws,
    /// The account, asked of STS when first needed (see [`Session::account`]).
    pub identity: Identity,
    pub names: Names,
    pub reporter: Collect,
    pub ids: Ids,
    /// The lock bucket as read beside the stack (`plan`, `up`), for the lock to use
    /// instead of reading it again.
    pub lock_bucket: Mutex<Option<lock_bucket::State>>,
}

/// Validates the config (before any AWS call), checks `--region`, and connects.
pub async fn load_and_connect(cli: &Cli) -> Result<(Config, Aws)> {
    let config = crate::model::validate::load(&cli.config)?;
    if let Some(region) = &cli.region {
        if !crate::model::validate::is_aws_region(region) {
            return Err(Error::usage(
                format!("--region {region:?} is not an AWS region name"),
                "use a region code such as us-east-1 or eu-west-3",
            ));
        }
    }
    let aws = Aws::connect(&ConnectOptions {
        profile: cli.profile.clone(),
        cli_region: cli.region.clone(),
        config_region: config.stack.region.clone(),
        endpoint_url: cli.endpoint_url.clone(),
    })
    .await
    .map_err(|_| {
        Error::usage(
            "no AWS region is set",
            "set [stack].region in albkit.toml, pass --region, or export AWS_REGION",
        )
    })?;
    Ok((config, aws))
}

/// The reporter the output flags ask for: JSON is silent, a terminal gets live lines,
/// anything else timestamped plain lines.
pub fn reporter_for(cli: &Cli) -> Box<dyn Reporter> {
    match cli.output {
        Output::Json => Box::new(Quiet),
        Output::Human if std::io::stderr().is_terminal() && cli.verbose == 0 => {
            Box::new(Tty::new(cli.quiet))
        }
        Output::Human => Box::new(Plain::new(cli.verbose > 0, cli.quiet)),
    }
}

impl Session {
    /// Validates the config (before any AWS call), connects, and checks the credentials.
    pub async fn open(cli: &Cli) -> Result<Session> {
        let (config, aws) = load_and_connect(cli).await?;
        if !crate::model::validate::is_aws_region(&aws.region) {
            return Err(Error::usage(
                format!("AWS region {:?} is not a region name", aws.region),
                "use a region code such as us-east-1",
            ));
        }
        if let (Some(https), false) = (&config.https, aws.custom_endpoint) {
            if let Some(arn) = &https.certificate_arn {
                if arn.region() != Some(aws.region.as_str()) {
                    return Err(Error::usage(
                        format!("https.certificate_arn is in region {}, the stack in {}", arn.region().unwrap_or("?"), aws.region),
                        "a load balancer can only use an ACM certificate of its own region: request or import one there",
                    ));
                }
            }
        }
        // STS is not asked here: reading the stack asks it at the same time as
        // everything else, and every command resolves it before it changes anything.
        let identity = Identity::new(aws.sts.clone());
        let names = Names::new(&config.stack.name, &aws.region);
        let inner = reporter_for(cli);
        Ok(Session {
            cli_output: cli.output,
            config,
            aws,
            identity,
            names,
            reporter: Collect {
                inner,
                notes: Mutex::new(Vec::new()),
            },
            ids: Ids::default(),
            lock_bucket: Mutex::new(None),
        })
    }

    /// The caller's account id; the first call asks STS. Failing credentials are a
    /// usage error that says how to configure them.
    pub async fn account(&self) -> Result<&str> {
        self.identity.account().await.map_err(|e| {
            if e.message.contains("credential") {
                Error::usage(
                    format!("no usable AWS credentials: {}", e.message),
                    "configure credentials (`aws configure`, `aws sso login`, AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY) or pass --profile",
                )
            } else if e.code.is_none() {
                Error::usage(
                    format!(
                        "could not reach AWS STS in {}{}: {}",
                        self.aws.region,
                        if self.aws.custom_endpoint {
                            " at the custom endpoint"
                        } else {
                            ""
                        },
                        e.message
                    ),
                    "check the network, any HTTPS proxy (HTTPS_PROXY), and --endpoint-url / AWS_ENDPOINT_URL if set",
                )
            } else {
                Error::Aws(e)
            }
        })
    }

    /// Runs AWS reads beside the STS call. When the reads fail, the credentials are
    /// checked first, so that missing credentials read as such rather than as the
    /// failure of whichever read came first.
    pub async fn with_account<T>(
        &self,
        reads: impl std::future::Future<Output = Result<T>>,
    ) -> Result<(String, T)> {
        let guarded = async {
            match reads.await {
                Ok(v) => Ok(v),
                Err(e) => {
                    self.account().await?;
                    Err(e)
                }
            }
        };
        let (account, value) = tokio::try_join!(self.account(), guarded)?;
        Ok((account.to_string(), value))
    }

    pub fn ctx<'a>(&'a self, artifacts: &'a BTreeMap<String, Artifact>) -> Ctx<'a> {
        Ctx {
            aws: &self.aws,
            config: &self.config,
            names: &self.names,
            identity: &self.identity,
            reporter: &self.reporter,
            ids: &self.ids,
            artifacts,
        }
    }

    /// Takes the stack's lock for a mutating command, waiting up to `wait` for a run
    /// that holds it.
    pub async fn lock(&self, command: &'static str, wait: Duration) -> Result<StackLock> {
        let notify = ResourceNotify {
            reporter: &self.reporter,
            logical: "lock".into(),
        };
        let account = self.account().await?;
        let cached = self.lock_bucket.lock().ok().and_then(|mut c| c.take());
        let bucket = match cached {
            Some(state) => state,
            None => self.inspect_lock_bucket().await?,
        };
        if let Some(what) = lock_bucket::lacking(&bucket) {
            self.reporter.event(Event::Note(format!(
                "the lock bucket {} lacked {what}: set before taking the lock",
                self.names.lock_bucket(account)
            )));
        }
        let lock = lock::acquire(
            &self.aws,
            &self.names,
            account,
            &bucket,
            &LockOptions::new(command, wait),
            &notify,
        )
        .await?;
        tracing::debug!("holding stack lock {}", lock.id());
        Ok(lock)
    }

    /// Reads the region's lock bucket: whether it exists, is albkit's, lacks a setting.
    pub async fn inspect_lock_bucket(&self) -> Result<lock_bucket::State> {
        let account = self.account().await?;
        let name = self.names.lock_bucket(account);
        Ok(lock_bucket::inspect(&self.aws, &name, account).await?)
    }

    /// Releases the lock; a failure is reported, not fatal (the lock expires by itself).
    pub async fn unlock(&self, lock: StackLock) {
        if let Err(e) = lock.release().await {
            self.reporter.event(Event::Note(format!(
                "the stack lock could not be released ({e}); it expires by itself within {} s, or run `albkit unlock`",
                LockOptions::new("", Duration::ZERO).ttl.as_secs()
            )));
        }
    }

    pub fn json(&self) -> bool {
        self.cli_output == Output::Json
    }

    /// Prints the config's warnings on stderr, before anything else; with `-o json` the
    /// document carries them instead (`plan`, `up`).
    pub fn print_warnings(&self) {
        if !self.json() {
            for w in &self.config.warnings {
                eprintln!("{w}");
            }
        }
    }

    pub fn phase(&self, text: impl Into<String>) {
        self.reporter.event(Event::Phase(text.into()));
    }
}

/// Refuses to go on when the stack's names are taken by resources it does not own, or
/// when one logical resource exists twice (`plan`, `up`).
pub fn check_conflicts(d: &Discovery) -> Result<()> {
    check_duplicates(d)?;
    if !d.foreign.is_empty() {
        return Err(Error::Conflict {
            message: format!(
                "{} resource(s) in the stack's place are not the stack's:{}",
                d.foreign.len(),
                foreign_list(&d.foreign)
            ),
            help: "albkit never changes or deletes what it does not own, and nothing was changed: \
                   rename the stack ([stack].name) or the domain, or move those resources out of the way yourself"
                .into(),
        });
    }
    Ok(())
}

/// One line per foreign resource: what, which, and why it is not the stack's.
pub fn foreign_list(foreign: &[Foreign]) -> String {
    foreign
        .iter()
        .map(|f| format!("\n  - {} {}: {}", f.kind, f.name, f.reason))
        .collect()
}

/// Refuses to go on when one logical resource exists twice: which one is the stack's is
/// then not albkit's to guess (`down` too stops here; foreign resources it leaves).
pub fn check_duplicates(d: &Discovery) -> Result<()> {
    if !d.duplicates.is_empty() {
        let list = d
            .duplicates
            .iter()
            .map(|(l, ids)| format!("{l}: {}", ids.join(", ")))
            .collect::<Vec<_>>()
            .join("; ");
        return Err(Error::Conflict {
            message: format!("more than one resource claims the same place in the stack: {list}"),
            help: "delete the extra copies (they carry the albkit:resource tag) and run the command again".into(),
        });
    }
    Ok(())
}

/// Reads what exists and builds the functions, concurrently; then computes the desired
/// stack and the plan.
pub struct Planned {
    pub discovery: Discovery,
    pub desired: Desired,
    pub plan: Plan,
    pub artifacts: BTreeMap<String, Artifact>,
}

/// Reads the stack again and plans against the same desired stack and builds: after
/// taking the lock, what another run may have changed since the first reading counts.
pub async fn replan(s: &Session, p: Planned) -> Result<Planned> {
    let empty = BTreeMap::new();
    let discovery = discover(&s.ctx(&empty)).await?;
    check_conflicts(&discovery)?;
    let plan = plan(&p.desired, &discovery.observed).map_err(Error::Plan)?;
    Ok(Planned {
        discovery,
        plan,
        ..p
    })
}

pub async fn compute_plan(s: &Session) -> Result<Planned> {
    let empty = BTreeMap::new();
    let ctx = s.ctx(&empty);
    s.phase(format!(
        "Reading stack {} in {}",
        s.config.stack.name, s.aws.region
    ));
    let build = async {
        let mut artifacts = BTreeMap::new();
        for f in &s.config.functions {
            s.phase(format!(
                "Building function {} ({}, release)",
                f.name,
                f.architecture.as_str()
            ));
            let a = package::build(f).await?;
            s.phase(format!(
                "Built function {} with {}: bootstrap {} KiB, zip {} KiB",
                f.name,
                a.builder.describe(),
                a.bootstrap_size / 1024,
                a.zip.len() / 1024
            ));
            package::check_runtime(&a)?;
            artifacts.insert(f.name.clone(), a);
        }
        Ok::<_, Error>(artifacts)
    };
    // The stack, the zones, the lock bucket and the account are read at once.
    let reads = async {
        tokio::try_join!(
            async { discover(&ctx).await.map_err(Error::from) },
            network_context(s),
            s.inspect_lock_bucket(),
        )
    };
    let ((account, (mut discovery, (azs, vpc_cidr, vpc_ipv6), bucket_state)), artifacts) =
        tokio::try_join!(s.with_account(reads), build)?;
    // A foreign lock bucket stops plan and up like a foreign resource of the stack:
    // `up` could not take its lock.
    if let lock_bucket::State::Foreign { reason, .. } = &bucket_state {
        discovery.foreign.push(Foreign {
            kind: "S3 bucket",
            name: s.names.lock_bucket(&account),
            reason: format!(
                "it has the name of albkit's lock bucket for this account and region, but {reason}"
            ),
        });
    }
    if let Ok(mut cached) = s.lock_bucket.lock() {
        *cached = Some(bucket_state);
    }
    s.phase(format!(
        "Found {} resources of stack {} in account {account}",
        discovery.observed.len(),
        s.config.stack.name
    ));
    check_conflicts(&discovery)?;
    let context = Context {
        account,
        region: s.aws.region.clone(),
        availability_zones: azs,
        code_sha256: artifacts
            .iter()
            .map(|(k, a)| (k.clone(), a.sha256.clone()))
            .collect(),
        existing_vpc_cidr: vpc_cidr,
        existing_vpc_ipv6: vpc_ipv6,
        names_in_use: names_in_use(&discovery),
    };
    let desired = desired(&s.config, &context);
    let plan = plan(&desired, &discovery.observed).map_err(Error::Plan)?;
    Ok(Planned {
        discovery,
        desired,
        plan,
        artifacts,
    })
}

/// The names under which discovery found the stack's functions, roles, target groups
/// and log groups, by logical id.
fn names_in_use(d: &Discovery) -> BTreeMap<String, String> {
    use crate::model::stack::Kind;
    d.observed
        .values()
        .filter(|o| {
            matches!(
                o.resource.kind,
                Kind::Function | Kind::Role | Kind::TargetGroup | Kind::LogGroup
            )
        })
        .filter_map(|o| {
            o.resource
                .get("name")
                .map(|n| (o.resource.logical.clone(), n.to_string()))
        })
        .collect()
}

/// Availability zones for a managed network; the CIDR of a reused VPC (which must
/// exist, with its subnets in distinct zones) and whether it has an IPv6 CIDR block.
async fn network_context(s: &Session) -> Result<(Vec<String>, Option<String>, bool)> {
    match &s.config.network {
        Network::Managed {
            availability_zones, ..
        } => {
            let out = s
                .aws
                .ec2
                .describe_availability_zones()
                .filters(
                    aws_sdk_ec2::types::Filter::builder()
                        .name("state")
                        .values("available")
                        .build(),
                )
                .filters(
                    aws_sdk_ec2::types::Filter::builder()
                        .name("zone-type")
                        .values("availability-zone")
                        .build(),
                )
                .send()
                .await
                .aws("DescribeAvailabilityZones", &s.aws.region)?;
            let mut zones: Vec<String> = out
                .availability_zones()
                .iter()
                .filter_map(|z| z.zone_name().map(str::to_string))
                .collect();
            zones.sort();
            if zones.len() < usize::from(*availability_zones) {
                return Err(Error::usage(
                    format!("network.availability_zones = {availability_zones}, but region {} has {} available", s.aws.region, zones.len()),
                    format!("set network.availability_zones to at most {}", zones.len()),
                ));
            }
            Ok((zones, None, false))
        }
        Network::Existing { vpc_id, subnet_ids } => {
            let vpcs = s
                .aws
                .ec2
                .describe_vpcs()
                .vpc_ids(vpc_id.as_str())
                .send()
                .await
                .aws("DescribeVpcs", vpc_id.as_str());
            let (cidr, ipv6) = match vpcs {
                Ok(out) => {
                    let vpc = out.vpcs().first();
                    let ipv6 = vpc.is_some_and(|v| {
                        v.ipv6_cidr_block_association_set().iter().any(|a| {
                            a.ipv6_cidr_block_state()
                                .and_then(|block| block.state())
                                .is_some_and(|state| {
                                    *state == aws_sdk_ec2::types::VpcCidrBlockStateCode::Associated
                                })
                        })
                    });
                    (vpc.and_then(|v| v.cidr_block()).map(str::to_string), ipv6)
                }
                Err(e) if e.not_found() => (None, false),
                Err(e) => return Err(e.into()),
            };
            let Some(cidr) = cidr else {
                return Err(Error::usage(
                    format!("network.vpc_id {vpc_id} does not exist in {} (account {})", s.aws.region, s.account().await?),
                    "check the id and the region, or remove vpc_id and subnet_ids to let albkit create a VPC",
                ));
            };
            let ids: Vec<String> = subnet_ids.iter().map(|s| s.as_str().to_string()).collect();
            let subnets = s
                .aws
                .ec2
                .describe_subnets()
                .set_subnet_ids(Some(ids))
                .send()
                .await
                .aws("DescribeSubnets", "network.subnet_ids");
            let subnets = match subnets {
                Ok(out) => out.subnets().to_vec(),
                Err(e) if e.not_found() => Vec::new(),
                Err(e) => return Err(e.into()),
            };
            let mut zones = std::collections::BTreeSet::new();
            for id in subnet_ids {
                let Some(sn) = subnets.iter().find(|s| s.subnet_id() == Some(id.as_str())) else {
                    return Err(Error::usage(format!("network.subnet_ids: subnet {id} does not exist"), "list subnets of the VPC with `aws ec2 describe-subnets --filters Name=vpc-id,Values=<vpc>`"));
                };
                if sn.vpc_id() != Some(vpc_id.as_str()) {
                    return Err(Error::usage(
                        format!(
                            "network.subnet_ids: subnet {id} is in {}, not in {vpc_id}",
                            sn.vpc_id().unwrap_or("?")
                        ),
                        "use subnets of network.vpc_id",
                    ));
                }
                zones.insert(sn.availability_zone().unwrap_or_default().to_string());
            }
            if zones.len() < 2 {
                return Err(Error::usage(
                    "network.subnet_ids must cover at least two availability zones",
                    "an Application Load Balancer needs subnets in two zones or more",
                ));
            }
            Ok((Vec::new(), Some(cidr), ipv6))
        }
    }
}

/// Asks on a terminal; refuses without one unless `--yes`.
pub fn confirm(yes: bool, question: &str, json: bool) -> Result<bool> {
    if yes {
        return Ok(true);
    }
    if !std::io::stdin().is_terminal() || json {
        return Err(Error::usage(
            "refusing to change AWS without confirmation: there is no terminal to ask",
            "pass --yes to confirm non-interactively (as in CI)",
        ));
    }
    let mut err = std::io::stderr().lock();
    let _ = write!(err, "{question} Only 'yes' will be accepted: ");
    let _ = err.flush();
    let mut answer = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut answer)
        .map_err(|e| Error::Other(e.to_string()))?;
    Ok(answer.trim() == "yes")
}

/// Whether a command has printed its JSON document (see [`document_printed`]).
static DOCUMENT_PRINTED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Prints a command's JSON document on stdout.
pub fn print_json(value: &serde_json::Value) {
    println!(
        "{}",
        serde_json::to_string_pretty(value).unwrap_or_default()
    );
    DOCUMENT_PRINTED.store(true, std::sync::atomic::Ordering::SeqCst);
}

/// Whether this process has printed a command's JSON document: a command that fails
/// after it (a `deploy` whose smoke check failed) keeps that document as its only one,
/// instead of adding the error document.
pub fn document_printed() -> bool {
    DOCUMENT_PRINTED.load(std::sync::atomic::Ordering::SeqCst)
}

/// The URL users reach the stack at.
pub fn url(config: &Config, dns_name: Option<&str>) -> Option<String> {
    match &config.https {
        Some(h) => Some(format!("https://{}", h.domain.trim_start_matches("*."))),
        None => dns_name
            .filter(|d| !d.is_empty())
            .map(|d| format!("http://{d}")),
    }
}

/// Runs the command and returns the process exit code.
pub async fn run(cli: &Cli) -> Result<u8> {
    match &cli.command {
        Command::Plan { detailed_exitcode } => plan::run(cli, *detailed_exitcode).await,
        Command::Up { yes, lock_timeout } => up::run(cli, *yes, *lock_timeout).await,
        Command::Status => status::run(cli).await,
        Command::Down {
            purge_logs,
            disable_deletion_protection,
            delete_validation_records,
            yes,
            lock_timeout,
        } => {
            let teardown = Teardown {
                purge_logs: *purge_logs,
                disable_deletion_protection: *disable_deletion_protection,
                delete_validation_records: *delete_validation_records,
            };
            down::run(cli, teardown, *yes, *lock_timeout).await
        }
        Command::Unlock { lock_id, yes } => unlock::run(cli, lock_id.as_deref(), *yes).await,
        Command::Deploy {
            function,
            no_rollback,
            yes,
        } => {
            deploy::run(
                cli,
                deploy::Options {
                    function: function.as_deref(),
                    yes: *yes,
                    no_rollback: *no_rollback,
                },
            )
            .await
        }
        Command::Rollback { function, to, yes } => {
            rollback::run(cli, function.as_deref(), *to, *yes).await
        }
        Command::Versions { function } => versions::run(cli, function.as_deref()).await,
        Command::IamPolicy { audience, account } => {
            iam_policy::run(cli, *audience, account.as_deref()).await
        }
        Command::Invoke {
            function,
            path,
            method,
            headers,
            body,
            local,
        } => {
            invoke::run(
                cli,
                invoke::Options {
                    function: function.as_deref(),
                    path,
                    method,
                    headers,
                    body: body.as_deref(),
                    local: *local,
                },
            )
            .await
        }
        Command::Logs {
            function,
            since,
            follow,
            filter,
        } => {
            logs::run(
                cli,
                logs::Options {
                    function: function.as_deref(),
                    since,
                    follow: *follow,
                    filter: filter.as_deref(),
                },
            )
            .await
        }
        Command::Init {
            dir,
            template,
            name,
            force,
            list,
        } => init::run(
            cli,
            init::Options {
                dir,
                template,
                name: name.as_deref(),
                force: *force,
                list: *list,
            },
        ),
        Command::Dev(args) => dev::run(cli, args).await,
        Command::Cost(args) => cost::run(cli, args),
        Command::Completions { shell } => completions::run(*shell),
        Command::Man { out_dir } => man::run(cli, out_dir),
    }
}

pub use crate::aws::discover::seed_ids as seed;
