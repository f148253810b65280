//! [`MiniStack`]: the second local AWS emulator, started with `AUTH=true` so that it
//! evaluates IAM policies (identity policies, permissions boundaries, conditions) for
//! every call, the way IAM does. The permission tests run albkit as IAM users that hold
//! only the policy `albkit iam-policy` prints.
//!
//! Installed by `scripts/test` into the private virtualenv target/tools/ministack, pinned
//! by scripts/tools/ministack-requirements.txt. Its root credentials are `test`/`test`,
//! its account `000000000000`.

use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use super::{
    free_port, http_request, indent, is_executable, kill_process_group, log_tail,
    spawn_with_lifeline, wait_with_deadline, REPO, SIGKILL,
};

/// MiniStack's root credentials and account.
pub(crate) const ROOT_KEY: &str = "test";
pub(crate) const ROOT_SECRET: &str = "test";
pub(crate) const ACCOUNT: &str = "000000000000";

const START_DEADLINE: Duration = Duration::from_secs(60);
const STOP_DEADLINE: Duration = Duration::from_secs(20);

/// A running MiniStack, stopped (with everything it started) when the test process ends.
pub(crate) struct MiniStack {
    port: u16,
    child: Child,
    /// Write end of the wrapper's stdin; closing it (or this process ending) stops it.
    lifeline: Option<ChildStdin>,
    log_path: PathBuf,
}

static SHARED: OnceLock<MiniStack> = OnceLock::new();

impl MiniStack {
    /// The server shared by every test of this binary, started on first use.
    pub(crate) fn shared() -> &'static MiniStack {
        SHARED.get_or_init(MiniStack::start)
    }

    /// A server of the calling test's own, stopped when it is dropped: for the tests
    /// whose CloudWatch alarms must see their own metrics only. MiniStack evaluates an
    /// alarm on every data point of its namespace and metric name in the account,
    /// whatever their dimensions (AWS matches the dimensions), so a function failing in
    /// another test of the same server would set them off.
    pub(crate) fn private() -> MiniStack {
        MiniStack::start()
    }

    fn start() -> MiniStack {
        let python = find_python();
        let mut failures = Vec::new();
        for _ in 0..5 {
            match MiniStack::try_start(&python, free_port()) {
                Ok(m) => return m,
                Err(e) => failures.push(e),
            }
        }
        panic!("could not start MiniStack:\n{}", failures.join("\n"));
    }

    fn try_start(python: &Path, port: u16) -> Result<MiniStack, String> {
        let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("ministack");
        let data = dir.join(format!("data-{}-{port}", std::process::id()));
        std::fs::create_dir_all(&data).map_err(|e| format!("{}: {e}", data.display()))?;
        let log_path = dir.join(format!("ministack-{}-{port}.log", std::process::id()));
        let log = std::fs::File::create(&log_path).map_err(|e| e.to_string())?;
        let log_err = log.try_clone().map_err(|e| e.to_string())?;
        let child = spawn_with_lifeline(
            Command::new(python)
                .args(["-m", "ministack"])
                .env("AUTH", "true")
                .env("BIND_HOST", "127.0.0.1")
                .env("GATEWAY_PORT", port.to_string())
                .env("LOG_LEVEL", "WARNING")
                // Only the services albkit calls; and no IoT MQTT listener, which would
                // bind port 8883 on every interface.
                .env(
                    "SERVICES",
                    "sts,iam,ec2,elasticloadbalancing,lambda,logs,monitoring,sns,s3,acm,route53,ssm,secretsmanager,kms,tagging,wafv2",
                )
                .env("IOT_MTLS_ENABLED", "0")
                .env("S3_DATA_DIR", data.join("s3"))
                .env("TMPDIR", &data),
            "albkit-ministack",
            log,
            log_err,
        );
        let mut server = MiniStack {
            port,
            child,
            lifeline: None,
            log_path,
        };
        server.lifeline = server.child.stdin.take();
        let deadline = Instant::now() + START_DEADLINE;
        loop {
            if let Ok(Some(status)) = server.child.try_wait() {
                return Err(format!(
                    "  port {port}: MiniStack exited during start-up ({status}); log {}:\n{}",
                    server.log_path.display(),
                    indent(&log_tail(&server.log_path, 15))
                ));
            }
            if let Ok((200, body)) = http_request(port, "GET", "/_ministack/health") {
                if body.contains("services") {
                    return Ok(server);
                }
            }
            if Instant::now() > deadline {
                return Err(format!(
                    "  port {port}: MiniStack did not answer within {}s; log {}:\n{}",
                    START_DEADLINE.as_secs(),
                    server.log_path.display(),
                    indent(&log_tail(&server.log_path, 30))
                ));
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// `http://127.0.0.1:PORT`.
    pub(crate) fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// An SDK config for `region` that calls it as the account's root.
    pub(crate) async fn root_config(&self, region: &str) -> aws_config::SdkConfig {
        super::sdk_config_at(&self.endpoint(), region, ROOT_KEY, ROOT_SECRET).await
    }

    /// The port of its gateway, where the load balancers' data plane answers too.
    pub(crate) fn port(&self) -> u16 {
        self.port
    }

    pub(crate) fn log_path(&self) -> &Path {
        &self.log_path
    }
}

impl Drop for MiniStack {
    fn drop(&mut self) {
        drop(self.lifeline.take());
        if wait_with_deadline(&mut self.child, STOP_DEADLINE).is_none() {
            kill_process_group(self.child.id(), SIGKILL);
            let _ = self.child.wait();
        }
    }
}

/// The virtualenv's python (MiniStack runs as `python -m ministack`).
fn find_python() -> PathBuf {
    let private = Path::new(REPO).join("target/tools/ministack/bin/python");
    if is_executable(&private) {
        return private;
    }
    panic!(
        "MiniStack is not installed in {}: run `scripts/test` once, which installs it \
         (pinned by scripts/tools/ministack-requirements.txt) into that private virtualenv",
        private.display()
    );
}
