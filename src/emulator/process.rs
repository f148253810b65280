//! The `bootstrap` children of one function: start them with a `provided.al2023`
//! environment, prefix their output with the function's name, restart them when they
//! crash (reporting the exit), kill them when an invocation times out, and start more
//! of them (up to `--concurrency`) when requests queue up. Used by `albkit dev` and by
//! `albkit invoke --local`.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};
use tokio::net::TcpListener;
use tokio::sync::{oneshot, watch};
use tokio::task::JoinHandle;

use super::runtime_api::{self, FunctionInfo, Instance, Invocation, Outcome, Queue};
use crate::model::config::FunctionSettings;

/// Where a function's output and the supervisor's messages go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Console {
    /// `albkit dev`: the function's output on stdout, next to the access log; the
    /// supervisor's messages on stderr.
    Dev,
    /// `albkit invoke --local`: everything on stderr (stdout carries the response).
    Invoke,
}

impl Console {
    /// How the supervisor's messages begin.
    pub fn prefix(self) -> &'static str {
        match self {
            Console::Dev => "albkit dev",
            Console::Invoke => "albkit invoke",
        }
    }

    fn function_line(self, name: &str, line: &str) {
        match self {
            Console::Dev => println!("[{name}] {line}"),
            Console::Invoke => eprintln!("[{name}] {line}"),
        }
    }
}

/// One function of the stack, as `albkit dev` runs it.
pub struct Function {
    pub settings: FunctionSettings,
    pub info: Arc<FunctionInfo>,
    pub queue: Arc<Queue>,
    pub target_group_arn: String,
    /// The Lambda environment (without `AWS_LAMBDA_RUNTIME_API`, set per instance).
    pub env: BTreeMap<String, String>,
    /// The executable; sending a new value restarts every instance on it.
    pub binary: watch::Sender<PathBuf>,
    /// Instances started so far, and the most allowed.
    slots: AtomicUsize,
    pub limit: usize,
    pub console: Console,
    /// Set by [`Function::stop`]: every instance kills its process and ends.
    stopping: watch::Sender<bool>,
    supervisors: std::sync::Mutex<Vec<JoinHandle<()>>>,
}

/// The environment Lambda gives a `provided.al2023` bootstrap (docs/alb-lambda.md §7),
/// plus the function's own configured environment. `AWS_EXECUTION_ENV` is not set for
/// `provided*` runtimes.
pub fn lambda_environment(
    settings: &FunctionSettings,
    function_name: &str,
    region: &str,
    task_root: &Path,
) -> BTreeMap<String, String> {
    let stream_id: u128 = rand::random();
    let today = httpdate_day();
    let mut env = BTreeMap::new();
    let mut set = |k: &str, v: String| {
        env.insert(k.to_string(), v);
    };
    set("AWS_LAMBDA_FUNCTION_NAME", function_name.to_string());
    set(
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
        settings.memory_mb.to_string(),
    );
    set("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST".into());
    set(
        "AWS_LAMBDA_LOG_GROUP_NAME",
        format!("/aws/lambda/{function_name}"),
    );
    set(
        "AWS_LAMBDA_LOG_STREAM_NAME",
        format!("{today}/[$LATEST]{stream_id:032x}"),
    );
    set("AWS_REGION", region.to_string());
    set("AWS_DEFAULT_REGION", region.to_string());
    set("_HANDLER", "bootstrap".into());
    // Locally the "task root" is the directory holding the built executable.
    set("LAMBDA_TASK_ROOT", task_root.display().to_string());
    set("LAMBDA_RUNTIME_DIR", task_root.display().to_string());
    set("AWS_LAMBDA_INITIALIZATION_TYPE", "on-demand".into());
    set("TZ", ":UTC".into());
    set("LANG", "en_US.UTF-8".into());
    // Not Lambda's, but needed to run anything locally; RUST_BACKTRACE/RUST_LOG help
    // debugging and are passed through when the user set them.
    for key in ["PATH", "RUST_BACKTRACE", "RUST_LOG"] {
        if let Ok(v) = std::env::var(key) {
            set(key, v);
        }
    }
    for (k, v) in settings.lambda_environment() {
        set(&k, v);
    }
    env
}

/// `YYYY/MM/DD` of today (UTC), as in Lambda log stream names.
fn httpdate_day() -> String {
    let today = time::OffsetDateTime::now_utc().date();
    format!(
        "{:04}/{:02}/{:02}",
        today.year(),
        u8::from(today.month()),
        today.day()
    )
}

impl Function {
    pub fn new(
        settings: FunctionSettings,
        info: FunctionInfo,
        target_group_arn: String,
        env: BTreeMap<String, String>,
        binary: PathBuf,
        limit: usize,
        console: Console,
    ) -> Arc<Function> {
        Arc::new(Function {
            settings,
            info: Arc::new(info),
            queue: Arc::new(Queue::default()),
            target_group_arn,
            env,
            binary: watch::channel(binary).0,
            slots: AtomicUsize::new(0),
            limit: limit.max(1),
            console,
            stopping: watch::channel(false).0,
            supervisors: std::sync::Mutex::new(Vec::new()),
        })
    }

    pub fn name(&self) -> &str {
        &self.info.name
    }

    /// Queues an invocation; starts another instance when every running one is busy
    /// and the limit allows.
    pub fn invoke(
        self: &Arc<Self>,
        event: Bytes,
        trace_root: String,
    ) -> oneshot::Receiver<Outcome> {
        let (tx, rx) = oneshot::channel();
        self.queue.push(Invocation {
            event,
            trace_root,
            reply: tx,
        });
        let slots = self.slots.load(Ordering::SeqCst);
        let free = slots.saturating_sub(self.queue.busy.load(Ordering::SeqCst));
        if self.queue.pending.load(Ordering::SeqCst) > free && slots < self.limit {
            self.start_instance();
        }
        rx
    }

    /// Starts one more supervised instance (if the limit allows and the function is not
    /// stopping).
    pub fn start_instance(self: &Arc<Self>) {
        if *self.stopping.borrow() {
            return;
        }
        let index = self.slots.fetch_add(1, Ordering::SeqCst);
        if index >= self.limit {
            self.slots.fetch_sub(1, Ordering::SeqCst);
            return;
        }
        let task = tokio::spawn(supervise(self.clone(), index + 1));
        self.supervisors
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .push(task);
    }

    /// Stops every instance (its process is killed, an invocation in flight fails) and
    /// waits until they are gone.
    pub async fn stop(&self) {
        self.stopping.send_replace(true);
        let tasks = std::mem::take(
            &mut *self
                .supervisors
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner),
        );
        for task in tasks {
            let _ = task.await;
        }
    }
}

fn label(f: &Function, index: usize) -> String {
    if f.limit > 1 {
        format!("{}#{index}", f.name())
    } else {
        f.name().to_string()
    }
}

/// Runs instance `index` of `f` until the function stops: start, wait for exit (or a
/// kill), report, restart with a backoff when it keeps crashing right after start.
async fn supervise(f: Arc<Function>, index: usize) {
    let name = label(&f, index);
    let say = f.console.prefix();
    let mut binary_rx = f.binary.subscribe();
    let mut stopping = f.stopping.subscribe();
    let mut quick_failures: u32 = 0;
    while !*stopping.borrow() {
        let binary = binary_rx.borrow_and_update().clone();
        let started = Instant::now();
        let instance = Instance::new(f.info.clone(), f.queue.clone());
        let api = match runtime_api::bind().await {
            Ok(x) => x,
            Err(e) => {
                eprintln!("{say}: {name}: cannot bind a loopback port for the Runtime API: {e}; retrying in 1s");
                tokio::time::sleep(Duration::from_secs(1)).await;
                continue;
            }
        };
        let run = run_bootstrap(
            &f,
            &name,
            &instance,
            &binary,
            api,
            &mut binary_rx,
            &mut stopping,
        );
        let Some((why, restart_now)) = run.await else {
            return;
        };
        eprintln!("{say}: {name}: {why}");
        if restart_now {
            quick_failures = 0;
            continue;
        }
        // Like a Lambda cold start that fails: the invocation waiting for this instance
        // fails (Runtime.ExitError → 502) instead of waiting for the next start.
        if !instance.initialised()
            && f.queue.fail_oldest(Outcome::Crashed(format!(
                "{why} during initialisation, before asking for an event"
            )))
        {
            eprintln!("{say}: {name}: failed one waiting request: the function did not initialise");
        }
        let backoff = crash_backoff(&mut quick_failures, started.elapsed());
        if quick_failures > 1 {
            eprintln!(
                "{say}: {name}: crashed {quick_failures} times right after start; restarting in {} ms",
                backoff.as_millis()
            );
        }
        tokio::select! {
            _ = tokio::time::sleep(backoff) => {}
            _ = binary_rx.changed() => {}
            _ = stopped(&mut stopping) => {}
        }
    }
}

/// Serves the Runtime API of `instance` on `api` and runs its bootstrap `binary` until
/// it exits, an invocation runs past its timeout, a new build arrives or the function
/// stops, killing it in the last three cases; then marks the instance dead and stops
/// serving. Why it ended and whether to restart it at once (a new build); `None` when
/// the function stops.
async fn run_bootstrap(
    f: &Function,
    name: &str,
    instance: &Arc<Instance>,
    binary: &Path,
    (listener, addr): (TcpListener, SocketAddr),
    binary_rx: &mut watch::Receiver<PathBuf>,
    stopping: &mut watch::Receiver<bool>,
) -> Option<(String, bool)> {
    let server = tokio::spawn(runtime_api::serve(listener, instance.clone()));
    let task_root = binary.parent().unwrap_or(Path::new(".")).to_path_buf();
    let mut cmd = tokio::process::Command::new(binary);
    cmd.env_clear()
        .envs(&f.env)
        .env("AWS_LAMBDA_RUNTIME_API", addr.to_string())
        .current_dir(&task_root)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    let ended = match cmd.spawn() {
        Err(e) => Some((format!("could not start {}: {e}", binary.display()), false)),
        Ok(mut child) => {
            if let Some(out) = child.stdout.take() {
                tokio::spawn(prefix_lines(out, name.to_string(), f.console));
            }
            if let Some(err) = child.stderr.take() {
                tokio::spawn(prefix_lines(err, name.to_string(), f.console));
            }
            tokio::select! {
                status = child.wait() => match status {
                    Ok(s) => Some((format!("bootstrap exited ({s})"), false)),
                    Err(e) => Some((format!("lost track of the bootstrap process: {e}"), false)),
                },
                _ = instance.kill.notified() => {
                    let _ = child.kill().await;
                    Some((format!("bootstrap killed: an invocation ran past the {}s timeout", f.info.timeout.as_secs()), false))
                }
                _ = binary_rx.changed() => {
                    let _ = child.kill().await;
                    Some(("restarting on the new build".to_string(), true))
                }
                _ = stopped(stopping) => {
                    let _ = child.kill().await;
                    None
                }
            }
        }
    };
    let why = ended
        .as_ref()
        .map_or("the function was stopped", |(why, _)| why);
    instance.mark_dead(why);
    server.abort();
    ended
}

/// The pause before restarting an instance that ran for `ran`: it grows with the
/// crashes right after start (`quick_failures`, updated here), up to 5 s.
fn crash_backoff(quick_failures: &mut u32, ran: Duration) -> Duration {
    if ran < Duration::from_secs(2) {
        *quick_failures = quick_failures.saturating_add(1);
    } else {
        *quick_failures = 0;
    }
    Duration::from_millis(100u64 << (*quick_failures).min(6)).min(Duration::from_secs(5))
}

/// Resolves once the function is stopping.
async fn stopped(stopping: &mut watch::Receiver<bool>) {
    if stopping.wait_for(|s| *s).await.is_err() {
        // The function is gone without stopping: nothing will ever stop this instance.
        std::future::pending::<()>().await;
    }
}

async fn prefix_lines(stream: impl AsyncRead + Unpin, name: String, console: Console) {
    let mut lines = BufReader::new(stream).lines();
    while let Ok(Some(line)) = lines.next_line().await {
        console.function_line(&name, &line);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn settings(timeout_seconds: u32) -> FunctionSettings {
        FunctionSettings {
            name: "hello".into(),
            path: PathBuf::from("/x"),
            target_dir: PathBuf::from("/target"),
            memory_mb: 256,
            timeout_seconds,
            reserved_concurrency: None,
            provisioned_concurrency: None,
            architecture: crate::model::config::Architecture::X86_64,
            environment: [("GREETING".to_string(), "hi".to_string())].into(),
            secrets: BTreeMap::new(),
            kms_key_arn: None,
            log_retention_days: 14,
            multi_value_headers: false,
            health_check: None,
            deploy_strategy: Default::default(),
            deploy_gate: Default::default(),
            routes: vec![],
        }
    }

    #[test]
    fn environment_is_a_provided_al2023_one_plus_the_configured_one() {
        let env = lambda_environment(&settings(7), "s-hello", "eu-west-3", Path::new("/t"));
        for key in [
            "AWS_LAMBDA_FUNCTION_NAME",
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
            "AWS_LAMBDA_FUNCTION_VERSION",
            "AWS_LAMBDA_LOG_GROUP_NAME",
            "AWS_LAMBDA_LOG_STREAM_NAME",
            "AWS_REGION",
            "AWS_DEFAULT_REGION",
            "_HANDLER",
            "LAMBDA_TASK_ROOT",
            "LAMBDA_RUNTIME_DIR",
            "AWS_LAMBDA_INITIALIZATION_TYPE",
            "TZ",
        ] {
            assert!(env.contains_key(key), "{key}");
        }
        assert_eq!(env["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"], "256");
        assert_eq!(env["AWS_REGION"], "eu-west-3");
        assert_eq!(env["GREETING"], "hi");
        assert!(!env.contains_key("AWS_EXECUTION_ENV"));
        assert_eq!(httpdate_day().len(), 10);
    }

    const ARN: &str = "arn:aws:lambda:us-east-1:123456789012:function:s-fn:live";
    const ROOT: &str = "1-5f84c7a9-0123456789abcdef01234567";

    /// A function whose bootstrap is the shell script `script`, in `dir`.
    fn script_function(dir: &Path, script: &str) -> Arc<Function> {
        let bootstrap = dir.join("bootstrap");
        std::fs::write(&bootstrap, script).expect("write the bootstrap");
        std::fs::set_permissions(&bootstrap, std::fs::Permissions::from_mode(0o755))
            .expect("chmod the bootstrap");
        let settings = settings(30);
        let env = lambda_environment(&settings, "s-fn", "us-east-1", dir);
        Function::new(
            settings,
            FunctionInfo {
                name: "fn".into(),
                arn: ARN.into(),
                timeout: Duration::from_secs(30),
            },
            "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/s-fn/0".into(),
            env,
            bootstrap,
            1,
            Console::Invoke,
        )
    }

    async fn call(f: &Arc<Function>, event: &'static [u8]) -> Outcome {
        let rx = f.invoke(Bytes::from_static(event), ROOT.into());
        match tokio::time::timeout(Duration::from_secs(120), rx).await {
            Ok(Ok(outcome)) => outcome,
            Ok(Err(_)) => panic!("the invocation was dropped"),
            Err(_) => panic!("no outcome within 120 s"),
        }
    }

    /// A shell bootstrap that answers each event with the headers it got with it and its
    /// process id, or reports an error when the event asks for one.
    const ECHO_HEADERS: &str = r#"#!/bin/sh
api="http://$AWS_LAMBDA_RUNTIME_API/2018-06-01/runtime"
while true; do
  h=$(mktemp); b=$(mktemp)
  curl -sf -D "$h" -o "$b" "$api/invocation/next" || exit 1
  id=$(grep -i '^lambda-runtime-aws-request-id:' "$h" | cut -d' ' -f2 | tr -d '\r')
  if grep -q fail "$b"; then
    curl -sf -X POST --data '{"errorType":"Boom","errorMessage":"asked to fail"}' "$api/invocation/$id/error" >/dev/null
  else
    echo "pid: $$" >> "$h"
    curl -sf -X POST --data-binary @"$h" "$api/invocation/$id/response" >/dev/null
  fi
  rm -f "$h" "$b"
done
"#;

    #[tokio::test]
    async fn a_bootstrap_gets_the_runtime_api_headers_and_is_killed_on_stop() {
        if std::process::Command::new("curl")
            .arg("--version")
            .output()
            .is_err()
        {
            panic!("this test drives a shell bootstrap with curl: install curl");
        }
        let dir = tempfile::tempdir().expect("tempdir");
        let f = script_function(dir.path(), ECHO_HEADERS);
        f.start_instance();
        let before = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .expect("clock")
            .as_millis();
        let mut pids = Vec::new();
        let mut ids = Vec::new();
        for round in 0..2 {
            let Outcome::Response(payload) = call(&f, b"{}").await else {
                panic!("round {round}: not a response");
            };
            let headers = String::from_utf8_lossy(&payload).to_ascii_lowercase();
            let value = |name: &str| {
                headers
                    .lines()
                    .find_map(|l| l.strip_prefix(&format!("{name}: ")))
                    .map_or_else(
                        || panic!("round {round}: no {name} in\n{headers}"),
                        |v| v.trim().to_string(),
                    )
            };
            assert_eq!(
                value("lambda-runtime-invoked-function-arn"),
                ARN.to_ascii_lowercase()
            );
            assert!(
                value("lambda-runtime-trace-id").starts_with(&format!("root={ROOT};parent=")),
                "{headers}"
            );
            let id = value("lambda-runtime-aws-request-id");
            assert_eq!(
                id.split('-').map(str::len).collect::<Vec<_>>(),
                [8, 4, 4, 4, 12]
            );
            ids.push(id);
            // Absolute epoch milliseconds: now + the function's 30 s timeout.
            let deadline: u128 = value("lambda-runtime-deadline-ms").parse().expect("ms");
            assert!(
                deadline >= before + 29_000 && deadline < before + 90_000,
                "{deadline} vs {before}"
            );
            pids.push(value("pid"));
        }
        assert_ne!(ids[0], ids[1], "each invocation has its own request id");
        assert_eq!(
            pids[0], pids[1],
            "one instance serves both, one after the other"
        );
        match call(&f, b"{\"fail\":1}").await {
            Outcome::Error { error_type, body } => {
                assert_eq!(error_type, "Unhandled");
                assert!(String::from_utf8_lossy(&body).contains("asked to fail"));
            }
            other => panic!("expected a function error, got {other:?}"),
        }
        f.stop().await;
        assert!(
            !Path::new(&format!("/proc/{}", pids[0])).exists(),
            "the bootstrap (pid {}) still runs after stop",
            pids[0]
        );
    }

    #[tokio::test]
    async fn a_bootstrap_that_exits_during_init_fails_the_waiting_invocation() {
        let dir = tempfile::tempdir().expect("tempdir");
        let f = script_function(dir.path(), "#!/bin/sh\nexit 3\n");
        f.start_instance();
        match call(&f, b"{}").await {
            Outcome::Crashed(why) => {
                assert!(why.contains("exited"), "{why}");
                assert!(why.contains("exit status: 3"), "{why}");
                assert!(why.contains("initialisation"), "{why}");
            }
            other => panic!("expected a crash, got {other:?}"),
        }
        f.stop().await;
    }
}
