//! Benchmark driver for `scripts/bench-dev` (a benchmark, not a test; nothing is
//! asserted). A cargo example of the albkit crate, so that `cargo test --all-targets`
//! compiles it but never runs it:
//!
//! ```text
//! bench-dev-direct CONFIG FUNCTION PATH SECONDS CONNECTIONS
//! ```
//!
//! Builds FUNCTION of the project `CONFIG` (an `albkit.toml`) exactly as
//! `albkit dev --release` does (same release build, environment, Runtime API and process
//! code) and builds the ALB event of `GET PATH` once. Then starts the function (one
//! instance per connection at most) and for SECONDS hands that ready event straight to
//! the function's invocation queue and waits for the response payload, CONNECTIONS
//! invocations at a time. Measured: queue → Runtime API `/next` → the function →
//! `/response` → back to the caller. Not measured (what `albkit dev` adds on top): the
//! client's HTTP request to the ALB front over loopback, rule matching, building the
//! event, mapping the response.
//! Prints `RESULT <requests/s> <p50 µs> <p99 µs> <failed> <requests>` on stdout.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use albkit::emulator::event::{self, Connection, EventInput, HttpRequest};
use albkit::emulator::launch;
use albkit::emulator::process::{Console, Function};
use albkit::emulator::runtime_api::Outcome;
use albkit::model::names::Names;
use albkit::package::Profile;
use bytes::Bytes;

const TRACE_ROOT: &str = "1-00000000-000000000000000000000000";
const USAGE: &str = "usage: bench-dev-direct CONFIG FUNCTION PATH SECONDS CONNECTIONS";

struct Args {
    config: PathBuf,
    function: String,
    path: String,
    seconds: u64,
    connections: usize,
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
        [config, function, path, seconds, connections] => Ok(Args {
            config: PathBuf::from(config),
            function: function.clone(),
            path: path.clone(),
            seconds: number("SECONDS", seconds)?,
            connections: number::<usize>("CONNECTIONS", connections)?.max(1),
        }),
        _ => Err(format!("unexpected arguments {v:?}\n{USAGE}")),
    }
}

/// The function built and described as `albkit dev --release` runs it, and the ALB event
/// of `GET path` for it.
struct Prepared {
    function: Arc<Function>,
    event: Bytes,
}

async fn prepare(a: &Args, concurrency: usize) -> Result<Prepared, String> {
    let config = albkit::model::validate::load(&a.config)
        .map_err(|e| format!("{}: {e}", a.config.display()))?;
    let settings = config
        .function(&a.function)
        .ok_or_else(|| format!("no function {} in {}", a.function, a.config.display()))?;
    let region = config.stack.region.as_deref().unwrap_or("us-east-1");
    let binary = launch::build(settings, Profile::Release, Console::Invoke)
        .await
        .map_err(|e| e.to_string())?;
    let names = Names::new(&config.stack.name, launch::LOCAL_ACCOUNT, region);
    let function = launch::function(
        settings,
        &names,
        region,
        binary,
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

async fn run(a: Args) -> Result<String, String> {
    let (seconds, connections) = (a.seconds, a.connections);
    let Prepared { function: f, event } = prepare(&a, connections).await?;
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
