//! The VRRP engine: one tokio task that owns every instance's state
//! machine and performs what they ask (adverts, VIPs, announcements,
//! notifications, the IPVS sync daemon through a hook), fed by the receive
//! sockets, the trackers and its own timers. Sync groups are coordinated
//! here: a group goes Master only when every member wants to, follows any
//! member to Backup, and is in Fault while any member is.

use std::collections::{HashMap, HashSet};
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use tokio::sync::mpsc::{unbounded_channel, UnboundedReceiver, UnboundedSender};

use crate::config::model::{Config, VrrpInstance};

use super::fsm::{Action, Cause, Fsm, State};
use super::instance::{self, InstancePlan};
use super::net::addrs::AddressManager;
use super::net::announce::{garp_frame, unsolicited_na_frame, AnnounceQueue, Announcer};
use super::net::socket::{Received, Receiver, Sender};
use super::notify::{self, Notifier};
use super::packet::{Advert, DropReason};
use super::track::{self, TrackEvent, TrackStatus};

/// Told to the engine's owner.
#[derive(Debug, Clone)]
pub enum VrrpEvent {
    Log(String),
    Transition {
        instance: String,
        from: State,
        to: State,
        cause: Cause,
    },
}

/// Asked of the engine.
#[derive(Debug)]
pub enum VrrpCommand {
    /// Stop: graceful = make-before-break hand-over of Master instances.
    Shutdown { graceful: bool },
    /// Apply a new (valid) configuration: unchanged routers keep their
    /// state (no transition); changed VIPs, routes, priorities and timers
    /// apply in place; new instances start, removed ones resign.
    Reload(Box<Config>),
}

/// Called on every state change (the director uses it for the IPVS sync
/// daemon); returns a line to log, if any.
pub trait StateHook: Send {
    fn on_state(&mut self, instance: &str, state: State) -> Option<String>;
    /// When the hook wants `on_deadline` called, if ever.
    fn deadline(&self) -> Option<Instant> {
        None
    }
    /// Called once `deadline` has passed; returns a line to log, if any.
    fn on_deadline(&mut self, _now: Instant) -> Option<String> {
        None
    }
}

/// What `lvsd status` shows of an instance.
#[derive(Debug, Clone, serde::Serialize)]
pub struct InstanceStatus {
    pub name: String,
    pub interface: String,
    pub vrid: u8,
    pub state: State,
    pub priority: u8,
    pub effective_priority: u8,
    pub why: Vec<String>,
    pub fault: Option<String>,
    pub master: Option<String>,
    pub last_transition_unix_ms: Option<u64>,
    pub last_cause: Option<String>,
    pub transitions: u64,
    pub adverts_sent: u64,
    pub adverts_received: u64,
    pub send_errors: u64,
    pub drops: HashMap<String, u64>,
}

pub type SharedStatus = Arc<Mutex<Vec<InstanceStatus>>>;

struct InstRt {
    plan: InstancePlan,
    conf: VrrpInstance,
    fsm: Fsm,
    sender: Sender,
    own_fault: Option<String>,
    applied_fault: Option<String>,
    why: Vec<String>,
    garp_second: Option<Instant>,
    garp_refresh: Option<Instant>,
    status: InstanceStatus,
    last_drop_log: HashMap<&'static str, Instant>,
    /// The macvlan created for `use_vmac`.
    vmac_index: Option<u32>,
}

pub struct Engine {
    cfg: Config,
    insts: Vec<InstRt>,
    addrs: AddressManager,
    announcer: Option<AnnounceQueue>,
    notifier: Notifier,
    track: TrackStatus,
    events: UnboundedSender<VrrpEvent>,
    hook: Option<Box<dyn StateHook>>,
    /// State changes for the hook, run once the actions at hand (every VIP
    /// of a sync group) are done: the hook may block (the IPVS sync daemon
    /// restarts), and traffic must not wait for it.
    hook_pending: Vec<(String, State)>,
    status: SharedStatus,
    pkt_rx: UnboundedReceiver<(u32, Result<Received, DropReason>)>,
    pkt_tx: PacketSender,
    receivers: HashSet<(u32, bool)>,
    track_rx: UnboundedReceiver<TrackEvent>,
    track_tx: UnboundedSender<TrackEvent>,
    foreign_logged: HashMap<(u32, u8), Instant>,
}

fn unix_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

const DROP_LOG_EVERY: Duration = Duration::from_secs(10);

type PacketSender = UnboundedSender<(u32, Result<Received, DropReason>)>;

/// Plans an instance and opens its send socket.
fn build_inst(cfg: &Config, conf: &VrrpInstance, now: Instant) -> Result<InstRt, String> {
    let plan = instance::plan(cfg, conf, now).map_err(|e| e.to_string())?;
    let sender = Sender::open(&plan.ifname, plan.ifindex, plan.fsm.local_addr).map_err(|e| {
        format!(
            "vrrp_instance {}: cannot open the VRRP send socket on {}: {e}",
            plan.name, plan.ifname
        )
    })?;
    let fsm = Fsm::new(plan.fsm.clone(), now);
    let status = InstanceStatus {
        name: plan.name.clone(),
        interface: plan.ifname.clone(),
        vrid: plan.fsm.vrid,
        state: State::Initialize,
        priority: plan.fsm.priority,
        effective_priority: plan.fsm.priority,
        why: Vec::new(),
        fault: None,
        master: None,
        last_transition_unix_ms: None,
        last_cause: None,
        transitions: 0,
        adverts_sent: 0,
        adverts_received: 0,
        send_errors: 0,
        drops: HashMap::new(),
    };
    Ok(InstRt {
        plan,
        conf: conf.clone(),
        fsm,
        sender,
        own_fault: None,
        applied_fault: None,
        why: Vec::new(),
        garp_second: None,
        garp_refresh: None,
        status,
        last_drop_log: HashMap::new(),
        vmac_index: None,
    })
}

/// Opens the receive socket of the plan's (interface, family) once.
fn open_receiver(
    plan: &InstancePlan,
    receivers: &mut HashSet<(u32, bool)>,
    pkt_tx: &PacketSender,
) -> Result<(), String> {
    let key = (plan.ifindex, plan.group.is_ipv6());
    if receivers.contains(&key) {
        return Ok(());
    }
    let r = Receiver::open(&plan.ifname, plan.ifindex, plan.group).map_err(|e| {
        format!(
            "vrrp_instance {}: cannot open the VRRP receive socket on {}: {e}",
            plan.name, plan.ifname
        )
    })?;
    receivers.insert(key);
    let tx = pkt_tx.clone();
    let ifindex = plan.ifindex;
    tokio::spawn(async move {
        loop {
            match r.recv().await {
                Ok(p) => {
                    if tx.send((ifindex, p)).is_err() {
                        return;
                    }
                }
                Err(_) => tokio::time::sleep(Duration::from_millis(10)).await,
            }
            if tx.is_closed() {
                return;
            }
        }
    });
    Ok(())
}

/// Two plans are the same virtual router (kept across a reload, state and
/// all) when interface, VRID, family and virtual MAC agree.
fn same_router(a: &InstancePlan, b: &InstancePlan) -> bool {
    a.name == b.name
        && a.ifindex == b.ifindex
        && a.fsm.vrid == b.fsm.vrid
        && a.group.is_ipv6() == b.group.is_ipv6()
        && a.vmac == b.vmac
        && a.fsm.version == b.fsm.version
}

impl Engine {
    /// Plans every instance against the host, opens sockets and starts the
    /// trackers. Errors name the instance and the cause.
    pub fn new(
        cfg: Config,
        events: UnboundedSender<VrrpEvent>,
        hook: Option<Box<dyn StateHook>>,
    ) -> Result<(Engine, SharedStatus), String> {
        let now = Instant::now();
        let addrs = AddressManager::open().map_err(|e| e.to_string())?;
        let (pkt_tx, pkt_rx) = unbounded_channel();
        let mut receivers = HashSet::new();
        let mut insts = Vec::new();
        for conf in &cfg.vrrp_instances {
            let inst = build_inst(&cfg, conf, now)?;
            open_receiver(&inst.plan, &mut receivers, &pkt_tx)?;
            insts.push(inst);
        }
        let (log_tx, mut log_rx) = unbounded_channel::<String>();
        let announcer = match Announcer::open() {
            Ok(a) => Some(AnnounceQueue::start(
                a,
                cfg.global.vrrp_garp_interval,
                cfg.global.vrrp_gna_interval,
                log_tx.clone(),
            )),
            Err(e) => {
                let _ = events.send(VrrpEvent::Log(format!(
                    "VRRP: cannot open the announcement socket ({e}): no gratuitous ARP/NA"
                )));
                None
            }
        };
        let ev = events.clone();
        tokio::spawn(async move {
            while let Some(l) = log_rx.recv().await {
                if ev.send(VrrpEvent::Log(l)).is_err() {
                    return;
                }
            }
        });
        let notifier = Notifier::start(&cfg, log_tx);
        let (track_tx, track_rx) = unbounded_channel();
        let (track, errors) = track::spawn_observers(&cfg, track_tx.clone());
        for e in errors {
            let _ = events.send(VrrpEvent::Log(e));
        }
        let status: SharedStatus = Arc::new(Mutex::new(Vec::new()));
        let eng = Engine {
            cfg,
            insts,
            addrs,
            announcer,
            notifier,
            track,
            events,
            hook,
            hook_pending: Vec::new(),
            status: status.clone(),
            pkt_rx,
            pkt_tx,
            receivers,
            track_rx,
            track_tx,
            foreign_logged: HashMap::new(),
        };
        Ok((eng, status))
    }

    fn log(&self, line: String) {
        let _ = self.events.send(VrrpEvent::Log(line));
    }

    fn publish(&mut self) {
        let v: Vec<InstanceStatus> = self
            .insts
            .iter_mut()
            .map(|i| {
                i.status.state = i.fsm.state();
                i.status.effective_priority = i.fsm.effective_priority();
                i.status.why = i.why.clone();
                i.status.fault = i.applied_fault.clone();
                i.status.master = i
                    .fsm
                    .master_seen
                    .map(|(a, p)| format!("{a} (priority {p})"));
                i.status.clone()
            })
            .collect();
        if let Ok(mut s) = self.status.lock() {
            *s = v;
        }
    }

    fn next_deadline(&self) -> Option<Instant> {
        self.insts
            .iter()
            .flat_map(|i| [i.fsm.next_deadline(), i.garp_second, i.garp_refresh])
            .flatten()
            .chain(self.hook.as_ref().and_then(|h| h.deadline()))
            .min()
    }

    /// `use_vmac`: creates the macvlans and moves the instance's VIPs,
    /// announcements and (IPv4) adverts onto them.
    async fn setup_vmacs(&mut self) {
        for i in 0..self.insts.len() {
            self.setup_vmac(i).await;
        }
    }

    async fn setup_vmac(&mut self, i: usize) {
        {
            let Some((name, mac)) = self.insts[i].plan.vmac.clone() else {
                return;
            };
            let p = &self.insts[i].plan;
            let (parent, parent_index) = (p.ifname.clone(), p.ifindex);
            match super::net::vmac::create(self.addrs.handle(), &name, &parent, parent_index, mac)
                .await
            {
                Ok(index) => {
                    let inst = &mut self.insts[i];
                    inst.vmac_index = Some(index);
                    inst.plan.mac = mac;
                    for v in inst.plan.vips.iter_mut() {
                        if v.ifindex == parent_index {
                            v.ifindex = index;
                            v.ifname = name.clone();
                        }
                    }
                    if !inst.plan.vmac_xmit_base {
                        match Sender::open(&name, index, inst.plan.fsm.local_addr) {
                            Ok(s) => inst.sender = s,
                            Err(e) => {
                                let line = format!(
                                    "VRRP {}: cannot send from {name}: {e}; adverts leave from {parent}",
                                    inst.plan.name
                                );
                                self.log(line);
                            }
                        }
                    }
                    let line = format!(
                        "VRRP {}: virtual MAC {} on {name}",
                        self.insts[i].plan.name,
                        mac.iter()
                            .map(|b| format!("{b:02x}"))
                            .collect::<Vec<_>>()
                            .join(":")
                    );
                    self.log(line);
                }
                Err(e) => {
                    let line = format!("VRRP {}: use_vmac: {e}", self.insts[i].plan.name);
                    self.log(line);
                }
            }
        }
    }

    /// Runs until shut down and every instance has stopped.
    pub async fn run(mut self, mut commands: UnboundedReceiver<VrrpCommand>) {
        self.setup_vmacs().await;
        let now = Instant::now();
        // Leftovers of a crash: remove the VIPs first (keepalived does too).
        for i in 0..self.insts.len() {
            self.release_vips(i).await;
        }
        self.reevaluate(now).await;
        for i in 0..self.insts.len() {
            let acts = if self.insts[i].applied_fault.is_some() {
                Vec::new()
            } else {
                self.insts[i].fsm.start(now)
            };
            self.exec(i, acts).await;
        }
        self.publish();
        let mut stopping: Option<Instant> = None;
        let mut commands_open = true;
        for _ in 0..u64::MAX {
            if stopping.is_some()
                && self
                    .insts
                    .iter()
                    .all(|i| matches!(i.fsm.state(), State::Stopped))
            {
                break;
            }
            if let Some(limit) = stopping {
                if Instant::now() >= limit {
                    let now = Instant::now();
                    for i in 0..self.insts.len() {
                        let a = self.insts[i].fsm.stop_now(now);
                        self.exec(i, a).await;
                    }
                    break;
                }
            }
            let deadline = self
                .next_deadline()
                .unwrap_or_else(|| Instant::now() + Duration::from_secs(3600));
            let deadline = match stopping {
                Some(l) => deadline.min(l),
                None => deadline,
            };
            tokio::select! {
                Some((ifindex, pkt)) = self.pkt_rx.recv() => {
                    self.on_packet(ifindex, pkt).await;
                }
                Some(ev) = self.track_rx.recv() => {
                    if self.track.apply(&ev) {
                        self.reevaluate(Instant::now()).await;
                    }
                }
                _ = tokio::time::sleep_until(deadline.into()) => {
                    self.on_timers(Instant::now()).await;
                }
                c = commands.recv(), if commands_open => {
                    let graceful = match c {
                        Some(VrrpCommand::Shutdown { graceful }) => graceful,
                        Some(VrrpCommand::Reload(cfg)) => {
                            if stopping.is_none() {
                                self.reload(*cfg).await;
                            }
                            self.publish();
                            continue;
                        }
                        None => { commands_open = false; true }
                    };
                    if stopping.is_none() {
                        let now = Instant::now();
                        let bound = self
                            .insts
                            .iter()
                            .map(|i| i.plan.fsm.advert_int * 3)
                            .max()
                            .unwrap_or_default();
                        stopping = Some(now + bound + Duration::from_millis(200));
                        for i in 0..self.insts.len() {
                            let a = if graceful {
                                self.insts[i].fsm.shutdown(now)
                            } else {
                                self.insts[i].fsm.stop_now(now)
                            };
                            self.exec(i, a).await;
                        }
                    }
                }
            }
            self.publish();
        }
        self.publish();
        for i in 0..self.insts.len() {
            if let Some(index) = self.insts[i].vmac_index.take() {
                if let Err(e) = super::net::vmac::delete(self.addrs.handle(), index).await {
                    let line = format!("VRRP {}: {e}", self.insts[i].plan.name);
                    self.log(line);
                }
            }
        }
        // The stop notifications run before the process goes.
        self.notifier
            .finish(notify::SCRIPT_TIMEOUT + Duration::from_secs(1))
            .await;
    }

    /// Applies a new configuration (see `VrrpCommand::Reload`). Nothing
    /// changes when an instance of it cannot be planned on this host.
    async fn reload(&mut self, cfg: Config) {
        let now = Instant::now();
        let mut fresh = Vec::new();
        for conf in &cfg.vrrp_instances {
            match build_inst(&cfg, conf, now) {
                Ok(i) => fresh.push(i),
                Err(e) => {
                    self.log(format!("VRRP reload refused: {e}; instances unchanged"));
                    return;
                }
            }
        }
        for f in &fresh {
            if let Err(e) = open_receiver(&f.plan, &mut self.receivers, &self.pkt_tx) {
                self.log(format!("VRRP reload refused: {e}; instances unchanged"));
                return;
            }
        }
        // Instances that are no longer configured (or are another router
        // now) resign and release, as at a stop.
        let keep: Vec<bool> = self
            .insts
            .iter()
            .map(|o| fresh.iter().any(|f| same_router(&o.plan, &f.plan)))
            .collect();
        for (i, kept) in keep.iter().enumerate() {
            if !kept {
                let a = self.insts[i].fsm.stop_now(now);
                self.exec(i, a).await;
                if let Some(index) = self.insts[i].vmac_index.take() {
                    let _ = super::net::vmac::delete(self.addrs.handle(), index).await;
                }
            }
        }
        let mut old: Vec<InstRt> = std::mem::take(&mut self.insts)
            .into_iter()
            .zip(keep)
            .filter(|(_, k)| *k)
            .map(|(i, _)| i)
            .collect();
        let mut started = Vec::new();
        for f in fresh {
            match old.iter().position(|o| same_router(&o.plan, &f.plan)) {
                Some(pos) => {
                    let mut o = old.remove(pos);
                    let mut plan = f.plan;
                    if let Some(index) = o.vmac_index {
                        // The macvlan stays: the VIPs on it and the MAC too.
                        plan.mac = o.plan.mac;
                        for v in plan.vips.iter_mut() {
                            if v.ifindex == plan.ifindex {
                                v.ifindex = index;
                                v.ifname = o.plan.vmac.clone().map(|(n, _)| n).unwrap_or_default();
                            }
                        }
                    } else {
                        o.sender = f.sender;
                    }
                    if o.fsm.state() == State::Master {
                        for v in o.plan.vips.iter().filter(|v| !plan.vips.contains(v)) {
                            if let Err(e) = self.addrs.remove(v).await {
                                self.log(format!("VRRP {}: {e}", plan.name));
                            }
                        }
                        for (r, ix) in o.plan.routes.iter().filter(|r| !plan.routes.contains(r)) {
                            let _ = super::net::routes::remove(self.addrs.handle(), r, *ix).await;
                        }
                        for v in plan.vips.iter().filter(|v| !o.plan.vips.contains(v)) {
                            if let Err(e) = self.addrs.add(v).await {
                                self.log(format!("VRRP {}: {e}", plan.name));
                            }
                        }
                        for (r, ix) in plan.routes.iter().filter(|r| !o.plan.routes.contains(r)) {
                            if let Err(e) =
                                super::net::routes::add(self.addrs.handle(), r, *ix).await
                            {
                                self.log(format!("VRRP {}: {e}", plan.name));
                            }
                        }
                    }
                    o.fsm.reconfigure(plan.fsm.clone());
                    o.plan = plan;
                    o.conf = f.conf;
                    o.status.priority = o.plan.fsm.priority;
                    self.insts.push(o);
                }
                None => {
                    started.push(self.insts.len());
                    self.insts.push(f);
                }
            }
        }
        self.cfg = cfg;
        // New observers for the new tracking; what was observed carries over.
        let (track_tx, track_rx) = unbounded_channel();
        let (track, errors) = track::spawn_observers_from(&self.cfg, track_tx.clone(), &self.track);
        self.track = track;
        self.track_tx = track_tx;
        self.track_rx = track_rx;
        for e in errors {
            self.log(e);
        }
        for &i in &started {
            self.setup_vmac(i).await;
            self.release_vips(i).await;
        }
        self.reevaluate(now).await;
        for i in started {
            if self.insts[i].applied_fault.is_none() {
                let a = self.insts[i].fsm.start(now);
                self.exec(i, a).await;
            }
        }
        self.log(format!("VRRP reloaded: {} instances", self.insts.len()));
    }

    async fn on_packet(&mut self, ifindex: u32, pkt: Result<Received, DropReason>) {
        let now = Instant::now();
        let r = match pkt {
            Ok(r) => r,
            Err(why) => {
                self.count_drop_if(ifindex, why);
                return;
            }
        };
        if self
            .insts
            .iter()
            .any(|i| i.plan.ifindex == ifindex && i.sender.src() == r.src)
        {
            return; // our own advert
        }
        let decoded = Advert::decode(&r.msg, r.src, r.dst, r.checksum_done);
        let (adv, _form) = match decoded {
            Ok(a) => a,
            Err(why) => {
                self.count_drop_if(ifindex, why);
                return;
            }
        };
        let Some(idx) = self.insts.iter().position(|i| {
            i.plan.ifindex == ifindex
                && i.plan.fsm.vrid == adv.vrid
                && i.plan.group.is_ipv6() == r.src.is_ipv6()
        }) else {
            let key = (ifindex, adv.vrid);
            let due = self
                .foreign_logged
                .get(&key)
                .is_none_or(|t| now.duration_since(*t) >= Duration::from_secs(60));
            if due {
                self.foreign_logged.insert(key, now);
                self.log(format!(
                    "VRRP: adverts for virtual router {} from {} on interface index {ifindex}: not configured here (another cluster on this link?)",
                    adv.vrid, r.src
                ));
            }
            return;
        };
        if let Err(why) = instance::validate(&self.insts[idx].plan, r.src, r.ttl, &adv) {
            self.count_drop(idx, why);
            return;
        }
        self.insts[idx].status.adverts_received += 1;
        let interval = Duration::from_millis(u64::from(adv.interval_cs) * 10);
        let acts = self.insts[idx]
            .fsm
            .on_advert(now, r.src, adv.priority, interval);
        self.exec(idx, acts).await;
    }

    fn count_drop_if(&mut self, ifindex: u32, why: DropReason) {
        if let Some(idx) = self.insts.iter().position(|i| i.plan.ifindex == ifindex) {
            self.count_drop(idx, why);
        }
    }

    fn count_drop(&mut self, idx: usize, why: DropReason) {
        let now = Instant::now();
        let key = why.key();
        let i = &mut self.insts[idx];
        *i.status.drops.entry(key.to_string()).or_default() += 1;
        let due = i
            .last_drop_log
            .get(key)
            .is_none_or(|t| now.duration_since(*t) >= DROP_LOG_EVERY);
        if due {
            i.last_drop_log.insert(key, now);
            let line = format!(
                "VRRP {}: dropped an advert: {why} ({} so far)",
                i.plan.name, i.status.drops[key]
            );
            self.log(line);
        }
    }

    async fn on_timers(&mut self, now: Instant) {
        if let Some(h) = self.hook.as_mut() {
            if h.deadline().is_some_and(|d| d <= now) {
                if let Some(l) = h.on_deadline(now) {
                    let _ = self.events.send(VrrpEvent::Log(l));
                }
            }
        }
        for i in 0..self.insts.len() {
            if self.insts[i].fsm.next_deadline().is_some_and(|d| d <= now) {
                let a = self.insts[i].fsm.on_timer(now);
                self.exec(i, a).await;
            }
            if self.insts[i].garp_second.is_some_and(|d| d <= now) {
                self.insts[i].garp_second = None;
                self.announce(i);
            }
            if let Some(d) = self.insts[i].garp_refresh {
                if d <= now {
                    let r = self.insts[i].plan.garp_refresh;
                    for _ in 0..self.insts[i].plan.garp_refresh_repeat {
                        self.announce_once(i);
                    }
                    self.insts[i].garp_refresh = r.map(|r| now + r);
                }
            }
        }
    }

    /// Recomputes priorities and faults from the trackers (and sync groups).
    async fn reevaluate(&mut self, now: Instant) {
        for i in 0..self.insts.len() {
            let e = track::evaluate(&self.cfg, &self.insts[i].conf, &self.track);
            self.insts[i].own_fault = e.fault;
            self.insts[i].why = e.adjustments;
            let a = self.insts[i].fsm.set_effective_priority(now, e.priority);
            self.exec(i, a).await;
        }
        for i in 0..self.insts.len() {
            let mut fault = self.insts[i].own_fault.clone();
            if fault.is_none() {
                if let Some(g) = self.group_of(i) {
                    for m in self.members(&g) {
                        if let Some(f) = &self.insts[m].own_fault {
                            fault = Some(format!(
                                "sync group {g}: {} is in fault ({f})",
                                self.insts[m].plan.name
                            ));
                            break;
                        }
                    }
                }
            }
            if fault != self.insts[i].applied_fault {
                self.insts[i].applied_fault = fault.clone();
                let st = self.insts[i].fsm.state();
                let a = if st == State::Initialize {
                    Vec::new()
                } else {
                    self.insts[i].fsm.set_fault(now, fault)
                };
                self.exec(i, a).await;
            }
        }
    }

    fn group_of(&self, i: usize) -> Option<String> {
        let name = &self.insts[i].plan.name;
        self.cfg
            .vrrp_sync_groups
            .iter()
            .find(|g| g.group.iter().any(|m| m == name))
            .map(|g| g.name.clone())
    }

    fn members(&self, group: &str) -> Vec<usize> {
        let Some(g) = self.cfg.vrrp_sync_groups.iter().find(|g| g.name == group) else {
            return Vec::new();
        };
        self.insts
            .iter()
            .enumerate()
            .filter(|(_, i)| g.group.iter().any(|m| m == &i.plan.name))
            .map(|(n, _)| n)
            .collect()
    }

    fn send_advert(&mut self, i: usize, priority: u8) {
        let inst = &mut self.insts[i];
        let adv = Advert {
            version: inst.plan.fsm.version,
            vrid: inst.plan.fsm.vrid,
            priority,
            interval_cs: (inst.plan.fsm.advert_int.as_millis() / 10).clamp(1, 4095) as u16,
            auth: inst.plan.auth.clone(),
            addrs: inst.plan.advert_addrs.clone(),
        };
        let src = inst.sender.src();
        for dst in inst.plan.destinations.clone() {
            let msg = adv.encode(src, dst, inst.plan.v3_pseudo_header);
            match inst.sender.send(&msg, dst, inst.plan.ttl) {
                Ok(()) => inst.status.adverts_sent += 1,
                Err(e) => {
                    inst.status.send_errors += 1;
                    if inst.status.send_errors == 1 || inst.status.send_errors % 100 == 0 {
                        let line = format!(
                            "VRRP {}: cannot send an advert to {dst}: {e} ({} errors)",
                            inst.plan.name, inst.status.send_errors
                        );
                        let _ = self.events.send(VrrpEvent::Log(line));
                    }
                }
            }
        }
    }

    fn announce_once(&mut self, i: usize) {
        let Some(a) = &self.announcer else { return };
        let inst = &self.insts[i];
        for v in &inst.plan.vips {
            let frame = match v.addr {
                IpAddr::V4(a4) => garp_frame(inst.plan.mac, a4),
                IpAddr::V6(a6) => unsolicited_na_frame(inst.plan.mac, a6, false),
            };
            a.send(v.ifindex, v.addr.is_ipv6(), frame);
        }
    }

    /// A burst of `garp_master_repeat` announcements.
    fn announce(&mut self, i: usize) {
        let n = self.insts[i].plan.garp_repeat.max(1);
        for _ in 0..n {
            self.announce_once(i);
        }
    }

    async fn take_vips(&mut self, i: usize) {
        let vips = self.insts[i].plan.vips.clone();
        for v in &vips {
            if let Err(e) = self.addrs.add(v).await {
                self.log(format!("VRRP {}: {e}", self.insts[i].plan.name));
            }
        }
        for (r, ifindex) in self.insts[i].plan.routes.clone() {
            if let Err(e) = super::net::routes::add(self.addrs.handle(), &r, ifindex).await {
                self.log(format!("VRRP {}: {e}", self.insts[i].plan.name));
            }
        }
        self.announce(i);
        let now = Instant::now();
        let (delay, refresh) = (
            self.insts[i].plan.garp_delay,
            self.insts[i].plan.garp_refresh,
        );
        self.insts[i].garp_second = (!delay.is_zero()).then(|| now + delay);
        self.insts[i].garp_refresh = refresh.map(|r| now + r);
    }

    async fn release_vips(&mut self, i: usize) {
        self.insts[i].garp_second = None;
        self.insts[i].garp_refresh = None;
        for (r, ifindex) in self.insts[i].plan.routes.clone() {
            if let Err(e) = super::net::routes::remove(self.addrs.handle(), &r, ifindex).await {
                self.log(format!("VRRP {}: {e}", self.insts[i].plan.name));
            }
        }
        let vips = self.insts[i].plan.vips.clone();
        for v in &vips {
            if let Err(e) = self.addrs.remove(v).await {
                self.log(format!("VRRP {}: {e}", self.insts[i].plan.name));
            }
        }
    }

    /// Performs the actions of instance `i`, in order, and what they imply
    /// for its sync group.
    async fn exec(&mut self, i: usize, actions: Vec<Action>) {
        let mut queue: Vec<(usize, Action)> = actions.into_iter().map(|a| (i, a)).collect();
        let mut steps = 0;
        while !queue.is_empty() && steps < 10_000 {
            steps += 1;
            let (i, a) = queue.remove(0);
            match a {
                Action::SendAdvert { priority } => self.send_advert(i, priority),
                Action::TakeVips => self.take_vips(i).await,
                Action::ReleaseVips => self.release_vips(i).await,
                Action::Announce => self.announce(i),
                Action::WantsMaster => {
                    if let Some(g) = self.group_of(i) {
                        let members = self.members(&g);
                        let all = members.iter().all(|&m| {
                            self.insts[m].fsm.wants_master()
                                || self.insts[m].fsm.state() == State::Master
                        });
                        if all {
                            let now = Instant::now();
                            for m in members {
                                let a = self.insts[m].fsm.set_gate(now, true);
                                self.insts[m].fsm.set_gate(now, false);
                                queue.extend(a.into_iter().map(|a| (m, a)));
                            }
                        }
                    }
                }
                Action::Transition { from, to, cause } => {
                    self.on_transition(i, from, to, &cause);
                    if from == State::Master && matches!(to, State::Backup) {
                        if let Some(g) = self.group_of(i) {
                            let now = Instant::now();
                            for m in self.members(&g) {
                                if m != i {
                                    let a = self.insts[m].fsm.force_backup(now, &g);
                                    queue.extend(a.into_iter().map(|a| (m, a)));
                                }
                            }
                        }
                    }
                }
            }
        }
        self.run_hooks();
    }

    fn run_hooks(&mut self) {
        let Some(h) = self.hook.as_mut() else {
            self.hook_pending.clear();
            return;
        };
        for (name, to) in self.hook_pending.drain(..) {
            if let Some(l) = h.on_state(&name, to) {
                let _ = self.events.send(VrrpEvent::Log(l));
            }
        }
    }

    fn on_transition(&mut self, i: usize, from: State, to: State, cause: &Cause) {
        let inst = &mut self.insts[i];
        inst.status.transitions += 1;
        inst.status.last_transition_unix_ms = Some(unix_ms());
        inst.status.last_cause = Some(cause.to_string());
        let name = inst.plan.name.clone();
        let prio = inst.fsm.effective_priority();
        let line = format!(
            "VRRP {name}: {} -> {} ({cause}), priority {prio}",
            from.name(),
            to.name()
        );
        let _ = self.events.send(VrrpEvent::Log(line));
        let _ = self.events.send(VrrpEvent::Transition {
            instance: name.clone(),
            from,
            to,
            cause: cause.clone(),
        });
        self.hook_pending.push((name.clone(), to));
        // Notifications: Leaving is announced as STOP once stopped.
        if to == State::Leaving || to == State::Initialize {
            return;
        }
        if to == State::Stopped && from == State::Leaving {
            // notified below like any stop
        }
        let c = &inst.conf;
        let specific = match to {
            State::Master => c.notify_master.as_ref(),
            State::Backup => c.notify_backup.as_ref(),
            State::Fault => c.notify_fault.as_ref(),
            State::Stopped => c.notify_stop.as_ref(),
            _ => None,
        };
        let n = notify::build(
            "INSTANCE",
            &name,
            to.keepalived_name(),
            prio,
            specific,
            c.notify.as_ref(),
        );
        self.notifier.send(n);
    }
}
