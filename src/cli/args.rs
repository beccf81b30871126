//! Argument definitions (clap).

use std::ops::Deref;
use std::path::PathBuf;

use clap::{ArgMatches, Args, FromArgMatches, Parser, Subcommand};

pub const DEFAULT_CONFIG: &str = "/etc/keepalived/keepalived.conf";

#[derive(Debug, Parser)]
#[command(
    name = "lvsd",
    version,
    about = "LVS/IPVS director: reads keepalived.conf, programs IPVS, runs health checks and VRRP",
    args_conflicts_with_subcommands = false
)]
pub struct Cli {
    #[command(flatten)]
    pub common: Common,

    /// Check the configuration and exit (0 valid, 4 missing file, 5 errors,
    /// 6 script security).
    #[arg(short = 't', long = "config-test")]
    pub config_test: bool,

    /// With -t: print the resolved configuration as JSON on stdout.
    #[arg(long, requires = "config_test")]
    pub dump: bool,

    /// Stay in the foreground (keepalived -n; lvsd never forks).
    #[arg(short = 'n', long = "dont-fork")]
    pub dont_fork: bool,

    /// Log to the console (keepalived -l).
    #[arg(short = 'l', long = "log-console")]
    pub log_console: bool,

    /// Detailed log messages (keepalived -D).
    #[arg(short = 'D', long = "log-detail")]
    pub log_detail: bool,

    /// Run only the VRRP part (keepalived -P).
    #[arg(short = 'P', long = "vrrp")]
    pub vrrp_only: bool,

    /// Run only the checker/IPVS part (keepalived -C).
    #[arg(short = 'C', long = "check")]
    pub check_only: bool,

    /// Pid file (keepalived -p).
    #[arg(short = 'p', long = "pid")]
    pub pid_file: Option<PathBuf>,

    /// Keep the IPVS entries lvsd owns at shutdown (keepalived -I).
    #[arg(short = 'I', long = "keep-ipvs")]
    pub keep_ipvs: bool,

    /// Daemon: the record of services lvsd owns.
    #[arg(long = "owned-file", default_value = lvsd_ipvs::owned::DEFAULT_PATH)]
    pub owned_file: std::path::PathBuf,

    /// Daemon: seconds between drift-repairing reconciles.
    #[arg(long = "reconcile-interval", default_value_t = 5)]
    pub reconcile_interval: u64,

    /// Daemon: the control socket (`lvsd status`, `reload`, `rs`).
    #[arg(long = "control-socket", default_value = crate::control::access::DEFAULT_SOCKET)]
    pub control_socket: PathBuf,

    /// Daemon: a group allowed on the control socket (mode 0660 instead of
    /// 0600); state-changing requests still need root or lvsd's uid.
    #[arg(long = "control-group")]
    pub control_group: Option<String>,

    /// Daemon: serve Prometheus metrics on ADDR:PORT (off unless given).
    #[arg(long = "metrics-listen", value_name = "ADDR:PORT")]
    pub metrics_listen: Option<std::net::SocketAddr>,

    /// Daemon: a real server removed by a reload is set to weight 0 and
    /// deleted SECS later (default: deleted at once).
    #[arg(long = "drain-removed", value_name = "SECS")]
    pub drain_removed: Option<u64>,

    /// Daemon: seconds a notify script may run before it is killed.
    #[arg(long = "notify-timeout", value_name = "SECS", default_value_t = 30)]
    pub notify_timeout: u64,

    #[command(subcommand)]
    pub command: Option<Command>,
}

/// Flags every command shares.
#[derive(Debug, Args, Clone)]
pub struct Common {
    /// The configuration file (keepalived -f).
    #[arg(short = 'f', long = "use-file", global = true, default_value = DEFAULT_CONFIG)]
    pub file: PathBuf,

    /// Config id for `@id` lines (keepalived -i; default: short host name).
    #[arg(short = 'i', long = "config-id", global = true)]
    pub config_id: Option<String>,

    /// Run even when the configuration has errors, skipping the faulty
    /// items as keepalived does.
    #[arg(long, global = true)]
    pub ignore_config_errors: bool,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Print the IPVS table lvsd would program at start-up, in
    /// `ipvsadm -Sn` format.
    Plan,
    /// List the kernel IPVS table exactly as `ipvsadm -L -n` does.
    List(Deferred<ListArgs>),
    /// Program the start-up table (what `plan` prints) once and exit.
    Apply(Deferred<ApplyArgs>),
    /// Compute the MD5 digest of a URL as keepalived's `--genhash` does.
    Genhash(Deferred<GenhashArgs>),
    /// Show every virtual and real server of the running daemon.
    Status(Deferred<StatusArgs>),
    /// Reload the running daemon's configuration (as SIGHUP; a config
    /// with errors is refused and nothing changes).
    Reload(Deferred<SocketArgs>),
    /// Set an operator's admin state on a real server of the running
    /// daemon (kept across reloads until `enable`).
    Rs(Deferred<RsArgs>),
}

/// A subcommand's arguments, defined only when that subcommand is used
/// (clap's `Command::defer`): defining every subcommand's arguments on each
/// start took about 20 ms of a 0.9 s `lvsd apply` in the lab's emulated
/// CPU. Dereferences to the arguments.
#[derive(Debug)]
pub struct Deferred<T>(pub T);

impl<T> Deref for Deferred<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.0
    }
}

impl<T: FromArgMatches> FromArgMatches for Deferred<T> {
    fn from_arg_matches(matches: &ArgMatches) -> Result<Self, clap::Error> {
        T::from_arg_matches(matches).map(Deferred)
    }

    fn update_from_arg_matches(&mut self, matches: &ArgMatches) -> Result<(), clap::Error> {
        self.0.update_from_arg_matches(matches)
    }
}

impl<T: Args> Args for Deferred<T> {
    fn augment_args(cmd: clap::Command) -> clap::Command {
        cmd.defer(|cmd| keep_about(cmd, T::augment_args))
    }

    fn augment_args_for_update(cmd: clap::Command) -> clap::Command {
        cmd.defer(|cmd| keep_about(cmd, T::augment_args_for_update))
    }
}

/// Runs `augment` on a subcommand, keeping its description: a documented
/// argument struct (`SocketArgs`, flattened into several) sets its own,
/// which, run after the subcommand's is set, would replace it.
fn keep_about(cmd: clap::Command, augment: fn(clap::Command) -> clap::Command) -> clap::Command {
    let about = cmd.get_about().cloned();
    let long_about = cmd.get_long_about().cloned();
    let cmd = augment(cmd);
    let cmd = match about {
        Some(text) => cmd.about(text),
        None => cmd.about(None::<&str>),
    };
    match long_about {
        Some(text) => cmd.long_about(text),
        None => cmd.long_about(None::<&str>),
    }
}

/// Where the running daemon's control socket is.
#[derive(Debug, Args, Clone)]
pub struct SocketArgs {
    /// The daemon's control socket.
    #[arg(long = "socket", default_value = crate::control::access::DEFAULT_SOCKET)]
    pub socket: PathBuf,
}

#[derive(Debug, Args)]
pub struct StatusArgs {
    /// JSON (the control protocol's status object).
    #[arg(long)]
    pub json: bool,
    /// Stream transitions as they happen (one line each; JSON with --json).
    #[arg(long)]
    pub watch: bool,
    #[command(flatten)]
    pub socket: SocketArgs,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum RsActionArg {
    /// Weight 0: existing connections finish.
    Drain,
    /// Remove from IPVS.
    Disable,
    /// Follow the checks again.
    Enable,
}

#[derive(Debug, Args)]
pub struct RsArgs {
    pub action: RsActionArg,
    /// The virtual server: 10.0.0.1:80, [2001:db8::1]:80, fwmark:1 or
    /// group:NAME (add /udp etc. when an address has several protocols).
    pub vs: String,
    /// The real server: 10.0.0.2:80 or [2001:db8::2]:80.
    pub rs: String,
    #[command(flatten)]
    pub socket: SocketArgs,
}

#[derive(Debug, Args)]
pub struct GenhashArgs {
    /// Server address.
    #[arg(short = 's', long = "server")]
    pub server: std::net::IpAddr,
    /// Server port.
    #[arg(short = 'p', long = "port")]
    pub port: u16,
    /// URL path.
    #[arg(short = 'u', long = "url")]
    pub url: String,
    /// Use TLS (SSL_GET).
    #[arg(short = 'S', long = "use-ssl")]
    pub ssl: bool,
    /// Send SNI: the virtual host given with -V (keepalived's `-I`, a flag).
    #[arg(short = 'I', long = "use-sni")]
    pub sni: bool,
    /// Virtual host (Host header).
    #[arg(short = 'V', long = "use-virtualhost")]
    pub vhost: Option<String>,
    /// HTTP protocol: 1.0, 1.0c or 1.1.
    #[arg(short = 'P', long = "protocol", default_value = "1.0")]
    pub protocol: String,
    /// SO_MARK of the connection.
    #[arg(short = 'm', long = "fwmark", default_value_t = 0)]
    pub fwmark: u32,
    /// Timeout in seconds.
    #[arg(short = 't', long = "timeout", default_value_t = 5)]
    pub timeout: u64,
    /// Dump the header, body and hash.
    #[arg(short = 'v', long = "verbose")]
    pub verbose: bool,
}

#[derive(Debug, Args)]
pub struct ListArgs {
    /// Numeric output (always numeric; accepted for ipvsadm compatibility).
    #[arg(short = 'n', long)]
    pub numeric: bool,
    /// Save format, as `ipvsadm -S -n`.
    #[arg(short = 'S', long = "save")]
    pub save: bool,
    #[arg(long)]
    pub stats: bool,
    #[arg(long)]
    pub rate: bool,
    /// Exact numbers (no K/M/G/T).
    #[arg(long)]
    pub exact: bool,
    #[arg(long)]
    pub thresholds: bool,
    #[arg(long = "persistent-conn")]
    pub persistent_conn: bool,
    #[arg(long = "tun-info")]
    pub tun_info: bool,
    /// JSON for tools (services, destinations, counters, statistics).
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct ApplyArgs {
    /// The record of services lvsd owns (only these are changed or removed).
    #[arg(long = "owned-file", default_value = lvsd_ipvs::owned::DEFAULT_PATH)]
    pub owned_file: String,
    /// Print how long loading, dumping and applying took.
    #[arg(long)]
    pub timing: bool,
}

#[cfg(test)]
mod tests {
    use clap::{CommandFactory, Parser};

    use super::{Cli, Command};

    #[test]
    fn definitions_are_consistent_deferred_parts_included() {
        Cli::command().debug_assert();
    }

    /// A deferred subcommand parses its own and the global arguments, and
    /// keeps the description its variant gives it.
    #[test]
    fn deferred_subcommands_parse_and_keep_their_descriptions() {
        let cli = Cli::try_parse_from(["lvsd", "apply", "-f", "x.conf", "--timing"]).unwrap();
        assert_eq!(cli.common.file, std::path::PathBuf::from("x.conf"));
        match cli.command {
            Some(Command::Apply(a)) => {
                assert!(a.timing);
                assert_eq!(a.owned_file, lvsd_ipvs::owned::DEFAULT_PATH);
            }
            other => panic!("{other:?}"),
        }
        let cli = Cli::try_parse_from(["lvsd", "list", "-n", "--save"]).unwrap();
        assert!(matches!(cli.command, Some(Command::List(ref l)) if l.numeric && l.save));
        assert!(Cli::try_parse_from(["lvsd", "apply", "--save"]).is_err());

        let mut cmd = Cli::command();
        cmd.build();
        for (name, about) in [
            ("reload", "Reload the running daemon's configuration"),
            ("status", "Show every virtual and real server"),
            ("rs", "Set an operator's admin state"),
            ("apply", "Program the start-up table"),
        ] {
            let sub = cmd.find_subcommand_mut(name).unwrap();
            let help = sub.render_help().to_string();
            assert!(help.starts_with(about), "{name}: {help}");
        }
    }
}
