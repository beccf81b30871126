//! `vrrp_instance`, `vrrp_script` and `vrrp_sync_group`.

use std::time::Duration;

use super::super::model::{
    Config, Script, Sourced, TrackRef, VirtualAddress, VrrpAuth, VrrpInstance, VrrpScript,
    VrrpState, VrrpSyncGroup,
};
use super::super::tree::Node;
use super::{host, values, Builder};

pub const INSTANCE_KEYWORDS: &[&str] = &[
    "state",
    "interface",
    "virtual_router_id",
    "priority",
    "advert_int",
    "version",
    "authentication",
    "virtual_ipaddress",
    "virtual_ipaddress_excluded",
    "virtual_routes",
    "virtual_rules",
    "unicast_src_ip",
    "unicast_peer",
    "mcast_src_ip",
    "mcast_dst_ip",
    "nopreempt",
    "preempt",
    "preempt_delay",
    "garp_master_delay",
    "garp_master_repeat",
    "garp_lower_prio_delay",
    "garp_lower_prio_repeat",
    "garp_master_refresh",
    "garp_master_refresh_repeat",
    "garp_extra_if",
    "track_script",
    "track_interface",
    "track_file",
    "track_process",
    "track_bfd",
    "track_src_ip",
    "notify_master",
    "notify_backup",
    "notify_fault",
    "notify_stop",
    "notify",
    "notify_master_rx_lower_pri",
    "notify_priority_changes",
    "smtp_alert",
    "use_vmac",
    "use_vmac_addr",
    "vmac_xmit_base",
    "use_ipvlan",
    "dont_track_primary",
    "native_ipv6",
    "strict_mode",
    "accept",
    "no_accept",
    "skip_check_adv_addr",
    "check_unicast_src",
    "unicast_ttl",
    "unicast_fault_no_peer",
    "old_unicast_checksum",
    "lower_prio_no_advert",
    "higher_prio_send_advert",
    "kernel_rx_buf_size",
    "linkbeat_use_polling",
    "debug",
    "down_timer_adverts",
    "promote_secondaries",
    "vrf",
    "lvs_sync_daemon_interface",
];

const SCRIPT_KEYWORDS: &[&str] = &[
    "script",
    "interval",
    "timeout",
    "weight",
    "rise",
    "fall",
    "user",
    "init_fail",
];

const SYNC_KEYWORDS: &[&str] = &[
    "group",
    "notify_master",
    "notify_backup",
    "notify_fault",
    "notify_stop",
    "notify",
    "notify_priority_changes",
    "track_script",
    "track_interface",
    "track_file",
    "track_process",
    "track_bfd",
    "smtp_alert",
    "global_tracking",
    "sync_group_tracking_weight",
];

pub fn vrrp_script(b: &mut Builder<'_>, node: &Node) -> Option<VrrpScript> {
    let name = b.first_arg_block(node)?;
    let mut s = VrrpScript {
        name,
        script: Script {
            command: String::new(),
            user: None,
            group: None,
        },
        interval: Duration::from_secs(1),
        timeout: None,
        weight: 0,
        weight_reverse: false,
        rise: 1,
        fall: 1,
        init_fail: false,
    };
    let mut has_script = false;
    for c in node.children() {
        match c.name.text.as_str() {
            "script" => {
                if let Some(sc) = b.script(c) {
                    s.script.command = sc.command;
                    has_script = true;
                }
            }
            "interval" => {
                if let Some(d) = b.timer(c, false) {
                    s.interval = d;
                }
            }
            "timeout" => s.timeout = b.timer(c, false),
            "weight" => {
                if b.arity(c, 1, 2) {
                    if let Some(w) = b.int_tok(&c.args[0], -253, 253) {
                        s.weight = w;
                    }
                    if let Some(r) = c.args.get(1) {
                        if r.text == "reverse" {
                            s.weight_reverse = true;
                        } else {
                            b.error(r, format!("unexpected `{}` (expected `reverse`)", r.text));
                        }
                    }
                }
            }
            "rise" => s.rise = b.int(c, 1, u32::MAX as i64).unwrap_or(1) as u32,
            "fall" => s.fall = b.int(c, 1, u32::MAX as i64).unwrap_or(1) as u32,
            "user" => {
                if b.arity(c, 1, 2) {
                    s.script.user = Some(c.args[0].text.to_string());
                    s.script.group = c.args.get(1).map(|t| t.text.to_string());
                }
            }
            "init_fail" => s.init_fail = b.bare(c),
            _ => b.unknown(c, "in vrrp_script", SCRIPT_KEYWORDS),
        }
    }
    if !has_script {
        b.error(
            &node.name,
            format!("vrrp_script `{}` needs a `script`", s.name),
        );
        return None;
    }
    Some(s)
}

pub fn vrrp_instance(b: &mut Builder<'_>, node: &Node, cfg: &Config) -> Option<VrrpInstance> {
    let name = b.first_arg_block(node)?;
    let g = &cfg.global;
    let mut vi = VrrpInstance {
        at: b.at(node.loc()),
        name,
        state: None,
        interface: None,
        virtual_router_id: 0,
        priority: Sourced::new(100, &"default"),
        advert_int: Sourced::new(Duration::from_secs(1), &"default"),
        version: Sourced::new(
            g.vrrp_version,
            if g.vrrp_version == 2 {
                &"default"
            } else {
                &"global vrrp_version"
            },
        ),
        authentication: None,
        virtual_ipaddress: Vec::new(),
        virtual_ipaddress_excluded: Vec::new(),
        virtual_routes: Vec::new(),
        virtual_rules: Vec::new(),
        unicast_src_ip: None,
        unicast_peer: Vec::new(),
        mcast_src_ip: None,
        nopreempt: false,
        preempt_delay: Duration::ZERO,
        garp_master_delay: Sourced::new(
            g.vrrp_garp_master_delay,
            &"global vrrp_garp_master_delay or its default",
        ),
        garp_master_repeat: Sourced::new(
            g.vrrp_garp_master_repeat,
            &"global vrrp_garp_master_repeat or its default",
        ),
        garp_master_refresh: g.vrrp_garp_master_refresh,
        garp_master_refresh_repeat: g.vrrp_garp_master_refresh_repeat,
        track_script: Vec::new(),
        track_interface: Vec::new(),
        track_file: Vec::new(),
        notify_master: None,
        notify_backup: None,
        notify_fault: None,
        notify_stop: None,
        notify: None,
        smtp_alert: None,
        use_vmac: None,
        vmac_xmit_base: false,
        dont_track_primary: false,
        native_ipv6: false,
        strict_mode: g.vrrp_strict,
        accept: None,
        unicast_ttl: None,
        lvs_sync_daemon_interface: None,
        other: Vec::new(),
    };
    let mut vrid_node = None;
    let mut advert_node = None;
    for c in node.children() {
        let set = b.set_at(c);
        match c.name.text.as_str() {
            "state" => {
                if let Some(t) = b.first_arg(c) {
                    vi.state = match t.text.as_str() {
                        "MASTER" => Some(VrrpState::Master),
                        "BACKUP" => Some(VrrpState::Backup),
                        _ => {
                            b.error(
                                t,
                                format!("`{}` is not a state (expected MASTER or BACKUP)", t.text),
                            );
                            None
                        }
                    }
                }
            }
            "interface" => {
                if let Some(t) = b.first_arg(c) {
                    if b.opts.host_checks {
                        host::check_interface(b, t);
                    }
                    vi.interface = Some(t.text.to_string());
                }
            }
            "virtual_router_id" => {
                if let Some(v) = b.int(c, 1, 255) {
                    vi.virtual_router_id = v as u8;
                    vrid_node = Some(c);
                }
            }
            "priority" => {
                if let Some(v) = b.int(c, 1, 255) {
                    vi.priority = Sourced::new(v as u8, set);
                }
            }
            "advert_int" => {
                if let Some(d) = b.timer(c, false) {
                    vi.advert_int = Sourced::new(d, set);
                    advert_node = Some(c);
                }
            }
            "version" => {
                if let Some(v) = b.int(c, 2, 3) {
                    vi.version = Sourced::new(v as u8, set);
                }
            }
            "authentication" => vi.authentication = authentication(b, c),
            "virtual_ipaddress" => vi.virtual_ipaddress = addresses(b, c),
            "virtual_ipaddress_excluded" => vi.virtual_ipaddress_excluded = addresses(b, c),
            "virtual_routes" => {
                vi.virtual_routes = c.children().iter().map(super::line_text).collect();
            }
            "virtual_rules" => {
                vi.virtual_rules = c.children().iter().map(super::line_text).collect();
            }
            "unicast_src_ip" => vi.unicast_src_ip = b.ip(c),
            "mcast_src_ip" => vi.mcast_src_ip = b.ip(c),
            "unicast_peer" => {
                if let Some(children) = b.need_block(c) {
                    for p in children {
                        if let Some(ip) = b.ip_tok(&p.name) {
                            vi.unicast_peer.push(ip);
                        }
                        let mut i = 0;
                        while i < p.args.len() {
                            let k = &p.args[i];
                            match (k.text.as_str(), p.args.get(i + 1)) {
                                ("min_ttl" | "max_ttl", Some(v)) => {
                                    b.int_tok(v, 0, 255);
                                    i += 2;
                                }
                                _ => {
                                    b.error(k, format!("unexpected `{}` after a unicast peer (expected min_ttl N or max_ttl N)", k.text));
                                    break;
                                }
                            }
                        }
                    }
                }
            }
            "nopreempt" => vi.nopreempt = b.bare(c),
            "preempt" => {
                b.bare(c);
                vi.nopreempt = false;
            }
            "preempt_delay" => {
                if let Some(d) = b.timer(c, true) {
                    if d > Duration::from_secs(1000) {
                        b.error(
                            &c.args[0],
                            "preempt_delay is out of range (allowed: 0 to 1000 seconds)",
                        );
                    } else {
                        vi.preempt_delay = d;
                    }
                }
            }
            "garp_master_delay" => {
                if let Some(d) = b.timer(c, true) {
                    vi.garp_master_delay = Sourced::new(d, set);
                }
            }
            "garp_master_repeat" => {
                if let Some(v) = b.int(c, 0, i32::MAX as i64) {
                    vi.garp_master_repeat = Sourced::new(v as u32, set);
                }
            }
            "garp_master_refresh" => {
                vi.garp_master_refresh = b.timer(c, true).filter(|d| !d.is_zero())
            }
            "garp_master_refresh_repeat" => {
                vi.garp_master_refresh_repeat = b.int(c, 0, i32::MAX as i64).unwrap_or(1) as u32
            }
            "track_script" => vi.track_script = track_refs(b, c, "track_script"),
            "track_interface" => {
                vi.track_interface = track_refs(b, c, "track_interface");
                if b.opts.host_checks {
                    for ch in c.children() {
                        host::check_interface(b, &ch.name);
                    }
                }
            }
            "track_file" => vi.track_file = track_refs(b, c, "track_file"),
            "notify_master" => vi.notify_master = b.script(c),
            "notify_backup" => vi.notify_backup = b.script(c),
            "notify_fault" => vi.notify_fault = b.script(c),
            "notify_stop" => vi.notify_stop = b.script(c),
            "notify" => vi.notify = b.script(c),
            "smtp_alert" => vi.smtp_alert = Some(b.flag(c)),
            "use_vmac" => {
                b.arity(c, 0, 1);
                vi.use_vmac = Some(
                    c.args
                        .first()
                        .map(|t| t.text.to_string())
                        .unwrap_or_else(|| format!("vrrp.{}", vi.virtual_router_id)),
                );
            }
            "vmac_xmit_base" => vi.vmac_xmit_base = b.bare(c),
            "dont_track_primary" => vi.dont_track_primary = b.bare(c),
            "native_ipv6" => vi.native_ipv6 = b.bare(c),
            "strict_mode" => vi.strict_mode = b.flag(c),
            "accept" => vi.accept = Some(b.bare(c)),
            "no_accept" => vi.accept = Some(!b.bare(c)),
            "unicast_ttl" => vi.unicast_ttl = b.int(c, 1, 255).map(|v| v as u8),
            "lvs_sync_daemon_interface" => {
                b.warn(&c.name, "`lvs_sync_daemon_interface` is deprecated; use the global `lvs_sync_daemon IF inst NAME`");
                vi.lvs_sync_daemon_interface = b.string(c);
            }
            name if INSTANCE_KEYWORDS.contains(&name) => {
                vi.other.push((
                    name.to_string(),
                    c.args.iter().map(|a| a.text.to_string()).collect(),
                ));
            }
            _ => b.unknown(c, "in vrrp_instance", INSTANCE_KEYWORDS),
        }
    }
    if vi.virtual_router_id == 0 && vrid_node.is_none() {
        b.error(
            &node.name,
            format!(
                "vrrp_instance `{}` needs `virtual_router_id` (1 to 255)",
                vi.name
            ),
        );
    }
    if vi.interface.is_none() && vi.unicast_peer.is_empty() && g.default_interface.is_none() {
        b.warn(&node.name, format!("vrrp_instance `{}` has no `interface` (keepalived's default_interface eth0 applies)", vi.name));
    }
    let ipv6 = vi
        .virtual_ipaddress
        .first()
        .map(|a| a.addr.is_ipv6())
        .unwrap_or(false);
    if ipv6 && vi.version.value == 2 {
        // keepalived: IPv6 instances always speak VRRPv3.
        if matches!(vi.version.from, crate::config::origin::Origin::Set(_)) {
            b.warn(
                &node.name,
                "VRRPv2 has no IPv6: this IPv6 instance uses VRRPv3",
            );
        }
        vi.version = Sourced::new(3, &"IPv6 virtual addresses (VRRPv3 only)");
    }
    if vi.version.value == 2 {
        let d = vi.advert_int.value;
        if d.subsec_micros() != 0 {
            if let Some(n) = advert_node {
                b.warn(
                    &n.name,
                    "VRRPv2 advert_int is in whole seconds: the value is rounded",
                );
            }
            let secs = (d.as_secs_f64().round() as u64).max(1);
            vi.advert_int = Sourced::new(
                Duration::from_secs(secs),
                &"rounded to whole seconds (VRRPv2)",
            );
        }
        if d > Duration::from_secs(255) {
            if let Some(n) = advert_node {
                b.error(&n.name, "VRRPv2 advert_int must be 1 to 255 seconds");
            }
        }
    } else {
        if vi.authentication.is_some() {
            b.error(
                &node.name,
                "authentication is not part of VRRPv3; remove it or use `version 2`",
            );
        }
        if vi.advert_int.value > Duration::from_millis(40950) {
            if let Some(n) = advert_node {
                b.error(&n.name, "VRRPv3 advert_int must be at most 40.95 seconds");
            }
        }
    }
    if vi.nopreempt && !vi.preempt_delay.is_zero() {
        b.warn(
            &node.name,
            "`preempt_delay` has no effect with `nopreempt` (keepalived resets it)",
        );
        vi.preempt_delay = Duration::ZERO;
    }
    if let Some(own) = &vi.interface {
        if vi.track_interface.iter().any(|t| &t.name == own) {
            b.warn(&node.name, format!("track_interface `{own}` is the instance's own interface, which is always tracked: ignored"));
            vi.track_interface.retain(|t| &t.name != own);
        }
    }
    if vi.strict_mode {
        if vi.authentication.is_some() {
            b.warn(
                &node.name,
                "strict mode (vrrp_strict) does not allow authentication: it is ignored",
            );
            vi.authentication = None;
        }
        if vi.state == Some(VrrpState::Master) && vi.priority.value != 255 {
            b.warn(&node.name, "strict mode (vrrp_strict): `state MASTER` is only for the address owner (priority 255); the instance starts as BACKUP");
            vi.state = Some(VrrpState::Backup);
        }
        if !vi.preempt_delay.is_zero() {
            b.warn(
                &node.name,
                "strict mode (vrrp_strict) does not allow `preempt_delay`: it is ignored",
            );
            vi.preempt_delay = Duration::ZERO;
        }
        if vi.virtual_ipaddress.is_empty() {
            b.error(
                &node.name,
                "strict mode (vrrp_strict) needs at least one virtual_ipaddress",
            );
        }
    }
    if vi.state == Some(VrrpState::Master) && vi.nopreempt {
        b.warn(&node.name, "`nopreempt` has no effect with `state MASTER` (keepalived: the initial state must be BACKUP)");
    }
    for t in &vi.track_script {
        if !cfg.vrrp_scripts.iter().any(|s| s.name == t.name) {
            b.diags.error(
                node.name.loc,
                node.name.len as usize,
                format!(
                    "vrrp_instance `{}` tracks unknown vrrp_script `{}`",
                    vi.name, t.name
                ),
            );
        }
    }
    for t in &vi.track_file {
        if !cfg.track_files.iter().any(|f| f.name == t.name) {
            b.diags.error(
                node.name.loc,
                node.name.len as usize,
                format!(
                    "vrrp_instance `{}` tracks unknown track_file `{}`",
                    vi.name, t.name
                ),
            );
        }
    }
    if vi.virtual_ipaddress.is_empty() {
        b.warn(
            &node.name,
            format!("vrrp_instance `{}` has no virtual_ipaddress", vi.name),
        );
    }
    Some(vi)
}

fn authentication(b: &mut Builder<'_>, node: &Node) -> Option<VrrpAuth> {
    let children = b.need_block(node)?;
    let mut kind = None;
    let mut pass = None;
    for c in children {
        match c.name.text.as_str() {
            "auth_type" => {
                if let Some(t) = b.first_arg(c) {
                    kind = match t.text.as_str() {
                        "PASS" => Some("PASS"),
                        "AH" => Some("AH"),
                        _ => {
                            b.error(
                                t,
                                format!("`{}` is not an auth_type (expected PASS or AH)", t.text),
                            );
                            None
                        }
                    }
                }
            }
            "auth_pass" => {
                if let Some(t) = b.first_arg(c) {
                    let mut p = t.text.to_string();
                    if p.len() > 8 {
                        b.warn(t, "auth_pass is longer than 8 characters: truncated to 8, as keepalived does");
                        p.truncate(8);
                    }
                    pass = Some(p);
                }
            }
            _ => b.unknown(c, "in authentication", &["auth_type", "auth_pass"]),
        }
    }
    match (kind, pass) {
        (Some("AH"), p) => Some(VrrpAuth::Ah(p.unwrap_or_default())),
        (Some(_), Some(p)) => Some(VrrpAuth::Pass(p)),
        (Some(_), None) => {
            b.error(&node.name, "authentication PASS needs `auth_pass`");
            None
        }
        (None, _) => {
            b.error(&node.name, "authentication needs `auth_type PASS|AH`");
            None
        }
    }
}

/// `ADDR[/PREFIX] [brd X] [dev IF] [scope S] [label L] [options...]` lines.
fn addresses(b: &mut Builder<'_>, node: &Node) -> Vec<VirtualAddress> {
    let Some(children) = b.need_block(node) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for c in children {
        let (addr, prefix) = match values::ip_prefix(&c.name.text) {
            Ok(v) => v,
            Err(e) => {
                b.error(&c.name, e);
                continue;
            }
        };
        let mut va = VirtualAddress {
            addr,
            prefix: prefix.unwrap_or(if addr.is_ipv4() { 32 } else { 128 }),
            brd: None,
            dev: None,
            scope: None,
            label: None,
            options: Vec::new(),
        };
        let mut i = 0;
        while i < c.args.len() {
            let k = &c.args[i];
            let v = c.args.get(i + 1);
            match (k.text.as_str(), v) {
                ("brd", Some(v)) => {
                    va.brd = if v.text == "+" || v.text == "-" {
                        None
                    } else {
                        b.ip_tok(v)
                    };
                    i += 2;
                }
                ("dev", Some(v)) => {
                    if b.opts.host_checks {
                        host::check_interface(b, v);
                    }
                    va.dev = Some(v.text.to_string());
                    i += 2;
                }
                ("scope", Some(v)) => {
                    va.scope = Some(v.text.to_string());
                    i += 2;
                }
                ("label", Some(v)) => {
                    va.label = Some(v.text.to_string());
                    i += 2;
                }
                ("preferred_lft" | "track_group" | "peer", Some(v)) => {
                    va.options.push(format!("{} {}", k.text, v.text));
                    i += 2;
                }
                ("no_track" | "home" | "-nodad" | "nodad" | "noprefixroute" | "autojoin", _) => {
                    va.options.push(k.text.to_string());
                    i += 1;
                }
                (
                    "brd" | "dev" | "scope" | "label" | "preferred_lft" | "track_group" | "peer",
                    None,
                ) => {
                    b.error(k, format!("`{}` needs a value", k.text));
                    break;
                }
                _ => {
                    b.error(k, format!("unexpected `{}` in an address line (expected brd, dev, scope, label, no_track, preferred_lft)", k.text));
                    break;
                }
            }
        }
        out.push(va);
    }
    out
}

/// `NAME [weight W [reverse|no_reverse]]` lines of a track block.
fn track_refs(b: &mut Builder<'_>, node: &Node, what: &str) -> Vec<TrackRef> {
    let Some(children) = b.need_block(node) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for c in children {
        let mut r = TrackRef {
            name: c.name.text.to_string(),
            weight: None,
            reverse: false,
        };
        let mut i = 0;
        while i < c.args.len() {
            let k = &c.args[i];
            match (k.text.as_str(), c.args.get(i + 1)) {
                ("weight", Some(v)) => {
                    r.weight = b.int_tok(v, -254, 254);
                    i += 2;
                }
                ("reverse", _) => {
                    r.reverse = true;
                    i += 1;
                }
                ("no_reverse", _) => {
                    i += 1;
                }
                _ => {
                    b.error(
                        k,
                        format!(
                            "unexpected `{}` in {what} (expected `weight N [reverse]`)",
                            k.text
                        ),
                    );
                    break;
                }
            }
        }
        out.push(r);
    }
    out
}

pub fn sync_group(b: &mut Builder<'_>, node: &Node, cfg: &Config) -> Option<VrrpSyncGroup> {
    let name = b.first_arg_block(node)?;
    let mut g = VrrpSyncGroup {
        name,
        group: Vec::new(),
        notify_master: None,
        notify_backup: None,
        notify_fault: None,
        notify_stop: None,
        notify: None,
        track_script: Vec::new(),
        track_interface: Vec::new(),
        track_file: Vec::new(),
        smtp_alert: None,
        global_tracking: false,
        other: Vec::new(),
    };
    for c in node.children() {
        match c.name.text.as_str() {
            "group" => {
                if let Some(children) = b.need_block(c) {
                    for m in children {
                        g.group.push(m.name.text.to_string());
                        for a in &m.args {
                            g.group.push(a.text.to_string());
                        }
                    }
                }
            }
            "notify_master" => g.notify_master = b.script(c),
            "notify_backup" => g.notify_backup = b.script(c),
            "notify_fault" => g.notify_fault = b.script(c),
            "notify_stop" => g.notify_stop = b.script(c),
            "notify" => g.notify = b.script(c),
            "track_script" => g.track_script = track_refs(b, c, "track_script"),
            "track_interface" => g.track_interface = track_refs(b, c, "track_interface"),
            "track_file" => g.track_file = track_refs(b, c, "track_file"),
            "smtp_alert" => g.smtp_alert = Some(b.flag(c)),
            "global_tracking" => {
                b.warn(&c.name, "`global_tracking` is deprecated: put track_script/track_interface/track_file on the sync group");
                g.global_tracking = b.bare(c);
            }
            name if SYNC_KEYWORDS.contains(&name) => {
                g.other.push((
                    name.to_string(),
                    c.args.iter().map(|a| a.text.to_string()).collect(),
                ));
            }
            _ => b.unknown(c, "in vrrp_sync_group", SYNC_KEYWORDS),
        }
    }
    // Members are checked against instances defined anywhere in the file.
    let _ = cfg;
    if g.group.is_empty() {
        b.error(
            &node.name,
            format!("vrrp_sync_group `{}` has an empty `group`", g.name),
        );
    }
    Some(g)
}

/// Checks sync group members once every instance is known.
pub fn check_sync_members(b: &mut Builder<'_>, nodes: &[Node], cfg: &Config) {
    for node in nodes.iter().filter(|n| n.name.text == "vrrp_sync_group") {
        for c in node.children().iter().filter(|c| c.name.text == "group") {
            for m in c.children() {
                for t in std::iter::once(&m.name).chain(m.args.iter()) {
                    if !cfg.vrrp_instances.iter().any(|v| v.name == t.text) {
                        b.error(
                            t,
                            format!("vrrp_sync_group member `{}` is not a vrrp_instance", t.text),
                        );
                    }
                }
            }
        }
    }
}
