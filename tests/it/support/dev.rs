//! `albkit dev` as a child process, for the tests that send it requests.

use std::io::{BufRead, BufReader, Read};
use std::path::Path;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::{albkit_bin, function_build_env, functions_target_dir, LINT_ENV};

/// A running `albkit dev`, stopped when the test process ends (lifeline pipe: the `sh`
/// wrapper sends SIGTERM to albkit when our end of its stdin closes).
pub(crate) struct Dev {
    pub(crate) port: u16,
    log: Arc<Mutex<Vec<String>>>,
    _child: Child,
    _lifeline: Option<ChildStdin>,
}

impl Dev {
    pub(crate) fn start(config: &Path, extra: &[&str]) -> Dev {
        const WRAPPER: &str = r#"
exec 3<&0 0</dev/null
"$@" 3<&- &
pid=$!
{ cat <&3 >/dev/null 2>&1; kill -TERM "$pid" 2>/dev/null; } &
exec 3<&-
wait "$pid"
"#;
        let mut child = Command::new("sh")
            .arg("-c")
            .arg(WRAPPER)
            .arg("albkit-dev")
            .arg(albkit_bin())
            .arg("-c")
            .arg(config)
            .args(["dev", "--port", "0"])
            .args(extra)
            .env("CARGO_TARGET_DIR", functions_target_dir())
            .envs(function_build_env())
            .env_remove(LINT_ENV[0])
            .env_remove(LINT_ENV[1])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn albkit dev");
        let lifeline = child.stdin.take();
        let log = Arc::new(Mutex::new(Vec::new()));
        let (tx, rx) = std::sync::mpsc::channel::<u16>();
        for stream in [
            Box::new(child.stdout.take().expect("stdout")) as Box<dyn Read + Send>,
            Box::new(child.stderr.take().expect("stderr")) as Box<dyn Read + Send>,
        ] {
            let log = log.clone();
            let tx = tx.clone();
            std::thread::spawn(move || {
                for line in BufReader::new(stream).lines().map_while(Result::ok) {
                    let listening = line
                        .strip_prefix("albkit dev: listening on http://")
                        .or_else(|| line.strip_prefix("albkit dev: listening on https://"));
                    if let Some(rest) = listening {
                        if let Some(port) = rest.rsplit(':').next().and_then(|p| p.parse().ok()) {
                            let _ = tx.send(port);
                        }
                    }
                    log.lock().expect("log").push(line);
                }
            });
        }
        let port = rx
            .recv_timeout(Duration::from_secs(600))
            .unwrap_or_else(|_| {
                panic!(
                    "albkit dev did not start; output:\n{}",
                    log.lock().expect("log").join("\n")
                )
            });
        Dev {
            port,
            log,
            _child: child,
            _lifeline: lifeline,
        }
    }

    pub(crate) fn log_contains(&self, needle: &str, within: Duration) -> bool {
        let deadline = Instant::now() + within;
        loop {
            if self
                .log
                .lock()
                .expect("log")
                .iter()
                .any(|l| l.contains(needle))
            {
                return true;
            }
            if Instant::now() > deadline {
                return false;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    pub(crate) fn log_text(&self) -> String {
        self.log.lock().expect("log").join("\n")
    }
}
