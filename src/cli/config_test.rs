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
            serde_json::to_string_pretty(&loaded.config)
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

pub fn plural(n: usize) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}
