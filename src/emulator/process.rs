//! The `bootstrap` children of one function: start them with a `provided.al2023`
//! environment, prefix their output with the function's name, restart them when they
//! crash (reporting the exit), kill them when an invocation times out, and start more
//! of them (up to `--concurrency`) when requests queue up.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};
use tokio::sync::{oneshot, watch};

use super::runtime_api::{self, FunctionInfo, Instance, Invocation, Outcome, Queue};
use crate::model::config::FunctionSettings;

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
}

/// The environment Lambda gives a `provided.al2023` bootstrap (ALB-LAMBDA.md §7),
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
    for (k, v) in &settings.environment {
        set(k, v.clone());
    }
    env
}

/// `YYYY/MM/DD` of today (UTC), as in Lambda log stream names.
fn httpdate_day() -> String {
    let days = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() / 86_400)
        .unwrap_or(0) as i64;
    // Civil-from-days (Howard Hinnant).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!("{y:04}/{m:02}/{d:02}")
}

impl Function {
    pub fn new(
        settings: FunctionSettings,
        info: FunctionInfo,
        target_group_arn: String,
        env: BTreeMap<String, String>,
        binary: PathBuf,
        limit: usize,
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

    /// Starts one more supervised instance (if the limit allows).
    pub fn start_instance(self: &Arc<Self>) {
        let index = self.slots.fetch_add(1, Ordering::SeqCst);
        if index >= self.limit {
            self.slots.fetch_sub(1, Ordering::SeqCst);
            return;
        }
        tokio::spawn(supervise(self.clone(), index + 1));
    }
}

fn label(f: &Function, index: usize) -> String {
    if f.limit > 1 {
        format!("{}#{index}", f.name())
    } else {
        f.name().to_string()
    }
}

/// Runs instance `index` of `f` forever: start, wait for exit (or a kill), report,
/// restart with a backoff when it keeps crashing right after start.
async fn supervise(f: Arc<Function>, index: usize) {
    let name = label(&f, index);
    let mut binary_rx = f.binary.subscribe();
    let mut quick_failures: u32 = 0;
    loop {
        let binary = binary_rx.borrow_and_update().clone();
        let started = Instant::now();
        let instance = Instance::new(f.info.clone(), f.queue.clone());
        let (listener, addr) = match runtime_api::bind().await {
            Ok(x) => x,
            Err(e) => {
                eprintln!("albkit dev: {name}: cannot bind a loopback port for the Runtime API: {e}; retrying in 1s");
                tokio::time::sleep(Duration::from_secs(1)).await;
                continue;
            }
        };
        let server = tokio::spawn(runtime_api::serve(listener, instance.clone()));
        let task_root = binary.parent().unwrap_or(Path::new(".")).to_path_buf();
        let mut cmd = tokio::process::Command::new(&binary);
        cmd.env_clear()
            .envs(&f.env)
            .env("AWS_LAMBDA_RUNTIME_API", addr.to_string())
            .current_dir(&task_root)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        let mut restart_now = false;
        let why = match cmd.spawn() {
            Err(e) => format!("could not start {}: {e}", binary.display()),
            Ok(mut child) => {
                if let Some(out) = child.stdout.take() {
                    tokio::spawn(prefix_lines(out, name.clone()));
                }
                if let Some(err) = child.stderr.take() {
                    tokio::spawn(prefix_lines(err, name.clone()));
                }
                tokio::select! {
                    status = child.wait() => match status {
                        Ok(s) => format!("bootstrap exited ({s})"),
                        Err(e) => format!("lost track of the bootstrap process: {e}"),
                    },
                    _ = instance.kill.notified() => {
                        let _ = child.kill().await;
                        format!("bootstrap killed: an invocation ran past the {}s timeout", f.info.timeout.as_secs())
                    }
                    _ = binary_rx.changed() => {
                        let _ = child.kill().await;
                        restart_now = true;
                        "restarting on the new build".to_string()
                    }
                }
            }
        };
        instance.mark_dead(&why);
        server.abort();
        eprintln!("albkit dev: {name}: {why}");
        if restart_now {
            quick_failures = 0;
            continue;
        }
        if started.elapsed() < Duration::from_secs(2) {
            quick_failures = quick_failures.saturating_add(1);
        } else {
            quick_failures = 0;
        }
        let backoff =
            Duration::from_millis(100u64 << quick_failures.min(6)).min(Duration::from_secs(5));
        if quick_failures > 1 {
            eprintln!(
                "albkit dev: {name}: crashed {quick_failures} times right after start; restarting in {} ms",
                backoff.as_millis()
            );
        }
        tokio::select! {
            _ = tokio::time::sleep(backoff) => {}
            _ = binary_rx.changed() => {}
        }
    }
}

async fn prefix_lines(stream: impl AsyncRead + Unpin, name: String) {
    let mut lines = BufReader::new(stream).lines();
    while let Ok(Some(line)) = lines.next_line().await {
        println!("[{name}] {line}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn environment_is_a_provided_al2023_one_plus_the_configured_one() {
        let settings = FunctionSettings {
            name: "hello".into(),
            path: PathBuf::from("/x"),
            memory_mb: 256,
            timeout_seconds: 7,
            architecture: crate::model::config::Architecture::X86_64,
            environment: [("GREETING".to_string(), "hi".to_string())].into(),
            log_retention_days: 14,
            multi_value_headers: false,
            health_check: None,
            routes: vec![],
        };
        let env = lambda_environment(&settings, "s-hello", "eu-west-3", Path::new("/t"));
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
}
