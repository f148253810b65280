//! Scale curves: the same stack with 1, 10 and 50 functions (each with its own route;
//! 50 stays under the default quotas of 100 rules per listener and 100 target groups),
//! under the second model. For a fresh `up`, a no-op `up`, `plan` and `down
//! --purge-logs`: wall time, the model's bound, AWS calls and the longest chain of calls
//! that ran one after another (for the no-op `up`, the sequential round trips of
//! reads). Printed as a table and drawn as an SVG chart.
//!
//! Every function is built from the same crate, which albkit builds once: the figures
//! are about AWS, not the compiler.
//!
//! `ALBKIT_BENCH_SCALE` lists the sizes (default `1,10,50`; `none` skips the curves);
//! `ALBKIT_BENCH_CHART` is where the chart goes (default `target/bench/scale.svg`).

use std::path::PathBuf;

use albkit::model::bound::{create_bound, delete_bound, Model};
use albkit::ui::plot::{draw_curves, Curves, Panel};

use super::support::{Moto, Project};
use super::{measure, proxy_for, read_round_trips, warmed, Figures};

/// The sizes to measure, from `ALBKIT_BENCH_SCALE`.
pub(crate) fn sizes() -> Vec<usize> {
    super::sizes_from_env("ALBKIT_BENCH_SCALE", "1,10,50", 99)
}

/// An HTTP stack with `n` functions of the one crate, each with its own route.
fn config(stack: &str, n: usize) -> String {
    let mut text = format!("[stack]\nname = \"{stack}\"\n");
    for i in 1..=n {
        text.push_str(&format!(
            "\n[[functions]]\nname = \"f{i:02}\"\npath = \"functions/hello\"\n\n[[functions.routes]]\npriority = {}\npaths = [\"/f{i:02}\", \"/f{i:02}/*\"]\n",
            i * 10
        ));
    }
    text
}

/// One size's four rows.
struct Size {
    functions: usize,
    rows: Vec<Figures>,
}

/// Measures every size under `m` and prints the table; draws the chart.
pub(crate) fn curves(m: &Model) {
    let sizes = sizes();
    if sizes.is_empty() {
        return;
    }
    let measured: Vec<Size> = sizes.iter().map(|n| one_size(m, *n)).collect();
    print(&measured, m);
    let chart = std::env::var_os("ALBKIT_BENCH_CHART").map_or_else(
        || PathBuf::from(super::support::REPO).join("target/bench/scale.svg"),
        PathBuf::from,
    );
    if let Some(dir) = chart.parent() {
        let _ = std::fs::create_dir_all(dir);
    }
    match draw_curves(&chart, &chart_of(&measured)) {
        Ok(()) => println!("scale chart: {}", chart.display()),
        Err(e) => println!("scale chart not drawn: {e}"),
    }
}

fn one_size(m: &Model, n: usize) -> Size {
    let moto = Moto::start();
    let stack = format!("scale{n}");
    let project = Project::from_template("hello", &stack);
    project.with_config(&config(&stack, n));
    // The functions share one crate: it is built once.
    let (_, d) = warmed(&moto, &project);
    let proxy = proxy_for(&moto, m);
    let mut rows = vec![measure(
        "up (fresh)",
        &moto,
        &proxy,
        &project,
        &["up", "--yes"],
        Some(create_bound(&d, m)),
    )];
    let mut noop = measure(
        "up (no changes)",
        &moto,
        &proxy,
        &project,
        &["up", "--yes"],
        Some(m.call),
    );
    noop.note = format!(
        "{} sequential round trips of reads",
        read_round_trips(&proxy.records())
    );
    rows.push(noop);
    rows.push(measure(
        "plan",
        &moto,
        &proxy,
        &project,
        &["plan"],
        Some(m.call),
    ));
    rows.push(measure(
        "down --purge-logs",
        &moto,
        &proxy,
        &project,
        &["down", "--yes", "--purge-logs"],
        Some(delete_bound(&d, m)),
    ));
    Size { functions: n, rows }
}

fn print(sizes: &[Size], m: &Model) {
    println!(
        "\nalbkit at scale — model: {} ms per call, ALB active {} s, role {} s, function {} s, ENIs {} s; HTTP stack, one route per function",
        m.call.as_millis(),
        m.alb_active.as_secs_f64(),
        m.role_assumable.as_secs_f64(),
        m.function_active.as_secs_f64(),
        m.eni_release.as_secs_f64()
    );
    println!(
        "{:>9}  {:<20} {:>8} {:>8} {:>7} {:>7} {:>9} {:>6}  note",
        "functions", "scenario", "wall s", "bound s", "ratio", "calls", "calls/fn", "chain"
    );
    for size in sizes {
        for r in &size.rows {
            let (bound, ratio) = match r.bound {
                Some(b) if b > m.call => (
                    format!("{:.2}", b.as_secs_f64()),
                    format!("{:.2}×", r.wall.as_secs_f64() / b.as_secs_f64()),
                ),
                _ => ("-".into(), "-".into()),
            };
            println!(
                "{:>9}  {:<20} {:>8.2} {:>8} {:>7} {:>7} {:>9.1} {:>6}  {}",
                size.functions,
                r.name,
                r.wall.as_secs_f64(),
                bound,
                ratio,
                r.calls,
                r.calls as f64 / size.functions as f64,
                r.chain,
                r.note
            );
        }
    }
    for r in sizes
        .iter()
        .flat_map(|s| s.rows.iter().map(move |r| (s.functions, r)))
    {
        if !r.1.lost.is_empty() && std::env::var_os("ALBKIT_BENCH_VERBOSE").is_some() {
            println!("{} functions, {}: {}", r.0, r.1.name, r.1.lost);
        }
    }
}

/// Wall time and AWS calls against the number of functions, a line per scenario.
fn chart_of(sizes: &[Size]) -> Curves {
    let scenarios: Vec<&str> = sizes
        .first()
        .map(|s| s.rows.iter().map(|r| r.name).collect())
        .unwrap_or_default();
    let line = |value: &dyn Fn(&Figures) -> f64| -> Vec<(String, Vec<(f64, f64)>)> {
        scenarios
            .iter()
            .enumerate()
            .map(|(i, name)| {
                let points = sizes
                    .iter()
                    .filter_map(|s| s.rows.get(i).map(|r| (s.functions as f64, value(r))))
                    .collect();
                ((*name).to_string(), points)
            })
            .collect()
    };
    Curves {
        title: "albkit at scale (benches/parts/scale.rs)".into(),
        x_label: "functions, each with its own route".into(),
        panels: vec![
            Panel {
                y_label: "wall time (s)".into(),
                lines: line(&|r| r.wall.as_secs_f64()),
            },
            Panel {
                y_label: "AWS calls".into(),
                lines: line(&|r| r.calls as f64),
            },
        ],
    }
}
