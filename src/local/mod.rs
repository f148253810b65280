//! A minimal local Lambda Runtime API (`/2018-06-01/runtime/...`) that runs a built
//! `bootstrap` and hands it one event at a time, for `albkit invoke --local` and the
//! template tests. Deliberately small and synchronous (std threads): the full local
//! emulator (`albkit dev`, `src/emulator/`) is a separate piece of work and should
//! replace this once it lands.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::fd::AsFd;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{channel, Receiver, RecvTimeoutError, Sender};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::model::lifecycle::InvokeOutcome;

const PREFIX: &str = "/2018-06-01/runtime";

struct Pending {
    id: String,
    deadline_ms: u128,
    body: Vec<u8>,
}

/// A running bootstrap behind a local Runtime API; the process is killed on drop.
pub struct LocalRuntime {
    child: Child,
    events: Sender<Pending>,
    results: Receiver<(String, InvokeOutcome)>,
    function_arn: String,
    counter: u64,
}

/// What the function needs to know about itself.
pub struct FunctionEnv<'a> {
    pub function_name: &'a str,
    pub memory_mb: u32,
    pub timeout_seconds: u32,
    pub region: &'a str,
    pub environment: &'a BTreeMap<String, String>,
}

impl LocalRuntime {
    /// Serves the Runtime API on a free loopback port and starts `bootstrap` against it.
    pub fn start(bootstrap: &Path, f: &FunctionEnv<'_>) -> std::io::Result<LocalRuntime> {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let addr = listener.local_addr()?;
        let (events_tx, events_rx) = channel::<Pending>();
        let (results_tx, results_rx) = channel();
        let events_rx = Arc::new(Mutex::new(events_rx));
        let function_arn = format!(
            "arn:aws:lambda:{}:000000000000:function:{}",
            f.region, f.function_name
        );
        let arn = function_arn.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let events = Arc::clone(&events_rx);
                let results = results_tx.clone();
                let arn = arn.clone();
                std::thread::spawn(move || {
                    let _ = serve(stream, &events, &results, &arn);
                });
            }
        });
        let child = Command::new(bootstrap)
            .envs(f.environment)
            .env("AWS_LAMBDA_RUNTIME_API", addr.to_string())
            .env("AWS_LAMBDA_FUNCTION_NAME", f.function_name)
            .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
            .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", f.memory_mb.to_string())
            .env("AWS_LAMBDA_FUNCTION_TIMEOUT", f.timeout_seconds.to_string())
            .env(
                "AWS_LAMBDA_LOG_GROUP_NAME",
                format!("/aws/lambda/{}", f.function_name),
            )
            .env("AWS_LAMBDA_LOG_STREAM_NAME", "local")
            .env("AWS_REGION", f.region)
            .env("AWS_DEFAULT_REGION", f.region)
            .env("_HANDLER", "bootstrap")
            .env(
                "LAMBDA_TASK_ROOT",
                bootstrap.parent().unwrap_or(Path::new(".")),
            )
            .stdin(Stdio::null())
            // The function's logs go to stderr: stdout is for the response.
            .stdout(
                std::io::stderr()
                    .as_fd()
                    .try_clone_to_owned()
                    .map(Stdio::from)
                    .unwrap_or_else(|_| Stdio::null()),
            )
            .stderr(Stdio::inherit())
            .spawn()?;
        Ok(LocalRuntime {
            child,
            events: events_tx,
            results: results_rx,
            function_arn,
            counter: 0,
        })
    }

    /// Hands `event` to the function and waits for its answer (at most `limit`).
    pub fn invoke(&mut self, event: &[u8], limit: Duration) -> Result<InvokeOutcome, String> {
        self.counter += 1;
        let id = format!("00000000-0000-4000-8000-{:012x}", self.counter);
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_millis())
            .unwrap_or_default();
        self.events
            .send(Pending {
                id: id.clone(),
                deadline_ms: now + limit.as_millis(),
                body: event.to_vec(),
            })
            .map_err(|_| "the local Runtime API stopped".to_string())?;
        let step = Duration::from_millis(100);
        let mut waited = Duration::ZERO;
        loop {
            match self.results.recv_timeout(step) {
                Ok((got, outcome)) if got == id || got.is_empty() => return Ok(outcome),
                Ok(_) => continue,
                Err(RecvTimeoutError::Timeout) => {
                    if let Ok(Some(status)) = self.child.try_wait() {
                        return Err(format!("the bootstrap exited ({status}) before answering"));
                    }
                    waited += step;
                    if waited >= limit {
                        return Err(format!(
                            "the function did not answer within {}s (its timeout)",
                            limit.as_secs()
                        ));
                    }
                }
                Err(RecvTimeoutError::Disconnected) => {
                    return Err("the local Runtime API stopped".into())
                }
            }
        }
    }

    pub fn function_arn(&self) -> &str {
        &self.function_arn
    }
}

impl Drop for LocalRuntime {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

struct HttpRequest {
    method: String,
    path: String,
    body: Vec<u8>,
}

fn read_request(reader: &mut BufReader<TcpStream>) -> std::io::Result<Option<HttpRequest>> {
    let mut line = String::new();
    if reader.read_line(&mut line)? == 0 {
        return Ok(None);
    }
    let mut parts = line.split_whitespace();
    let method = parts.next().unwrap_or_default().to_string();
    let path = parts.next().unwrap_or_default().to_string();
    let mut length = 0usize;
    let mut chunked = false;
    loop {
        let mut h = String::new();
        if reader.read_line(&mut h)? == 0 {
            return Ok(None);
        }
        let h = h.trim_end();
        if h.is_empty() {
            break;
        }
        if let Some((k, v)) = h.split_once(':') {
            let (k, v) = (k.trim().to_ascii_lowercase(), v.trim());
            if k == "content-length" {
                length = v.parse().unwrap_or(0);
            } else if k == "transfer-encoding" && v.eq_ignore_ascii_case("chunked") {
                chunked = true;
            }
        }
    }
    let mut body = Vec::new();
    if chunked {
        loop {
            let mut size = String::new();
            reader.read_line(&mut size)?;
            let n = usize::from_str_radix(size.trim().split(';').next().unwrap_or("0"), 16)
                .unwrap_or(0);
            let mut chunk = vec![0; n + 2];
            reader.read_exact(&mut chunk)?;
            if n == 0 {
                break;
            }
            body.extend_from_slice(&chunk[..n]);
        }
    } else {
        body.resize(length, 0);
        reader.read_exact(&mut body)?;
    }
    Ok(Some(HttpRequest { method, path, body }))
}

fn respond(
    stream: &mut TcpStream,
    status: &str,
    headers: &[(&str, String)],
    body: &[u8],
) -> std::io::Result<()> {
    let mut head = format!("HTTP/1.1 {status}\r\ncontent-length: {}\r\n", body.len());
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes())?;
    stream.write_all(body)?;
    stream.flush()
}

fn serve(
    stream: TcpStream,
    events: &Mutex<Receiver<Pending>>,
    results: &Sender<(String, InvokeOutcome)>,
    arn: &str,
) -> std::io::Result<()> {
    let mut out = stream.try_clone()?;
    let mut reader = BufReader::new(stream);
    let accepted = |out: &mut TcpStream| {
        respond(
            out,
            "202 Accepted",
            &[("content-type", "application/json".into())],
            br#"{"status":"OK"}"#,
        )
    };
    while let Some(req) = read_request(&mut reader)? {
        let path = req
            .path
            .strip_prefix(PREFIX)
            .unwrap_or(&req.path)
            .to_string();
        match (req.method.as_str(), path.as_str()) {
            ("GET", "/invocation/next") => {
                let next = events.lock().ok().and_then(|rx| rx.recv().ok());
                let Some(p) = next else { return Ok(()) };
                let trace = format!(
                    "Root=1-{:08x}-{:024x};Parent={:016x};Sampled=0",
                    (p.deadline_ms / 1000) as u32,
                    p.deadline_ms,
                    p.deadline_ms
                );
                respond(
                    &mut out,
                    "200 OK",
                    &[
                        ("content-type", "application/json".into()),
                        ("lambda-runtime-aws-request-id", p.id.clone()),
                        ("lambda-runtime-deadline-ms", p.deadline_ms.to_string()),
                        ("lambda-runtime-invoked-function-arn", arn.to_string()),
                        ("lambda-runtime-trace-id", trace),
                    ],
                    &p.body,
                )?;
            }
            ("POST", p) if p.starts_with("/invocation/") && p.ends_with("/response") => {
                let id = p["/invocation/".len()..p.len() - "/response".len()].to_string();
                let _ = results.send((
                    id,
                    InvokeOutcome::Answered {
                        function_error: None,
                        payload: req.body,
                    },
                ));
                accepted(&mut out)?;
            }
            ("POST", p) if p.starts_with("/invocation/") && p.ends_with("/error") => {
                let id = p["/invocation/".len()..p.len() - "/error".len()].to_string();
                let _ = results.send((
                    id,
                    InvokeOutcome::Answered {
                        function_error: Some("Unhandled".into()),
                        payload: req.body,
                    },
                ));
                accepted(&mut out)?;
            }
            ("POST", "/init/error") => {
                let _ = results.send((
                    String::new(),
                    InvokeOutcome::Answered {
                        function_error: Some("Unhandled".into()),
                        payload: req.body,
                    },
                ));
                accepted(&mut out)?;
            }
            _ => respond(&mut out, "404 Not Found", &[], b"")?,
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    /// A shell bootstrap that answers each event with the headers it got with it, or
    /// reports an error when the event asks for one.
    const BOOTSTRAP: &str = r#"#!/bin/sh
api="http://$AWS_LAMBDA_RUNTIME_API/2018-06-01/runtime"
while true; do
  h=$(mktemp); b=$(mktemp)
  curl -sf -D "$h" -o "$b" "$api/invocation/next" || exit 1
  id=$(grep -i '^lambda-runtime-aws-request-id:' "$h" | cut -d' ' -f2 | tr -d '\r')
  if grep -q fail "$b"; then
    curl -sf -X POST --data '{"errorType":"Boom","errorMessage":"asked to fail"}' "$api/invocation/$id/error" >/dev/null
  else
    curl -sf -X POST --data-binary @"$h" "$api/invocation/$id/response" >/dev/null
  fi
done
"#;

    #[test]
    fn serves_the_runtime_api_with_its_headers() {
        if std::process::Command::new("curl")
            .arg("--version")
            .output()
            .is_err()
        {
            eprintln!("no curl: skipped");
            return;
        }
        let dir = tempfile::tempdir().expect("tempdir");
        let bootstrap = dir.path().join("bootstrap");
        std::fs::write(&bootstrap, BOOTSTRAP).expect("write");
        std::fs::set_permissions(&bootstrap, std::fs::Permissions::from_mode(0o755))
            .expect("chmod");
        let env = BTreeMap::new();
        let mut rt = LocalRuntime::start(
            &bootstrap,
            &FunctionEnv {
                function_name: "s-fn",
                memory_mb: 128,
                timeout_seconds: 3,
                region: "us-east-1",
                environment: &env,
            },
        )
        .expect("start");
        let before = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .expect("clock")
            .as_millis();
        for round in 0..2 {
            let out = rt
                .invoke(b"{}", Duration::from_secs(20))
                .expect("an answer");
            let InvokeOutcome::Answered {
                function_error: None,
                payload,
            } = out
            else {
                panic!("round {round}: {out:?}");
            };
            let headers = String::from_utf8_lossy(&payload).to_ascii_lowercase();
            for h in [
                "lambda-runtime-aws-request-id: 00000000-0000-4000-8000-",
                "lambda-runtime-invoked-function-arn: arn:aws:lambda:us-east-1:000000000000:function:s-fn",
                "lambda-runtime-trace-id: root=1-",
            ] {
                assert!(headers.contains(h), "round {round}: {h:?} missing in\n{headers}");
            }
            let deadline: u128 = headers
                .lines()
                .find_map(|l| l.strip_prefix("lambda-runtime-deadline-ms: "))
                .and_then(|v| v.trim().parse().ok())
                .expect("deadline header");
            // Absolute epoch milliseconds, about the timeout from now.
            assert!(
                deadline > before + 10_000 && deadline < before + 60_000,
                "{deadline}"
            );
        }
        let err = rt
            .invoke(b"{\"fail\":1}", Duration::from_secs(20))
            .expect("answer");
        assert!(
            matches!(&err, InvokeOutcome::Answered { function_error: Some(k), .. } if k == "Unhandled"),
            "{err:?}"
        );
    }

    #[test]
    fn a_bootstrap_that_exits_is_reported() {
        let dir = tempfile::tempdir().expect("tempdir");
        let bootstrap = dir.path().join("bootstrap");
        std::fs::write(&bootstrap, "#!/bin/sh\nexit 3\n").expect("write");
        std::fs::set_permissions(&bootstrap, std::fs::Permissions::from_mode(0o755))
            .expect("chmod");
        let env = BTreeMap::new();
        let mut rt = LocalRuntime::start(
            &bootstrap,
            &FunctionEnv {
                function_name: "f",
                memory_mb: 128,
                timeout_seconds: 3,
                region: "us-east-1",
                environment: &env,
            },
        )
        .expect("start");
        let e = rt
            .invoke(b"{}", Duration::from_secs(20))
            .expect_err("no answer");
        assert!(e.contains("exited"), "{e}");
    }
}
