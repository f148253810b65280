//! What the stack costs per month, against API Gateway for the same traffic. Pure: the
//! prices are a table in this file, the traffic a [`Workload`]; no AWS call is made.
//!
//! An estimate, not a quote: on-demand prices of one region, no free tier, no data
//! transfer out, no CloudWatch Logs or S3 storage, steady traffic all month.
//!
//! The function code is the same whichever front invokes it, so Lambda costs the same in
//! all three options; it is shown to give the whole bill. ALB + Lambda costs a fixed
//! amount per hour plus LCUs proportional to the traffic; API Gateway costs nothing idle
//! and a (tiered) price per request. The break-even traffic is where the two totals
//! cross, solved exactly on their piecewise-linear shape ([`break_even`]).

use serde::Serialize;

use super::config::Architecture;

/// One band of a tiered price: `usd` per unit up to `up_to` units a month (cumulative;
/// `None`: no upper bound).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Tier {
    pub up_to: Option<f64>,
    pub usd: f64,
}

/// On-demand prices of one region, in USD.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Prices {
    pub region: &'static str,
    /// When the table was compiled from AWS's public pricing pages (YYYY-MM-DD).
    pub taken: &'static str,
    /// Hours in a billing month, as AWS's calculator counts them.
    pub hours_per_month: f64,
    /// Per Application Load Balancer-hour.
    pub alb_hour: f64,
    /// Per LCU-hour.
    pub alb_lcu_hour: f64,
    /// One LCU: this many new connections per second…
    pub lcu_new_connections_per_second: f64,
    /// …or this many active connections (sampled per minute)…
    pub lcu_active_connections: f64,
    /// …or this many GB processed per hour with Lambda targets…
    pub lcu_lambda_gb_per_hour: f64,
    /// …or this many rule evaluations per second…
    pub lcu_rule_evaluations_per_second: f64,
    /// …beyond the first rules of each request, which are free.
    pub free_rules_per_request: f64,
    /// Lambda, per million requests.
    pub lambda_per_million_requests: f64,
    /// Lambda duration per GB-second, by architecture (tiers in GB-seconds a month).
    pub lambda_x86_64_gb_second: &'static [Tier],
    pub lambda_arm64_gb_second: &'static [Tier],
    /// Provisioned concurrency, per GB-second an environment is kept (whether it runs or
    /// not), by architecture…
    pub provisioned_x86_64_gb_second: f64,
    pub provisioned_arm64_gb_second: f64,
    /// …and per GB-second of the invocations those environments run (in place of the
    /// on-demand duration price).
    pub provisioned_x86_64_duration_gb_second: f64,
    pub provisioned_arm64_duration_gb_second: f64,
    /// API Gateway REST API, per million requests (tiers in millions a month).
    pub rest_api_per_million: &'static [Tier],
    /// API Gateway HTTP API, per million requests (tiers in millions a month)…
    pub http_api_per_million: &'static [Tier],
    /// …each request metered in increments of this many KB.
    pub http_api_metering_kb: f64,
    /// A standard-resolution CloudWatch metric alarm, per month (`[alarms]`).
    pub cloudwatch_alarm_month: f64,
    /// A CloudWatch dashboard, per month (the account's first 3 free not counted).
    pub cloudwatch_dashboard_month: f64,
}

/// us-east-1 (N. Virginia), from the Elastic Load Balancing, AWS Lambda, Amazon API
/// Gateway and Amazon CloudWatch pricing pages.
pub const US_EAST_1: Prices = Prices {
    region: "us-east-1",
    taken: "2026-11-21",
    hours_per_month: 730.0,
    alb_hour: 0.0225,
    alb_lcu_hour: 0.008,
    lcu_new_connections_per_second: 25.0,
    lcu_active_connections: 3000.0,
    lcu_lambda_gb_per_hour: 0.4,
    lcu_rule_evaluations_per_second: 1000.0,
    free_rules_per_request: 10.0,
    lambda_per_million_requests: 0.20,
    lambda_x86_64_gb_second: &[
        Tier {
            up_to: Some(6e9),
            usd: 0.000_016_666_7,
        },
        Tier {
            up_to: Some(15e9),
            usd: 0.000_015,
        },
        Tier {
            up_to: None,
            usd: 0.000_013_333_4,
        },
    ],
    lambda_arm64_gb_second: &[
        Tier {
            up_to: Some(7.5e9),
            usd: 0.000_013_333_4,
        },
        Tier {
            up_to: Some(18.75e9),
            usd: 0.000_012_000_1,
        },
        Tier {
            up_to: None,
            usd: 0.000_010_666_7,
        },
    ],
    provisioned_x86_64_gb_second: 0.000_004_166_7,
    provisioned_arm64_gb_second: 0.000_003_333_4,
    provisioned_x86_64_duration_gb_second: 0.000_009_722_2,
    provisioned_arm64_duration_gb_second: 0.000_007_777_8,
    rest_api_per_million: &[
        Tier {
            up_to: Some(333.0),
            usd: 3.50,
        },
        Tier {
            up_to: Some(1_000.0),
            usd: 2.80,
        },
        Tier {
            up_to: Some(20_000.0),
            usd: 2.38,
        },
        Tier {
            up_to: None,
            usd: 1.51,
        },
    ],
    http_api_per_million: &[
        Tier {
            up_to: Some(300.0),
            usd: 1.00,
        },
        Tier {
            up_to: None,
            usd: 0.90,
        },
    ],
    http_api_metering_kb: 512.0,
    cloudwatch_alarm_month: 0.10,
    cloudwatch_dashboard_month: 3.0,
};

/// What costs nothing here but may on the bill.
pub const EXCLUDED: &[&str] = &[
    "free tiers (Lambda's monthly 1M requests and 400,000 GB-s, the first year's ALB and API Gateway allowances)",
    "data transfer out to the internet (the same for all three options)",
    "CloudWatch Logs ingestion and storage, the S3 access-log bucket, Route 53 (the VPC, security groups and ACM certificates cost nothing)",
    "API Gateway caching, custom domains, WAF; Lambda ephemeral storage",
];

/// A 1 KB is 1,024 bytes, a GB 1,024³ bytes (as Lambda counts memory).
const KB_PER_GB: f64 = 1024.0 * 1024.0;
const SECONDS_PER_HOUR: f64 = 3600.0;

/// One function's share of the traffic.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FunctionLoad {
    pub name: String,
    pub memory_mb: u32,
    pub architecture: &'static str,
    #[serde(skip)]
    pub arch: Architecture,
    /// Environments kept initialized (`provisioned_concurrency`), 0 for none.
    pub provisioned_concurrency: u32,
}

/// The traffic to price, steady over the month.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Workload {
    pub requests_per_second: f64,
    /// Average billed duration of one invocation.
    pub avg_duration_ms: f64,
    /// The requests are split evenly across these functions.
    pub functions: Vec<FunctionLoad>,
    /// Request plus response, headers included.
    pub kb_per_request: f64,
    /// Requests a client sends on one connection before closing it.
    pub requests_per_connection: f64,
    /// How long a connection stays open: the load balancer's idle timeout.
    pub connection_seconds: f64,
    /// Listener rules a request may be evaluated against (the routes).
    pub listener_rules: u32,
    /// The stack's CloudWatch alarms (`[alarms]`), whichever front it has.
    pub alarms: u32,
    /// Its CloudWatch dashboards (0 or 1).
    pub dashboards: u32,
}

/// LCUs per hour that each dimension needs; the largest is billed.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct LcuDimensions {
    pub new_connections: f64,
    pub active_connections: f64,
    pub processed_bytes: f64,
    pub rule_evaluations: f64,
}

impl LcuDimensions {
    pub fn billed(&self) -> f64 {
        self.new_connections
            .max(self.active_connections)
            .max(self.processed_bytes)
            .max(self.rule_evaluations)
    }

    /// The dimension that sets the bill.
    pub fn dominant(&self) -> &'static str {
        let all = [
            ("new connections", self.new_connections),
            ("active connections", self.active_connections),
            ("processed bytes", self.processed_bytes),
            ("rule evaluations", self.rule_evaluations),
        ];
        all.iter()
            .fold(all[0], |best, d| if d.1 > best.1 { *d } else { best })
            .0
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct AlbCost {
    pub hours_usd: f64,
    pub lcu_per_hour: f64,
    pub lcu_dimensions: LcuDimensions,
    pub lcu_usd: f64,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct LambdaCost {
    pub requests_usd: f64,
    pub gb_seconds: f64,
    /// The invocations: on-demand, and on provisioned environments at their price.
    pub duration_usd: f64,
    /// The provisioned environments themselves, kept all month.
    pub provisioned_usd: f64,
}

impl LambdaCost {
    pub fn total(&self) -> f64 {
        self.requests_usd + self.duration_usd + self.provisioned_usd
    }
}

/// A month of the workload behind each front.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Estimate {
    pub monthly_requests: f64,
    pub alb: AlbCost,
    pub lambda: LambdaCost,
    pub rest_api_requests_usd: f64,
    pub http_api_requests_usd: f64,
    /// Requests as the HTTP API meters them (each started `http_api_metering_kb`).
    pub http_api_metered_requests: f64,
    pub alb_total_usd: f64,
    pub rest_api_total_usd: f64,
    pub http_api_total_usd: f64,
    /// The stack's alarms, the same whichever front (in every total).
    pub alarms_usd: f64,
    /// Its dashboard, likewise.
    pub dashboards_usd: f64,
}

/// Which API Gateway flavour to compare with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Gateway {
    Rest,
    Http,
}

/// Where ALB + Lambda is cheaper than the gateway + Lambda: from `from_rps` (`None`:
/// never) up to `until_rps` (`None`: at any higher traffic).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct BreakEven {
    pub from_rps: Option<f64>,
    pub until_rps: Option<f64>,
}

/// The price of `amount` units under a tiered price.
pub fn tiered(amount: f64, tiers: &[Tier]) -> f64 {
    let mut total = 0.0;
    let mut floor = 0.0;
    for t in tiers {
        if amount <= floor {
            break;
        }
        let top = t.up_to.map_or(amount, |u| u.min(amount));
        total += (top - floor) * t.usd;
        match t.up_to {
            Some(u) => floor = u,
            None => break,
        }
    }
    total
}

fn seconds_per_month(p: &Prices) -> f64 {
    p.hours_per_month * SECONDS_PER_HOUR
}

impl Workload {
    fn monthly_requests(&self, p: &Prices) -> f64 {
        self.requests_per_second * seconds_per_month(p)
    }

    /// GB-seconds a month per request per second, for one architecture.
    fn gb_seconds_per_rps(&self, p: &Prices, arch: Architecture) -> f64 {
        let n = self.functions.len().max(1) as f64;
        let billed_seconds = self.billed_seconds();
        self.functions
            .iter()
            .filter(|f| f.arch == arch)
            .map(|f| f64::from(f.memory_mb) / 1024.0 * billed_seconds / n)
            .sum::<f64>()
            * seconds_per_month(p)
    }

    /// One invocation's billed duration, in seconds.
    fn billed_seconds(&self) -> f64 {
        self.avg_duration_ms.max(0.0).ceil() / 1000.0
    }

    /// A function's provisioned environments over the month, and the part of its
    /// invocations' GB-seconds they run: at a steady traffic a function is running
    /// `rps × duration` invocations at any moment, and up to its provisioned count of
    /// them run on provisioned environments (Lambda sends an invocation to one when one
    /// is free), the rest on demand.
    fn provisioned_gb_seconds(&self, p: &Prices, f: &FunctionLoad) -> (f64, f64) {
        let gb = f64::from(f.memory_mb) / 1024.0;
        let kept = f64::from(f.provisioned_concurrency);
        let share = self.requests_per_second / self.functions.len().max(1) as f64;
        let running = share * self.billed_seconds();
        let month = seconds_per_month(p);
        (kept * gb * month, running.min(kept) * gb * month)
    }

    fn http_metering_factor(&self, p: &Prices) -> f64 {
        (self.kb_per_request / p.http_api_metering_kb)
            .ceil()
            .max(1.0)
    }

    /// The same workload at another traffic level.
    pub fn at(&self, requests_per_second: f64) -> Workload {
        Workload {
            requests_per_second,
            ..self.clone()
        }
    }
}

fn lcu_dimensions(w: &Workload, p: &Prices) -> LcuDimensions {
    let r = w.requests_per_second;
    let connections_per_second = r / w.requests_per_connection.max(1.0);
    let gb_per_hour = r * w.kb_per_request * SECONDS_PER_HOUR / KB_PER_GB;
    let paid_rules = (f64::from(w.listener_rules) - p.free_rules_per_request).max(0.0);
    LcuDimensions {
        new_connections: connections_per_second / p.lcu_new_connections_per_second,
        active_connections: connections_per_second * w.connection_seconds
            / p.lcu_active_connections,
        processed_bytes: gb_per_hour / p.lcu_lambda_gb_per_hour,
        rule_evaluations: r * paid_rules / p.lcu_rule_evaluations_per_second,
    }
}

fn gb_second_tiers(p: &Prices, arch: Architecture) -> &'static [Tier] {
    match arch {
        Architecture::X86_64 => p.lambda_x86_64_gb_second,
        Architecture::Arm64 => p.lambda_arm64_gb_second,
    }
}

const ARCHITECTURES: [Architecture; 2] = [Architecture::X86_64, Architecture::Arm64];

/// The provisioned prices of an architecture: environments kept, invocations run.
fn provisioned_prices(p: &Prices, arch: Architecture) -> (f64, f64) {
    match arch {
        Architecture::X86_64 => (
            p.provisioned_x86_64_gb_second,
            p.provisioned_x86_64_duration_gb_second,
        ),
        Architecture::Arm64 => (
            p.provisioned_arm64_gb_second,
            p.provisioned_arm64_duration_gb_second,
        ),
    }
}

/// Lambda's month: requests, the invocations' GB-seconds (those run by provisioned
/// environments at their price, the rest on demand with its tiers) and the provisioned
/// environments.
fn lambda_cost(w: &Workload, p: &Prices, monthly_requests: f64) -> LambdaCost {
    let mut gb_seconds = 0.0;
    let mut duration_usd = 0.0;
    let mut provisioned_usd = 0.0;
    for arch in ARCHITECTURES {
        let gbs = w.gb_seconds_per_rps(p, arch) * w.requests_per_second;
        let (kept_price, run_price) = provisioned_prices(p, arch);
        let mut on_provisioned = 0.0;
        for f in w.functions.iter().filter(|f| f.arch == arch) {
            let (kept, run) = w.provisioned_gb_seconds(p, f);
            provisioned_usd += kept * kept_price;
            on_provisioned += run;
        }
        gb_seconds += gbs;
        duration_usd += on_provisioned * run_price;
        duration_usd += tiered((gbs - on_provisioned).max(0.0), gb_second_tiers(p, arch));
    }
    LambdaCost {
        requests_usd: monthly_requests / 1e6 * p.lambda_per_million_requests,
        gb_seconds,
        duration_usd,
        provisioned_usd,
    }
}

pub fn estimate(w: &Workload, p: &Prices) -> Estimate {
    let monthly_requests = w.monthly_requests(p);
    let dims = lcu_dimensions(w, p);
    let lcu_per_hour = dims.billed();
    let alb = AlbCost {
        hours_usd: p.alb_hour * p.hours_per_month,
        lcu_per_hour,
        lcu_dimensions: dims,
        lcu_usd: lcu_per_hour * p.alb_lcu_hour * p.hours_per_month,
    };
    let lambda = lambda_cost(w, p, monthly_requests);
    let http_api_metered_requests = monthly_requests * w.http_metering_factor(p);
    let rest = tiered(monthly_requests / 1e6, p.rest_api_per_million);
    let http = tiered(http_api_metered_requests / 1e6, p.http_api_per_million);
    let alarms_usd = f64::from(w.alarms) * p.cloudwatch_alarm_month;
    let dashboards_usd = f64::from(w.dashboards) * p.cloudwatch_dashboard_month;
    let shared = lambda.total() + alarms_usd + dashboards_usd;
    Estimate {
        monthly_requests,
        alb,
        lambda,
        rest_api_requests_usd: rest,
        http_api_requests_usd: http,
        http_api_metered_requests,
        alb_total_usd: alb.hours_usd + alb.lcu_usd + shared,
        rest_api_total_usd: rest + shared,
        http_api_total_usd: http + shared,
        alarms_usd,
        dashboards_usd,
    }
}

/// ALB + Lambda minus gateway + Lambda, per month, at `rps`.
fn difference(w: &Workload, p: &Prices, gateway: Gateway, rps: f64) -> f64 {
    let e = estimate(&w.at(rps), p);
    e.alb_total_usd
        - match gateway {
            Gateway::Rest => e.rest_api_total_usd,
            Gateway::Http => e.http_api_total_usd,
        }
}

/// Traffic levels (requests per second) where one of the tiered prices changes band:
/// between two of them, both totals are linear in the traffic.
fn breakpoints(w: &Workload, p: &Prices, gateway: Gateway) -> Vec<f64> {
    let per_rps_millions = seconds_per_month(p) / 1e6;
    let (tiers, factor) = match gateway {
        Gateway::Rest => (p.rest_api_per_million, 1.0),
        Gateway::Http => (p.http_api_per_million, w.http_metering_factor(p)),
    };
    let mut points: Vec<f64> = tiers
        .iter()
        .filter_map(|t| t.up_to)
        .map(|u| u / (per_rps_millions * factor))
        .collect();
    for arch in ARCHITECTURES {
        let per_rps = w.gb_seconds_per_rps(p, arch);
        if per_rps > 0.0 {
            points.extend(
                gb_second_tiers(p, arch)
                    .iter()
                    .filter_map(|t| t.up_to)
                    .map(|u| u / per_rps),
            );
        }
    }
    points.retain(|x| x.is_finite() && *x > 0.0);
    points.push(0.0);
    points.sort_by(f64::total_cmp);
    points.dedup();
    points
}

/// The traffic from which ALB + Lambda costs less than `gateway` + Lambda (and, if it
/// stops being cheaper at higher traffic, up to where). Exact: the difference of the two
/// totals is linear between consecutive [`breakpoints`], so each crossing is the root of
/// a line.
pub fn break_even(w: &Workload, p: &Prices, gateway: Gateway) -> BreakEven {
    let d = |rps: f64| difference(w, p, gateway, rps);
    let points = breakpoints(w, p, gateway);
    let mut from: Option<f64> = if d(0.0) < 0.0 { Some(0.0) } else { None };
    for (i, &a) in points.iter().enumerate() {
        // The last segment is unbounded; any point beyond `a` gives its slope.
        let (b, bounded) = match points.get(i + 1) {
            Some(&b) => (b, true),
            None => (a + a.max(1.0), false),
        };
        let (da, db) = (d(a), d(b));
        let root = |target_sign_negative: bool| -> Option<f64> {
            let crosses = if target_sign_negative {
                da >= 0.0 && db < 0.0
            } else {
                da < 0.0 && db >= 0.0
            };
            if bounded {
                crosses.then(|| a + da * (b - a) / (da - db))
            } else {
                // Beyond `a` the line keeps its slope for ever.
                let slope = (db - da) / (b - a);
                let heads_there = if target_sign_negative {
                    da >= 0.0 && slope < 0.0
                } else {
                    da < 0.0 && slope > 0.0
                };
                heads_there.then(|| a - da / slope)
            }
        };
        match from {
            // A line crosses once: the way back is looked for from the next segment on.
            None => from = root(true),
            Some(_) => {
                if let Some(r) = root(false) {
                    return BreakEven {
                        from_rps: from,
                        until_rps: Some(r),
                    };
                }
            }
        }
    }
    BreakEven {
        from_rps: from,
        until_rps: None,
    }
}

/// One traffic level of a cost chart: the monthly totals of the three fronts.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CurvePoint {
    pub requests_per_second: f64,
    pub alb_usd: f64,
    pub rest_api_usd: f64,
    pub http_api_usd: f64,
}

/// The traffic a cost chart spans: whole decades around every traffic it marks (the
/// workload's own and the break-evens), one decade beyond on each side, from 0.001 rps.
pub fn chart_range(w: &Workload, marks: &[BreakEven]) -> (f64, f64) {
    let mut levels = vec![w.requests_per_second];
    for m in marks {
        levels.extend(m.from_rps.into_iter().chain(m.until_rps));
    }
    let levels: Vec<f64> = levels.into_iter().filter(|r| *r > 0.0).collect();
    let low = levels.iter().copied().fold(f64::INFINITY, f64::min);
    let high = levels.iter().copied().fold(0.0, f64::max);
    if levels.is_empty() {
        return (0.01, 1000.0);
    }
    let decade = |x: f64, up: bool| {
        let e = x.log10();
        10f64.powf(if up { e.ceil() } else { e.floor() })
    };
    let low = (decade(low, false) / 10.0).max(0.001);
    let high = (decade(high, true) * 10.0).max(low * 100.0);
    (low, high)
}

/// `n` (at least 2) points from `low` to `high` requests per second, evenly spaced on a
/// logarithmic axis, each with the three monthly totals.
pub fn curve(w: &Workload, p: &Prices, low: f64, high: f64, n: usize) -> Vec<CurvePoint> {
    let n = n.max(2);
    let (a, b) = (low.max(f64::MIN_POSITIVE).ln(), high.max(low).ln());
    (0..n)
        .map(|i| {
            let rps = (a + (b - a) * i as f64 / (n - 1) as f64).exp();
            let e = estimate(&w.at(rps), p);
            CurvePoint {
                requests_per_second: rps,
                alb_usd: e.alb_total_usd,
                rest_api_usd: e.rest_api_total_usd,
                http_api_usd: e.http_api_total_usd,
            }
        })
        .collect()
}

/// The assumptions behind the non-request dimensions, in words.
pub fn assumptions(w: &Workload, p: &Prices) -> Vec<String> {
    let mut out = vec![
        format!(
            "steady traffic, {} hours a month; requests split evenly across {} function(s)",
            p.hours_per_month,
            w.functions.len()
        ),
        format!(
            "{} KB processed per request (request + response, headers included; 1 KB = 1,024 bytes, 1 GB = 1,024^3 bytes)",
            w.kb_per_request
        ),
        format!(
            "{} request(s) per client connection; each connection open {} s (the load balancer's idle timeout)",
            w.requests_per_connection, w.connection_seconds
        ),
        format!(
            "{} listener rule(s) evaluated per request (the first {} are free)",
            w.listener_rules, p.free_rules_per_request
        ),
        format!(
            "every invocation billed {} ms (the average, rounded up to the millisecond)",
            w.avg_duration_ms.max(0.0).ceil()
        ),
        format!(
            "HTTP API requests metered in {} KB increments",
            p.http_api_metering_kb
        ),
    ];
    if w.alarms > 0 {
        out.push(format!(
            "{} CloudWatch alarm(s) at ${:.2} each a month (standard resolution; the account's 10 free alarms not counted), in every option's total",
            w.alarms, p.cloudwatch_alarm_month
        ));
    }
    if w.dashboards > 0 {
        out.push(format!(
            "{} CloudWatch dashboard(s) at ${:.2} each a month (the account's 3 free dashboards not counted), in every option's total",
            w.dashboards, p.cloudwatch_dashboard_month
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_chart_spans_whole_decades_around_what_it_marks() {
        let w = default_workload().at(10.0);
        let none = BreakEven {
            from_rps: None,
            until_rps: None,
        };
        assert_eq!(chart_range(&w, &[none]), (1.0, 100.0));
        let marks = BreakEven {
            from_rps: Some(0.37),
            until_rps: Some(2_500.0),
        };
        assert_eq!(chart_range(&w, &[marks, none]), (0.01, 100_000.0));
        // Zero traffic and no break-even: a default span, never a log of zero.
        assert_eq!(chart_range(&w.at(0.0), &[none]), (0.01, 1000.0));
        let tiny = w.at(0.000_01);
        assert_eq!(chart_range(&tiny, &[none]).0, 0.001);
    }

    #[test]
    fn a_curve_is_log_spaced_and_prices_each_point_like_estimate() {
        let w = default_workload();
        let points = curve(&w, &US_EAST_1, 0.1, 1000.0, 5);
        let rps: Vec<f64> = points.iter().map(|p| p.requests_per_second).collect();
        for (got, want) in rps.iter().zip([0.1, 1.0, 10.0, 100.0, 1000.0]) {
            close(*got, want);
        }
        for p in &points {
            let e = estimate(&w.at(p.requests_per_second), &US_EAST_1);
            close(p.alb_usd, e.alb_total_usd);
            close(p.rest_api_usd, e.rest_api_total_usd);
            close(p.http_api_usd, e.http_api_total_usd);
        }
        // Costs only grow with traffic.
        assert!(points.windows(2).all(|w| w[0].alb_usd <= w[1].alb_usd));
        assert_eq!(curve(&w, &US_EAST_1, 1.0, 10.0, 0).len(), 2);
    }

    fn close(actual: f64, expected: f64) {
        let tolerance = 1e-6 * expected.abs().max(1.0);
        assert!(
            (actual - expected).abs() <= tolerance,
            "expected {expected}, got {actual}"
        );
    }

    fn function(memory_mb: u32, arch: Architecture) -> FunctionLoad {
        FunctionLoad {
            name: "f".into(),
            memory_mb,
            architecture: arch.as_str(),
            arch,
            provisioned_concurrency: 0,
        }
    }

    /// 10 req/s, 20 ms at 128 MB on x86_64, 2 KB per request, a new connection per
    /// request kept 60 s, one rule.
    fn default_workload() -> Workload {
        Workload {
            requests_per_second: 10.0,
            avg_duration_ms: 20.0,
            functions: vec![function(128, Architecture::X86_64)],
            kb_per_request: 2.0,
            requests_per_connection: 1.0,
            connection_seconds: 60.0,
            listener_rules: 1,
            alarms: 0,
            dashboards: 0,
        }
    }

    #[test]
    fn alarms_cost_the_same_behind_every_front() {
        let w = default_workload();
        let none = estimate(&w, &US_EAST_1);
        let with = estimate(
            &Workload {
                alarms: 13,
                dashboards: 1,
                ..w.clone()
            },
            &US_EAST_1,
        );
        close(with.alarms_usd, 1.30);
        close(with.dashboards_usd, 3.0);
        close(with.alb_total_usd - none.alb_total_usd, 4.30);
        close(with.rest_api_total_usd - none.rest_api_total_usd, 4.30);
        close(with.http_api_total_usd - none.http_api_total_usd, 4.30);
        assert_eq!(
            break_even(&w, &US_EAST_1, Gateway::Rest),
            break_even(&Workload { alarms: 13, ..w }, &US_EAST_1, Gateway::Rest)
        );
    }

    #[test]
    fn tiered_prices_charge_each_band_at_its_rate() {
        let tiers = US_EAST_1.rest_api_per_million;
        close(tiered(0.0, tiers), 0.0);
        close(tiered(100.0, tiers), 350.0);
        // 333 × 3.50 + 167 × 2.80
        close(tiered(500.0, tiers), 1165.5 + 467.6);
        // 333 × 3.50 + 667 × 2.80 + 19,000 × 2.38 + 1,000 × 1.51
        close(tiered(21_000.0, tiers), 1165.5 + 1867.6 + 45_220.0 + 1510.0);
    }

    #[test]
    fn hand_computed_month_at_ten_requests_per_second() {
        let e = estimate(&default_workload(), &US_EAST_1);
        // 10 × 730 h × 3,600 s
        close(e.monthly_requests, 26_280_000.0);
        // 10 new connections/s ÷ 25; 10 × 60 s ÷ 3,000; 10 × 2 KB × 3,600 s = 72,000 KB
        // = 0.0686646 GB an hour ÷ 0.4; one rule is within the 10 free.
        close(e.alb.lcu_dimensions.new_connections, 0.4);
        close(e.alb.lcu_dimensions.active_connections, 0.2);
        close(e.alb.lcu_dimensions.processed_bytes, 0.171_661_377);
        close(e.alb.lcu_dimensions.rule_evaluations, 0.0);
        assert_eq!(e.alb.lcu_dimensions.dominant(), "new connections");
        close(e.alb.lcu_per_hour, 0.4);
        // 0.0225 × 730; 0.4 × 0.008 × 730
        close(e.alb.hours_usd, 16.425);
        close(e.alb.lcu_usd, 2.336);
        // 26.28 M × 0.20; 26.28 M × 0.125 GB × 0.020 s = 65,700 GB-s × 0.0000166667
        close(e.lambda.requests_usd, 5.256);
        close(e.lambda.gb_seconds, 65_700.0);
        close(e.lambda.duration_usd, 1.095_002_19);
        // 26.28 × 3.50; 26.28 × 1.00
        close(e.rest_api_requests_usd, 91.98);
        close(e.http_api_requests_usd, 26.28);
        close(e.alb_total_usd, 16.425 + 2.336 + 6.351_002_19);
        close(e.rest_api_total_usd, 91.98 + 6.351_002_19);
        close(e.http_api_total_usd, 26.28 + 6.351_002_19);
    }

    #[test]
    fn provisioned_environments_are_billed_all_month_and_run_what_they_can() {
        let mut w = default_workload();
        w.functions[0].provisioned_concurrency = 2;
        let e = estimate(&w, &US_EAST_1);
        // 2 × 0.125 GB × 2,628,000 s = 657,000 GB-s × 0.0000041667. At 10 req/s of
        // 20 ms, 0.2 invocations run at once: all on the 2 environments, 65,700 GB-s at
        // 0.0000097222, none on demand.
        close(e.lambda.provisioned_usd, 2.737_521_9);
        close(e.lambda.duration_usd, 0.638_748_54);
        close(e.lambda.gb_seconds, 65_700.0);
        close(
            e.alb_total_usd,
            16.425 + 2.336 + 5.256 + 2.737_521_9 + 0.638_748_54,
        );
        // At 100 req/s, 2 run at once: one on the single environment (328,500 GB-s at
        // the provisioned price), one on demand (328,500 GB-s at 0.0000166667).
        w.functions[0].provisioned_concurrency = 1;
        let e = estimate(&w.at(100.0), &US_EAST_1);
        close(e.lambda.provisioned_usd, 1.368_760_95);
        close(e.lambda.duration_usd, 3.193_742_7 + 5.475_010_95);
        // The same function behind each front: the break-even does not move.
        let from = |w: &Workload| break_even(w, &US_EAST_1, Gateway::Http).from_rps;
        close(
            from(&w).unwrap_or_default(),
            from(&default_workload()).unwrap_or_default(),
        );
    }

    #[test]
    fn arm64_duration_is_cheaper_and_mixed_stacks_split_the_traffic() {
        let mut w = default_workload();
        w.functions = vec![function(128, Architecture::Arm64)];
        let e = estimate(&w, &US_EAST_1);
        // 65,700 GB-s × 0.0000133334
        close(e.lambda.duration_usd, 0.876_004_38);
        // Half the requests on 256 MB x86_64, half on 128 MB arm64:
        // 13.14 M × 0.25 × 0.02 = 65,700 GB-s x86; 13.14 M × 0.125 × 0.02 = 32,850 arm64.
        w.functions = vec![
            function(256, Architecture::X86_64),
            function(128, Architecture::Arm64),
        ];
        let e = estimate(&w, &US_EAST_1);
        close(e.lambda.gb_seconds, 98_550.0);
        close(
            e.lambda.duration_usd,
            65_700.0 * 0.000_016_666_7 + 32_850.0 * 0.000_013_333_4,
        );
        // Requests are priced the same whatever the architecture.
        close(e.lambda.requests_usd, 5.256);
    }

    #[test]
    fn durations_are_billed_by_the_started_millisecond() {
        let mut w = default_workload();
        w.avg_duration_ms = 19.2;
        close(estimate(&w, &US_EAST_1).lambda.gb_seconds, 65_700.0);
    }

    #[test]
    fn other_lcu_dimensions_take_over_when_they_dominate() {
        let mut w = default_workload();
        // Keep-alive: 0.5 new connections/s; 200 KB per request: 10 × 200 × 3,600 KB
        // = 6.8665 GB an hour ÷ 0.4 = 17.166 LCU.
        w.requests_per_connection = 20.0;
        w.kb_per_request = 200.0;
        let e = estimate(&w, &US_EAST_1);
        close(e.alb.lcu_dimensions.new_connections, 0.02);
        close(e.alb.lcu_dimensions.active_connections, 0.01);
        close(e.alb.lcu_per_hour, 17.166_137_7);
        assert_eq!(e.alb.lcu_dimensions.dominant(), "processed bytes");
        // 30 rules: 20 paid × 10 req/s ÷ 1,000.
        w.listener_rules = 30;
        w.kb_per_request = 0.1;
        let e = estimate(&w, &US_EAST_1);
        close(e.alb.lcu_dimensions.rule_evaluations, 0.2);
        assert_eq!(e.alb.lcu_dimensions.dominant(), "rule evaluations");
        // An HTTP API request of 600 KB is metered as two.
        w.kb_per_request = 600.0;
        let e = estimate(&w, &US_EAST_1);
        close(e.http_api_metered_requests, 2.0 * 26_280_000.0);
        close(e.http_api_requests_usd, 52.56);
    }

    #[test]
    fn zero_traffic_costs_the_load_balancer_hours_only() {
        let e = estimate(&default_workload().at(0.0), &US_EAST_1);
        close(e.alb_total_usd, 16.425);
        close(e.rest_api_total_usd, 0.0);
        close(e.http_api_total_usd, 0.0);
    }

    #[test]
    fn hand_computed_break_even() {
        let w = default_workload();
        // ALB: 16.425 + 0.04 LCU × 0.008 × 730 = 0.2336 a month per req/s.
        // REST: 2.628 M requests × 3.50 = 9.198 per req/s: 16.425 / (9.198 − 0.2336).
        let rest = break_even(&w, &US_EAST_1, Gateway::Rest);
        close(rest.from_rps.expect("REST"), 1.832_247_56);
        assert_eq!(rest.until_rps, None);
        // HTTP: 2.628 per req/s: 16.425 / (2.628 − 0.2336).
        let http = break_even(&w, &US_EAST_1, Gateway::Http);
        close(http.from_rps.expect("HTTP"), 6.859_756_10);
        assert_eq!(http.until_rps, None);
        // At the break-even both totals agree.
        let e = estimate(&w.at(6.859_756_10), &US_EAST_1);
        assert!((e.alb_total_usd - e.http_api_total_usd).abs() < 1e-6);
    }

    #[test]
    fn heavy_responses_can_make_the_load_balancer_never_cheaper() {
        // 50 KB per request: 0.4292 LCU per req/s = 2.5063 a month per req/s, under the
        // HTTP API's first band (2.628) but above its second (2.3652, from 114.2 req/s):
        // the line 16.425 − 0.1217·r would cross at 134.9 req/s, past the band change.
        let mut w = default_workload();
        w.kb_per_request = 50.0;
        let http = break_even(&w, &US_EAST_1, Gateway::Http);
        assert_eq!(http.from_rps, None, "{http:?}");
    }

    #[test]
    fn a_cheaper_range_can_end_when_the_gateway_reaches_a_cheaper_band() {
        // 100 KB per request: 5.0125 a month per req/s. REST costs 9.198 per req/s at
        // first: cheaper from 16.425 / (9.198 − 5.0125) = 3.924 req/s; above 20 billion
        // requests a month (7,610.35 req/s) REST costs 3.968 per req/s, and ALB's lead of
        // 10,089 runs out at about 17,272 req/s.
        let mut w = default_workload();
        w.kb_per_request = 100.0;
        let rest = break_even(&w, &US_EAST_1, Gateway::Rest);
        let from = rest.from_rps.expect("from");
        let until = rest.until_rps.expect("until");
        assert!((from - 3.924).abs() < 0.001, "{rest:?}");
        assert!((until - 17_272.0).abs() < 5.0, "{rest:?}");
        let d = |r: f64| {
            let e = estimate(&w.at(r), &US_EAST_1);
            e.alb_total_usd - e.rest_api_total_usd
        };
        assert!(d(from).abs() < 1e-6 && d(until).abs() < 1e-3);
        assert!(d(from * 0.99) > 0.0 && d(from * 1.01) < 0.0);
        assert!(d(until * 0.99) < 0.0 && d(until * 1.01) > 0.0);
    }

    /// The solver against a brute-force scan over a range of workloads: the first
    /// traffic level of the scan where ALB is cheaper lies just above `from_rps`.
    #[test]
    fn break_even_agrees_with_a_scan() {
        for kb in [0.5, 2.0, 10.0, 30.0, 45.0, 60.0] {
            for (memory, arch) in [(128, Architecture::X86_64), (3008, Architecture::Arm64)] {
                for gateway in [Gateway::Rest, Gateway::Http] {
                    let mut w = default_workload();
                    w.kb_per_request = kb;
                    w.functions = vec![function(memory, arch)];
                    let solved = break_even(&w, &US_EAST_1, gateway);
                    let cheaper = |r: f64| difference(&w, &US_EAST_1, gateway, r) < 0.0;
                    let step = 0.05;
                    let first = (1..200_000)
                        .map(|i| f64::from(i) * step)
                        .find(|&r| cheaper(r));
                    match (solved.from_rps, first) {
                        (Some(s), Some(f)) => assert!(
                            f >= s && f - s <= step + 1e-9,
                            "kb {kb} {gateway:?}: solver {s}, scan {f}"
                        ),
                        (None, None) => {}
                        other => panic!("kb {kb} {gateway:?}: solver/scan disagree: {other:?}"),
                    }
                }
            }
        }
    }

    #[test]
    fn the_price_table_is_dated_and_its_tiers_ascend() {
        assert_eq!(US_EAST_1.region, "us-east-1");
        let date = US_EAST_1.taken;
        assert!(
            date.len() == 10 && date.chars().filter(|c| *c == '-').count() == 2,
            "{date}"
        );
        for tiers in [
            US_EAST_1.lambda_x86_64_gb_second,
            US_EAST_1.lambda_arm64_gb_second,
            US_EAST_1.rest_api_per_million,
            US_EAST_1.http_api_per_million,
        ] {
            let bounds: Vec<f64> = tiers.iter().filter_map(|t| t.up_to).collect();
            assert!(bounds.windows(2).all(|w| w[0] < w[1]), "{tiers:?}");
            assert!(tiers.windows(2).all(|w| w[0].usd > w[1].usd), "{tiers:?}");
            assert_eq!(tiers.last().and_then(|t| t.up_to), None);
        }
    }
}
