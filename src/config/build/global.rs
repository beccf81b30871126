//! `global_defs` and the global `SSL` block.

use super::super::model::{Fifo, FlushOnStop, GlobalDefs, LvsSyncDaemon, SslSettings};
use super::super::tree::Node;
use super::Builder;

/// Every global_defs keyword of keepalived 2.2.7.
pub const GLOBAL_KEYWORDS: &[&str] = &[
    "router_id",
    "notification_email",
    "notification_email_from",
    "smtp_server",
    "smtp_helo_name",
    "smtp_connect_timeout",
    "smtp_alert",
    "smtp_alert_vrrp",
    "smtp_alert_checker",
    "checker_log_all_failures",
    "default_interface",
    "lvs_timeouts",
    "lvs_sync_daemon",
    "lvs_flush",
    "lvs_flush_on_stop",
    "vrrp_mcast_group4",
    "vrrp_mcast_group6",
    "vrrp_garp_master_delay",
    "vrrp_garp_master_repeat",
    "vrrp_garp_lower_prio_delay",
    "vrrp_garp_lower_prio_repeat",
    "vrrp_garp_master_refresh",
    "vrrp_garp_master_refresh_repeat",
    "vrrp_garp_interval",
    "vrrp_gna_interval",
    "vrrp_min_garp",
    "vrrp_lower_prio_no_advert",
    "vrrp_higher_prio_send_advert",
    "vrrp_version",
    "vrrp_iptables",
    "vrrp_ipsets",
    "vrrp_check_unicast_src",
    "vrrp_skip_check_adv_addr",
    "vrrp_strict",
    "vrrp_priority",
    "checker_priority",
    "bfd_priority",
    "vrrp_no_swap",
    "checker_no_swap",
    "bfd_no_swap",
    "vrrp_rt_priority",
    "checker_rt_priority",
    "bfd_rt_priority",
    "vrrp_rlimit_rttime",
    "checker_rlimit_rttime",
    "bfd_rlimit_rttime",
    "vrrp_cpu_affinity",
    "checker_cpu_affinity",
    "bfd_cpu_affinity",
    "notify_fifo",
    "notify_fifo_script",
    "vrrp_notify_fifo",
    "vrrp_notify_fifo_script",
    "lvs_notify_fifo",
    "lvs_notify_fifo_script",
    "script_user",
    "enable_script_security",
    "vrrp_netlink_cmd_rcv_bufs",
    "vrrp_netlink_cmd_rcv_bufs_force",
    "vrrp_netlink_monitor_rcv_bufs",
    "vrrp_netlink_monitor_rcv_bufs_force",
    "lvs_netlink_cmd_rcv_bufs",
    "lvs_netlink_cmd_rcv_bufs_force",
    "lvs_netlink_monitor_rcv_bufs",
    "lvs_netlink_monitor_rcv_bufs_force",
    "process_monitor_rcv_bufs",
    "process_monitor_rcv_bufs_force",
    "rs_init_notifies",
    "no_checker_emails",
    "vrrp_rx_bufs_policy",
    "vrrp_rx_bufs_multiplier",
    "vrrp_startup_delay",
    "log_unknown_vrids",
    "vmac_prefix",
    "vmac_addr_prefix",
    "dynamic_interfaces",
    "net_namespace",
    "net_namespace_ipvs",
    "namespace_with_ipsets",
    "instance",
    "use_pid_dir",
    "enable_snmp_vrrp",
    "enable_snmp_checker",
    "enable_snmp_rfc",
    "enable_snmp_rfcv2",
    "enable_snmp_rfcv3",
    "enable_traps",
    "snmp_socket",
    "enable_dbus",
    "dbus_service_name",
    "nftables",
    "nftables_priority",
    "nftables_ifindex",
    "nftables_counters",
    "nftables_ipvs",
    "nftables_ipvs_priority",
    "nftables_ipvs_start_fwmark",
    "max_auto_priority",
    "min_auto_priority_delay",
    "linkbeat_use_polling",
    "vrrp_down_timer_adverts",
    "vrrp_garp_extra_if",
    "vrrp_notify_priority_changes",
    "fifo_write_vrrp_states_on_reload",
    "reload_check_config",
    "reload_time_file",
    "reload_repeat",
    "reload_file",
    "config_save_dir",
    "data_use_instance",
    "umask",
    "random_seed",
    "startup_script",
    "startup_script_timeout",
    "shutdown_script",
    "shutdown_script_timeout",
    "tmp_config_directory",
    "include_check",
    "disable_local_igmp",
    "igmp_link_local_mcast_reports",
    "process_names",
    "process_name",
    "vrrp_process_name",
    "checker_process_name",
    "bfd_process_name",
    "lvs_id",
    "lvs_sync_daemon_interface",
    "vrrp_track_process",
    "vrrp_garp_lower_prio_repeat",
    "smtp_alert_bfd",
    "bfd_process_name",
    "vrrp_iptables_base",
    "vrrp_ipvlan",
    "child_wait_time",
];

pub fn global_defs(b: &mut Builder<'_>, children: &[Node], g: &mut GlobalDefs) {
    for node in children {
        let name = node.name.text.as_str();
        match name {
            "router_id" | "lvs_id" => g.router_id = b.string(node),
            "notification_email" => {
                if let Some(children) = b.need_block(node) {
                    for c in children {
                        g.notification_email.push(c.name.text.to_string());
                        for a in &c.args {
                            g.notification_email.push(a.text.to_string());
                        }
                    }
                }
            }
            "notification_email_from" => g.notification_email_from = b.string(node),
            "smtp_server" => {
                if b.arity(node, 1, 2) {
                    let host = node.args[0].text.to_string();
                    let port = match node.args.get(1) {
                        Some(t) => b.port_tok(t).unwrap_or(25),
                        None => 25,
                    };
                    g.smtp_server = Some((host, port));
                }
            }
            "smtp_helo_name" => g.smtp_helo_name = b.string(node),
            "smtp_connect_timeout" => g.smtp_connect_timeout = b.timer(node, false),
            "smtp_alert" => g.smtp_alert = Some(b.flag(node)),
            "smtp_alert_vrrp" => g.smtp_alert_vrrp = Some(b.flag(node)),
            "smtp_alert_checker" => g.smtp_alert_checker = Some(b.flag(node)),
            "checker_log_all_failures" => g.checker_log_all_failures = b.flag(node),
            "enable_script_security" => g.enable_script_security = b.bare(node),
            "script_user" => {
                if b.arity(node, 1, 2) {
                    g.script_user = Some((
                        node.args[0].text.to_string(),
                        node.args.get(1).map(|t| t.text.to_string()),
                    ));
                }
            }
            "lvs_timeouts" => lvs_timeouts(b, node, g),
            "lvs_sync_daemon" => g.lvs_sync_daemon = lvs_sync_daemon(b, node),
            "lvs_flush" => g.lvs_flush = b.bare(node),
            "lvs_flush_on_stop" => {
                b.arity(node, 0, 1);
                g.lvs_flush_on_stop = match node.args.first().map(|t| t.text.as_str()) {
                    None => Some(FlushOnStop::All),
                    Some("VS") => Some(FlushOnStop::VirtualServers),
                    Some(_) => {
                        b.error(&node.args[0], "lvs_flush_on_stop takes no argument or `VS`");
                        None
                    }
                };
            }
            "notify_fifo" => g.notify_fifo = fifo(b, node),
            "vrrp_notify_fifo" => g.vrrp_notify_fifo = fifo(b, node),
            "lvs_notify_fifo" => g.lvs_notify_fifo = fifo(b, node),
            "notify_fifo_script" | "vrrp_notify_fifo_script" | "lvs_notify_fifo_script" => {
                let script = b.script(node);
                let slot = match name {
                    "notify_fifo_script" => &mut g.notify_fifo,
                    "vrrp_notify_fifo_script" => &mut g.vrrp_notify_fifo,
                    _ => &mut g.lvs_notify_fifo,
                };
                match slot {
                    Some(f) => f.script = script,
                    None => b.warn(&node.name, format!("`{name}` without its fifo is ignored")),
                }
            }
            "rs_init_notifies" => g.rs_init_notifies = b.bare(node),
            "no_checker_emails" => g.no_checker_emails = b.bare(node),
            "vrrp_version" => {
                if let Some(v) = b.int(node, 2, 3) {
                    g.vrrp_version = v as u8;
                }
            }
            "vrrp_mcast_group4" => g.vrrp_mcast_group4 = b.ip(node),
            "vrrp_mcast_group6" => g.vrrp_mcast_group6 = b.ip(node),
            "vrrp_garp_master_delay" => {
                if let Some(d) = b.timer(node, true) {
                    g.vrrp_garp_master_delay = d;
                }
            }
            "vrrp_garp_master_repeat" => {
                if let Some(v) = b.int(node, 0, i32::MAX as i64) {
                    g.vrrp_garp_master_repeat = v as u32;
                }
            }
            "vrrp_garp_master_refresh" => {
                g.vrrp_garp_master_refresh = b.timer(node, true).filter(|d| !d.is_zero())
            }
            "vrrp_garp_master_refresh_repeat" => {
                if let Some(v) = b.int(node, 0, i32::MAX as i64) {
                    g.vrrp_garp_master_refresh_repeat = v as u32;
                }
            }
            "vrrp_garp_interval" => {
                if let Some(d) = b.timer(node, true) {
                    g.vrrp_garp_interval = d;
                }
            }
            "vrrp_gna_interval" => {
                if let Some(d) = b.timer(node, true) {
                    g.vrrp_gna_interval = d;
                }
            }
            "vrrp_lower_prio_no_advert" => g.vrrp_lower_prio_no_advert = b.flag(node),
            "vrrp_higher_prio_send_advert" => g.vrrp_higher_prio_send_advert = b.flag(node),
            "vrrp_strict" => g.vrrp_strict = b.bare(node),
            "vrrp_skip_check_adv_addr" => g.vrrp_skip_check_adv_addr = b.flag(node),
            "vrrp_check_unicast_src" => g.vrrp_check_unicast_src = b.bare(node),
            "vrrp_startup_delay" => g.vrrp_startup_delay = b.timer(node, true),
            "default_interface" => g.default_interface = b.string(node),
            "dynamic_interfaces" => {
                b.arity(node, 0, 1);
                g.dynamic_interfaces = true;
            }
            "lvs_sync_daemon_interface" => {
                if let Some(iface) = b.string(node) {
                    b.warn(
                        &node.name,
                        "`lvs_sync_daemon_interface` is deprecated; use `lvs_sync_daemon IF`",
                    );
                    if g.lvs_sync_daemon.is_none() {
                        g.lvs_sync_daemon = Some(LvsSyncDaemon {
                            interface: iface,
                            instance: None,
                            sync_id: None,
                            maxlen: None,
                            port: None,
                            ttl: None,
                            group: None,
                        });
                    }
                }
            }
            _ if GLOBAL_KEYWORDS.contains(&name) => {
                g.other.push((
                    name.to_string(),
                    node.args.iter().map(|a| a.text.to_string()).collect(),
                ));
            }
            _ => b.unknown(node, "in global_defs", GLOBAL_KEYWORDS),
        }
    }
}

fn fifo(b: &mut Builder<'_>, node: &Node) -> Option<Fifo> {
    if !b.arity(node, 1, 4) {
        return None;
    }
    let script = if node.args.len() > 1 {
        Some(super::super::model::Script {
            command: node.args[1].text.to_string(),
            user: node.args.get(2).map(|t| t.text.to_string()),
            group: node.args.get(3).map(|t| t.text.to_string()),
        })
    } else {
        None
    };
    Some(Fifo {
        path: node.args[0].text.to_string(),
        script,
    })
}

fn lvs_timeouts(b: &mut Builder<'_>, node: &Node, g: &mut GlobalDefs) {
    let mut i = 0;
    if node.args.is_empty() {
        b.error(
            &node.name,
            "lvs_timeouts needs `tcp N`, `tcpfin N` and/or `udp N`",
        );
    }
    while i < node.args.len() {
        let key = &node.args[i];
        let Some(val) = node.args.get(i + 1) else {
            b.error(key, format!("`{}` needs a number of seconds", key.text));
            break;
        };
        let v = b.int_tok(val, 1, i32::MAX as i64 / 1000).map(|v| v as u32);
        match key.text.as_str() {
            "tcp" => g.lvs_timeouts.tcp = v,
            "tcpfin" => g.lvs_timeouts.tcpfin = v,
            "udp" => g.lvs_timeouts.udp = v,
            _ => b.error(
                key,
                format!(
                    "unknown lvs_timeouts key `{}` (expected tcp, tcpfin or udp)",
                    key.text
                ),
            ),
        }
        i += 2;
    }
}

fn lvs_sync_daemon(b: &mut Builder<'_>, node: &Node) -> Option<LvsSyncDaemon> {
    if !b.arity(node, 1, usize::MAX) {
        return None;
    }
    let iface = &node.args[0];
    if b.opts.host_checks {
        super::host::check_interface(b, iface);
    }
    let mut sd = LvsSyncDaemon {
        interface: iface.text.to_string(),
        instance: None,
        sync_id: None,
        maxlen: None,
        port: None,
        ttl: None,
        group: None,
    };
    let args = &node.args[1..];
    let mut i = 0;
    while i < args.len() {
        let key = &args[i];
        let val = args.get(i + 1);
        let takes_value = matches!(
            key.text.as_str(),
            "inst" | "id" | "maxlen" | "port" | "ttl" | "group"
        );
        if takes_value && val.is_none() {
            b.error(
                key,
                format!("lvs_sync_daemon: `{}` needs a value", key.text),
            );
            break;
        }
        match (key.text.as_str(), val) {
            ("inst", Some(v)) => sd.instance = Some(v.text.to_string()),
            ("id", Some(v)) => sd.sync_id = b.int_tok(v, 0, 255).map(|x| x as u8),
            ("maxlen", Some(v)) => sd.maxlen = b.int_tok(v, 1, 65535 - 20 - 8).map(|x| x as u16),
            ("port", Some(v)) => sd.port = b.int_tok(v, 1, 65535).map(|x| x as u16),
            ("ttl", Some(v)) => sd.ttl = b.int_tok(v, 1, 255).map(|x| x as u8),
            ("group", Some(v)) => sd.group = b.ip_tok(v),
            _ if i == 0 => {
                // `lvs_sync_daemon IF VI_1 ...`: the instance without `inst`.
                sd.instance = Some(key.text.to_string());
                i += 1;
                continue;
            }
            _ => {
                b.error(
                    key,
                    format!(
                        "lvs_sync_daemon: unexpected `{}` (expected inst, id, maxlen, port, ttl or group)",
                        key.text
                    ),
                );
                break;
            }
        }
        i += 2;
    }
    Some(sd)
}

pub fn ssl(b: &mut Builder<'_>, children: &[Node]) -> SslSettings {
    let mut s = SslSettings::default();
    for node in children {
        match node.name.text.as_str() {
            "password" => s.password = b.string(node),
            "ca" => s.ca = b.string(node),
            "certificate" => s.certificate = b.string(node),
            "key" => s.key = b.string(node),
            _ => b.unknown(node, "in SSL", &["password", "ca", "certificate", "key"]),
        }
    }
    s
}
