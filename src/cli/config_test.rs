//! `lvsd -t`: validate, print diagnostics, exit with keepalived-like codes.

use std::io::Write;

use super::args::Cli;
use super::load;

pub fn run(cli: &Cli) -> i32 {
    let loaded = load(&cli.common.file, cli.common.config_id.as_deref(), true);
    let text = loaded.render_diagnostics();
    let mut err = std::io::stderr().lock();
    let _ = err.write_all(text.as_bytes());
    let d = &loaded.diagnostics;
    let (e, w) = (d.error_count(), d.warning_count());
    let file = cli.common.file.display();
    if e == 0 {
        let _ = writeln!(
            err,
            "lvsd: {file}: configuration valid ({w} warning{})",
            plural(w)
        );
    } else {
        let _ = writeln!(
            err,
            "lvsd: {file}: {e} error{}, {w} warning{}",
            plural(e),
            plural(w)
        );
    }
    if cli.dump {
        match crate::config::origin::with_sources(&loaded.sources, || {
            serde_json::to_value(&loaded.config)
                .map(seconds_as_numbers)
                .and_then(|v| serde_json::to_string_pretty(&v))
        }) {
            Ok(json) => println!("{json}"),
            Err(e) => {
                let _ = writeln!(err, "lvsd: cannot encode the configuration as JSON: {e}");
                return super::exit::RUNTIME;
            }
        }
    }
    let code = d.exit_code();
    // The process exits next: skip freeing a large configuration.
    std::mem::forget(loaded);
    code
}

/// Durations serialize as `{"secs": s, "nanos": n}`; operators read seconds.
fn seconds_as_numbers(v: serde_json::Value) -> serde_json::Value {
    use serde_json::Value;
    match v {
        Value::Object(map) => {
            if map.len() == 2 {
                if let (Some(Value::Number(s)), Some(Value::Number(n))) =
                    (map.get("secs"), map.get("nanos"))
                {
                    if let (Some(s), Some(n)) = (s.as_u64(), n.as_u64()) {
                        let secs = s as f64 + n as f64 / 1e9;
                        if let Some(num) = serde_json::Number::from_f64(secs) {
                            return Value::Number(num);
                        }
                    }
                }
            }
            Value::Object(
                map.into_iter()
                    .map(|(k, v)| (k, seconds_as_numbers(v)))
                    .collect(),
            )
        }
        Value::Array(a) => Value::Array(a.into_iter().map(seconds_as_numbers).collect()),
        other => other,
    }
}

pub fn plural(n: usize) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}
