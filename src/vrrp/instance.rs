//! From a configured `vrrp_instance` to what the engine runs: the state
//! machine's settings, the interface and source address, where adverts go
//! (multicast group or unicast peers), which addresses they carry, the VIPs
//! to place, and the announcement settings. Host facts (interface index,
//! addresses) are looked up here, once, with clear errors.

use std::net::IpAddr;
use std::time::{Duration, Instant};

use crate::config::model::{Config, VrrpAuth, VrrpInstance, VrrpState};

use super::fsm::FsmConfig;
use super::net::addrs::Vip;
use super::net::iface;
use super::net::routes::{self, RouteSpec};
use super::packet::{Auth, Version, MCAST_V4, MCAST_V6};

#[derive(Debug, Clone)]
pub struct InstancePlan {
    pub name: String,
    pub ifname: String,
    pub ifindex: u32,
    pub mac: [u8; 6],
    pub fsm: FsmConfig,
    pub auth: Auth,
    /// The addresses carried in adverts (one family).
    pub advert_addrs: Vec<IpAddr>,
    /// All addresses to place as Master (carried and excluded).
    pub vips: Vec<Vip>,
    /// `virtual_routes`, with their output interface.
    pub routes: Vec<(RouteSpec, Option<u32>)>,
    /// Where adverts are sent: the group, or each unicast peer.
    pub destinations: Vec<IpAddr>,
    pub unicast: bool,
    pub ttl: u8,
    /// Send the VRRPv3/IPv4 checksum with the pseudo-header (keepalived's
    /// default form).
    pub v3_pseudo_header: bool,
    pub group: IpAddr,
    pub garp_repeat: u32,
    pub garp_delay: Duration,
    pub garp_refresh: Option<Duration>,
    pub garp_refresh_repeat: u32,
    pub garp_interval: Duration,
    pub check_unicast_src: bool,
    /// `state MASTER` was asked for.
    pub wants_master: bool,
    /// `use_vmac`: the macvlan's name and the virtual router MAC.
    pub vmac: Option<(String, [u8; 6])>,
    /// `vmac_xmit_base`: adverts leave from the parent interface.
    pub vmac_xmit_base: bool,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum PlanError {
    #[error("vrrp_instance {0}: no `interface`")]
    NoInterface(String),
    #[error("vrrp_instance {0}: interface {1} does not exist")]
    MissingInterface(String, String),
    #[error("vrrp_instance {0}: interface {1} has no {2} address to send adverts from")]
    NoSource(String, String, &'static str),
    #[error("vrrp_instance {0}: interface {1} has no MAC address")]
    NoMac(String, String),
    #[error("vrrp_instance {0}: VIP interface {1} does not exist")]
    MissingVipInterface(String, String),
    #[error("vrrp_instance {0}: {1}")]
    Route(String, String),
}

fn vip_of(
    inst: &VrrpInstance,
    a: &crate::config::model::VirtualAddress,
    default_if: &str,
    default_index: u32,
) -> Result<Vip, PlanError> {
    let (ifname, ifindex) = match &a.dev {
        Some(d) if d != default_if => {
            let i = iface::index_of(d)
                .ok_or_else(|| PlanError::MissingVipInterface(inst.name.clone(), d.clone()))?;
            (d.clone(), i)
        }
        _ => (default_if.to_string(), default_index),
    };
    Ok(Vip {
        addr: a.addr,
        prefix: a.prefix,
        ifindex,
        ifname,
        brd: a.brd,
        label: a.label.clone(),
        scope: a.scope.clone(),
    })
}

/// Builds the plan of `inst` against this host's interfaces.
pub fn plan(cfg: &Config, inst: &VrrpInstance, now: Instant) -> Result<InstancePlan, PlanError> {
    let g = &cfg.global;
    let ifname = inst
        .interface
        .clone()
        .ok_or_else(|| PlanError::NoInterface(inst.name.clone()))?;
    let info = iface::lookup(&ifname)
        .ok_or_else(|| PlanError::MissingInterface(inst.name.clone(), ifname.clone()))?;
    let v6 = inst
        .virtual_ipaddress
        .first()
        .map(|a| a.addr.is_ipv6())
        .unwrap_or(false)
        || inst.unicast_src_ip.map(|a| a.is_ipv6()).unwrap_or(false);
    let version = if v6 || inst.version.value == 3 {
        Version::V3
    } else {
        Version::V2
    };
    let src: IpAddr = match (inst.unicast_src_ip.or(inst.mcast_src_ip), v6) {
        (Some(a), _) => a,
        (None, false) => IpAddr::V4(
            info.primary_v4()
                .ok_or_else(|| PlanError::NoSource(inst.name.clone(), ifname.clone(), "IPv4"))?,
        ),
        (None, true) => IpAddr::V6(info.link_local_v6().ok_or_else(|| {
            PlanError::NoSource(inst.name.clone(), ifname.clone(), "IPv6 link-local")
        })?),
    };
    let mac = info
        .mac
        .ok_or_else(|| PlanError::NoMac(inst.name.clone(), ifname.clone()))?;
    let group = if v6 {
        g.vrrp_mcast_group6.unwrap_or(IpAddr::V6(MCAST_V6))
    } else {
        g.vrrp_mcast_group4.unwrap_or(IpAddr::V4(MCAST_V4))
    };
    let unicast = !inst.unicast_peer.is_empty();
    let destinations = if unicast {
        inst.unicast_peer.clone()
    } else {
        vec![group]
    };
    let advert_addrs: Vec<IpAddr> = inst
        .virtual_ipaddress
        .iter()
        .map(|a| a.addr)
        .filter(|a| a.is_ipv6() == v6)
        .collect();
    let mut vips = Vec::new();
    for a in inst
        .virtual_ipaddress
        .iter()
        .chain(inst.virtual_ipaddress_excluded.iter())
    {
        vips.push(vip_of(inst, a, &ifname, info.index)?);
    }
    let mut vroutes = Vec::new();
    for line in &inst.virtual_routes {
        let r =
            routes::parse(line).map_err(|e| PlanError::Route(inst.name.clone(), e.to_string()))?;
        let ifindex = match &r.dev {
            Some(d) => Some(iface::index_of(d).ok_or_else(|| {
                PlanError::Route(
                    inst.name.clone(),
                    format!("`{line}`: interface {d} does not exist"),
                )
            })?),
            None if r.via.is_none() && r.kind.is_none() => Some(info.index),
            None => None,
        };
        vroutes.push((r, ifindex));
    }
    let state_master = inst.state == Some(VrrpState::Master);
    // keepalived: `state MASTER` clears nopreempt and preempt_delay.
    let preempt = !inst.nopreempt || state_master;
    let preempt_delay = if state_master {
        Duration::ZERO
    } else {
        inst.preempt_delay
    };
    let auth = match &inst.authentication {
        Some(VrrpAuth::Pass(p)) if version == Version::V2 => Auth::pass(p),
        _ => Auth::None,
    };
    let as_v2 = g.other.iter().any(|(k, _)| k == "v3_checksum_as_v2")
        || inst.other.iter().any(|(k, _)| k == "v3_checksum_as_v2");
    // Strict mode: keepalived forces lower_prio_no_advert (the re-announce
    // by gratuitous ARP still happens). lvsd never installs the
    // `no_accept` firewall rules that make strict-mode VIPs unreachable.
    let lower_prio_no_advert = g.vrrp_lower_prio_no_advert
        || inst.strict_mode
        || inst.other.iter().any(|(k, a)| {
            k == "lower_prio_no_advert" && a.first().map(|v| v != "false").unwrap_or(true)
        });
    // lvsd always sends one advert when yielding to a higher priority
    // (keepalived's `higher_prio_send_advert`, off there by default): the
    // winner then hears a lower priority and re-announces the VIP, which
    // fixes hosts' ARP after a split brain heals.
    let higher_prio_send_advert = true;
    let _ = now;
    Ok(InstancePlan {
        name: inst.name.clone(),
        ifname,
        ifindex: info.index,
        mac,
        fsm: FsmConfig {
            version,
            vrid: inst.virtual_router_id,
            priority: inst.priority.value.max(1),
            advert_int: inst.advert_int.value,
            preempt,
            preempt_delay,
            local_addr: src,
            lower_prio_no_advert,
            higher_prio_send_advert,
            gated: cfg
                .vrrp_sync_groups
                .iter()
                .any(|sg| sg.group.iter().any(|m| m == &inst.name)),
        },
        auth,
        advert_addrs,
        vips,
        routes: vroutes,
        destinations,
        unicast,
        ttl: if unicast {
            inst.unicast_ttl.unwrap_or(255)
        } else {
            255
        },
        v3_pseudo_header: !as_v2,
        group,
        garp_repeat: inst.garp_master_repeat.value,
        garp_delay: inst.garp_master_delay.value,
        garp_refresh: inst.garp_master_refresh,
        garp_refresh_repeat: inst.garp_master_refresh_repeat.max(1),
        garp_interval: g.vrrp_garp_interval,
        check_unicast_src: g.vrrp_check_unicast_src,
        wants_master: state_master,
        vmac: inst.use_vmac.as_ref().map(|n| {
            (
                n.clone(),
                super::net::vmac::vmac_address(inst.virtual_router_id, v6),
            )
        }),
        vmac_xmit_base: inst.vmac_xmit_base || v6,
    })
}

/// The validation of a decoded advert against this instance (RFC 3768/5798
/// §7.1 rules that need the local configuration), with keepalived's
/// leniencies: no TTL check in unicast mode, v3 interval mismatch and
/// address-list mismatch only noted.
pub fn validate(
    plan: &InstancePlan,
    src: IpAddr,
    ttl: u8,
    adv: &super::packet::Advert,
) -> Result<(), super::packet::DropReason> {
    use super::packet::DropReason;
    if !plan.unicast && ttl != 255 {
        return Err(DropReason::BadTtl(ttl));
    }
    if adv.version != plan.fsm.version {
        return Err(DropReason::BadVersion(
            adv.version.number(),
            plan.fsm.version.number(),
        ));
    }
    if adv.auth != plan.auth {
        return Err(DropReason::AuthMismatch);
    }
    let ours_cs = (plan.fsm.advert_int.as_millis() / 10) as u16;
    if adv.version == Version::V2 && adv.interval_cs != ours_cs {
        return Err(DropReason::IntervalMismatch {
            got_cs: adv.interval_cs,
            ours_cs,
        });
    }
    if plan.unicast && plan.check_unicast_src && !plan.destinations.contains(&src) {
        return Err(DropReason::UnknownSource(src));
    }
    Ok(())
}
