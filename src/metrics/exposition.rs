//! The Prometheus text exposition format (version 0.0.4): `# HELP` and
//! `# TYPE` once per family, then its samples; label values escape `\`,
//! `"` and newlines, HELP text escapes `\` and newlines; values are
//! integers or floats (`+Inf`, `-Inf`, `NaN`). Pure.

use std::fmt::Write;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Counter,
    Gauge,
    /// Only `_sum` and `_count` (no quantiles).
    Summary,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::Counter => "counter",
            Kind::Gauge => "gauge",
            Kind::Summary => "summary",
        }
    }
}

/// Label names and values of one sample.
pub type Labels = Vec<(&'static str, String)>;

/// One sample: name suffix (`""`, `_sum`, `_count`), labels, value.
type Sample = (&'static str, Labels, f64);

/// One metric family and its samples.
#[derive(Debug, Clone)]
pub struct Family {
    pub name: &'static str,
    pub help: &'static str,
    pub kind: Kind,
    samples: Vec<Sample>,
}

impl Family {
    pub fn new(name: &'static str, kind: Kind, help: &'static str) -> Self {
        Family {
            name,
            help,
            kind,
            samples: Vec::new(),
        }
    }

    pub fn add(&mut self, labels: Labels, value: f64) {
        self.samples.push(("", labels, value));
    }

    /// A summary's `_sum` and `_count`.
    pub fn add_summary(&mut self, labels: Labels, sum: f64, count: u64) {
        self.samples.push(("_sum", labels.clone(), sum));
        self.samples.push(("_count", labels, count as f64));
    }

    pub fn is_empty(&self) -> bool {
        self.samples.is_empty()
    }
}

pub fn escape_label(v: &str) -> String {
    let mut out = String::with_capacity(v.len());
    for c in v.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out
}

pub fn escape_help(v: &str) -> String {
    v.replace('\\', "\\\\").replace('\n', "\\n")
}

pub fn format_value(v: f64) -> String {
    if v.is_nan() {
        "NaN".into()
    } else if v == f64::INFINITY {
        "+Inf".into()
    } else if v == f64::NEG_INFINITY {
        "-Inf".into()
    } else if v.fract() == 0.0 && v.abs() < 9.007_199_254_740_992e15 {
        format!("{}", v as i64)
    } else if v != 0.0 && (v.abs() >= 1e15 || v.abs() < 1e-4) {
        format!("{v:e}")
    } else {
        format!("{v}")
    }
}

/// Renders families in order (empty families still get HELP and TYPE).
pub fn render(families: &[Family]) -> String {
    let mut out = String::new();
    for f in families {
        let _ = writeln!(out, "# HELP {} {}", f.name, escape_help(f.help));
        let _ = writeln!(out, "# TYPE {} {}", f.name, f.kind.name());
        for (suffix, labels, value) in &f.samples {
            out.push_str(f.name);
            out.push_str(suffix);
            if !labels.is_empty() {
                out.push('{');
                for (i, (k, v)) in labels.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    let _ = write!(out, "{k}=\"{}\"", escape_label(v));
                }
                out.push('}');
            }
            let _ = writeln!(out, " {}", format_value(*value));
        }
    }
    out
}

/// The content type of this format.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaping_and_layout() {
        let mut c = Family::new("x_total", Kind::Counter, "Things\\counted\nhere.");
        c.add(vec![("vs", "a\"b\\c\nd".into()), ("rs", "r".into())], 3.0);
        let mut g = Family::new("y", Kind::Gauge, "A gauge.");
        g.add(vec![], 0.25);
        let mut s = Family::new("z_seconds", Kind::Summary, "Latency.");
        s.add_summary(vec![("rs", "1".into())], 1.5, 4);
        let text = render(&[c, g, s, Family::new("empty", Kind::Gauge, "None.")]);
        assert_eq!(
            text,
            "# HELP x_total Things\\\\counted\\nhere.\n# TYPE x_total counter\n\
             x_total{vs=\"a\\\"b\\\\c\\nd\",rs=\"r\"} 3\n\
             # HELP y A gauge.\n# TYPE y gauge\ny 0.25\n\
             # HELP z_seconds Latency.\n# TYPE z_seconds summary\n\
             z_seconds_sum{rs=\"1\"} 1.5\nz_seconds_count{rs=\"1\"} 4\n\
             # HELP empty None.\n# TYPE empty gauge\n"
        );
    }

    #[test]
    fn values() {
        assert_eq!(format_value(f64::NAN), "NaN");
        assert_eq!(format_value(f64::INFINITY), "+Inf");
        assert_eq!(format_value(f64::NEG_INFINITY), "-Inf");
        assert_eq!(format_value(12345678.0), "12345678");
        assert_eq!(format_value(-2.5), "-2.5");
        assert_eq!(format_value(1e300), "1e300");
        assert_eq!(format_value(0.00001), "1e-5");
    }
}
