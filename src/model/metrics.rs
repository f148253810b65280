//! `albkit top`'s numbers, without a network: the `GetMetricData` queries of a stack
//! (one per function and metric, ids `m0`, `m1`, … mapped back), the answers turned into
//! per-minute series over the window, the totals and latest latencies, the sparklines,
//! and the screen at a given terminal width. The metrics, statistics and dimensions, with
//! their AWS references, are in docs/operations.md.

use std::collections::BTreeMap;

use crate::model::shift::{left, ShiftState, TargetDims};

/// The period of every query: one point per minute.
pub const PERIOD_SECONDS: i32 = 60;

const ELB: &str = "AWS/ApplicationELB";
const LAMBDA: &str = "AWS/Lambda";

/// One metric `albkit top` reads, with the statistic it asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Metric {
    /// The target group's `RequestCount` (Sum).
    Requests,
    /// `HTTPCode_Target_4XX_Count` (Sum).
    Target4xx,
    /// `HTTPCode_Target_5XX_Count` (Sum).
    Target5xx,
    /// `TargetResponseTime` (p50), in seconds.
    P50,
    /// `TargetResponseTime` (p99), in seconds.
    P99,
    /// `LambdaUserError` (Sum): responses the load balancer could not use.
    LambdaUserErrors,
    /// `LambdaInternalError` (Sum): invocations the load balancer could not make.
    LambdaInternalErrors,
    /// The load balancer's own `HTTPCode_ELB_5XX_Count` (Sum).
    Elb5xx,
    /// Lambda `Errors` of the function (Sum).
    Errors,
    /// Lambda `Throttles` (Sum).
    Throttles,
    /// Lambda `ConcurrentExecutions` (Maximum).
    Concurrency,
}

impl Metric {
    /// The metrics of a target group, read from `AWS/ApplicationELB`.
    pub const TARGET: [Metric; 7] = [
        Metric::Requests,
        Metric::Target4xx,
        Metric::Target5xx,
        Metric::P50,
        Metric::P99,
        Metric::LambdaUserErrors,
        Metric::LambdaInternalErrors,
    ];
    /// The metrics of a function, read from `AWS/Lambda` by `FunctionName`.
    pub const FUNCTION: [Metric; 3] = [Metric::Errors, Metric::Throttles, Metric::Concurrency];

    /// (namespace, metric name, statistic) as `GetMetricData` takes them.
    pub fn query(self) -> (&'static str, &'static str, &'static str) {
        match self {
            Metric::Requests => (ELB, "RequestCount", "Sum"),
            Metric::Target4xx => (ELB, "HTTPCode_Target_4XX_Count", "Sum"),
            Metric::Target5xx => (ELB, "HTTPCode_Target_5XX_Count", "Sum"),
            Metric::P50 => (ELB, "TargetResponseTime", "p50"),
            Metric::P99 => (ELB, "TargetResponseTime", "p99"),
            Metric::LambdaUserErrors => (ELB, "LambdaUserError", "Sum"),
            Metric::LambdaInternalErrors => (ELB, "LambdaInternalError", "Sum"),
            Metric::Elb5xx => (ELB, "HTTPCode_ELB_5XX_Count", "Sum"),
            Metric::Errors => (LAMBDA, "Errors", "Sum"),
            Metric::Throttles => (LAMBDA, "Throttles", "Sum"),
            Metric::Concurrency => (LAMBDA, "ConcurrentExecutions", "Maximum"),
        }
    }

    /// Its key in the `per_minute` series of `albkit top -o json`.
    pub fn key(self) -> &'static str {
        match self {
            Metric::Requests => "requests",
            Metric::Target4xx => "target_4xx",
            Metric::Target5xx => "target_5xx",
            Metric::P50 => "p50_seconds",
            Metric::P99 => "p99_seconds",
            Metric::LambdaUserErrors => "lambda_user_errors",
            Metric::LambdaInternalErrors => "lambda_internal_errors",
            Metric::Elb5xx => "elb_5xx",
            Metric::Errors => "errors",
            Metric::Throttles => "throttles",
            Metric::Concurrency => "concurrency",
        }
    }
}

/// A function of the stack as `top` watches it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Watched {
    /// Its name in albkit.toml.
    pub function: String,
    /// The Lambda function's name (the `FunctionName` dimension).
    pub lambda_name: String,
    /// Its target group and load balancer; `None` when it is behind none.
    pub target: Option<TargetDims>,
}

/// One query of the `GetMetricData` call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Query {
    /// `m0`, `m1`, …: CloudWatch wants ids that start with a lower-case letter.
    pub id: String,
    /// The function it is about; `None` for the load balancer's own metric.
    pub function: Option<String>,
    pub metric: Metric,
    pub dimensions: Vec<(&'static str, String)>,
}

/// Every query of one refresh: per function its target group's metrics (when it is
/// behind a load balancer) and its Lambda metrics, then the load balancer's 5xx.
pub fn queries(watched: &[Watched]) -> Vec<Query> {
    let mut out = Vec::new();
    let mut push = |function: Option<&str>, metric, dimensions| {
        out.push(Query {
            id: format!("m{}", out.len()),
            function: function.map(str::to_string),
            metric,
            dimensions,
        });
    };
    for w in watched {
        if let Some(t) = &w.target {
            for m in Metric::TARGET {
                let dims = vec![
                    ("TargetGroup", t.target_group.clone()),
                    ("LoadBalancer", t.load_balancer.clone()),
                ];
                push(Some(&w.function), m, dims);
            }
        }
        for m in Metric::FUNCTION {
            push(
                Some(&w.function),
                m,
                vec![("FunctionName", w.lambda_name.clone())],
            );
        }
    }
    if let Some(lb) = watched.iter().find_map(|w| w.target.as_ref()) {
        push(
            None,
            Metric::Elb5xx,
            vec![("LoadBalancer", lb.load_balancer.clone())],
        );
    }
    out
}

/// One `MetricDataResult`: the query's id and its points (Unix seconds, value).
#[derive(Debug, Clone, PartialEq, serde::Deserialize)]
pub struct Answer {
    pub id: String,
    pub timestamps: Vec<i64>,
    pub values: Vec<f64>,
}

/// The window of a refresh: `minutes` whole minutes ending at the minute `now` is in
/// (the current, partial minute included).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    /// Unix seconds, on a minute.
    pub start: i64,
    pub minutes: usize,
}

impl Window {
    pub fn ending_at(now: i64, minutes: usize) -> Window {
        let end = now - now.rem_euclid(60) + 60;
        Window {
            start: end - 60 * minutes as i64,
            minutes,
        }
    }

    /// Unix seconds after the last minute.
    pub fn end(&self) -> i64 {
        self.start + 60 * self.minutes as i64
    }

    /// The points of `answer` by minute, oldest first; `None` where CloudWatch has none.
    pub fn series(&self, answer: &Answer) -> Vec<Option<f64>> {
        let mut out = vec![None; self.minutes];
        for (t, v) in answer.timestamps.iter().zip(&answer.values) {
            if *t < self.start || *t >= self.end() || !v.is_finite() {
                continue;
            }
            let slot = &mut out[((t - self.start) / 60) as usize];
            // Several points in one minute (an endpoint with a finer period than
            // asked): the largest counts.
            *slot = Some(slot.map_or(*v, |s: f64| s.max(*v)));
        }
        out
    }
}

/// A function's numbers over the window.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct FunctionStats {
    pub function: String,
    /// Per metric, one point per minute (`None`: no data that minute).
    pub series: BTreeMap<Metric, Vec<Option<f64>>>,
}

impl FunctionStats {
    fn points(&self, m: Metric) -> &[Option<f64>] {
        self.series.get(&m).map_or(&[], Vec::as_slice)
    }

    /// The sum over the window (0 without data).
    pub fn total(&self, m: Metric) -> f64 {
        self.points(m).iter().flatten().sum()
    }

    /// The sum over the window as a count; `None` when the metric was not read (a
    /// function behind no load balancer has no target group metrics).
    pub fn count(&self, m: Metric) -> Option<u64> {
        self.series
            .contains_key(&m)
            .then(|| self.total(m).round().max(0.0) as u64)
    }

    /// The largest point over the window.
    pub fn max(&self, m: Metric) -> Option<f64> {
        self.points(m).iter().flatten().copied().reduce(f64::max)
    }

    /// The latest minute that has a point.
    pub fn latest(&self, m: Metric) -> Option<f64> {
        self.points(m).iter().rev().flatten().next().copied()
    }

    /// Target 5xx as a percent of the requests; `None` without requests.
    pub fn percent_5xx(&self) -> Option<f64> {
        let requests = self.total(Metric::Requests);
        (requests > 0.0).then(|| 100.0 * self.total(Metric::Target5xx) / requests)
    }
}

/// Everything one refresh read.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Snapshot {
    pub functions: Vec<FunctionStats>,
    /// The load balancer's `HTTPCode_ELB_5XX_Count` per minute; empty without one.
    pub elb_5xx: Vec<Option<f64>>,
}

impl Snapshot {
    /// Sorts `answers` (by their query ids) into each function's series.
    pub fn of(watched: &[Watched], queries: &[Query], answers: &[Answer], w: Window) -> Self {
        let mut functions: Vec<FunctionStats> = watched
            .iter()
            .map(|x| FunctionStats {
                function: x.function.clone(),
                series: BTreeMap::new(),
            })
            .collect();
        let mut elb_5xx = Vec::new();
        for q in queries {
            // A long window comes in several pages, each with part of a query's points.
            let mut all = Answer {
                id: q.id.clone(),
                timestamps: Vec::new(),
                values: Vec::new(),
            };
            for a in answers.iter().filter(|a| a.id == q.id) {
                all.timestamps.extend(&a.timestamps);
                all.values.extend(&a.values);
            }
            let series = w.series(&all);
            match &q.function {
                None => elb_5xx = series,
                Some(f) => {
                    if let Some(stats) = functions.iter_mut().find(|s| &s.function == f) {
                        stats.series.insert(q.metric, series);
                    }
                }
            }
        }
        Snapshot { functions, elb_5xx }
    }
}

const BARS: [char; 8] = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];

/// The last `width` points as bars scaled to the largest of them (a row of zeros is
/// all `▁`); a minute without data is a space.
pub fn sparkline(points: &[Option<f64>], width: usize) -> String {
    let shown = &points[points.len().saturating_sub(width)..];
    let max = shown.iter().flatten().copied().fold(0.0_f64, f64::max);
    shown
        .iter()
        .map(|p| match p {
            None => ' ',
            Some(v) if max <= 0.0 || *v <= 0.0 => BARS[0],
            Some(v) => {
                let level = ((v / max) * BARS.len() as f64).ceil() as usize;
                BARS[level.clamp(1, BARS.len()) - 1]
            }
        })
        .collect()
}

/// A function's traffic shift as `top` shows it: `status`'s line, and for a shift in
/// flight the time left in its step (its deadline less the `grace` the run has past
/// the bake), at `now` (Unix seconds); `None` without a shift.
pub fn shift_line(
    state: &ShiftState,
    weights: &BTreeMap<String, f64>,
    now: u64,
    grace: u64,
) -> Option<String> {
    let line = state.summary(weights)?;
    Some(match state {
        ShiftState::InFlight(s) => {
            let step_end = s.until.saturating_sub(grace);
            let remaining = std::time::Duration::from_secs(step_end.saturating_sub(now));
            format!("{line}; step ends in {}", left(remaining))
        }
        _ => line,
    })
}

/// What the screen says above the table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Heading {
    pub stack: String,
    pub region: String,
    pub minutes: usize,
    /// The time of the refresh, as people read it (`12:04:31 UTC`).
    pub at: String,
    /// Each function's traffic shift, as `status` shows it.
    pub shifts: BTreeMap<String, String>,
}

fn count(v: f64) -> String {
    format!("{}", v.round() as i64)
}

/// A sum, or `-` when the metric was not read.
fn sum(f: &FunctionStats, m: Metric) -> String {
    f.count(m).map_or_else(|| "-".into(), |c| c.to_string())
}

fn millis(seconds: Option<f64>) -> String {
    seconds.map_or_else(|| "-".into(), |s| format!("{:.0} ms", s * 1000.0))
}

fn percent(p: Option<f64>) -> String {
    p.map_or_else(|| "-".into(), |p| format!("{p:.1}%"))
}

/// One table row of a function: the columns of [`HEADER`].
fn row(f: &FunctionStats) -> [String; 10] {
    [
        f.function.clone(),
        sum(f, Metric::Requests),
        sum(f, Metric::Target4xx),
        sum(f, Metric::Target5xx),
        percent(f.percent_5xx()),
        millis(f.latest(Metric::P50)),
        millis(f.latest(Metric::P99)),
        sum(f, Metric::Errors),
        sum(f, Metric::Throttles),
        f.max(Metric::Concurrency).map_or_else(|| "-".into(), count),
    ]
}

const HEADER: [&str; 10] = [
    "FUNCTION",
    "REQUESTS",
    "4XX",
    "5XX",
    "5XX%",
    "P50",
    "P99",
    "ERRORS",
    "THROTTLES",
    "CONC",
];

/// The sparkline rows under each function: label and metric.
const LINES: [(&str, Metric); 5] = [
    ("requests", Metric::Requests),
    ("5xx", Metric::Target5xx),
    ("p99", Metric::P99),
    ("errors", Metric::Errors),
    ("throttles", Metric::Throttles),
];

/// The table's lines: the header and a row per function, columns aligned.
fn table(s: &Snapshot) -> Vec<String> {
    let rows: Vec<[String; 10]> = s.functions.iter().map(row).collect();
    let widths: Vec<usize> = (0..HEADER.len())
        .map(|i| {
            rows.iter()
                .map(|r| r[i].chars().count())
                .chain([HEADER[i].len()])
                .max()
                .unwrap_or(0)
        })
        .collect();
    let line = |cells: Vec<&str>| {
        cells
            .iter()
            .enumerate()
            .map(|(i, c)| match i {
                0 => format!("{c:<w$}", w = widths[i]),
                _ => format!("{c:>w$}", w = widths[i]),
            })
            .collect::<Vec<_>>()
            .join("  ")
    };
    let mut out = vec![line(HEADER.to_vec())];
    out.extend(
        rows.iter()
            .map(|r| line(r.iter().map(String::as_str).collect())),
    );
    out
}

/// The whole screen, each line cut to `width` columns.
pub fn render(h: &Heading, s: &Snapshot, width: usize) -> String {
    let mut lines = vec![
        format!(
            "albkit top · {} · {} · last {} min · {}",
            h.stack, h.region, h.minutes, h.at
        ),
        String::new(),
    ];
    let table = table(s);
    lines.push(table[0].clone());
    // Four spaces, the label, two spaces, the sparkline.
    let label = LINES.iter().map(|(l, _)| l.len()).max().unwrap_or(0);
    let spark = width.saturating_sub(label + 6).max(1);
    for (f, row) in s.functions.iter().zip(&table[1..]) {
        lines.push(row.clone());
        for (name, m) in LINES {
            let points = f.series.get(&m).map_or(&[][..], Vec::as_slice);
            if !points.is_empty() {
                lines.push(format!("    {name:<label$}  {}", sparkline(points, spark)));
            }
        }
        if let Some(shift) = h.shifts.get(&f.function) {
            lines.push(format!("    shift: {shift}"));
        }
    }
    if !s.elb_5xx.is_empty() {
        let total: f64 = s.elb_5xx.iter().flatten().sum();
        lines.push(String::new());
        lines.push(format!("load balancer 5xx (its own): {}", count(total)));
    }
    lines
        .iter()
        .map(|l| {
            l.chars()
                .take(width)
                .collect::<String>()
                .trim_end()
                .to_string()
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A recorded answer: `GetMetricData`'s `MetricDataResults`, as the CLI prints them.
    const RECORDED: &str = include_str!("../../tests/fixtures/metrics/get_metric_data.json");

    /// 12:00:00 UTC on 2026-12-01.
    const NOON: i64 = 1_796_126_400;

    fn watched() -> Vec<Watched> {
        vec![
            Watched {
                function: "hello".into(),
                lambda_name: "shop--hello".into(),
                target: TargetDims::from_arns(
                    "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/shop-hello-4/6d0ecf831eec9f09",
                    "arn:aws:elasticloadbalancing:us-east-1:123456789012:loadbalancer/app/shop-alb/50dc6c495c0c9188",
                ),
            },
            Watched {
                function: "orders".into(),
                lambda_name: "shop--orders".into(),
                target: None,
            },
        ]
    }

    /// The recorded answers, timestamps from RFC 3339 text.
    fn recorded() -> Vec<Answer> {
        #[derive(serde::Deserialize)]
        #[serde(rename_all = "PascalCase")]
        struct Result {
            id: String,
            timestamps: Vec<String>,
            values: Vec<f64>,
        }
        #[derive(serde::Deserialize)]
        #[serde(rename_all = "PascalCase")]
        struct Doc {
            metric_data_results: Vec<Result>,
        }
        let doc: Doc = serde_json::from_str(RECORDED).expect("the recorded answer");
        doc.metric_data_results
            .into_iter()
            .map(|r| Answer {
                id: r.id,
                timestamps: r
                    .timestamps
                    .iter()
                    .map(|t| crate::model::lifecycle::parse_rfc3339(t).expect("time") / 1000)
                    .collect(),
                values: r.values,
            })
            .collect()
    }

    fn snapshot() -> Snapshot {
        let w = watched();
        Snapshot::of(
            &w,
            &queries(&w),
            &recorded(),
            Window::ending_at(NOON + 30, 10),
        )
    }

    #[test]
    fn every_metric_has_one_query_with_its_dimensions() {
        let q = queries(&watched());
        // hello: 7 target group metrics and 3 Lambda ones; orders: 3; the load balancer: 1.
        assert_eq!(q.len(), 14);
        let ids: Vec<&str> = q.iter().map(|q| q.id.as_str()).collect();
        assert_eq!(ids[0], "m0");
        assert_eq!(ids[13], "m13");
        assert_eq!(q[0].metric, Metric::Requests);
        assert_eq!(
            q[0].dimensions,
            [
                (
                    "TargetGroup",
                    "targetgroup/shop-hello-4/6d0ecf831eec9f09".to_string()
                ),
                ("LoadBalancer", "app/shop-alb/50dc6c495c0c9188".to_string()),
            ]
        );
        assert_eq!(q[10].function.as_deref(), Some("orders"));
        assert_eq!(
            q[10].dimensions,
            [("FunctionName", "shop--orders".to_string())]
        );
        assert_eq!(q[13].function, None);
        assert_eq!(q[13].metric.query(), (ELB, "HTTPCode_ELB_5XX_Count", "Sum"));
        assert_eq!(Metric::P99.query().2, "p99");
        assert_eq!(Metric::Concurrency.query().2, "Maximum");
    }

    #[test]
    fn a_window_ends_with_the_current_minute() {
        let w = Window::ending_at(NOON + 30, 10);
        assert_eq!(w.end(), NOON + 60);
        assert_eq!(w.start, NOON - 540);
        let a = Answer {
            id: "m0".into(),
            timestamps: vec![NOON, NOON - 540, NOON - 600, NOON + 60],
            values: vec![3.0, 1.0, 99.0, 99.0],
        };
        let s = w.series(&a);
        assert_eq!(s.len(), 10);
        assert_eq!(s[0], Some(1.0));
        assert_eq!(s[9], Some(3.0));
        assert_eq!(s.iter().flatten().count(), 2, "points outside are dropped");
    }

    #[test]
    fn recorded_answers_give_totals_percents_and_latest_latencies() {
        let s = snapshot();
        let hello = &s.functions[0];
        assert_eq!(hello.total(Metric::Requests), 1268.0);
        assert_eq!(hello.total(Metric::Target5xx), 7.0);
        let p = hello.percent_5xx().expect("requests");
        assert!((p - 0.552).abs() < 0.001, "{p}");
        // The last minute has no latency yet: the one before is the latest.
        assert_eq!(hello.latest(Metric::P99), Some(0.231));
        assert_eq!(hello.max(Metric::Concurrency), Some(6.0));
        let orders = &s.functions[1];
        assert_eq!(orders.percent_5xx(), None);
        assert!(!orders.series.contains_key(&Metric::Requests));
        assert_eq!(orders.total(Metric::Throttles), 2.0);
        assert_eq!(s.elb_5xx.iter().flatten().sum::<f64>(), 1.0);
    }

    #[test]
    fn a_shift_in_flight_shows_the_time_left_in_its_step() {
        let shift = crate::model::shift::Shift {
            to: "8".into(),
            from: "7".into(),
            strategy: "canary:10%:5m".parse().expect("strategy"),
            step: 1,
            steps: 1,
            until: NOON as u64 + 300 + 120,
        };
        let weights = BTreeMap::from([("8".to_string(), 0.1)]);
        let line = shift_line(
            &ShiftState::InFlight(shift.clone()),
            &weights,
            NOON as u64 + 70,
            120,
        );
        assert_eq!(
            line.as_deref(),
            Some("in flight to version 8 at 10% (from 7, canary:10%:5m, step 1/1); step ends in 3m 50s")
        );
        let stranded = shift_line(
            &ShiftState::Stranded(shift),
            &weights,
            NOON as u64 + 900,
            120,
        );
        assert!(stranded.is_some_and(|l| l.starts_with("stranded") && !l.contains("ends in")));
        assert_eq!(
            shift_line(&ShiftState::Idle, &BTreeMap::new(), 0, 120),
            None
        );
    }

    #[test]
    fn sparklines_scale_per_row_and_leave_gaps_blank() {
        let p = [Some(0.0), Some(1.0), None, Some(4.0), Some(8.0)];
        assert_eq!(sparkline(&p, 10), "▁▁ ▄█");
        assert_eq!(sparkline(&p, 2), "▄█");
        assert_eq!(sparkline(&[Some(0.0), Some(0.0)], 5), "▁▁");
        assert_eq!(sparkline(&[None, None], 5), "  ");
    }

    #[test]
    fn the_screen_fits_the_terminal() {
        let mut shifts = BTreeMap::new();
        shifts.insert(
            "hello".to_string(),
            "in flight to version 8 at 10% (from 7, canary:10%:5m, step 1/1); step ends in 3m 50s"
                .to_string(),
        );
        let h = Heading {
            stack: "shop".into(),
            region: "us-east-1".into(),
            minutes: 10,
            at: "12:00:30 UTC".into(),
            shifts,
        };
        let screen = render(&h, &snapshot(), 100);
        insta::assert_snapshot!(screen);
        let narrow = render(&h, &snapshot(), 40);
        assert!(narrow.lines().all(|l| l.chars().count() <= 40), "{narrow}");
    }
}
