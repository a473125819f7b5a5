//! Latency histograms, counters and the text / JSON report.

use hdrhistogram::Histogram;
use std::collections::BTreeMap;
use std::fmt::Write as _;

/// Latencies are recorded in microseconds, 1 µs .. 120 s, 3 significant digits.
pub fn new_hist() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 120_000_000, 3).expect("valid histogram bounds")
}

pub fn record(h: &mut Histogram<u64>, us: u64) {
    h.saturating_record(us.max(1));
}

/// Counters and histograms of one session (merged into one at the end).
pub struct Stats {
    pub all: Histogram<u64>,
    pub read: Histogram<u64>,
    pub write: Histogram<u64>,
    pub reads: u64,
    pub writes: u64,
    /// ZooKeeper error code -> count (replies with err != 0).
    pub errors: BTreeMap<i32, u64>,
    /// Connection-level failures (connect refused, connection lost, timeouts).
    pub io_errors: u64,
}

impl Default for Stats {
    fn default() -> Self {
        Stats {
            all: new_hist(),
            read: new_hist(),
            write: new_hist(),
            reads: 0,
            writes: 0,
            errors: BTreeMap::new(),
            io_errors: 0,
        }
    }
}

impl Stats {
    pub fn add(&mut self, o: &Stats) {
        self.all.add(&o.all).expect("same bounds");
        self.read.add(&o.read).expect("same bounds");
        self.write.add(&o.write).expect("same bounds");
        self.reads += o.reads;
        self.writes += o.writes;
        for (k, v) in &o.errors {
            *self.errors.entry(*k).or_default() += v;
        }
        self.io_errors += o.io_errors;
    }
    pub fn error_total(&self) -> u64 {
        self.errors.values().sum::<u64>() + self.io_errors
    }
}

/// Percentile summary in milliseconds.
#[derive(Clone, Copy, Default)]
pub struct Lat {
    pub count: u64,
    pub mean: f64,
    pub p50: f64,
    pub p90: f64,
    pub p99: f64,
    pub p999: f64,
    pub max: f64,
}

pub fn summarize(h: &Histogram<u64>) -> Lat {
    if h.is_empty() {
        return Lat::default();
    }
    let ms = |v: u64| v as f64 / 1000.0;
    Lat {
        count: h.len(),
        mean: h.mean() / 1000.0,
        p50: ms(h.value_at_quantile(0.50)),
        p90: ms(h.value_at_quantile(0.90)),
        p99: ms(h.value_at_quantile(0.99)),
        p999: ms(h.value_at_quantile(0.999)),
        max: ms(h.max()),
    }
}

/// A flat report: ordered (key, value) pairs plus named latency summaries.
pub struct Report {
    pub fields: Vec<(String, Value)>,
    pub lats: Vec<(String, Lat)>,
    pub errors: BTreeMap<String, u64>,
}

pub enum Value {
    Str(String),
    Int(i64),
    Num(f64),
}

impl Report {
    pub fn new() -> Self {
        Report {
            fields: Vec::new(),
            lats: Vec::new(),
            errors: BTreeMap::new(),
        }
    }
    pub fn s(&mut self, k: &str, v: impl Into<String>) {
        self.fields.push((k.into(), Value::Str(v.into())));
    }
    pub fn i(&mut self, k: &str, v: i64) {
        self.fields.push((k.into(), Value::Int(v)));
    }
    pub fn n(&mut self, k: &str, v: f64) {
        self.fields.push((k.into(), Value::Num(v)));
    }
    pub fn lat(&mut self, k: &str, l: Lat) {
        self.lats.push((k.into(), l));
    }

    pub fn text(&self) -> String {
        let mut o = String::new();
        for (k, v) in &self.fields {
            let _ = match v {
                Value::Str(s) => writeln!(o, "{k:<14} {s}"),
                Value::Int(i) => writeln!(o, "{k:<14} {i}"),
                Value::Num(n) => writeln!(o, "{k:<14} {n:.1}"),
            };
        }
        let errs: Vec<String> = self
            .errors
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        let _ = writeln!(
            o,
            "{:<14} {}",
            "errors",
            if errs.is_empty() {
                "0".to_string()
            } else {
                errs.join(" ")
            }
        );
        if !self.lats.is_empty() {
            let _ = writeln!(
                o,
                "latency ms     {:>9} {:>8} {:>8} {:>8} {:>8} {:>8} {:>8}",
                "count", "mean", "p50", "p90", "p99", "p99.9", "max"
            );
            for (k, l) in &self.lats {
                let _ = writeln!(
                    o,
                    "  {k:<12} {:>9} {:>8.3} {:>8.3} {:>8.3} {:>8.3} {:>8.3} {:>8.3}",
                    l.count, l.mean, l.p50, l.p90, l.p99, l.p999, l.max
                );
            }
        }
        o
    }

    pub fn json(&self) -> String {
        let mut o = String::from("{");
        let mut first = true;
        let mut sep = |o: &mut String| {
            if !first {
                o.push(',');
            }
            first = false;
        };
        for (k, v) in &self.fields {
            sep(&mut o);
            let _ = write!(o, "{}:", json_str(k));
            let _ = match v {
                Value::Str(s) => write!(o, "{}", json_str(s)),
                Value::Int(i) => write!(o, "{i}"),
                Value::Num(n) if n.is_finite() => write!(o, "{n:.3}"),
                Value::Num(_) => write!(o, "null"),
            };
        }
        sep(&mut o);
        o.push_str("\"errors\":{");
        let errs: Vec<String> = self
            .errors
            .iter()
            .map(|(k, v)| format!("{}:{v}", json_str(k)))
            .collect();
        o.push_str(&errs.join(","));
        o.push('}');
        sep(&mut o);
        o.push_str("\"latency_ms\":{");
        let lats: Vec<String> = self
            .lats
            .iter()
            .map(|(k, l)| {
                format!(
                    "{}:{{\"count\":{},\"mean\":{:.3},\"p50\":{:.3},\"p90\":{:.3},\"p99\":{:.3},\"p999\":{:.3},\"max\":{:.3}}}",
                    json_str(k),
                    l.count,
                    l.mean,
                    l.p50,
                    l.p90,
                    l.p99,
                    l.p999,
                    l.max
                )
            })
            .collect();
        o.push_str(&lats.join(","));
        o.push_str("}}");
        o
    }
}

pub fn json_str(s: &str) -> String {
    let mut o = String::with_capacity(s.len() + 2);
    o.push('"');
    for c in s.chars() {
        match c {
            '"' => o.push_str("\\\""),
            '\\' => o.push_str("\\\\"),
            '\n' => o.push_str("\\n"),
            c if (c as u32) < 0x20 => {
                let _ = write!(o, "\\u{:04x}", c as u32);
            }
            c => o.push(c),
        }
    }
    o.push('"');
    o
}

/// Names of the ZooKeeper error codes the tool can meet.
pub fn err_name(code: i32) -> String {
    let n = match code {
        -4 => "ConnectionLoss",
        -7 => "OperationTimeout",
        -8 => "BadArguments",
        -101 => "NoNode",
        -102 => "NoAuth",
        -103 => "BadVersion",
        -110 => "NodeExists",
        -111 => "NotEmpty",
        -112 => "SessionExpired",
        -118 => "SessionMoved",
        -122 => "RequestTimeout",
        -127 => "Throttled",
        _ => "",
    };
    if n.is_empty() {
        format!("err{code}")
    } else {
        format!("{n}({code})")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_report_is_well_formed() {
        let mut h = new_hist();
        for us in [100, 200, 300, 5_000] {
            record(&mut h, us);
        }
        let mut r = Report::new();
        r.s("workload", "get \"x\"\n");
        r.i("ops", 4);
        r.n("ops_per_s", 2.5);
        r.errors.insert(err_name(-101), 2);
        r.lat("all", summarize(&h));
        let j = r.json();
        assert!(
            j.starts_with("{\"workload\":\"get \\\"x\\\"\\n\",\"ops\":4,\"ops_per_s\":2.500,"),
            "{j}"
        );
        assert!(j.contains("\"errors\":{\"NoNode(-101)\":2}"), "{j}");
        assert!(j.contains("\"p50\":0.200"), "{j}");
        assert!(j.ends_with("}}"), "{j}");
        let l = summarize(&h);
        assert_eq!(l.count, 4);
        assert!((l.max - 5.0).abs() < 0.01);
    }
}
