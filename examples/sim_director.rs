//! The lvsd daemon on a simulated IPVS kernel (`SimKernel`: the real
//! netlink codec on both sides, the table in memory), for benchmarking the
//! director and its checks on a host without IPVS. Takes lvsd's arguments;
//! run it in a network namespace you created (see
//! `scripts/bench-director-host`). Not for production: nothing reaches the
//! kernel's IPVS.

use clap::Parser;
use lvsd::cli::args::Cli;
use lvsd::daemon::{run_with, DaemonOptions};
use lvsd_ipvs::netlink::client::IpvsClient;
use lvsd_ipvs::netlink::sim::SimKernel;

fn main() {
    let cli = Cli::parse();
    let code = run_with(DaemonOptions::from_cli(&cli), || {
        IpvsClient::with_transport(SimKernel::default()).map_err(|e| e.to_string())
    });
    std::process::exit(code);
}
