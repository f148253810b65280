//! `albkit cost --plot`: the monthly cost of the three fronts against traffic, as an SVG
//! or PNG chart drawn with plotters. The numbers come from [`crate::model::cost`]; this
//! module only draws them.
//!
//! plotters lays text out with ab_glyph, which needs a TrueType font: albkit has none of
//! its own and uses the first of `ALBKIT_FONT` and the usual system font files
//! ([`FONT_FILES`]) that exists.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use plotters::coord::Shift;
use plotters::prelude::*;

use crate::model::cost::CurvePoint;

/// Where a sans-serif TrueType font usually is (Debian/Ubuntu, Fedora, Arch, Alpine,
/// macOS, Windows), tried in this order after `ALBKIT_FONT`.
pub(crate) const FONT_FILES: &[&str] = &[
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/dejavu-sans-fonts/DejaVuSans.ttf",
    "/usr/share/fonts/TTF/DejaVuSans.ttf",
    "/usr/share/fonts/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/truetype/liberation/LiberationSans-Regular.ttf",
    "/usr/share/fonts/truetype/liberation2/LiberationSans-Regular.ttf",
    "/System/Library/Fonts/Supplemental/Arial.ttf",
    "/Library/Fonts/Arial.ttf",
    "C:\\Windows\\Fonts\\arial.ttf",
];

/// The chart's width and height in pixels (SVG user units).
pub(crate) const SIZE: (u32, u32) = (960, 600);

const ALB: RGBColor = RGBColor(0x1f, 0x77, 0xb4);
const REST: RGBColor = RGBColor(0xd6, 0x27, 0x28);
const HTTP: RGBColor = RGBColor(0x2c, 0xa0, 0x2c);

/// A front's monthly total at one point.
type Total = fn(&CurvePoint) -> f64;

/// The three lines: legend, colour, value.
const LINES: [(&str, RGBColor, Total); 3] = [
    ("ALB + Lambda", ALB, |p| p.alb_usd),
    ("REST API + Lambda", REST, |p| p.rest_api_usd),
    ("HTTP API + Lambda", HTTP, |p| p.http_api_usd),
];

/// What the chart shows.
#[derive(Debug, Clone)]
pub(crate) struct CostChart<'a> {
    pub(crate) title: String,
    pub(crate) points: &'a [CurvePoint],
    /// The workload's own traffic, marked with the three totals there.
    pub(crate) current_rps: f64,
    /// Break-even traffic levels: (which gateway, "from"/"until", rps).
    pub(crate) break_evens: Vec<(Front, &'static str, f64)>,
}

/// The two API Gateway fronts a break-even is against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Front {
    Rest,
    Http,
}

#[derive(Debug, thiserror::Error)]
pub enum PlotError {
    #[error("{path}: albkit draws .svg or .png files, not {ext:?}")]
    Format { path: String, ext: String },
    #[error("no TrueType font found to write the chart's text (tried $ALBKIT_FONT and {tried})")]
    NoFont { tried: String },
    #[error("{path}: {message}")]
    Draw { path: String, message: String },
}

/// The chart's file format, from its extension.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Format {
    Svg,
    Png,
}

/// `.svg` or `.png` (any case); anything else is refused before a build or a draw.
pub(crate) fn format_of(path: &Path) -> Result<Format, PlotError> {
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .unwrap_or_default()
        .to_ascii_lowercase();
    match ext.as_str() {
        "svg" => Ok(Format::Svg),
        "png" => Ok(Format::Png),
        _ => Err(PlotError::Format {
            path: path.display().to_string(),
            ext,
        }),
    }
}

/// The font file: `ALBKIT_FONT`, else the first of [`FONT_FILES`] that exists.
pub(crate) fn font_file(env: Option<PathBuf>) -> Option<PathBuf> {
    env.filter(|p| p.is_file())
        .or_else(|| FONT_FILES.iter().map(PathBuf::from).find(|p| p.is_file()))
}

/// Registers the font with plotters once per process.
fn register_font() -> Result<(), PlotError> {
    static FONT: OnceLock<Option<&'static [u8]>> = OnceLock::new();
    let bytes = FONT.get_or_init(|| {
        let path = font_file(std::env::var_os("ALBKIT_FONT").map(PathBuf::from))?;
        let bytes = std::fs::read(path).ok()?;
        // plotters keeps the font for the whole process.
        Some(Box::leak(bytes.into_boxed_slice()))
    });
    let bytes = bytes.ok_or_else(|| PlotError::NoFont {
        tried: FONT_FILES.join(", "),
    })?;
    plotters::style::register_font("sans-serif", FontStyle::Normal, bytes).map_err(|_| {
        PlotError::NoFont {
            tried: "a file that is not a TrueType font".into(),
        }
    })
}

/// Draws `chart` into `path`, as its extension says.
pub(crate) fn draw(path: &Path, chart: &CostChart<'_>) -> Result<(), PlotError> {
    render(path, SIZE, chart)
}

/// A chart that can paint itself on any plotters backend.
trait Chart {
    fn paint<DB: DrawingBackend>(&self, root: Area<DB>) -> Result<(), String>
    where
        DB::ErrorType: 'static;
}

impl Chart for CostChart<'_> {
    fn paint<DB: DrawingBackend>(&self, root: Area<DB>) -> Result<(), String>
    where
        DB::ErrorType: 'static,
    {
        paint(root, self)
    }
}

impl Chart for Curves {
    fn paint<DB: DrawingBackend>(&self, root: Area<DB>) -> Result<(), String>
    where
        DB::ErrorType: 'static,
    {
        paint_curves(root, self)
    }
}

/// Paints `chart` into `path`, `size` pixels, as its extension says (SVG or PNG).
fn render(path: &Path, size: (u32, u32), chart: &impl Chart) -> Result<(), PlotError> {
    let format = format_of(path)?;
    register_font()?;
    match format {
        Format::Svg => chart.paint(SVGBackend::new(path, size).into_drawing_area()),
        Format::Png => chart.paint(BitMapBackend::new(path, size).into_drawing_area()),
    }
    .map_err(|message| PlotError::Draw {
        path: path.display().to_string(),
        message,
    })
}

type Area<DB> = DrawingArea<DB, Shift>;

fn paint<DB: DrawingBackend>(root: Area<DB>, chart: &CostChart<'_>) -> Result<(), String>
where
    DB::ErrorType: 'static,
{
    let e = |e: DrawingAreaErrorKind<DB::ErrorType>| e.to_string();
    root.fill(&WHITE).map_err(e)?;
    let (x0, x1) = x_range(chart.points);
    let (y0, y1) = y_range(chart.points);
    let mut c = ChartBuilder::on(&root)
        .caption(&chart.title, ("sans-serif", 22))
        .margin(16)
        .x_label_area_size(48)
        .y_label_area_size(72)
        .build_cartesian_2d((x0..x1).log_scale(), (y0..y1).log_scale())
        .map_err(e)?;
    c.configure_mesh()
        .x_desc("requests per second (steady, all month)")
        .y_desc("USD per month")
        .x_label_formatter(&|v| short(*v))
        .y_label_formatter(&|v| format!("${}", short(*v)))
        .draw()
        .map_err(e)?;
    for (label, color, value) in LINES {
        let series = chart
            .points
            .iter()
            .map(|p| (p.requests_per_second, value(p)));
        c.draw_series(LineSeries::new(series, color.stroke_width(3)))
            .map_err(e)?
            .label(label)
            .legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 24, y)], color.stroke_width(3))
            });
    }
    for (i, (front, side, rps)) in chart.break_evens.iter().enumerate() {
        let color = if *front == Front::Rest { REST } else { HTTP };
        let name = if *front == Front::Rest {
            "REST"
        } else {
            "HTTP"
        };
        let dashes = DashedLineSeries::new([(*rps, y0), (*rps, y1)], 6, 4, color.stroke_width(1));
        c.draw_series(dashes).map_err(e)?;
        let text = format!("break-even vs {name} API ({side} {} rps)", short(*rps));
        c.draw_series(std::iter::once(Text::new(
            text,
            // Each label a step lower than the one before, so none overlap.
            (
                *rps * 1.04,
                y1 / (1.6 * 2.4f64.powi(i32::try_from(i).unwrap_or(0))),
            ),
            ("sans-serif", 14).into_font().color(&color),
        )))
        .map_err(e)?;
    }
    mark_current(&mut c, chart, (y0, y1)).map_err(e)?;
    c.configure_series_labels()
        .position(SeriesLabelPosition::UpperLeft)
        .background_style(WHITE.mix(0.9))
        .border_style(BLACK)
        .label_font(("sans-serif", 15))
        .draw()
        .map_err(e)?;
    root.present().map_err(e)
}

/// Panels of lines side by side, sharing an x axis label: the benchmarks' curves
/// (`benches/scale.rs` draws wall time and AWS calls against the number of functions).
#[derive(Debug, Clone)]
pub struct Curves {
    pub title: String,
    pub x_label: String,
    pub panels: Vec<Panel>,
}

/// One panel of [`Curves`]: its y axis and its lines, each a name and (x, y) points.
#[derive(Debug, Clone)]
pub struct Panel {
    pub y_label: String,
    pub lines: Vec<(String, Vec<(f64, f64)>)>,
}

/// The lines' colours, in order (the cost chart's three first).
const PALETTE: [RGBColor; 6] = [
    ALB,
    REST,
    HTTP,
    RGBColor(0x94, 0x67, 0xbd),
    RGBColor(0xff, 0x7f, 0x0e),
    RGBColor(0x8c, 0x56, 0x4b),
];

/// Draws `curves` into `path` (`.svg` or `.png`), each panel on linear axes from 0 with
/// a dot at every point.
pub fn draw_curves(path: &Path, curves: &Curves) -> Result<(), PlotError> {
    render(path, (SIZE.0, SIZE.1 * 2 / 3), curves)
}

fn paint_curves<DB: DrawingBackend>(root: Area<DB>, curves: &Curves) -> Result<(), String>
where
    DB::ErrorType: 'static,
{
    let e = |e: DrawingAreaErrorKind<DB::ErrorType>| e.to_string();
    root.fill(&WHITE).map_err(e)?;
    let root = root.titled(&curves.title, ("sans-serif", 20)).map_err(e)?;
    let areas = root.split_evenly((1, curves.panels.len().max(1)));
    for (area, panel) in areas.iter().zip(&curves.panels) {
        let points = || panel.lines.iter().flat_map(|(_, p)| p.iter());
        let x1 = points().map(|p| p.0).fold(1.0f64, f64::max) * 1.05;
        // Room above the highest point for the legend in the upper left.
        let y1 = points().map(|p| p.1).fold(1.0f64, f64::max) * 1.5;
        let mut c = ChartBuilder::on(area)
            .margin(12)
            .x_label_area_size(40)
            .y_label_area_size(60)
            .build_cartesian_2d(0.0..x1, 0.0..y1)
            .map_err(e)?;
        c.configure_mesh()
            .x_desc(curves.x_label.as_str())
            .y_desc(panel.y_label.as_str())
            .x_label_formatter(&|v| short(*v))
            .y_label_formatter(&|v| short(*v))
            .draw()
            .map_err(e)?;
        for ((name, line), color) in panel.lines.iter().zip(PALETTE.iter().cycle()) {
            let color = *color;
            c.draw_series(LineSeries::new(line.iter().copied(), color.stroke_width(2)))
                .map_err(e)?
                .label(name.as_str())
                .legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 20, y)], color.stroke_width(2))
                });
            c.draw_series(line.iter().map(|p| Circle::new(*p, 3, color.filled())))
                .map_err(e)?;
        }
        c.configure_series_labels()
            .position(SeriesLabelPosition::UpperLeft)
            .background_style(WHITE.mix(0.9))
            .border_style(BLACK)
            .label_font(("sans-serif", 13))
            .draw()
            .map_err(e)?;
    }
    root.present().map_err(e)
}

type LogChart<'a, DB> = ChartContext<
    'a,
    DB,
    Cartesian2d<
        plotters::coord::combinators::LogCoord<f64>,
        plotters::coord::combinators::LogCoord<f64>,
    >,
>;

/// The workload's traffic: a vertical line and a dot on each front's line.
fn mark_current<DB: DrawingBackend>(
    c: &mut LogChart<'_, DB>,
    chart: &CostChart<'_>,
    (y0, y1): (f64, f64),
) -> Result<(), DrawingAreaErrorKind<DB::ErrorType>> {
    let rps = chart.current_rps;
    if rps <= 0.0 {
        return Ok(());
    }
    c.draw_series(LineSeries::new(
        [(rps, y0), (rps, y1)],
        BLACK.stroke_width(1),
    ))?;
    let at = nearest(chart.points, rps);
    if let Some(p) = at {
        let dots = [
            (p.alb_usd, ALB),
            (p.rest_api_usd, REST),
            (p.http_api_usd, HTTP),
        ];
        c.draw_series(
            dots.iter()
                .map(|(usd, color)| Circle::new((rps, *usd), 5, color.filled())),
        )?;
    }
    let text = format!("this config: {} rps", short(rps));
    c.draw_series(std::iter::once(Text::new(
        text,
        (rps, y0 * 1.4),
        ("sans-serif", 14).into_font().color(&BLACK),
    )))?;
    Ok(())
}

/// The point of `points` whose traffic is closest to `rps` (on the log axis).
fn nearest(points: &[CurvePoint], rps: f64) -> Option<&CurvePoint> {
    points.iter().min_by(|a, b| {
        let d = |p: &CurvePoint| (p.requests_per_second.ln() - rps.ln()).abs();
        d(a).total_cmp(&d(b))
    })
}

fn x_range(points: &[CurvePoint]) -> (f64, f64) {
    let first = points.first().map_or(0.01, |p| p.requests_per_second);
    let last = points.last().map_or(1000.0, |p| p.requests_per_second);
    (first, last.max(first * 10.0))
}

/// From half the cheapest total to twice the dearest, so no line touches the frame.
fn y_range(points: &[CurvePoint]) -> (f64, f64) {
    let all = points
        .iter()
        .flat_map(|p| [p.alb_usd, p.rest_api_usd, p.http_api_usd])
        .filter(|v| *v > 0.0);
    let (low, high) = all.fold((f64::INFINITY, 0.0f64), |(l, h), v| (l.min(v), h.max(v)));
    if !low.is_finite() {
        return (0.01, 1.0);
    }
    (low / 2.0, (high * 2.0).max(low))
}

/// A tick label: `0.01`, `5`, `250`, `12k`, `3M`.
fn short(v: f64) -> String {
    let trim = |s: String| {
        if s.contains('.') {
            s.trim_end_matches('0').trim_end_matches('.').to_string()
        } else {
            s
        }
    };
    match v.abs() {
        a if a >= 1e6 => format!("{}M", trim(format!("{:.1}", v / 1e6))),
        a if a >= 1e3 => format!("{}k", trim(format!("{:.1}", v / 1e3))),
        a if a >= 1.0 => trim(format!("{v:.1}")),
        _ => trim(format!("{v:.3}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_svg_and_png_are_drawn() {
        assert_eq!(format_of(Path::new("cost.svg")).ok(), Some(Format::Svg));
        assert_eq!(format_of(Path::new("out/COST.PNG")).ok(), Some(Format::Png));
        let err = format_of(Path::new("cost.pdf")).unwrap_err().to_string();
        assert_eq!(
            err,
            "cost.pdf: albkit draws .svg or .png files, not \"pdf\""
        );
        assert!(format_of(Path::new("cost")).is_err());
    }

    #[test]
    fn the_font_is_albkit_font_first_then_a_system_one() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mine = dir.path().join("mine.ttf");
        std::fs::write(&mine, b"ttf").expect("write");
        assert_eq!(font_file(Some(mine.clone())), Some(mine));
        // A missing ALBKIT_FONT falls back to the system list.
        let system = FONT_FILES.iter().map(PathBuf::from).find(|p| p.is_file());
        assert_eq!(font_file(Some(dir.path().join("gone.ttf"))), system);
    }

    #[test]
    fn curves_are_drawn_with_a_line_and_dots_per_series() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("curves.svg");
        let line = |name: &str, k: f64| {
            let points = [1.0, 10.0, 50.0].iter().map(|n| (*n, n * k)).collect();
            (name.to_string(), points)
        };
        let curves = Curves {
            title: "scale".into(),
            x_label: "functions".into(),
            panels: vec![
                Panel {
                    y_label: "seconds".into(),
                    lines: vec![line("up", 0.5), line("down", 0.25)],
                },
                Panel {
                    y_label: "AWS calls".into(),
                    lines: vec![line("up", 12.0)],
                },
            ],
        };
        draw_curves(&path, &curves).expect("draw");
        let svg = std::fs::read_to_string(&path).expect("svg");
        assert!(svg.starts_with("<svg"), "{svg}");
        for text in ["scale", "functions", "seconds", "AWS calls", "up", "down"] {
            assert!(
                svg.contains(&format!(">\n{text}\n<")),
                "no {text:?} in the chart"
            );
        }
        // Each line and its legend entry in the line's colour (the first colour in both
        // panels), and a dot per point.
        let stroke = |c: &str| {
            svg.matches(&format!(
                "<polyline fill=\"none\" opacity=\"1\" stroke=\"{c}\""
            ))
            .count()
        };
        assert_eq!((stroke("#1F77B4"), stroke("#D62728")), (4, 2), "{svg}");
        assert_eq!(svg.matches("<circle").count(), 9, "{svg}");
        let err = draw_curves(&dir.path().join("c.pdf"), &curves).unwrap_err();
        assert!(matches!(err, PlotError::Format { .. }), "{err}");
    }

    #[test]
    fn tick_labels_are_short() {
        assert_eq!(short(0.01), "0.01");
        assert_eq!(short(0.5), "0.5");
        assert_eq!(short(5.0), "5");
        assert_eq!(short(250.0), "250");
        assert_eq!(short(12_000.0), "12k");
        assert_eq!(short(2_500.0), "2.5k");
        assert_eq!(short(3_000_000.0), "3M");
    }

    #[test]
    fn ranges_leave_room_around_the_lines() {
        let p = |rps: f64, usd: f64| CurvePoint {
            requests_per_second: rps,
            alb_usd: usd,
            rest_api_usd: usd * 2.0,
            http_api_usd: usd / 2.0,
        };
        let points = [p(0.1, 20.0), p(100.0, 400.0)];
        assert_eq!(x_range(&points), (0.1, 100.0));
        assert_eq!(y_range(&points), (5.0, 1600.0));
        assert_eq!(nearest(&points, 50.0), Some(&points[1]));
        assert_eq!(y_range(&[]), (0.01, 1.0));
    }
}
