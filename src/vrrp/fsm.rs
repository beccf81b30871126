//! The VRRP state machine of one instance (RFC 5798/9568 §6.4 with
//! keepalived's semantics where the two differ), pure: it takes events
//! with the current time and returns the actions to perform, in order;
//! the caller owns sockets, addresses and timers (`next_deadline`).
//!
//! Beyond the RFC, as lvsd does it:
//! - a Master that hears a lower priority re-asserts at once: an advert
//!   and a gratuitous ARP/NA (RFC 9568 §6.4.3), so hosts that learned the
//!   other node's MAC during a split brain are corrected immediately;
//! - stopping a Master is make-before-break: it sends priority 0 and keeps
//!   the VIP (and forwarding) until the new master's advert is heard, at
//!   most 3 x advert_int (`State::Leaving`);
//! - a gate (sync groups, start-up) can hold an instance in Backup when its
//!   timer says Master, until the gate is opened.

use std::net::IpAddr;
use std::time::{Duration, Instant};

use super::packet::Version;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
pub enum State {
    Initialize,
    Backup,
    Master,
    Fault,
    /// Stopping a Master: priority 0 sent, VIP kept until a new master is
    /// heard or the bound passes.
    Leaving,
    Stopped,
}

impl State {
    /// lvsd's own word for the state (logs, status).
    pub fn name(self) -> &'static str {
        match self {
            State::Initialize => "INIT",
            State::Backup => "BACKUP",
            State::Master => "MASTER",
            State::Fault => "FAULT",
            State::Leaving => "LEAVING",
            State::Stopped => "STOPPED",
        }
    }
    /// keepalived's word for the state (notify arguments, FIFO lines).
    pub fn keepalived_name(self) -> &'static str {
        match self {
            State::Initialize => "INIT",
            State::Backup => "BACKUP",
            State::Master => "MASTER",
            State::Fault => "FAULT",
            State::Leaving | State::Stopped => "STOP",
        }
    }
}

/// Why a transition happened (shown in status and logs).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub enum Cause {
    Startup,
    /// The master-down timer expired: no advert heard for the interval.
    MasterDown,
    /// The master resigned (priority 0) and our skew passed.
    Owner,
    HigherPriority {
        from: IpAddr,
        priority: u8,
    },
    Fault(String),
    FaultCleared,
    /// A member of the sync group went to Backup/Fault.
    SyncGroup(String),
    Shutdown,
    /// The new master was heard while leaving.
    HandedOver {
        to: IpAddr,
    },
    /// No new master was heard within the bound while leaving.
    HandoverTimeout,
}

impl std::fmt::Display for Cause {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Cause::Startup => write!(f, "start-up"),
            Cause::MasterDown => write!(f, "no advertisement within the master-down interval"),
            Cause::Owner => write!(f, "address owner (priority 255)"),
            Cause::HigherPriority { from, priority } => {
                write!(f, "advertisement from {from} with priority {priority}")
            }
            Cause::Fault(why) => write!(f, "fault: {why}"),
            Cause::FaultCleared => write!(f, "fault cleared"),
            Cause::SyncGroup(g) => write!(f, "sync group {g}"),
            Cause::Shutdown => write!(f, "shutdown"),
            Cause::HandedOver { to } => write!(f, "handed over to {to}"),
            Cause::HandoverTimeout => write!(f, "no new master heard within 3 x advert_int"),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Send an advertisement with this priority.
    SendAdvert { priority: u8 },
    /// Add the VIPs, routes, announce them (GARP/NA), start the sync
    /// daemon as master.
    TakeVips,
    /// Remove the VIPs and routes; sync daemon to backup.
    ReleaseVips,
    /// Re-announce the VIPs (gratuitous ARP / unsolicited NA) now.
    Announce,
    Transition {
        from: State,
        to: State,
        cause: Cause,
    },
    /// The timer says Master but the gate is closed (sync group).
    WantsMaster,
}

#[derive(Debug, Clone)]
pub struct FsmConfig {
    pub version: Version,
    pub vrid: u8,
    /// Configured priority (1..255).
    pub priority: u8,
    pub advert_int: Duration,
    pub preempt: bool,
    pub preempt_delay: Duration,
    /// This node's address in adverts (tie-break on equal priority).
    pub local_addr: IpAddr,
    pub lower_prio_no_advert: bool,
    pub higher_prio_send_advert: bool,
    /// Held in Backup on timer expiry until `open_gate` (sync groups).
    pub gated: bool,
}

#[derive(Debug, Clone)]
pub struct Fsm {
    pub cfg: FsmConfig,
    state: State,
    effective: u8,
    master_adver_int: Duration,
    down_at: Option<Instant>,
    advert_at: Option<Instant>,
    leave_by: Option<Instant>,
    /// Leaving: the new master heard (it gets `handover_grace` to add its
    /// VIPs and announce them before ours go).
    handed_to: Option<IpAddr>,
    backup_since: Instant,
    wants_master: bool,
    gate_open: bool,
    /// The last master heard (address, priority).
    pub master_seen: Option<(IpAddr, u8)>,
    pub last_transition: Option<(Instant, State, Cause)>,
}

/// How long a leaving master keeps its VIPs after hearing the new master:
/// long enough for it to add the VIPs and send its gratuitous ARPs, short
/// enough that hosts asking for the VIP meanwhile (both answer) are rare.
pub fn handover_grace(advert_int: Duration) -> Duration {
    (advert_int / 2).min(Duration::from_millis(200))
}

/// RFC skew time for `priority` at `interval`.
pub fn skew(version: Version, priority: u8, interval: Duration) -> Duration {
    let p = 256 - u32::from(priority);
    match version {
        Version::V2 => Duration::from_micros(u64::from(p) * 1_000_000 / 256),
        Version::V3 => interval * p / 256,
    }
}

/// Master_Down_Interval = 3 x interval + skew.
pub fn master_down_interval(version: Version, priority: u8, interval: Duration) -> Duration {
    interval * 3 + skew(version, priority, interval)
}

fn addr_key(a: IpAddr) -> u128 {
    match a {
        IpAddr::V4(v) => u128::from(u32::from(v)),
        IpAddr::V6(v) => u128::from(v),
    }
}

impl Fsm {
    pub fn new(cfg: FsmConfig, now: Instant) -> Fsm {
        let effective = cfg.priority;
        let master_adver_int = cfg.advert_int;
        Fsm {
            gate_open: !cfg.gated,
            cfg,
            state: State::Initialize,
            effective,
            master_adver_int,
            down_at: None,
            advert_at: None,
            leave_by: None,
            handed_to: None,
            backup_since: now,
            wants_master: false,
            master_seen: None,
            last_transition: None,
        }
    }

    pub fn state(&self) -> State {
        self.state
    }
    pub fn effective_priority(&self) -> u8 {
        self.effective
    }
    pub fn master_adver_int(&self) -> Duration {
        self.master_adver_int
    }

    /// A reload changed the settings of this same router: the state and
    /// timers stay; the priority is re-derived by the caller (tracking).
    pub fn reconfigure(&mut self, cfg: FsmConfig) {
        if self.state != State::Backup || self.cfg.version == Version::V2 {
            self.master_adver_int = cfg.advert_int;
        }
        self.gate_open = !cfg.gated;
        self.cfg = cfg;
    }

    /// The earliest time `on_timer` must be called.
    pub fn next_deadline(&self) -> Option<Instant> {
        [self.down_at, self.advert_at, self.leave_by]
            .into_iter()
            .flatten()
            .min()
    }

    fn mdi(&self) -> Duration {
        master_down_interval(self.cfg.version, self.effective, self.master_adver_int)
    }

    fn transition(&mut self, now: Instant, to: State, cause: Cause, out: &mut Vec<Action>) {
        let from = self.state;
        self.state = to;
        if to == State::Backup {
            self.backup_since = now;
        }
        self.last_transition = Some((now, to, cause.clone()));
        out.push(Action::Transition { from, to, cause });
    }

    fn enter_backup(&mut self, now: Instant, cause: Cause, out: &mut Vec<Action>) {
        let was_master = self.state == State::Master;
        self.advert_at = None;
        self.leave_by = None;
        self.wants_master = false;
        self.down_at = Some(now + self.mdi());
        if was_master {
            out.push(Action::ReleaseVips);
        }
        self.transition(now, State::Backup, cause, out);
    }

    fn enter_master(&mut self, now: Instant, cause: Cause, out: &mut Vec<Action>) {
        if !self.gate_open {
            if !self.wants_master {
                self.wants_master = true;
                out.push(Action::WantsMaster);
            }
            // Stay Backup; re-check each interval (the gate may open).
            self.down_at = Some(now + self.master_adver_int);
            return;
        }
        self.wants_master = false;
        self.down_at = None;
        self.master_adver_int = self.cfg.advert_int;
        // keepalived's order: the advert first (so the old master drops the
        // VIP before our GARPs), then the VIPs and their announcements.
        out.push(Action::SendAdvert {
            priority: self.effective,
        });
        out.push(Action::TakeVips);
        self.advert_at = Some(now + self.cfg.advert_int);
        self.transition(now, State::Master, cause, out);
    }

    /// Start-up: Backup with the full master-down timer, or Master at once
    /// for the address owner (priority 255).
    pub fn start(&mut self, now: Instant) -> Vec<Action> {
        let mut out = Vec::new();
        if self.state != State::Initialize && self.state != State::Stopped {
            return out;
        }
        if self.effective == 255 {
            self.transition(now, State::Backup, Cause::Startup, &mut out);
            self.enter_master(now, Cause::Owner, &mut out);
        } else {
            self.enter_backup(now, Cause::Startup, &mut out);
        }
        out
    }

    /// A valid advertisement for our VRID from `src`.
    pub fn on_advert(
        &mut self,
        now: Instant,
        src: IpAddr,
        priority: u8,
        interval: Duration,
    ) -> Vec<Action> {
        let mut out = Vec::new();
        if priority > 0 {
            self.master_seen = Some((src, priority));
        }
        match self.state {
            State::Backup => {
                if priority == 0 {
                    self.down_at = Some(now + skew(self.cfg.version, self.effective, interval));
                    return out;
                }
                let preempt_held = now < self.backup_since + self.cfg.preempt_delay;
                if !self.cfg.preempt || preempt_held || priority >= self.effective {
                    if self.cfg.version == Version::V3 && !interval.is_zero() {
                        self.master_adver_int = interval;
                    }
                    self.down_at = Some(now + self.mdi());
                    self.wants_master = false;
                }
                // else: lower priority with preemption on: discard; our
                // timer runs out and we preempt.
            }
            State::Master => {
                if priority == 0 {
                    out.push(Action::SendAdvert {
                        priority: self.effective,
                    });
                    self.advert_at = Some(now + self.cfg.advert_int);
                    return out;
                }
                let wins = priority > self.effective
                    || (priority == self.effective
                        && addr_key(src) > addr_key(self.cfg.local_addr));
                if wins {
                    if self.cfg.higher_prio_send_advert {
                        out.push(Action::SendAdvert {
                            priority: self.effective,
                        });
                    }
                    if self.cfg.version == Version::V3 && !interval.is_zero() {
                        self.master_adver_int = interval;
                    }
                    self.enter_backup(
                        now,
                        Cause::HigherPriority {
                            from: src,
                            priority,
                        },
                        &mut out,
                    );
                } else {
                    // Two masters (split brain healing, or a lower-priority
                    // node): assert at once and re-announce the VIPs.
                    if !self.cfg.lower_prio_no_advert {
                        out.push(Action::SendAdvert {
                            priority: self.effective,
                        });
                        self.advert_at = Some(now + self.cfg.advert_int);
                    }
                    out.push(Action::Announce);
                }
            }
            State::Leaving => {
                // The new master sends its advert before it adds the VIPs
                // and announces them: releasing ours at once would leave
                // the VIP unowned for that moment (measured: about 50 ms
                // in the kernel lab). Keep them a little longer.
                if priority > 0 && self.handed_to.is_none() {
                    self.handed_to = Some(src);
                    self.advert_at = None;
                    self.leave_by = Some(now + handover_grace(self.cfg.advert_int));
                }
            }
            State::Initialize | State::Fault | State::Stopped => {}
        }
        out
    }

    /// Timers: call at (or after) `next_deadline`.
    pub fn on_timer(&mut self, now: Instant) -> Vec<Action> {
        let mut out = Vec::new();
        if let Some(t) = self.leave_by {
            if now >= t {
                self.leave_by = None;
                self.advert_at = None;
                out.push(Action::ReleaseVips);
                let cause = match self.handed_to.take() {
                    Some(to) => Cause::HandedOver { to },
                    None => Cause::HandoverTimeout,
                };
                self.transition(now, State::Stopped, cause, &mut out);
                return out;
            }
        }
        if let Some(t) = self.advert_at {
            if now >= t {
                match self.state {
                    State::Master => {
                        out.push(Action::SendAdvert {
                            priority: self.effective,
                        });
                        self.advert_at = Some(now + self.cfg.advert_int);
                    }
                    State::Leaving => {
                        // Repeat the resignation until handed over.
                        out.push(Action::SendAdvert { priority: 0 });
                        self.advert_at = Some(now + self.cfg.advert_int);
                    }
                    _ => self.advert_at = None,
                }
            }
        }
        if let Some(t) = self.down_at {
            if now >= t && self.state == State::Backup {
                self.enter_master(now, Cause::MasterDown, &mut out);
            }
        }
        out
    }

    /// The effective priority changed (tracked scripts/interfaces). An
    /// owner's priority never changes.
    pub fn set_effective_priority(&mut self, now: Instant, p: u8) -> Vec<Action> {
        let mut out = Vec::new();
        if self.cfg.priority == 255 {
            return out;
        }
        let p = p.clamp(1, 254);
        if p == self.effective {
            return out;
        }
        self.effective = p;
        match self.state {
            State::Master => {
                // Tell the backups now: a higher one will preempt.
                out.push(Action::SendAdvert { priority: p });
                self.advert_at = Some(now + self.cfg.advert_int);
            }
            State::Backup => {
                if let Some(t) = self.down_at {
                    let remaining = t.saturating_duration_since(now);
                    self.down_at = Some(now + remaining.min(self.mdi()));
                }
            }
            _ => {}
        }
        out
    }

    /// A fault (tracked interface down, script with weight 0 failed) began
    /// (`Some(reason)`) or ended (`None`).
    pub fn set_fault(&mut self, now: Instant, fault: Option<String>) -> Vec<Action> {
        let mut out = Vec::new();
        match (fault, self.state) {
            (Some(why), State::Master) => {
                out.push(Action::SendAdvert { priority: 0 });
                out.push(Action::ReleaseVips);
                self.advert_at = None;
                self.down_at = None;
                self.transition(now, State::Fault, Cause::Fault(why), &mut out);
            }
            (Some(why), State::Backup | State::Initialize) => {
                self.down_at = None;
                self.wants_master = false;
                self.transition(now, State::Fault, Cause::Fault(why), &mut out);
            }
            (None, State::Fault) => {
                self.master_adver_int = self.cfg.advert_int;
                self.enter_backup(now, Cause::FaultCleared, &mut out);
            }
            _ => {}
        }
        out
    }

    /// Sync group: another member left Master; follow it to Backup.
    pub fn force_backup(&mut self, now: Instant, group: &str) -> Vec<Action> {
        let mut out = Vec::new();
        if self.state == State::Master {
            out.push(Action::SendAdvert { priority: 0 });
            self.enter_backup(now, Cause::SyncGroup(group.to_string()), &mut out);
        }
        out
    }

    /// Sync group: another member is in Fault; follow it.
    pub fn force_fault(&mut self, now: Instant, group: &str) -> Vec<Action> {
        self.set_fault(now, Some(format!("sync group {group}")))
    }

    pub fn wants_master(&self) -> bool {
        self.wants_master
    }

    /// Opens or closes the gate; opening it lets a waiting instance become
    /// Master now.
    pub fn set_gate(&mut self, now: Instant, open: bool) -> Vec<Action> {
        let mut out = Vec::new();
        self.gate_open = open;
        if open && self.wants_master && self.state == State::Backup {
            self.enter_master(now, Cause::MasterDown, &mut out);
        }
        out
    }

    /// Stop: a Master resigns with priority 0 and keeps its VIP until the
    /// new master is heard (at most 3 x advert_int); others stop at once.
    pub fn shutdown(&mut self, now: Instant) -> Vec<Action> {
        let mut out = Vec::new();
        self.down_at = None;
        match self.state {
            State::Master => {
                out.push(Action::SendAdvert { priority: 0 });
                self.advert_at = Some(now + self.cfg.advert_int);
                self.leave_by = Some(now + self.cfg.advert_int * 3);
                self.handed_to = None;
                self.transition(now, State::Leaving, Cause::Shutdown, &mut out);
            }
            State::Leaving | State::Stopped => {}
            _ => {
                self.advert_at = None;
                self.transition(now, State::Stopped, Cause::Shutdown, &mut out);
            }
        }
        out
    }

    /// Stop now without waiting for a hand-over (second signal, or when no
    /// peer can exist).
    pub fn stop_now(&mut self, now: Instant) -> Vec<Action> {
        let mut out = Vec::new();
        self.down_at = None;
        self.advert_at = None;
        self.leave_by = None;
        self.handed_to = None;
        match self.state {
            State::Master => {
                out.push(Action::SendAdvert { priority: 0 });
                out.push(Action::ReleaseVips);
            }
            State::Leaving => out.push(Action::ReleaseVips),
            State::Stopped => return out,
            _ => {}
        }
        self.transition(now, State::Stopped, Cause::Shutdown, &mut out);
        out
    }
}
