//! `albkit cost`: the stack's monthly cost on ALB + Lambda against API Gateway (REST and
//! HTTP APIs) + Lambda, and the break-even traffic. Reads albkit.toml when there is one
//! (memory, architecture, functions, routes, idle timeout); makes no AWS call and needs
//! no credentials. The arithmetic is in [`crate::model::cost`].

use std::path::Path;

use super::output::{
    AlbUsd, ApiUsd, BreakEvenDoc, BreakEvens, CostDoc, Dimensions, Lcu, MonthlyUsd, PricesDoc,
};
use super::Outcome;
use crate::cli::{Cli, CostArgs, Output};
use crate::error::{Error, Result};
use crate::model::config::{Architecture, Config};
use crate::model::cost::{
    assumptions, break_even, chart_range, curve, estimate, BreakEven, Estimate, FunctionLoad,
    Gateway, Prices, Workload, EXCLUDED, US_EAST_1,
};
use crate::ui::plot::{self, CostChart, Front, PlotError};

/// The config, when the file exists; `None` only for the default path.
fn load_if_present(path: &Path) -> Result<Option<Config>> {
    if path.exists() {
        return Ok(Some(crate::model::validate::load(path)?));
    }
    if path == Path::new(crate::cli::DEFAULT_CONFIG) {
        return Ok(None);
    }
    Err(Error::usage(
        format!("--config {}: no such file", path.display()),
        "pass the path of an albkit.toml, or leave --config out to estimate without one",
    ))
}

fn architecture(name: &str) -> Architecture {
    if name == Architecture::Arm64.as_str() {
        Architecture::Arm64
    } else {
        Architecture::X86_64
    }
}

/// The workload to price: the flags, then the config, then the defaults.
pub(crate) fn workload(config: Option<&Config>, args: &CostArgs) -> Workload {
    let arch_override = args.architecture.as_deref().map(architecture);
    let load = |name: &str, memory_mb: u32, arch: Architecture, provisioned: Option<u32>| {
        let arch = arch_override.unwrap_or(arch);
        FunctionLoad {
            name: name.to_string(),
            memory_mb: args.memory_mb.unwrap_or(memory_mb),
            architecture: arch.as_str(),
            arch,
            provisioned_concurrency: provisioned.unwrap_or_default(),
        }
    };
    let (functions, listener_rules, connection_seconds) = match config {
        Some(c) if !c.functions.is_empty() => (
            c.functions
                .iter()
                .map(|f| {
                    load(
                        &f.name,
                        f.memory_mb,
                        f.architecture,
                        f.provisioned_concurrency,
                    )
                })
                .collect(),
            c.functions.iter().map(|f| f.routes.len()).sum::<usize>(),
            c.load_balancer.idle_timeout_seconds,
        ),
        Some(c) => (
            vec![load("function", 128, Architecture::X86_64, None)],
            1,
            c.load_balancer.idle_timeout_seconds,
        ),
        None => (
            vec![load("function", 128, Architecture::X86_64, None)],
            1,
            60,
        ),
    };
    Workload {
        requests_per_second: args.requests_per_second,
        avg_duration_ms: args.avg_duration_ms,
        functions,
        kb_per_request: args.kb_per_request,
        requests_per_connection: args.requests_per_connection,
        connection_seconds: f64::from(connection_seconds),
        listener_rules: u32::try_from(listener_rules).unwrap_or(u32::MAX),
        alarms: config.map_or(0, crate::model::alarms::count),
        dashboards: u32::from(
            config.is_some_and(|c| c.alarms.as_ref().is_some_and(|a| a.dashboard)),
        ),
    }
}

/// Everything the command shows: the workload, its estimate and the break-evens.
pub(crate) struct Report<'p> {
    pub stack: Option<String>,
    pub workload: Workload,
    pub prices: &'p Prices,
    pub estimate: Estimate,
    pub rest: BreakEven,
    pub http: BreakEven,
    pub notes: Vec<String>,
}

impl<'p> Report<'p> {
    pub(crate) fn new(
        stack: Option<String>,
        workload: Workload,
        prices: &'p Prices,
        notes: Vec<String>,
    ) -> Self {
        Report {
            estimate: estimate(&workload, prices),
            rest: break_even(&workload, prices, Gateway::Rest),
            http: break_even(&workload, prices, Gateway::Http),
            stack,
            workload,
            prices,
            notes,
        }
    }
}

pub(crate) fn run(cli: &Cli, args: &CostArgs) -> Result<Outcome> {
    let config = load_if_present(&cli.config)?;
    let w = workload(config.as_ref(), args);
    let prices = &US_EAST_1;
    let region = cli
        .region
        .clone()
        .or_else(|| config.as_ref().and_then(|c| c.stack.region.clone()));
    let mut notes = Vec::new();
    if let Some(r) = region.as_deref().filter(|r| *r != prices.region) {
        notes.push(format!(
            "the stack is in {r}; these are {}'s prices, which other regions exceed by a few percent or more",
            prices.region
        ));
    }
    if config.is_none() {
        notes.push(format!(
            "no {} here: one function of {} MB on {}, one route (pass -c PATH to price a project)",
            crate::cli::DEFAULT_CONFIG,
            w.functions.first().map_or(128, |f| f.memory_mb),
            w.functions.first().map_or("x86_64", |f| f.architecture),
        ));
    }
    if let Some(path) = &args.plot {
        plot::format_of(path).map_err(|e| plot_error(&e))?;
    }
    let report = Report::new(config.map(|c| c.stack.name), w, prices, notes);
    if let Some(path) = &args.plot {
        draw(path, &report)?;
        if cli.output == Output::Human && !cli.quiet {
            eprintln!("Wrote the cost chart to {}", path.display());
        }
    }
    if cli.output == Output::Json {
        return Ok(Outcome::json(0, true, &document(&report)));
    }
    print!("{}", render(&report));
    Ok(Outcome::code(0))
}

fn plot_error(e: &PlotError) -> Error {
    let hint = match e {
        PlotError::Format { .. } => "name the file cost.svg or cost.png",
        PlotError::NoFont { .. } => {
            "set ALBKIT_FONT to a .ttf file (Debian: apt-get install fonts-dejavu-core)"
        }
        PlotError::Draw { .. } => "check that the directory exists and is writable",
    };
    Error::usage(format!("--plot: {e}"), hint)
}

/// `--plot`: the three fronts' monthly totals over the traffic around the workload's
/// own and the break-evens, with those marked.
fn draw(path: &Path, r: &Report) -> Result<()> {
    let (low, high) = chart_range(&r.workload, &[r.rest, r.http]);
    let points = curve(&r.workload, r.prices, low, high, 240);
    let mut break_evens = Vec::new();
    for (front, b) in [(Front::Rest, r.rest), (Front::Http, r.http)] {
        // A break-even at zero traffic (cheaper from the start) is not a point to mark.
        if let Some(from) = b.from_rps.filter(|v| *v > 0.0) {
            break_evens.push((front, "from", from));
        }
        if let Some(until) = b.until_rps {
            break_evens.push((front, "until", until));
        }
    }
    let title = match &r.stack {
        Some(stack) => format!("Monthly cost of {stack} ({} prices)", r.prices.region),
        None => format!("Monthly cost ({} prices)", r.prices.region),
    };
    let chart = CostChart {
        title,
        points: &points,
        current_rps: r.workload.requests_per_second,
        break_evens,
    };
    plot::draw(path, &chart).map_err(|e| plot_error(&e))
}

fn round(x: f64, digits: i32) -> f64 {
    let scale = 10f64.powi(digits);
    (x * scale).round() / scale
}

fn break_even_doc(b: BreakEven, prices: &Prices) -> BreakEvenDoc {
    let monthly = |rps: Option<f64>| rps.map(|r| round(r * prices.hours_per_month * 3600.0, 0));
    BreakEvenDoc {
        from_rps: b.from_rps.map(|r| round(r, 4)),
        from_monthly_requests: monthly(b.from_rps),
        until_rps: b.until_rps.map(|r| round(r, 4)),
        until_monthly_requests: monthly(b.until_rps),
    }
}

fn document(r: &Report) -> CostDoc {
    let (w, prices, e) = (&r.workload, r.prices, &r.estimate);
    let usd = |x: f64| round(x, 4);
    let api = |requests: f64, total: f64| ApiUsd {
        lambda_requests: usd(e.lambda.requests_usd),
        lambda_duration: usd(e.lambda.duration_usd),
        lambda_provisioned_concurrency: usd(e.lambda.provisioned_usd),
        cloudwatch_alarms: usd(e.alarms_usd),
        cloudwatch_dashboards: usd(e.dashboards_usd),
        total: usd(total),
        api_requests: usd(requests),
    };
    let d = e.alb.lcu_dimensions;
    CostDoc {
        stack: r.stack.clone(),
        prices: PricesDoc {
            region: prices.region.to_string(),
            taken: prices.taken.to_string(),
            currency: "USD",
        },
        workload: w.clone(),
        monthly_requests: round(e.monthly_requests, 0),
        lambda_gb_seconds: round(e.lambda.gb_seconds, 3),
        lcu: Lcu {
            per_hour: round(e.alb.lcu_per_hour, 6),
            dominant: d.dominant(),
            dimensions: Dimensions {
                new_connections: round(d.new_connections, 6),
                active_connections: round(d.active_connections, 6),
                processed_bytes: round(d.processed_bytes, 6),
                rule_evaluations: round(d.rule_evaluations, 6),
            },
        },
        monthly_usd: MonthlyUsd {
            alb: AlbUsd {
                lambda_requests: usd(e.lambda.requests_usd),
                lambda_duration: usd(e.lambda.duration_usd),
                lambda_provisioned_concurrency: usd(e.lambda.provisioned_usd),
                cloudwatch_alarms: usd(e.alarms_usd),
                cloudwatch_dashboards: usd(e.dashboards_usd),
                total: usd(e.alb_total_usd),
                load_balancer_hours: usd(e.alb.hours_usd),
                load_balancer_lcus: usd(e.alb.lcu_usd),
            },
            rest_api: api(e.rest_api_requests_usd, e.rest_api_total_usd),
            http_api: api(e.http_api_requests_usd, e.http_api_total_usd),
        },
        break_even: BreakEvens {
            rest_api: break_even_doc(r.rest, prices),
            http_api: break_even_doc(r.http, prices),
        },
        assumptions: assumptions(w, prices),
        excluded: EXCLUDED
            .iter()
            .map(std::string::ToString::to_string)
            .collect(),
        notes: r.notes.clone(),
    }
}

fn millions(requests: f64) -> String {
    format!("{:.2} M", requests / 1e6)
}

fn rps_text(rps: f64, prices: &Prices) -> String {
    format!(
        "{rps:.2} req/s ({} requests a month)",
        millions(rps * prices.hours_per_month * 3600.0)
    )
}

fn break_even_text(name: &str, b: BreakEven, prices: &Prices) -> String {
    match (b.from_rps, b.until_rps) {
        (None, _) => format!("never cheaper than {name} + Lambda at this request size"),
        (Some(from), None) => format!(
            "cheaper than {name} + Lambda from {}",
            rps_text(from, prices)
        ),
        (Some(from), Some(until)) => format!(
            "cheaper than {name} + Lambda from {} up to {}",
            rps_text(from, prices),
            rps_text(until, prices)
        ),
    }
}

/// The human report: a table of monthly USD per option, the break-even traffic, and
/// the assumptions.
pub(crate) fn render(r: &Report) -> String {
    use std::fmt::Write;
    let (w, prices, e) = (&r.workload, r.prices, &r.estimate);
    let mut out = String::new();
    let functions = w
        .functions
        .iter()
        .map(|f| match f.provisioned_concurrency {
            0 => format!("{} ({} MB, {})", f.name, f.memory_mb, f.architecture),
            n => format!(
                "{} ({} MB, {}, {n} provisioned)",
                f.name, f.memory_mb, f.architecture
            ),
        })
        .collect::<Vec<_>>()
        .join(", ");
    let _ = writeln!(
        out,
        "Monthly cost estimate{}: {} req/s ({} requests), {} ms per invocation; {functions}",
        r.stack
            .as_deref()
            .map(|s| format!(" for stack {s}"))
            .unwrap_or_default(),
        w.requests_per_second,
        millions(e.monthly_requests),
        w.avg_duration_ms,
    );
    let _ = writeln!(
        out,
        "On-demand prices of {} taken {}, in USD. An estimate, not a quote.\n",
        prices.region, prices.taken
    );
    let d = e.alb.lcu_dimensions;
    let rows = table(e);
    let width = rows.iter().map(|r| r.0.len()).max().unwrap_or(0);
    let _ = writeln!(
        out,
        "  {:<width$}  {:>14}  {:>18}  {:>18}",
        "", "ALB + Lambda", "REST API + Lambda", "HTTP API + Lambda"
    );
    for (label, a, r, h) in &rows {
        let line = format!("  {label:<width$}  {a:>14}  {r:>18}  {h:>18}");
        let _ = writeln!(out, "{}", line.trim_end());
    }
    let _ = writeln!(
        out,
        "\nALB + Lambda is {};\n  and {}.",
        break_even_text("REST API", r.rest, prices),
        break_even_text("HTTP API", r.http, prices)
    );
    let _ = writeln!(
        out,
        "LCUs are set by {}: new connections {:.3}, active connections {:.3}, processed bytes {:.3}, rule evaluations {:.3} per hour.",
        d.dominant(),
        d.new_connections,
        d.active_connections,
        d.processed_bytes,
        d.rule_evaluations
    );
    let _ = writeln!(out, "\nAssumptions:");
    for a in assumptions(w, prices) {
        let _ = writeln!(out, "  - {a}");
    }
    let _ = writeln!(out, "Not included:");
    for x in EXCLUDED {
        let _ = writeln!(out, "  - {x}");
    }
    for n in &r.notes {
        let _ = writeln!(out, "Note: {n}");
    }
    out
}

/// The rows of the table: label, then USD a month for ALB, REST API and HTTP API.
fn table(e: &Estimate) -> Vec<(String, String, String, String)> {
    let money = |x: f64| format!("{x:.2}");
    let blank = String::new();
    let mut rows = vec![
        (
            "Load balancer hours".into(),
            money(e.alb.hours_usd),
            blank.clone(),
            blank.clone(),
        ),
        (
            format!("Load balancer LCUs ({:.3}/h)", e.alb.lcu_per_hour),
            money(e.alb.lcu_usd),
            blank.clone(),
            blank.clone(),
        ),
        (
            "API Gateway requests".into(),
            blank.clone(),
            money(e.rest_api_requests_usd),
            money(e.http_api_requests_usd),
        ),
        (
            "Lambda requests".into(),
            money(e.lambda.requests_usd),
            money(e.lambda.requests_usd),
            money(e.lambda.requests_usd),
        ),
        (
            format!("Lambda duration ({:.0} GB-s)", e.lambda.gb_seconds),
            money(e.lambda.duration_usd),
            money(e.lambda.duration_usd),
            money(e.lambda.duration_usd),
        ),
    ];
    if e.lambda.provisioned_usd > 0.0 {
        let p = money(e.lambda.provisioned_usd);
        let row = (
            "Lambda provisioned concurrency".into(),
            p.clone(),
            p.clone(),
            p,
        );
        rows.push(row);
    }
    if e.alarms_usd > 0.0 {
        let a = money(e.alarms_usd);
        rows.push(("CloudWatch alarms".into(), a.clone(), a.clone(), a));
    }
    if e.dashboards_usd > 0.0 {
        let d = money(e.dashboards_usd);
        rows.push(("CloudWatch dashboard".into(), d.clone(), d.clone(), d));
    }
    rows.push((
        "Total per month".into(),
        money(e.alb_total_usd),
        money(e.rest_api_total_usd),
        money(e.http_api_total_usd),
    ));
    rows
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    fn args(extra: &[&str]) -> CostArgs {
        let cli = Cli::try_parse_from([&["albkit", "cost"], extra].concat()).expect("parses");
        match cli.command {
            crate::cli::Command::Cost(a) => a,
            other => panic!("not cost: {other:?}"),
        }
    }

    fn project(toml: &str) -> (tempfile::TempDir, Config) {
        let dir = tempfile::tempdir().expect("tempdir");
        for f in ["a", "b"] {
            let crate_dir = dir.path().join("functions").join(f);
            std::fs::create_dir_all(&crate_dir).expect("mkdir");
            std::fs::write(
                crate_dir.join("Cargo.toml"),
                format!("[package]\nname = \"{f}\"\nversion = \"0.1.0\"\n"),
            )
            .expect("write Cargo.toml");
        }
        std::fs::write(dir.path().join("albkit.toml"), toml).expect("write");
        let config = crate::model::validate::load(&dir.path().join("albkit.toml")).expect("valid");
        (dir, config)
    }

    const TWO_FUNCTIONS: &str = r#"[stack]
name = "shop"

[load_balancer]
idle_timeout_seconds = 30

[[functions]]
name = "a"
path = "functions/a"
memory_mb = 512
architecture = "arm64"

[[functions.routes]]
priority = 10
paths = ["/a"]

[[functions.routes]]
priority = 11
paths = ["/a/*"]

[[functions]]
name = "b"
path = "functions/b"

[[functions.routes]]
priority = 20
paths = ["/b"]
"#;

    #[test]
    fn the_config_gives_memory_architecture_routes_and_idle_timeout() {
        let (_dir, config) = project(TWO_FUNCTIONS);
        let w = workload(Some(&config), &args(&[]));
        assert_eq!(w.functions.len(), 2);
        assert_eq!(
            (w.functions[0].memory_mb, w.functions[0].architecture),
            (512, "arm64")
        );
        assert_eq!(
            (w.functions[1].memory_mb, w.functions[1].architecture),
            (128, "x86_64")
        );
        assert_eq!(w.listener_rules, 3);
        assert_eq!(w.connection_seconds, 30.0);
        // Flags win over the config.
        let w = workload(
            Some(&config),
            &args(&["--memory-mb", "1024", "--architecture", "x86_64"]),
        );
        assert!(w
            .functions
            .iter()
            .all(|f| f.memory_mb == 1024 && f.arch == Architecture::X86_64));
    }

    #[test]
    fn without_a_config_one_default_function() {
        let w = workload(None, &args(&["--requests-per-second", "3"]));
        assert_eq!(w.requests_per_second, 3.0);
        assert_eq!(w.functions.len(), 1);
        assert_eq!(w.functions[0].memory_mb, 128);
        assert_eq!(w.listener_rules, 1);
        assert_eq!(w.connection_seconds, 60.0);
    }

    #[test]
    fn flags_are_checked_by_the_parser() {
        for bad in [
            vec!["--requests-per-second", "-1"],
            vec!["--requests-per-second", "NaN"],
            vec!["--memory-mb", "64"],
            vec!["--architecture", "sparc"],
            vec!["--requests-per-connection", "0.5"],
        ] {
            let argv = [&["albkit", "cost"], bad.as_slice()].concat();
            assert!(Cli::try_parse_from(&argv).is_err(), "{argv:?} accepted");
        }
    }

    #[test]
    fn a_missing_explicit_config_is_an_error_the_default_one_is_not() {
        // Unit tests run in the crate's root, which is not an albkit project.
        let default = Path::new(crate::cli::DEFAULT_CONFIG);
        assert!(
            !default.exists(),
            "the crate root has an {}",
            default.display()
        );
        assert!(matches!(load_if_present(default), Ok(None)));
        let e = load_if_present(Path::new("/nonexistent/albkit.toml")).expect_err("missing");
        assert_eq!(e.exit_code(), 2);
    }

    #[test]
    fn the_report_shows_each_option_and_the_break_even() {
        let report = Report::new(None, workload(None, &args(&[])), &US_EAST_1, Vec::new());
        let text = render(&report);
        assert!(text.contains("Total per month"), "{text}");
        assert!(text.contains("25.11") && text.contains("98.33") && text.contains("32.63"));
        assert!(text.contains("from 1.83 req/s"), "{text}");
        assert!(text.contains("from 6.86 req/s"), "{text}");
        assert!(text.contains("us-east-1") && text.contains(US_EAST_1.taken));
        let doc = serde_json::to_value(document(&report)).expect("serializes");
        assert_eq!(doc["monthly_usd"]["alb"]["total"], 25.112);
        assert_eq!(doc["break_even"]["http_api"]["from_rps"], 6.8598);
        assert_eq!(
            doc["break_even"]["http_api"]["until_rps"],
            serde_json::Value::Null
        );
        assert!(!text.contains("provisioned"), "{text}");
        assert_eq!(
            doc["monthly_usd"]["alb"]["lambda_provisioned_concurrency"],
            0.0
        );
    }

    #[test]
    fn provisioned_concurrency_from_the_config_is_a_row_of_its_own() {
        let toml = TWO_FUNCTIONS.replacen(
            "name = \"b\"\n",
            "name = \"b\"\nprovisioned_concurrency = 2\n",
            1,
        );
        let (_dir, config) = project(&toml);
        let w = workload(Some(&config), &args(&[]));
        let counts: Vec<u32> = w
            .functions
            .iter()
            .map(|f| f.provisioned_concurrency)
            .collect();
        assert_eq!(counts, vec![0, 2]);
        let report = Report::new(Some("shop".into()), w, &US_EAST_1, Vec::new());
        let text = render(&report);
        assert!(text.contains("b (128 MB, x86_64, 2 provisioned)"), "{text}");
        // 2 × 0.125 GB × 2,628,000 s × 0.0000041667, the same in every column.
        assert!(
            text.lines()
                .any(|l| l.starts_with("  Lambda provisioned concurrency")
                    && l.matches("2.74").count() == 3),
            "{text}"
        );
        let doc = serde_json::to_value(document(&report)).expect("serializes");
        assert_eq!(
            doc["monthly_usd"]["alb"]["lambda_provisioned_concurrency"],
            2.7375
        );
        assert_eq!(
            doc["workload"]["functions"][1]["provisioned_concurrency"],
            2
        );
    }
}
