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
        None => lvsd::daemon::run(lvsd::daemon::DaemonOptions {
            common: cli.common.clone(),
            pid_file: cli.pid_file.clone(),
            keep_ipvs: cli.keep_ipvs,
            owned_file: cli.owned_file.clone(),
            reconcile_interval: std::time::Duration::from_secs(cli.reconcile_interval.max(1)),
            vrrp_only: cli.vrrp_only,
            check_only: cli.check_only,
            control_socket: Some(cli.control_socket.clone()),
            control_group: cli.control_group.clone(),
            metrics_listen: cli.metrics_listen,
            drain_removed: cli.drain_removed.map(std::time::Duration::from_secs),
            notify_timeout: std::time::Duration::from_secs(cli.notify_timeout.max(1)),
        }),
    };
    std::process::exit(code);
}
