//! The `lvsd` binary: parses arguments and dispatches; all logic lives in the
//! library.

use clap::Parser;

use lvsd::cli::{self, args::Cli, args::Command};

fn main() {
    let cli = Cli::parse();
    let code = match &cli.command {
        Some(Command::Plan) => cli::plan::run(&cli.common),
        Some(Command::List(a)) => cli::list::run(a),
        Some(Command::Apply(a)) => cli::apply::run(&cli.common, a),
        Some(Command::Genhash(a)) => cli::genhash::run(a),
        None if cli.config_test => cli::config_test::run(&cli),
        None => {
            // The daemon arrives with the director issue; until then refuse
            // clearly instead of pretending to run.
            match cli::plan::load_for_run(&cli.common) {
                Ok(_) => {
                    eprintln!(
                        "lvsd: the daemon is not implemented yet; use `lvsd plan` or `lvsd -t`"
                    );
                    cli::exit::RUNTIME
                }
                Err(code) => code,
            }
        }
    };
    std::process::exit(code);
}
