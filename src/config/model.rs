//! The typed configuration: what keepalived.conf says, with keepalived's
//! defaults and inheritance already resolved. Values whose effective setting
//! may come from elsewhere (inheritance, defaults) are `Sourced`, so an
//! operator can see where each came from (`lvsd -t --dump`).

use std::net::IpAddr;
use std::time::Duration;

use lvsd_ipvs::{Netmask, Protocol, Tunnel};
use serde::Serialize;

pub use super::origin::{Origin, Pos};

/// A value and where it came from ("default", "set at f:3:5",
/// "inherited from virtual_server at f:1:1", ...).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Sourced<T> {
    pub value: T,
    pub from: Origin,
}

impl<T> Sourced<T> {
    pub fn new(value: T, from: impl Into<Origin>) -> Self {
        Sourced {
            value,
            from: from.into(),
        }
    }
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct Config {
    pub global: GlobalDefs,
    pub ssl: Option<SslSettings>,
    pub vs_groups: Vec<VirtualServerGroup>,
    pub virtual_servers: Vec<VirtualServer>,
    pub track_files: Vec<TrackFile>,
    pub vrrp_scripts: Vec<VrrpScript>,
    pub vrrp_sync_groups: Vec<VrrpSyncGroup>,
    pub vrrp_instances: Vec<VrrpInstance>,
    pub static_ipaddress: Vec<String>,
    pub static_routes: Vec<String>,
    pub static_rules: Vec<String>,
    /// `bfd_instance` names (parsed; BFD is not supported by lvsd).
    pub bfd_instances: Vec<String>,
    /// Top-level blocks keepalived knows and lvsd accepts without modelling
    /// (`linkbeat_interfaces`, `garp_group`, `vrrp_track_process`, ...).
    pub other_blocks: Vec<String>,
}

/// A script to run: the command text (keepalived quoting, split later) and
/// the user/group to run it as.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Script {
    pub command: String,
    pub user: Option<String>,
    pub group: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum FlushOnStop {
    /// `lvs_flush_on_stop`: flush the whole table.
    All,
    /// `lvs_flush_on_stop VS`: delete only the virtual servers.
    VirtualServers,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct LvsTimeouts {
    pub tcp: Option<u32>,
    pub tcpfin: Option<u32>,
    pub udp: Option<u32>,
}

/// `lvs_sync_daemon IF [[inst] VI] [id N] [maxlen N] [port N] [ttl N] [group IP]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LvsSyncDaemon {
    pub interface: String,
    pub instance: Option<String>,
    pub sync_id: Option<u8>,
    pub maxlen: Option<u16>,
    pub port: Option<u16>,
    pub ttl: Option<u8>,
    pub group: Option<IpAddr>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Fifo {
    pub path: String,
    pub script: Option<Script>,
}

#[derive(Debug, Clone, Serialize)]
pub struct GlobalDefs {
    pub router_id: Option<String>,
    pub notification_email: Vec<String>,
    pub notification_email_from: Option<String>,
    pub smtp_server: Option<(String, u16)>,
    pub smtp_helo_name: Option<String>,
    pub smtp_connect_timeout: Option<Duration>,
    pub smtp_alert: Option<bool>,
    pub smtp_alert_vrrp: Option<bool>,
    pub smtp_alert_checker: Option<bool>,
    pub checker_log_all_failures: bool,
    pub enable_script_security: bool,
    pub script_user: Option<(String, Option<String>)>,
    pub lvs_timeouts: LvsTimeouts,
    pub lvs_sync_daemon: Option<LvsSyncDaemon>,
    pub lvs_flush: bool,
    pub lvs_flush_on_stop: Option<FlushOnStop>,
    pub notify_fifo: Option<Fifo>,
    pub vrrp_notify_fifo: Option<Fifo>,
    pub lvs_notify_fifo: Option<Fifo>,
    pub rs_init_notifies: bool,
    pub no_checker_emails: bool,
    pub vrrp_version: u8,
    pub vrrp_mcast_group4: Option<IpAddr>,
    pub vrrp_mcast_group6: Option<IpAddr>,
    pub vrrp_garp_master_delay: Duration,
    pub vrrp_garp_master_repeat: u32,
    pub vrrp_garp_master_refresh: Option<Duration>,
    pub vrrp_garp_master_refresh_repeat: u32,
    pub vrrp_garp_interval: Duration,
    pub vrrp_gna_interval: Duration,
    pub vrrp_lower_prio_no_advert: bool,
    pub vrrp_higher_prio_send_advert: bool,
    pub vrrp_strict: bool,
    pub vrrp_skip_check_adv_addr: bool,
    pub vrrp_check_unicast_src: bool,
    pub vrrp_startup_delay: Option<Duration>,
    pub default_interface: Option<String>,
    pub dynamic_interfaces: bool,
    /// Every other recognised keyword, as written (keyword, arguments).
    pub other: Vec<(String, Vec<String>)>,
}

impl Default for GlobalDefs {
    fn default() -> Self {
        GlobalDefs {
            router_id: None,
            notification_email: Vec::new(),
            notification_email_from: None,
            smtp_server: None,
            smtp_helo_name: None,
            smtp_connect_timeout: None,
            smtp_alert: None,
            smtp_alert_vrrp: None,
            smtp_alert_checker: None,
            checker_log_all_failures: false,
            enable_script_security: false,
            script_user: None,
            lvs_timeouts: LvsTimeouts::default(),
            lvs_sync_daemon: None,
            lvs_flush: false,
            lvs_flush_on_stop: None,
            notify_fifo: None,
            vrrp_notify_fifo: None,
            lvs_notify_fifo: None,
            rs_init_notifies: false,
            no_checker_emails: false,
            vrrp_version: 2,
            vrrp_mcast_group4: None,
            vrrp_mcast_group6: None,
            vrrp_garp_master_delay: Duration::from_secs(5),
            vrrp_garp_master_repeat: 5,
            vrrp_garp_master_refresh: None,
            vrrp_garp_master_refresh_repeat: 1,
            vrrp_garp_interval: Duration::ZERO,
            vrrp_gna_interval: Duration::ZERO,
            vrrp_lower_prio_no_advert: false,
            vrrp_higher_prio_send_advert: false,
            vrrp_strict: false,
            vrrp_skip_check_adv_addr: false,
            vrrp_check_unicast_src: false,
            vrrp_startup_delay: None,
            default_interface: None,
            dynamic_interfaces: false,
            other: Vec::new(),
        }
    }
}

/// The global `SSL { ... }` block (client certificate for SSL_GET).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct SslSettings {
    pub password: Option<String>,
    pub ca: Option<String>,
    pub certificate: Option<String>,
    pub key: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct VirtualServerGroup {
    pub name: String,
    pub entries: Vec<VsgEntry>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub enum VsgEntry {
    /// One address or a range (`first..=last`), with an optional port
    /// (0 = none).
    Range {
        first: IpAddr,
        last: IpAddr,
        port: u16,
    },
    Fwmark {
        mark: u32,
        family: Option<Family>,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Family {
    Inet,
    Inet6,
}

/// What a `virtual_server` header names.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub enum VsTarget {
    Addr { addr: IpAddr, port: u16 },
    Fwmark(u32),
    Group(String),
}

/// Forwarding method (`lb_kind` / `lvs_method`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Method {
    Nat,
    Dr,
    Tun,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Forwarding {
    pub method: Method,
    /// Tunnel encapsulation for TUN (`type ipip|gue port N|gre`, csum).
    pub tunnel: Tunnel,
}

impl Forwarding {
    pub fn nat() -> Self {
        Forwarding {
            method: Method::Nat,
            tunnel: Tunnel::default(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SorryServer {
    pub addr: IpAddr,
    pub port: u16,
    pub forwarding: Forwarding,
    pub inhibit: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct VirtualServer {
    /// `file:line:col` of the `virtual_server` keyword.
    pub at: Pos,
    pub target: VsTarget,
    pub protocol: Sourced<Protocol>,
    pub scheduler: Sourced<String>,
    pub forwarding: Sourced<Forwarding>,
    /// Persistence timeout in seconds (0 = not persistent).
    pub persistence_timeout: Sourced<u32>,
    pub persistence_granularity: Option<Netmask>,
    pub persistence_engine: Option<String>,
    pub ops: bool,
    /// `svc_flags` scheduler bits (sh-port, sh-fallback, flag-1..3).
    pub sched_flags: u32,
    pub delay_loop: Sourced<Duration>,
    pub connect_timeout: Sourced<Duration>,
    pub inhibit_on_failure: bool,
    pub alpha: bool,
    pub omega: bool,
    pub quorum: Sourced<u32>,
    pub hysteresis: u32,
    pub quorum_up: Option<Script>,
    pub quorum_down: Option<Script>,
    pub ha_suspend: bool,
    pub virtualhost: Option<String>,
    pub ip_family: Option<Family>,
    pub sorry_server: Option<SorryServer>,
    pub smtp_alert: Option<bool>,
    pub real_servers: Vec<RealServer>,
}

#[derive(Debug, Clone, Serialize)]
pub struct RealServer {
    pub at: Pos,
    pub addr: IpAddr,
    pub port: Sourced<u16>,
    pub weight: Sourced<u32>,
    pub forwarding: Sourced<Forwarding>,
    pub uthreshold: u32,
    pub lthreshold: u32,
    pub inhibit_on_failure: Sourced<bool>,
    pub alpha: Sourced<bool>,
    pub notify_up: Option<Script>,
    pub notify_down: Option<Script>,
    pub virtualhost: Option<String>,
    pub smtp_alert: Option<bool>,
    pub checkers: Vec<Checker>,
}

/// Timing of one checker after inheritance (checker, then RS, then VS, then
/// the checker type's default).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CheckerTiming {
    pub delay_loop: Sourced<Duration>,
    pub connect_timeout: Sourced<Duration>,
    pub retry: Sourced<u32>,
    pub delay_before_retry: Sourced<Duration>,
    pub warmup: Sourced<Duration>,
    pub alpha: Sourced<bool>,
    pub log_all_failures: bool,
}

/// Connection options of a network checker.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct CheckerConn {
    /// Effective destination (connect_ip/connect_port, else the RS).
    pub connect_ip: Option<IpAddr>,
    pub connect_port: Option<u16>,
    pub bindto: Option<IpAddr>,
    pub bind_port: Option<u16>,
    pub bind_if: Option<String>,
    pub fwmark: u32,
}

#[derive(Debug, Clone, Serialize)]
pub struct Checker {
    pub at: Pos,
    pub kind: CheckerKind,
    pub timing: CheckerTiming,
    pub conn: CheckerConn,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub enum CheckerKind {
    Tcp,
    Http(HttpCheck),
    Ssl(HttpCheck),
    Misc(MiscCheck),
    Smtp(SmtpCheck),
    Dns(DnsCheck),
    Udp(UdpCheck),
    Ping,
    File(FileCheck),
    /// Parsed for compatibility; lvsd does not run BFD.
    Bfd {
        name: Option<String>,
    },
}

impl CheckerKind {
    pub fn keyword(&self) -> &'static str {
        match self {
            CheckerKind::Tcp => "TCP_CHECK",
            CheckerKind::Http(_) => "HTTP_GET",
            CheckerKind::Ssl(_) => "SSL_GET",
            CheckerKind::Misc(_) => "MISC_CHECK",
            CheckerKind::Smtp(_) => "SMTP_CHECK",
            CheckerKind::Dns(_) => "DNS_CHECK",
            CheckerKind::Udp(_) => "UDP_CHECK",
            CheckerKind::Ping => "PING_CHECK",
            CheckerKind::File(_) => "FILE_CHECK",
            CheckerKind::Bfd { .. } => "BFD_CHECK",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum HttpProtocol {
    /// `1.0` (default): no Connection header.
    Http10,
    /// `1.0C`: HTTP/1.0 with `Connection: close`.
    Http10Close,
    /// `1.1`: with `Connection: close`.
    Http11,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HttpCheck {
    pub urls: Vec<UrlCheck>,
    pub virtualhost: Option<String>,
    pub http_protocol: HttpProtocol,
    pub fast_recovery: bool,
    pub enable_sni: bool,
    pub sni_name: Option<String>,
    pub tls_compliant: bool,
    /// lvsd-only `lvsd_verify_tls` (SSL_GET): verify the server certificate
    /// against the global `SSL { ca }` (keepalived never verifies).
    pub lvsd_verify_tls: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct UrlCheck {
    pub path: String,
    /// 32 lowercase hex characters.
    pub digest: Option<String>,
    /// Accepted status ranges (inclusive); empty means the default 200-299.
    pub status_codes: Vec<(u16, u16)>,
    pub virtualhost: Option<String>,
    pub regex: Option<String>,
    pub regex_no_match: bool,
    pub regex_options: Vec<String>,
    pub regex_min_offset: Option<u32>,
    pub regex_max_offset: Option<u32>,
    pub tls_compliant: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MiscCheck {
    pub path: String,
    /// `misc_timeout` (default: the virtual server's delay_loop).
    pub timeout: Sourced<Duration>,
    pub dynamic: bool,
    pub user: Option<String>,
    pub group: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SmtpCheck {
    pub helo_name: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DnsCheck {
    pub query_type: String,
    pub name: String,
}

/// Bytes to match with a per-nibble mask (`x` in the hex string = any).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HexPattern {
    pub bytes: Vec<u8>,
    /// 0xff = whole byte, 0xf0 / 0x0f = one nibble, 0 = any.
    pub mask: Vec<u8>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct UdpCheck {
    pub payload: Option<Vec<u8>>,
    /// `require_reply [HEX]`: `Some` with an empty pattern = any reply.
    pub require_reply: Option<HexPattern>,
    pub min_reply_length: u32,
    pub max_reply_length: u32,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FileCheck {
    pub track_file: String,
    pub weight: Option<i64>,
    pub reverse: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct TrackFile {
    pub name: String,
    pub file: String,
    pub weight: i64,
    pub reverse: bool,
    pub init_file: Option<(Option<i64>, bool)>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum VrrpState {
    Master,
    Backup,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub enum VrrpAuth {
    Pass(String),
    Ah(String),
}

/// An entry of `virtual_ipaddress` / `virtual_ipaddress_excluded`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct VirtualAddress {
    pub addr: IpAddr,
    pub prefix: u8,
    pub brd: Option<IpAddr>,
    pub dev: Option<String>,
    pub scope: Option<String>,
    pub label: Option<String>,
    /// Further options as written (`no_track`, `preferred_lft 0`, ...).
    pub options: Vec<String>,
}

/// A `track_script`/`track_interface`/`track_file` entry with its weight.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TrackRef {
    pub name: String,
    pub weight: Option<i64>,
    pub reverse: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct VrrpInstance {
    pub at: Pos,
    pub name: String,
    pub state: Option<VrrpState>,
    pub interface: Option<String>,
    pub virtual_router_id: u8,
    pub priority: Sourced<u8>,
    pub advert_int: Sourced<Duration>,
    pub version: Sourced<u8>,
    pub authentication: Option<VrrpAuth>,
    pub virtual_ipaddress: Vec<VirtualAddress>,
    pub virtual_ipaddress_excluded: Vec<VirtualAddress>,
    pub virtual_routes: Vec<String>,
    pub virtual_rules: Vec<String>,
    pub unicast_src_ip: Option<IpAddr>,
    pub unicast_peer: Vec<IpAddr>,
    pub mcast_src_ip: Option<IpAddr>,
    pub nopreempt: bool,
    pub preempt_delay: Duration,
    pub garp_master_delay: Sourced<Duration>,
    pub garp_master_repeat: Sourced<u32>,
    pub garp_master_refresh: Option<Duration>,
    pub garp_master_refresh_repeat: u32,
    pub track_script: Vec<TrackRef>,
    pub track_interface: Vec<TrackRef>,
    pub track_file: Vec<TrackRef>,
    pub notify_master: Option<Script>,
    pub notify_backup: Option<Script>,
    pub notify_fault: Option<Script>,
    pub notify_stop: Option<Script>,
    pub notify: Option<Script>,
    pub smtp_alert: Option<bool>,
    pub use_vmac: Option<String>,
    pub vmac_xmit_base: bool,
    pub dont_track_primary: bool,
    pub native_ipv6: bool,
    pub strict_mode: bool,
    pub accept: Option<bool>,
    pub unicast_ttl: Option<u8>,
    pub lvs_sync_daemon_interface: Option<String>,
    /// Other recognised keywords, as written.
    pub other: Vec<(String, Vec<String>)>,
}

#[derive(Debug, Clone, Serialize)]
pub struct VrrpScript {
    pub name: String,
    pub script: Script,
    pub interval: Duration,
    pub timeout: Option<Duration>,
    pub weight: i64,
    pub weight_reverse: bool,
    pub rise: u32,
    pub fall: u32,
    pub init_fail: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct VrrpSyncGroup {
    pub name: String,
    pub group: Vec<String>,
    pub notify_master: Option<Script>,
    pub notify_backup: Option<Script>,
    pub notify_fault: Option<Script>,
    pub notify_stop: Option<Script>,
    pub notify: Option<Script>,
    pub track_script: Vec<TrackRef>,
    pub track_interface: Vec<TrackRef>,
    pub track_file: Vec<TrackRef>,
    pub smtp_alert: Option<bool>,
    pub global_tracking: bool,
    pub other: Vec<(String, Vec<String>)>,
}
