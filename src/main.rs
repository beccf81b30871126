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
        Some(Command::Status(a)) => cli::control::status(a),
        Some(Command::Reload(a)) => cli::control::reload(a),
        Some(Command::Rs(a)) => cli::control::rs(a),
        None if cli.config_test => cli::config_test::run(&cli),
        None => lvsd::daemon::run(lvsd::daemon::DaemonOptions::from_cli(&cli)),
    };
    std::process::exit(code);
}
