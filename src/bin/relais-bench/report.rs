//! Figures of a run, their medians and the printed report.

use std::fmt::Write as _;
use std::time::Duration;

use serde::Serialize;

/// Median of a set of timings; the mean of the two middle ones for an
/// even count.
pub fn median(values: &[Duration]) -> Duration {
    if values.is_empty() {
        return Duration::ZERO;
    }
    let mut sorted = values.to_vec();
    sorted.sort();
    let middle = sorted.len() / 2;
    if sorted.len() % 2 == 1 {
        sorted[middle]
    } else {
        (sorted[middle - 1] + sorted[middle]) / 2
    }
}

/// Value at a quantile (0.0 to 1.0) of a set of timings, nearest rank.
pub fn quantile(values: &[Duration], q: f64) -> Duration {
    if values.is_empty() {
        return Duration::ZERO;
    }
    let mut sorted = values.to_vec();
    sorted.sort();
    let rank = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1]
}

pub fn format_duration(value: Duration) -> String {
    // Thresholds sit where rounding would print "1000.0 ms" or "1000 µs".
    let seconds = value.as_secs_f64();
    if seconds >= 0.99995 {
        format!("{seconds:.2} s")
    } else if seconds >= 0.0009995 {
        format!("{:.1} ms", seconds * 1e3)
    } else {
        format!("{:.0} µs", seconds * 1e6)
    }
}

pub fn format_mib(bytes: u64) -> String {
    format!("{:.1} MiB", bytes as f64 / (1024.0 * 1024.0))
}

fn millis(values: &[Duration]) -> Vec<f64> {
    values
        .iter()
        .map(|value| value.as_secs_f64() * 1e3)
        .collect()
}

fn ratio(product: Duration, reference: Duration) -> f64 {
    if reference.is_zero() {
        return f64::NAN;
    }
    product.as_secs_f64() / reference.as_secs_f64()
}

#[derive(Clone, Debug, Default, Serialize)]
pub struct ImportFigures {
    pub rows: u64,
    pub file_bytes: u64,
    pub product_ms: Vec<f64>,
    pub product_cpu_ms: Vec<f64>,
    pub peak_rss_bytes: Vec<u64>,
    pub bulk_load_ms: Vec<f64>,
    pub bulk_load_peak_rss_bytes: Vec<u64>,
    /// The bulk load plus the product's secondary indexes built after it.
    pub bulk_load_indexed_ms: Vec<f64>,
    #[serde(skip)]
    pub product: Vec<Duration>,
    #[serde(skip)]
    pub bulk_load: Vec<Duration>,
    #[serde(skip)]
    pub bulk_load_indexed: Vec<Duration>,
}

impl ImportFigures {
    pub fn seal(&mut self) {
        self.product_ms = millis(&self.product);
        self.bulk_load_ms = millis(&self.bulk_load);
        self.bulk_load_indexed_ms = millis(&self.bulk_load_indexed);
    }

    pub fn ratio(&self) -> f64 {
        ratio(median(&self.product), median(&self.bulk_load))
    }

    /// Ratio to the bulk load followed by the same index builds: what the
    /// product spends beyond building the indexes its previews need.
    pub fn indexed_ratio(&self) -> f64 {
        ratio(median(&self.product), median(&self.bulk_load_indexed))
    }
}

/// A mass operation, by the product and by hand-written SQL.
#[derive(Clone, Debug, Default, Serialize)]
pub struct OperationFigures {
    pub name: String,
    pub matched: u64,
    pub changed: u64,
    pub history_entries: u64,
    pub product_ms: Vec<f64>,
    pub hand_sql_ms: Vec<f64>,
    pub product_cpu_ms: Vec<f64>,
    pub hand_sql_cpu_ms: Vec<f64>,
    #[serde(skip)]
    pub product: Vec<Duration>,
    #[serde(skip)]
    pub hand: Vec<Duration>,
    #[serde(skip)]
    pub product_cpu: Vec<Duration>,
    #[serde(skip)]
    pub hand_cpu: Vec<Duration>,
}

impl OperationFigures {
    pub fn seal(&mut self) {
        self.product_ms = millis(&self.product);
        self.hand_sql_ms = millis(&self.hand);
        self.product_cpu_ms = millis(&self.product_cpu);
        self.hand_sql_cpu_ms = millis(&self.hand_cpu);
    }

    pub fn cpu_ratio(&self) -> f64 {
        ratio(median(&self.product_cpu), median(&self.hand_cpu))
    }

    pub fn ratio(&self) -> f64 {
        ratio(median(&self.product), median(&self.hand))
    }
}

#[derive(Clone, Debug, Default, Serialize)]
pub struct PreviewFigures {
    pub name: String,
    /// Contacts (user preview) or history entries (region preview) the
    /// preview announced.
    pub count: u64,
    pub first_ms: f64,
    pub timed_ms: Vec<f64>,
    pub timed_cpu_ms: Vec<f64>,
    #[serde(skip)]
    pub timed: Vec<Duration>,
    #[serde(skip)]
    pub timed_cpu: Vec<Duration>,
    #[serde(skip)]
    pub first: Duration,
}

impl PreviewFigures {
    pub fn seal(&mut self) {
        self.timed_ms = millis(&self.timed);
        self.timed_cpu_ms = millis(&self.timed_cpu);
        self.first_ms = self.first.as_secs_f64() * 1e3;
    }
}

/// One load run against the web API.
#[derive(Clone, Debug, Default, Serialize)]
pub struct WebFigures {
    pub mix: String,
    pub connections: usize,
    pub requests: u64,
    pub failed: u64,
    pub seconds: f64,
    pub requests_per_second: f64,
    pub p50_ms: f64,
    pub p90_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
    /// CPU time the server process used during the run, in seconds.
    pub server_cpu_seconds: f64,
}

#[derive(Clone, Debug, Default, Serialize)]
pub struct EngineReport {
    pub engine: String,
    pub contacts: u64,
    pub import: Option<ImportFigures>,
    pub operations: Vec<OperationFigures>,
    pub previews: Vec<PreviewFigures>,
    pub web: Vec<WebFigures>,
    /// Parts skipped, with the reason.
    pub notes: Vec<String>,
}

impl EngineReport {
    pub fn seal(&mut self) {
        if let Some(import) = &mut self.import {
            import.seal();
        }
        for operation in &mut self.operations {
            operation.seal();
        }
        for preview in &mut self.previews {
            preview.seal();
        }
    }
}

fn target_mark(met: bool) -> &'static str {
    if met { "met" } else { "MISSED" }
}

/// Renders the figures of one engine and size as Markdown tables.
pub fn render(report: &EngineReport) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "\n## {} — {} contacts\n",
        report.engine, report.contacts
    );
    if let Some(import) = &report.import {
        render_import(&mut out, import);
    }
    // The bench thread runs SQLite itself, so its CPU time is the
    // database's work; PostgreSQL works in its server processes.
    let in_process = report.engine == "sqlite";
    if !report.operations.is_empty() {
        render_operations(&mut out, &report.operations, in_process);
    }
    if !report.previews.is_empty() {
        render_previews(&mut out, &report.previews, in_process);
    }
    if !report.web.is_empty() {
        render_web(&mut out, &report.web);
    }
    for note in &report.notes {
        let _ = writeln!(out, "NOTE: {note}");
    }
    out
}

/// Formats a median CPU time, or a dash where it does not measure the
/// engine's work.
fn cpu_cell(values: &[Duration], in_process: bool) -> String {
    if in_process {
        format_duration(median(values))
    } else {
        "—".to_string()
    }
}

fn render_import(out: &mut String, import: &ImportFigures) {
    let product = median(&import.product);
    let bulk = median(&import.bulk_load);
    let peak = import.peak_rss_bytes.iter().copied().max().unwrap_or(0);
    let ratio = import.ratio();
    let _ = writeln!(
        out,
        "| import ({} rows, {}) | median | runs |",
        import.rows,
        format_mib(import.file_bytes)
    );
    let _ = writeln!(out, "|---|---|---|");
    let _ = writeln!(
        out,
        "| `relais import` | {} | {} |",
        format_duration(product),
        list(&import.product)
    );
    let product_cpu: Vec<Duration> = import
        .product_cpu_ms
        .iter()
        .map(|ms| Duration::from_secs_f64(ms / 1e3))
        .collect();
    let _ = writeln!(
        out,
        "| `relais import`, CPU time of the process | {} | {} |",
        format_duration(median(&product_cpu)),
        list(&product_cpu)
    );
    let _ = writeln!(
        out,
        "| engine bulk load, bare table | {} | {} |",
        format_duration(bulk),
        list(&import.bulk_load)
    );
    let _ = writeln!(
        out,
        "| ratio (target ≤ 2×) | {ratio:.2}× ({}) | |",
        target_mark(ratio <= 2.0)
    );
    let _ = writeln!(
        out,
        "| engine bulk load, then the product's four secondary indexes | {} | {} |",
        format_duration(median(&import.bulk_load_indexed)),
        list(&import.bulk_load_indexed)
    );
    let _ = writeln!(
        out,
        "| ratio to the bulk load with indexes (no target) | {:.2}× | |",
        import.indexed_ratio()
    );
    let _ = writeln!(
        out,
        "| peak RSS of `relais import` (target < 200 MiB) | {} ({}) | |\n",
        format_mib(peak),
        target_mark(peak < 200 * 1024 * 1024)
    );
}

fn render_operations(out: &mut String, operations: &[OperationFigures], in_process: bool) {
    let _ = writeln!(
        out,
        "| operation | matched | changed | history | product | hand SQL | ratio (≤ 1.2×) | product CPU | hand SQL CPU | CPU ratio |"
    );
    let _ = writeln!(out, "|---|---|---|---|---|---|---|---|---|---|");
    for operation in operations {
        let ratio = operation.ratio();
        let cpu_ratio = if in_process {
            format!("{:.2}×", operation.cpu_ratio())
        } else {
            "—".to_string()
        };
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} | {} | {ratio:.2}× ({}) | {} | {} | {cpu_ratio} |",
            operation.name,
            operation.matched,
            operation.changed,
            operation.history_entries,
            format_duration(median(&operation.product)),
            format_duration(median(&operation.hand)),
            target_mark(ratio <= 1.2),
            cpu_cell(&operation.product_cpu, in_process),
            cpu_cell(&operation.hand_cpu, in_process),
        );
    }
    let _ = writeln!(out);
}

fn render_previews(out: &mut String, previews: &[PreviewFigures], in_process: bool) {
    let _ = writeln!(
        out,
        "| preview | count | first call | median | p90 | max | median CPU | target < 20 ms |"
    );
    let _ = writeln!(out, "|---|---|---|---|---|---|---|---|");
    for preview in previews {
        let median = median(&preview.timed);
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} | {} | {} | {} |",
            preview.name,
            preview.count,
            format_duration(preview.first),
            format_duration(median),
            format_duration(quantile(&preview.timed, 0.9)),
            format_duration(quantile(&preview.timed, 1.0)),
            cpu_cell(&preview.timed_cpu, in_process),
            target_mark(median < Duration::from_millis(20))
        );
    }
    let _ = writeln!(out);
}

fn render_web(out: &mut String, web_runs: &[WebFigures]) {
    let _ = writeln!(
        out,
        "| web preview load | connections | requests | failed | req/s | p50 | p90 | p99 | max | server CPU | target ≥ 1000 req/s, p99 < 50 ms |"
    );
    let _ = writeln!(out, "|---|---|---|---|---|---|---|---|---|---|---|");
    for web in web_runs {
        let met = web.requests_per_second >= 1000.0 && web.p99_ms < 50.0 && web.failed == 0;
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {:.0} | {:.1} ms | {:.1} ms | {:.1} ms | {:.1} ms | {:.0} % | {} |",
            web.mix,
            web.connections,
            web.requests,
            web.failed,
            web.requests_per_second,
            web.p50_ms,
            web.p90_ms,
            web.p99_ms,
            web.max_ms,
            100.0 * web.server_cpu_seconds / web.seconds.max(f64::EPSILON),
            target_mark(met)
        );
    }
    let _ = writeln!(out);
}

fn list(values: &[Duration]) -> String {
    values
        .iter()
        .map(|value| format_duration(*value))
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_of_odd_and_even_counts() {
        let ms = |values: &[u64]| {
            values
                .iter()
                .map(|v| Duration::from_millis(*v))
                .collect::<Vec<_>>()
        };
        assert_eq!(median(&ms(&[3, 1, 2])), Duration::from_millis(2));
        assert_eq!(median(&ms(&[4, 1, 2, 3])), Duration::from_micros(2500));
        assert_eq!(median(&[]), Duration::ZERO);
    }

    #[test]
    fn durations_round_into_the_next_unit() {
        assert_eq!(format_duration(Duration::from_micros(999_999)), "1.00 s");
        assert_eq!(format_duration(Duration::from_micros(999_949)), "999.9 ms");
        assert_eq!(format_duration(Duration::from_nanos(999_600)), "1.0 ms");
        assert_eq!(format_duration(Duration::from_micros(250)), "250 µs");
    }

    #[test]
    fn quantile_nearest_rank() {
        let values: Vec<Duration> = (1..=100).map(Duration::from_millis).collect();
        assert_eq!(quantile(&values, 0.99), Duration::from_millis(99));
        assert_eq!(quantile(&values, 1.0), Duration::from_millis(100));
        assert_eq!(quantile(&values, 0.5), Duration::from_millis(50));
    }
}
