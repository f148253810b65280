//! Benchmark driver for `scripts/bench-dev` (a benchmark, not a test; nothing is
//! asserted). A cargo example of the albkit crate, so that `cargo test --all-targets`
//! compiles it but never runs it. Two modes:
//!
//! ```text
//! bench-dev-direct CONFIG FUNCTION PATH SECONDS CONNECTIONS [CONCURRENCY]   # warm
//! bench-dev-direct --cold N CONFIG FUNCTION PATH              # cold starts
//! ```
//!
//! Both build FUNCTION of the project `CONFIG` (an `albkit.toml`) exactly as
//! `albkit dev --release` does (same release build, environment, Runtime API and process
//! code) and build the ALB event of `GET PATH` once.
//!
//! **Warm round trips** (issue 4): starts the function (at most CONCURRENCY instances,
//! as `albkit dev --concurrency`; by default one per connection) and then for SECONDS
//! hands that ready event straight to the function's invocation queue and waits for the
//! response payload, CONNECTIONS invocations at a time. Measured: queue → Runtime API `/next` → the function → `/response` → back to
//! the caller. Not measured (what `albkit dev` adds on top): the client's HTTP request to
//! the ALB front over loopback, rule matching, building the event, mapping the response.
//! Prints `RESULT <requests/s> <p50 µs> <p99 µs> <failed> <requests>` on stdout.
//!
//! **Cold starts** (issue 6): N times, gives a fresh bootstrap process its own Runtime
//! API (the emulator's, on a new loopback port, with the event already queued) and
//! measures from just before spawning the process to receiving its first response
//! payload: exec, the runtime's initialisation, `/next`, the handler, `/response`.
//! Prints `COLD <n> <min ms> <p50 ms> <max ms>` on stdout.

use std::path::{Path, PathBuf};
use std::process::{ExitCode, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use albkit::alb::event::{self, Connection, EventInput, HttpRequest};
use albkit::emulator::launch;
use albkit::emulator::process::{Console, Function};
use albkit::emulator::runtime_api::{self, Instance, Invocation, Outcome};
use albkit::model::names::Names;
use albkit::package::Profile;
use bytes::Bytes;
use tokio::sync::oneshot;

const TRACE_ROOT: &str = "1-00000000-000000000000000000000000";
const USAGE: &str =
    "usage: bench-dev-direct CONFIG FUNCTION PATH SECONDS CONNECTIONS [CONCURRENCY]\n       \
                     bench-dev-direct --cold N CONFIG FUNCTION PATH";

/// What to measure.
enum Mode {
    /// Warm round trips for SECONDS, CONNECTIONS at a time, on at most CONCURRENCY
    /// instances.
    Warm {
        seconds: u64,
        connections: usize,
        concurrency: usize,
    },
    /// N cold starts, one after the other.
    Cold { starts: usize },
}

struct Args {
    config: PathBuf,
    function: String,
    path: String,
    mode: Mode,
}

fn number<T: std::str::FromStr>(what: &str, text: &str) -> Result<T, String>
where
    T::Err: std::fmt::Display,
{
    text.parse()
        .map_err(|e| format!("{what} {text:?} is not a number: {e}"))
}

fn args() -> Result<Args, String> {
    let v: Vec<String> = std::env::args().skip(1).collect();
    match v.as_slice() {
        [flag, n, config, function, path] if flag == "--cold" => Ok(Args {
            config: PathBuf::from(config),
            function: function.clone(),
            path: path.clone(),
            mode: Mode::Cold {
                starts: number::<usize>("N", n)?.max(1),
            },
        }),
        [config, function, path, seconds, connections, rest @ ..]
            if !config.starts_with("--") && rest.len() <= 1 =>
        {
            let connections = number::<usize>("CONNECTIONS", connections)?.max(1);
            let concurrency = match rest.first() {
                Some(n) => number::<usize>("CONCURRENCY", n)?.max(1),
                None => connections,
            };
            Ok(Args {
                config: PathBuf::from(config),
                function: function.clone(),
                path: path.clone(),
                mode: Mode::Warm {
                    seconds: number("SECONDS", seconds)?,
                    connections,
                    concurrency,
                },
            })
        }
        _ => Err(format!("unexpected arguments {v:?}\n{USAGE}")),
    }
}

/// The function built and described as `albkit dev --release` runs it, and the ALB event
/// of `GET path` for it.
struct Prepared {
    function: Arc<Function>,
    binary: PathBuf,
    event: Bytes,
}

async fn prepare(a: &Args, concurrency: usize) -> Result<Prepared, String> {
    let config = albkit::model::validate::load(&a.config).map_err(|e| {
        let problems: Vec<String> = e
            .problems()
            .iter()
            .map(|p| format!("\n  {} ({})", p.message, p.help))
            .collect();
        format!("{}: {e}:{}", a.config.display(), problems.concat())
    })?;
    let settings = config
        .function(&a.function)
        .ok_or_else(|| format!("no function {} in {}", a.function, a.config.display()))?;
    let region = config.stack.region.as_deref().unwrap_or("us-east-1");
    let binary = launch::build(settings, Profile::Release, Console::Invoke)
        .await
        .map_err(|e| e.to_string())?;
    let names = Names::new(&config.stack.name, region);
    let function = launch::function(
        settings,
        &names,
        region,
        binary.clone(),
        concurrency,
        Console::Invoke,
    );
    let mut request = HttpRequest::new("GET", &a.path);
    request
        .headers
        .push(("host".into(), b"127.0.0.1:3000".to_vec()));
    let event = event::build_event(&EventInput {
        request: &request,
        connection: &Connection {
            client_ip: "127.0.0.1".into(),
            listener_port: 3000,
            proto: "http",
        },
        target_group_arn: &function.target_group_arn,
        multi_value: settings.multi_value_headers,
        trace_header: &format!("Root={TRACE_ROOT}"),
    });
    Ok(Prepared {
        function,
        binary,
        event: Bytes::from(event.to_string()),
    })
}

/// One invocation; its latency, or why it failed.
async fn invoke(f: &Arc<Function>, event: &Bytes) -> Result<Duration, String> {
    let started = Instant::now();
    match f.invoke(event.clone(), TRACE_ROOT.into()).await {
        Ok(Outcome::Response(_)) => Ok(started.elapsed()),
        Ok(other) => Err(format!("{other:?}")),
        Err(_) => Err("the invocation was dropped".into()),
    }
}

/// The `p`-quantile (nearest rank) of sorted `values`, or `None` when there are none.
fn quantile(values: &[Duration], p: f64) -> Option<Duration> {
    let i = ((values.len() as f64 * p).ceil() as usize).saturating_sub(1);
    values.get(i.min(values.len().saturating_sub(1))).copied()
}

async fn warm(
    a: &Args,
    seconds: u64,
    connections: usize,
    concurrency: usize,
) -> Result<String, String> {
    let Prepared {
        function: f, event, ..
    } = prepare(a, concurrency).await?;
    f.start_instance();
    // Warm-up: start the instance(s), fill caches.
    for _ in 0..200 {
        invoke(&f, &event).await?;
    }
    let until = Instant::now() + Duration::from_secs(seconds);
    let started = Instant::now();
    let workers: Vec<_> = (0..connections)
        .map(|_| {
            let (f, event) = (f.clone(), event.clone());
            tokio::spawn(async move {
                let mut latencies = Vec::new();
                let mut failed = 0u64;
                while Instant::now() < until {
                    match invoke(&f, &event).await {
                        Ok(d) => latencies.push(d),
                        Err(_) => failed += 1,
                    }
                }
                (latencies, failed)
            })
        })
        .collect();
    let mut latencies = Vec::new();
    let mut failed = 0;
    for w in workers {
        let (l, e) = w.await.map_err(|e| format!("a worker failed: {e}"))?;
        latencies.extend(l);
        failed += e;
    }
    let elapsed = started.elapsed();
    f.stop().await;
    latencies.sort_unstable();
    let micros = |p: f64| quantile(&latencies, p).map_or(0.0, |d| d.as_secs_f64() * 1e6);
    let count = latencies.len() as u64 + failed;
    Ok(format!(
        "RESULT {:.1} {:.1} {:.1} {failed} {count}",
        count as f64 / elapsed.as_secs_f64(),
        micros(0.50),
        micros(0.99),
    ))
}

/// One cold start: a fresh bootstrap process with its own Runtime API and the event
/// already queued; the time from spawning it to its first response payload.
async fn cold_start(f: &Arc<Function>, binary: &Path, event: &Bytes) -> Result<Duration, String> {
    let instance = Instance::new(f.info.clone(), f.queue.clone());
    let (listener, addr) = runtime_api::bind()
        .await
        .map_err(|e| format!("cannot bind a loopback port for the Runtime API: {e}"))?;
    let server = tokio::spawn(runtime_api::serve(listener, instance.clone()));
    let (reply, outcome) = oneshot::channel();
    f.queue.push(Invocation {
        event: event.clone(),
        trace_root: TRACE_ROOT.into(),
        reply,
    });
    // The same process set-up as the emulator's supervisor (albkit::emulator::process).
    let mut cmd = tokio::process::Command::new(binary);
    cmd.env_clear()
        .envs(&f.env)
        .env("AWS_LAMBDA_RUNTIME_API", addr.to_string())
        .current_dir(binary.parent().unwrap_or(Path::new(".")))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .kill_on_drop(true);
    let started = Instant::now();
    let spawned = cmd.spawn();
    let result = match spawned {
        Err(e) => Err(format!("could not start {}: {e}", binary.display())),
        Ok(mut child) => {
            let result = tokio::select! {
                outcome = outcome => match outcome {
                    Ok(Outcome::Response(_)) => Ok(started.elapsed()),
                    Ok(other) => Err(format!("the first invocation did not succeed: {other:?}")),
                    Err(_) => Err("the first invocation was dropped".to_string()),
                },
                status = child.wait() => Err(match status {
                    Ok(s) => format!("the bootstrap exited before answering ({s})"),
                    Err(e) => format!("lost track of the bootstrap process: {e}"),
                }),
                _ = tokio::time::sleep(f.info.timeout + Duration::from_secs(10)) => {
                    Err(format!("no response within {} s", f.info.timeout.as_secs() + 10))
                }
            };
            // Wait until the process is gone before the next start.
            let _ = child.kill().await;
            result
        }
    };
    instance.mark_dead("the cold-start round is over");
    server.abort();
    // An invocation the process never took must not be left for the next round.
    f.queue
        .fail_oldest(Outcome::Crashed("the cold-start round is over".into()));
    result
}

async fn cold(a: &Args, starts: usize) -> Result<String, String> {
    let Prepared {
        function: f,
        binary,
        event,
    } = prepare(a, 1).await?;
    // One untimed start first, so that the executable is in the page cache as it is for
    // every later start of `albkit dev`.
    cold_start(&f, &binary, &event).await?;
    let mut times = Vec::with_capacity(starts);
    for round in 1..=starts {
        let d = cold_start(&f, &binary, &event)
            .await
            .map_err(|e| format!("cold start {round} of {starts}: {e}"))?;
        times.push(d);
    }
    times.sort_unstable();
    let ms = |d: Option<Duration>| d.map_or(0.0, |d| d.as_secs_f64() * 1e3);
    Ok(format!(
        "COLD {starts} {:.2} {:.2} {:.2}",
        ms(times.first().copied()),
        ms(quantile(&times, 0.50)),
        ms(times.last().copied()),
    ))
}

async fn run(a: Args) -> Result<String, String> {
    match a.mode {
        Mode::Warm {
            seconds,
            connections,
            concurrency,
        } => warm(&a, seconds, connections, concurrency).await,
        Mode::Cold { starts } => cold(&a, starts).await,
    }
}

fn main() -> ExitCode {
    let a = match args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("bench-dev-direct: {e}");
            return ExitCode::from(2);
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("bench-dev-direct: could not start the async runtime: {e}");
            return ExitCode::from(1);
        }
    };
    match runtime.block_on(run(a)) {
        Ok(line) => {
            println!("{line}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("bench-dev-direct: {e}");
            ExitCode::from(1)
        }
    }
}
