//! The one session type of the commands: a validated config, AWS clients, the stack's
//! names and the reporter. Nothing in it costs an AWS call until it is used: the account
//! is asked of STS on first need, and the lock bucket is read only by the commands that
//! lock. The stack commands open it with [`Session::open`], which also checks the region
//! and the certificate's; the code commands (`deploy`, `rollback`, `versions`, `logs`,
//! `invoke`) with [`Session::connect`], so that the CI fast path stays as short as it is.

use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::sync::Mutex;
use std::time::Duration;

use crate::aws::clients::{Aws, ConnectOptions};
use crate::aws::events::{Event, Quiet, Reporter, ResourceNotify};
use crate::aws::identity::Identity;
use crate::aws::lock::{self, LockOptions, StackLock};
use crate::aws::lock_bucket;
use crate::aws::propagation::Propagation;
use crate::aws::resources::{Ctx, Ids};
use crate::cli::{Cli, Output};
use crate::error::{Error, Result};
use crate::model::config::{Config, FunctionSettings};
use crate::model::names::Names;
use crate::package::Artifact;
use crate::ui::reporter::{Collect, Plain, Tty};

/// Everything a command needs once the config is valid and the AWS clients are built.
pub(crate) struct Session {
    output: Output,
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
    /// The gate of the calls refused while new roles propagate.
    pub propagation: Propagation,
}

/// Validates the config (before any AWS call), checks `--region`, and connects.
/// The error when no region can be found, and what to do (`doctor` reports it as a check).
pub(crate) const NO_REGION: &str = "no AWS region is set";
pub(crate) const NO_REGION_HELP: &str =
    "set [stack].region in albkit.toml, pass --region, or export AWS_REGION";

pub(crate) async fn load_and_connect(cli: &Cli) -> Result<(Config, Aws)> {
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
    .map_err(|_| Error::usage(NO_REGION, NO_REGION_HELP))?;
    Ok((config, aws))
}

/// The reporter the output flags ask for: JSON is silent, a terminal gets live lines,
/// anything else timestamped plain lines.
pub(crate) fn reporter_for(cli: &Cli) -> Box<dyn Reporter> {
    match cli.output {
        Output::Json => Box::new(Quiet),
        Output::Human if std::io::stderr().is_terminal() && cli.verbose == 0 => {
            Box::new(Tty::new(cli.quiet))
        }
        Output::Human => Box::new(Plain::new(cli.verbose > 0, cli.quiet)),
    }
}

/// Refuses a region that is not a region name, and a certificate or an attached listener
/// of another region than the stack's (a load balancer can only use one of its own
/// region).
fn check_regions(config: &Config, aws: &Aws) -> Result<()> {
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
                    format!(
                        "https.certificate_arn is in region {}, the stack in {}",
                        arn.region().unwrap_or("?"),
                        aws.region
                    ),
                    "a load balancer can only use an ACM certificate of its own region: request or import one there",
                ));
            }
        }
    }
    let attached = config
        .load_balancer
        .attach
        .iter()
        .flat_map(|a| a.listeners());
    for (key, _, arn) in attached {
        if arn.region() != Some(aws.region.as_str()) {
            return Err(Error::usage(
                format!(
                    "{key} is in region {}, the stack in {}",
                    arn.region().unwrap_or("?"),
                    aws.region
                ),
                "a load balancer can only forward to target groups of its own region: attach to a listener there, or run in its region (--region)",
            ));
        }
    }
    Ok(())
}

impl Session {
    /// For the stack commands: validates the config (before any AWS call), connects,
    /// and checks the region and the certificate's. STS is not asked here: reading the
    /// stack asks it at the same time as everything else, and every command resolves it
    /// before it changes anything.
    pub(crate) async fn open(cli: &Cli) -> Result<Session> {
        let (config, aws) = load_and_connect(cli).await?;
        check_regions(&config, &aws)?;
        Ok(Session::new(cli, config, aws))
    }

    /// For the code commands: validates the config and connects; no AWS call is made.
    pub(crate) async fn connect(cli: &Cli) -> Result<Session> {
        let (config, aws) = load_and_connect(cli).await?;
        Ok(Session::new(cli, config, aws))
    }

    fn new(cli: &Cli, config: Config, aws: Aws) -> Session {
        Session {
            output: cli.output,
            identity: Identity::new(aws.sts.clone()),
            names: Names::new(&config.stack.name, &aws.region),
            reporter: Collect::new(reporter_for(cli)),
            ids: Ids::default(),
            lock_bucket: Mutex::new(None),
            config,
            aws,
            propagation: Propagation::default(),
        }
    }

    /// The caller's account id; the first call asks STS. Failing credentials are a
    /// usage error that says how to configure them.
    pub(crate) async fn account(&self) -> Result<&str> {
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
    pub(crate) async fn with_account<T>(
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

    pub(crate) fn ctx<'a>(&'a self, artifacts: &'a BTreeMap<String, Artifact>) -> Ctx<'a> {
        Ctx {
            aws: &self.aws,
            config: &self.config,
            names: &self.names,
            identity: &self.identity,
            reporter: &self.reporter,
            ids: &self.ids,
            artifacts,
            propagation: &self.propagation,
        }
    }

    /// Takes the stack's lock for a mutating command, waiting up to `wait` for a run
    /// that holds it.
    pub(crate) async fn lock(&self, command: &'static str, wait: Duration) -> Result<StackLock> {
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
            self.note(format!(
                "the lock bucket {} lacked {what}: set before taking the lock",
                self.names.lock_bucket(account)
            ));
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
    pub(crate) async fn inspect_lock_bucket(&self) -> Result<lock_bucket::State> {
        let account = self.account().await?;
        let name = self.names.lock_bucket(account);
        Ok(lock_bucket::inspect(&self.aws, &name, account).await?)
    }

    /// Releases the lock; a failure is reported, not fatal (the lock expires by itself).
    pub(crate) async fn unlock(&self, lock: StackLock) {
        if let Err(e) = lock.release().await {
            self.note(format!(
                "the stack lock could not be released ({e}); it expires by itself within {} s, or run `albkit unlock`",
                LockOptions::new("", Duration::ZERO).ttl.as_secs()
            ));
        }
    }

    /// Whether the output is one JSON document (`-o json`).
    pub(crate) fn json(&self) -> bool {
        self.output == Output::Json
    }

    /// Prints the config's warnings on stderr, before anything else; with `-o json` the
    /// document carries them instead (`plan`, `up`).
    pub(crate) fn print_warnings(&self) {
        if !self.json() {
            for w in &self.config.warnings {
                eprintln!("{w}");
            }
        }
    }

    pub(crate) fn phase(&self, text: impl Into<String>) {
        self.reporter.event(Event::Phase(text.into()));
    }

    pub(crate) fn note(&self, text: impl Into<String>) {
        self.reporter.event(Event::Note(text.into()));
    }

    /// Where the progress of function `function` is reported.
    pub(crate) fn notify(&self, function: &str) -> ResourceNotify<'_> {
        ResourceNotify {
            reporter: &self.reporter,
            logical: format!("function/{function}"),
        }
    }

    /// The functions a command acts on: the one named, or all of the stack.
    pub(crate) fn select(&self, name: Option<&str>) -> Result<Vec<&FunctionSettings>> {
        super::code::select(&self.config, name)
    }
}
