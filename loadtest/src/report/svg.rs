//! Inline SVG charts: line charts (time series, sweep curves) and grouped bar charts on a
//! log scale (latency percentiles). Plain markup, no script; every text is escaped.

use super::escape::escape_html;
use std::fmt::Write;

/// Series colours, in the order they are handed out (Tableau 10: distinct, print-safe).
pub const PALETTE: [&str; 10] = [
    "#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948", "#b07aa1", "#ff9da7",
    "#9c755f", "#bab0ac",
];
/// Dash patterns that tell runs apart when colour already tells stages or queues apart.
const DASHES: [&str; 4] = ["", "7 4", "2 3", "10 3 2 3"];
/// The colour of reference lines (e.g. achieved = target).
pub(crate) const REFERENCE: &str = "#999999";

const WIDTH: f64 = 640.0;
const MARGIN_LEFT: f64 = 72.0;
const MARGIN_RIGHT: f64 = 20.0;
const MARGIN_TOP: f64 = 34.0;
const PLOT_HEIGHT: f64 = 220.0;
/// Tick labels and the x axis label under the plot.
const MARGIN_BOTTOM: f64 = 46.0;
const PLOT_WIDTH: f64 = WIDTH - MARGIN_LEFT - MARGIN_RIGHT;
const LEGEND_ROW: f64 = 18.0;
/// Legend and axis text size; the width estimate below assumes it.
const FONT_SIZE: f64 = 11.0;
const CHAR_WIDTH: f64 = 6.6;
const MAX_LEGEND_CHARS: usize = 48;

pub(crate) fn colour(index: usize) -> &'static str {
    PALETTE[index % PALETTE.len()]
}

pub(crate) fn dash(index: usize) -> &'static str {
    DASHES[index % DASHES.len()]
}

pub(crate) struct Series {
    pub name: String,
    pub colour: &'static str,
    pub dash: &'static str,
    pub points: Vec<(f64, f64)>,
}

pub(crate) struct LineChart<'a> {
    /// Names the chart for the test and for styling (`data-chart`).
    pub id: &'a str,
    pub title: &'a str,
    pub x_label: &'a str,
    pub x_format: fn(f64) -> String,
    pub y_format: fn(f64) -> String,
    pub series: Vec<Series>,
    /// Circles on every point (for few points, e.g. sweep steps).
    pub markers: bool,
    /// A fixed top of the y axis (queue fill: 1.0); otherwise from the data.
    pub y_max: Option<f64>,
}

impl LineChart<'_> {
    /// `None` when no series has a finite point (the caller shows a note instead).
    pub fn render(&self) -> Option<String> {
        let series: Vec<(&Series, Vec<(f64, f64)>)> = self
            .series
            .iter()
            .map(|s| (s, finite_sorted(&s.points)))
            .filter(|(_, points)| !points.is_empty())
            .collect();
        let all = || series.iter().flat_map(|(_, points)| points.iter());
        let x_min = all().map(|p| p.0).reduce(f64::min)?;
        let x_max = all().map(|p| p.0).reduce(f64::max)?;
        let y_min = all().map(|p| p.1).reduce(f64::min)?.min(0.0);
        let y_max = match self.y_max {
            Some(top) => all().map(|p| p.1).fold(top, f64::max),
            None => all().map(|p| p.1).reduce(f64::max)?,
        };
        let x_axis = Axis::linear(x_min, x_max);
        let y_axis = Axis::linear(y_min, y_max);

        let legend: Vec<LegendItem> = series
            .iter()
            .map(|(s, _)| LegendItem::line(&s.name, s.colour, s.dash))
            .collect();
        let (legend_svg, legend_height) =
            legend_rows(&legend, MARGIN_TOP + PLOT_HEIGHT + MARGIN_BOTTOM);
        let mut svg = open_svg(self.id, self.title, legend_height);

        for tick in y_axis.ticks() {
            let y = y_axis.to_px_y(tick);
            grid_line_y(&mut svg, y, &(self.y_format)(tick));
        }
        for tick in x_axis.ticks() {
            let x = x_axis.to_px_x(tick);
            let _ = write!(
                svg,
                r##"<line x1="{x:.1}" y1="{top:.1}" x2="{x:.1}" y2="{bottom:.1}" stroke="#eeeeee"/><text x="{x:.1}" y="{label:.1}" text-anchor="middle" font-size="{FONT_SIZE}" fill="#444444">{text}</text>"##,
                top = MARGIN_TOP,
                bottom = MARGIN_TOP + PLOT_HEIGHT,
                label = MARGIN_TOP + PLOT_HEIGHT + 15.0,
                text = escape_html(&(self.x_format)(tick)),
            );
        }
        axes(&mut svg);
        let _ = write!(
            svg,
            r##"<text x="{x:.1}" y="{y:.1}" text-anchor="middle" font-size="{FONT_SIZE}" fill="#444444">{label}</text>"##,
            x = MARGIN_LEFT + PLOT_WIDTH / 2.0,
            y = MARGIN_TOP + PLOT_HEIGHT + 33.0,
            label = escape_html(self.x_label),
        );

        for (s, points) in &series {
            let coords: Vec<(f64, f64)> = points
                .iter()
                .map(|&(x, y)| (x_axis.to_px_x(x), y_axis.to_px_y(y)))
                .collect();
            if coords.len() > 1 {
                let list: Vec<String> = coords
                    .iter()
                    .map(|(x, y)| format!("{x:.1},{y:.1}"))
                    .collect();
                let _ = write!(
                    svg,
                    r#"<polyline fill="none" stroke="{colour}" stroke-width="2" stroke-linejoin="round"{dash} points="{points}"><title>{name}</title></polyline>"#,
                    colour = s.colour,
                    dash = dash_attribute(s.dash),
                    points = list.join(" "),
                    name = escape_html(&s.name),
                );
            }
            // A lone point has no line to show it.
            if self.markers || coords.len() == 1 {
                for (&(x, y), &(px, py)) in points.iter().zip(&coords) {
                    let _ = write!(
                        svg,
                        r#"<circle cx="{px:.1}" cy="{py:.1}" r="3.5" fill="{colour}"><title>{name}: {xv}, {yv}</title></circle>"#,
                        colour = s.colour,
                        name = escape_html(&s.name),
                        xv = escape_html(&(self.x_format)(x)),
                        yv = escape_html(&(self.y_format)(y)),
                    );
                }
            }
        }
        svg.push_str(&legend_svg);
        svg.push_str("</svg>");
        Some(svg)
    }
}

/// Bars grouped along x (e.g. one group per latency), heights on a log scale.
pub(crate) struct LogBarChart<'a> {
    pub id: &'a str,
    pub title: &'a str,
    pub y_format: fn(f64) -> String,
    pub groups: Vec<String>,
    /// One entry per bar of a group: (legend name, colour).
    pub bars: Vec<(String, &'static str)>,
    /// `[group][bar]`; `None` or a value ≤ 0 draws no bar (a log scale has no zero).
    pub values: Vec<Vec<Option<f64>>>,
}

impl LogBarChart<'_> {
    /// `None` when there is no positive value to draw.
    pub fn render(&self) -> Option<String> {
        let positive = || {
            self.values
                .iter()
                .flatten()
                .filter_map(|v| *v)
                .filter(|v| v.is_finite() && *v > 0.0)
        };
        let low = positive().reduce(f64::min)?;
        let high = positive().reduce(f64::max)?;
        let axis = LogAxis::new(low, high);

        let legend: Vec<LegendItem> = self
            .bars
            .iter()
            .map(|(name, colour)| LegendItem::boxed(name, colour))
            .collect();
        let (legend_svg, legend_height) =
            legend_rows(&legend, MARGIN_TOP + PLOT_HEIGHT + MARGIN_BOTTOM);
        let mut svg = open_svg(self.id, self.title, legend_height);
        for decade in axis.decades() {
            grid_line_y(&mut svg, axis.to_px_y(decade), &(self.y_format)(decade));
        }
        axes(&mut svg);

        let group_count = self.groups.len().max(1) as f64;
        let group_width = PLOT_WIDTH / group_count;
        let bar_width = group_width * 0.8 / self.bars.len().max(1) as f64;
        let label_chars = ((group_width / CHAR_WIDTH) as usize).max(4);
        let bottom = MARGIN_TOP + PLOT_HEIGHT;
        for (g, group) in self.groups.iter().enumerate() {
            let group_left = MARGIN_LEFT + g as f64 * group_width;
            let _ = write!(
                svg,
                r##"<text x="{x:.1}" y="{y:.1}" text-anchor="middle" font-size="{FONT_SIZE}" fill="#444444">{label}<title>{full}</title></text>"##,
                x = group_left + group_width / 2.0,
                y = bottom + 16.0,
                label = escape_html(&truncate(group, label_chars)),
                full = escape_html(group),
            );
            let values = self.values.get(g).map(Vec::as_slice).unwrap_or(&[]);
            for (b, (bar_name, bar_colour)) in self.bars.iter().enumerate() {
                let Some(value) = values.get(b).copied().flatten() else {
                    continue;
                };
                if !value.is_finite() || value <= 0.0 {
                    continue;
                }
                let top = axis.to_px_y(value);
                let _ = write!(
                    svg,
                    r#"<rect x="{x:.1}" y="{top:.1}" width="{w:.1}" height="{h:.1}" fill="{bar_colour}"><title>{group}, {bar}: {v}</title></rect>"#,
                    x = group_left + group_width * 0.1 + b as f64 * bar_width,
                    w = (bar_width - 1.0).max(1.0),
                    h = (bottom - top).max(0.5),
                    group = escape_html(group),
                    bar = escape_html(bar_name),
                    v = escape_html(&(self.y_format)(value)),
                );
            }
        }
        svg.push_str(&legend_svg);
        svg.push_str("</svg>");
        Some(svg)
    }
}

/// The `<svg>` start tag, title and background for a chart whose legend takes
/// `legend_height` pixels under the plot.
fn open_svg(id: &str, title: &str, legend_height: f64) -> String {
    let height = MARGIN_TOP + PLOT_HEIGHT + MARGIN_BOTTOM + legend_height;
    let title = escape_html(title);
    format!(
        r##"<svg xmlns="http://www.w3.org/2000/svg" class="chart" data-chart="{id}" width="{WIDTH}" height="{height}" viewBox="0 0 {WIDTH} {height}" role="img" aria-label="{title}"><title>{title}</title><rect width="100%" height="100%" fill="#ffffff"/><text x="{x}" y="20" font-size="14" font-weight="bold" fill="#222222">{title}</text>"##,
        id = escape_html(id),
        x = MARGIN_LEFT,
    )
}

fn axes(svg: &mut String) {
    let bottom = MARGIN_TOP + PLOT_HEIGHT;
    let _ = write!(
        svg,
        r##"<path d="M{left},{top} V{bottom} H{right}" fill="none" stroke="#555555"/>"##,
        left = MARGIN_LEFT,
        top = MARGIN_TOP,
        right = MARGIN_LEFT + PLOT_WIDTH,
    );
}

/// A horizontal grid line at pixel `y` with its label left of the axis.
fn grid_line_y(svg: &mut String, y: f64, label: &str) {
    let _ = write!(
        svg,
        r##"<line x1="{left}" y1="{y:.1}" x2="{right}" y2="{y:.1}" stroke="#e3e3e3"/><text x="{text_x}" y="{text_y:.1}" text-anchor="end" font-size="{FONT_SIZE}" fill="#444444">{label}</text>"##,
        left = MARGIN_LEFT,
        right = MARGIN_LEFT + PLOT_WIDTH,
        text_x = MARGIN_LEFT - 6.0,
        text_y = y + 4.0,
        label = escape_html(label),
    );
}

fn dash_attribute(dash: &str) -> String {
    if dash.is_empty() {
        String::new()
    } else {
        format!(r#" stroke-dasharray="{dash}""#)
    }
}

struct LegendItem {
    name: String,
    colour: &'static str,
    /// `None`: a filled box (bars); `Some(dash)`: a line sample (series).
    dash: Option<&'static str>,
}

impl LegendItem {
    fn line(name: &str, colour: &'static str, dash: &'static str) -> LegendItem {
        LegendItem {
            name: truncate(name, MAX_LEGEND_CHARS),
            colour,
            dash: Some(dash),
        }
    }

    fn boxed(name: &str, colour: &'static str) -> LegendItem {
        LegendItem {
            name: truncate(name, MAX_LEGEND_CHARS),
            colour,
            dash: None,
        }
    }
}

/// Lays the legend out in rows from pixel `top`, wrapping at the chart width; returns the
/// markup and the height it takes.
fn legend_rows(items: &[LegendItem], top: f64) -> (String, f64) {
    if items.is_empty() {
        return (String::new(), 0.0);
    }
    let mut svg = String::new();
    let (mut x, mut row) = (MARGIN_LEFT, 0usize);
    for item in items {
        // A line sample between swatch and name for series; bars need only the swatch.
        let text_offset = if item.dash.is_some() { 30.0 } else { 16.0 };
        let width = text_offset + item.name.chars().count() as f64 * CHAR_WIDTH + 14.0;
        if x > MARGIN_LEFT && x + width > WIDTH - MARGIN_RIGHT {
            x = MARGIN_LEFT;
            row += 1;
        }
        let y = top + 10.0 + row as f64 * LEGEND_ROW;
        // Swatches are filled boxes even for lines: solid pixels of the colour are easy to
        // see (and for the report test to find); the line sample shows the dash.
        let _ = write!(
            svg,
            r#"<rect x="{x:.1}" y="{sy:.1}" width="10" height="10" fill="{c}"/>"#,
            sy = y - 9.0,
            c = item.colour
        );
        if let Some(dash) = item.dash {
            let _ = write!(
                svg,
                r#"<line x1="{x1:.1}" y1="{ly:.1}" x2="{x2:.1}" y2="{ly:.1}" stroke="{c}" stroke-width="2"{d}/>"#,
                x1 = x + 12.0,
                x2 = x + 26.0,
                ly = y - 4.0,
                c = item.colour,
                d = dash_attribute(dash),
            );
        }
        let _ = write!(
            svg,
            r##"<text x="{tx:.1}" y="{y:.1}" font-size="{FONT_SIZE}" fill="#222222">{name}</text>"##,
            tx = x + text_offset,
            name = escape_html(&item.name),
        );
        x += width;
    }
    (svg, (row + 1) as f64 * LEGEND_ROW + 10.0)
}

fn truncate(text: &str, max_chars: usize) -> String {
    if text.chars().count() <= max_chars {
        text.to_string()
    } else {
        let kept: String = text.chars().take(max_chars.saturating_sub(1)).collect();
        format!("{kept}…")
    }
}

/// Finite points in x order (lines drawn in sample order would zigzag if unsorted).
fn finite_sorted(points: &[(f64, f64)]) -> Vec<(f64, f64)> {
    let mut kept: Vec<(f64, f64)> = points
        .iter()
        .copied()
        .filter(|(x, y)| x.is_finite() && y.is_finite())
        .collect();
    kept.sort_by(|a, b| a.0.total_cmp(&b.0));
    kept
}

/// A linear axis rounded out to "nice" tick steps (1, 2 or 5 times a power of ten).
struct Axis {
    low: f64,
    high: f64,
    step: f64,
}

impl Axis {
    fn linear(low: f64, high: f64) -> Axis {
        let (low, high) = if high - low > f64::EPSILON * high.abs().max(1.0) {
            (low, high)
        } else if low == 0.0 {
            (0.0, 1.0)
        } else {
            // All values equal: centre them.
            (low - low.abs() * 0.5, high + high.abs() * 0.5)
        };
        let step = nice_step((high - low) / 5.0);
        Axis {
            low: (low / step).floor() * step,
            high: (high / step).ceil() * step,
            step,
        }
    }

    fn ticks(&self) -> Vec<f64> {
        (0..=50)
            .map(|i| self.low + i as f64 * self.step)
            .take_while(|t| *t <= self.high + self.step * 1e-6)
            .collect()
    }

    fn to_px_x(&self, x: f64) -> f64 {
        MARGIN_LEFT + (x - self.low) / (self.high - self.low) * PLOT_WIDTH
    }

    fn to_px_y(&self, y: f64) -> f64 {
        let y = y.clamp(self.low, self.high);
        MARGIN_TOP + PLOT_HEIGHT - (y - self.low) / (self.high - self.low) * PLOT_HEIGHT
    }
}

fn nice_step(raw: f64) -> f64 {
    if !(raw.is_finite() && raw > 0.0) {
        return 1.0;
    }
    let magnitude = 10f64.powf(raw.log10().floor());
    let nice = match raw / magnitude {
        f if f <= 1.0 => 1.0,
        f if f <= 2.0 => 2.0,
        f if f <= 5.0 => 5.0,
        _ => 10.0,
    };
    nice * magnitude
}

/// Whole decades around the positive values shown.
struct LogAxis {
    low_exp: i32,
    high_exp: i32,
}

impl LogAxis {
    fn new(low: f64, high: f64) -> LogAxis {
        let low_exp = low.log10().floor() as i32;
        let high_exp = (high.log10().ceil() as i32).max(low_exp + 1);
        LogAxis { low_exp, high_exp }
    }

    fn decades(&self) -> Vec<f64> {
        (self.low_exp..=self.high_exp)
            .map(|e| 10f64.powi(e))
            .collect()
    }

    fn to_px_y(&self, value: f64) -> f64 {
        let span = f64::from(self.high_exp - self.low_exp);
        let position = ((value.log10() - f64::from(self.low_exp)) / span).clamp(0.0, 1.0);
        MARGIN_TOP + PLOT_HEIGHT - position * PLOT_HEIGHT
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plain(x: f64) -> String {
        format!("{x}")
    }

    #[test]
    fn nice_axes_round_out() {
        let axis = Axis::linear(0.0, 93.0);
        assert_eq!((axis.low, axis.high, axis.step), (0.0, 100.0, 20.0));
        assert_eq!(axis.ticks(), [0.0, 20.0, 40.0, 60.0, 80.0, 100.0]);
        // A flat series still gets an axis with some height.
        let flat = Axis::linear(0.0, 0.0);
        assert!(flat.high > flat.low);
        let log = LogAxis::new(850.0, 2.0e6);
        assert_eq!(log.decades(), [100.0, 1e3, 1e4, 1e5, 1e6, 1e7]);
    }

    #[test]
    fn line_chart_draws_each_series_and_escapes_names() {
        let chart = LineChart {
            id: "t",
            title: "a <b>",
            x_label: "s",
            x_format: plain,
            y_format: plain,
            series: vec![
                Series {
                    name: "one & two".into(),
                    colour: colour(0),
                    dash: "",
                    points: vec![(0.0, 1.0), (1.0, 2.0)],
                },
                Series {
                    name: "lone".into(),
                    colour: colour(1),
                    dash: dash(1),
                    points: vec![(0.5, f64::NAN), (0.5, 1.5)],
                },
            ],
            markers: false,
            y_max: None,
        };
        let svg = chart.render().expect("has points");
        assert!(svg.starts_with("<svg") && svg.ends_with("</svg>"));
        assert!(svg.contains("<polyline"));
        assert!(svg.contains("<circle"), "a single point gets a marker");
        assert!(svg.contains("a &lt;b&gt;") && !svg.contains("a <b>"));
        assert!(svg.contains("one &amp; two"));
    }

    #[test]
    fn charts_without_data_render_nothing() {
        let chart = LineChart {
            id: "t",
            title: "t",
            x_label: "s",
            x_format: plain,
            y_format: plain,
            series: vec![Series {
                name: "n".into(),
                colour: colour(0),
                dash: "",
                points: vec![(f64::NAN, 1.0)],
            }],
            markers: false,
            y_max: None,
        };
        assert!(chart.render().is_none());
        let bars = LogBarChart {
            id: "b",
            title: "b",
            y_format: plain,
            groups: vec!["g".into()],
            bars: vec![("p50".into(), colour(0))],
            values: vec![vec![Some(0.0)]],
        };
        assert!(bars.render().is_none());
    }

    #[test]
    fn log_bars_skip_missing_values() {
        let bars = LogBarChart {
            id: "b",
            title: "b",
            y_format: plain,
            groups: vec!["g1".into(), "g2".into()],
            bars: vec![("p50".into(), colour(0)), ("p99".into(), colour(1))],
            values: vec![vec![Some(1000.0), None], vec![Some(10.0)]],
        };
        let svg = bars.render().expect("has values");
        // Two bars plus the background and two legend swatches.
        assert_eq!(svg.matches("<rect").count(), 5);
    }
}
