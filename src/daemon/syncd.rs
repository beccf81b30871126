//! The IPVS connection-sync daemon follows a VRRP instance
//! (`lvs_sync_daemon IF [inst] NAME ...`): master daemon while the instance
//! is Master, backup daemon otherwise, none once stopped. Established
//! connections are synchronised to the backup, so they survive failover.
//!
//! Graceful hand-over, both sides: a resigning Master copies its whole
//! connection table to the backups while it still forwards (see
//! `conn_handover`), and a new Master keeps its backup daemon for
//! `BACKUP_LINGER` next to the master daemon so that it still takes in
//! those copies (and the old master's last kernel messages).

use std::time::{Duration, Instant};

use lvsd_ipvs::netlink::client::IpvsClient;
use lvsd_ipvs::netlink::convert::{SyncDaemon, SyncState};

use super::conn_handover::ConnHandover;
use crate::config::model::LvsSyncDaemon;
use crate::vrrp::engine::StateHook;
use crate::vrrp::fsm::State;

/// How long a new Master keeps its backup daemon.
pub const BACKUP_LINGER: Duration = Duration::from_secs(3);
/// How long the last copy of a hand-over may take.
const HANDOVER_FINISH: Duration = Duration::from_secs(1);

/// The kernel side of the sync daemon, behind a trait for tests.
pub trait SyncDaemonControl: Send {
    fn start(&mut self, d: &SyncDaemon) -> Result<(), String>;
    fn stop(&mut self, state: SyncState) -> Result<(), String>;
    /// Starts copying the connection table to the backups.
    fn begin_handover(&mut self, d: &SyncDaemon) -> Result<(), String>;
    /// Sends the last copy; a line for the log.
    fn end_handover(&mut self) -> Option<String>;
}

/// The kernel's sync daemons over netlink, and the hand-over thread.
pub struct KernelSync {
    client: IpvsClient,
    handover: Option<ConnHandover>,
}

impl KernelSync {
    pub fn new(client: IpvsClient) -> Self {
        KernelSync {
            client,
            handover: None,
        }
    }
}

impl SyncDaemonControl for KernelSync {
    fn start(&mut self, d: &SyncDaemon) -> Result<(), String> {
        self.client.start_daemon(d).map_err(|e| e.to_string())
    }
    fn stop(&mut self, state: SyncState) -> Result<(), String> {
        self.client.stop_daemon(state).map_err(|e| e.to_string())
    }
    fn begin_handover(&mut self, d: &SyncDaemon) -> Result<(), String> {
        self.handover = Some(ConnHandover::start(d)?);
        Ok(())
    }
    fn end_handover(&mut self) -> Option<String> {
        self.handover.take().map(|h| h.finish(HANDOVER_FINISH))
    }
}

pub struct SyncDaemonFollower<C: SyncDaemonControl> {
    cfg: LvsSyncDaemon,
    instance: String,
    control: C,
    master: bool,
    backup: bool,
    /// When a lingering backup daemon stops.
    backup_until: Option<Instant>,
    handing_over: bool,
}

impl<C: SyncDaemonControl> SyncDaemonFollower<C> {
    /// Follows the instance named in `cfg`, or the first of `instances`
    /// (name, VRID) when the configuration names none. Without `id`, the
    /// sync id is the followed instance's VRID, as keepalived 2.2.7 does: a
    /// backup daemon with another sync id ignores the master's messages, so
    /// a mixed lvsd/keepalived pair must agree on it.
    pub fn new(mut cfg: LvsSyncDaemon, instances: &[(&str, u8)], control: C) -> Self {
        let instance = cfg
            .instance
            .clone()
            .or_else(|| instances.first().map(|(n, _)| n.to_string()))
            .unwrap_or_default();
        if cfg.sync_id.is_none() {
            cfg.sync_id = instances
                .iter()
                .find(|(n, _)| *n == instance)
                .map(|(_, vrid)| *vrid);
        }
        SyncDaemonFollower {
            cfg,
            instance,
            control,
            master: false,
            backup: false,
            backup_until: None,
            handing_over: false,
        }
    }

    fn daemon(&self, state: SyncState) -> SyncDaemon {
        SyncDaemon {
            state,
            mcast_ifn: self.cfg.interface.clone(),
            sync_id: u32::from(self.cfg.sync_id.unwrap_or(0)),
            maxlen: self.cfg.maxlen,
            group: self.cfg.group,
            port: self.cfg.port,
            ttl: self.cfg.ttl,
        }
    }

    /// Whether the `state` daemon runs.
    fn running(&mut self, state: SyncState) -> &mut bool {
        match state {
            SyncState::Master => &mut self.master,
            SyncState::Backup => &mut self.backup,
        }
    }

    fn run(&mut self, state: SyncState, want: bool, log: &mut Vec<String>) {
        if *self.running(state) == want {
            return;
        }
        let name = match state {
            SyncState::Master => "master",
            SyncState::Backup => "backup",
        };
        if want {
            let d = self.daemon(state);
            match self.control.start(&d) {
                Ok(()) => log.push(format!(
                    "sync daemon: {name} on {} (syncid {})",
                    d.mcast_ifn, d.sync_id
                )),
                Err(e) => {
                    log.push(format!("sync daemon: cannot start the {name} daemon: {e}"));
                    return;
                }
            }
        } else if let Err(e) = self.control.stop(state) {
            log.push(format!("sync daemon: cannot stop the {name} daemon: {e}"));
        }
        *self.running(state) = want;
    }

    /// Makes the kernel run the daemons for the instance's state.
    fn follow(&mut self, state: State, now: Instant) -> Vec<String> {
        let mut log = Vec::new();
        let leaving = state == State::Leaving;
        if self.handing_over && !leaving {
            self.handing_over = false;
            log.extend(self.control.end_handover());
        }
        match state {
            State::Master | State::Leaving => {
                // Stop the backup daemon before starting the master daemon
                // only when there is nothing to take in any more.
                if self.backup && self.backup_until.is_none() {
                    self.backup_until = Some(now + BACKUP_LINGER);
                }
                self.run(SyncState::Master, true, &mut log);
                if leaving && !self.handing_over {
                    let d = self.daemon(SyncState::Master);
                    match self.control.begin_handover(&d) {
                        Ok(()) => self.handing_over = true,
                        Err(e) => log.push(e),
                    }
                }
            }
            State::Backup | State::Fault => {
                self.backup_until = None;
                self.run(SyncState::Master, false, &mut log);
                self.run(SyncState::Backup, true, &mut log);
            }
            State::Stopped | State::Initialize => {
                self.backup_until = None;
                self.run(SyncState::Master, false, &mut log);
                self.run(SyncState::Backup, false, &mut log);
            }
        }
        log
    }
}

impl<C: SyncDaemonControl> StateHook for SyncDaemonFollower<C> {
    fn on_state(&mut self, instance: &str, state: State) -> Option<String> {
        if instance != self.instance {
            return None;
        }
        let log = self.follow(state, Instant::now());
        (!log.is_empty()).then(|| log.join("; "))
    }

    fn deadline(&self) -> Option<Instant> {
        self.backup_until
    }

    fn on_deadline(&mut self, now: Instant) -> Option<String> {
        if self.backup_until.is_some_and(|t| t <= now) {
            self.backup_until = None;
            let mut log = Vec::new();
            self.run(SyncState::Backup, false, &mut log);
            return (!log.is_empty()).then(|| log.join("; "));
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sync_cfg(interface: &str, instance: Option<&str>, sync_id: Option<u8>) -> LvsSyncDaemon {
        LvsSyncDaemon {
            interface: interface.into(),
            instance: instance.map(str::to_string),
            sync_id,
            maxlen: None,
            port: None,
            ttl: None,
            group: None,
        }
    }

    #[derive(Default)]
    struct Recorder(Vec<String>);
    impl SyncDaemonControl for Recorder {
        fn start(&mut self, d: &SyncDaemon) -> Result<(), String> {
            self.0
                .push(format!("start {:?} {} {}", d.state, d.mcast_ifn, d.sync_id));
            Ok(())
        }
        fn stop(&mut self, s: SyncState) -> Result<(), String> {
            self.0.push(format!("stop {s:?}"));
            Ok(())
        }
        fn begin_handover(&mut self, d: &SyncDaemon) -> Result<(), String> {
            self.0
                .push(format!("handover {} {}", d.mcast_ifn, d.sync_id));
            Ok(())
        }
        fn end_handover(&mut self) -> Option<String> {
            self.0.push("handover done".into());
            None
        }
    }

    #[test]
    fn follows_the_named_instance() {
        let cfg = sync_cfg("eth1", Some("VI_1"), Some(7));
        let mut f = SyncDaemonFollower::new(cfg, &[("other", 1)], Recorder::default());
        assert!(f.on_state("VI_2", State::Master).is_none());
        f.on_state("VI_1", State::Backup);
        f.on_state("VI_1", State::Master);
        f.on_state("VI_1", State::Leaving);
        f.on_state("VI_1", State::Stopped);
        assert_eq!(
            f.control.0,
            vec![
                "start Backup eth1 7",
                // The backup daemon lingers next to the master daemon.
                "start Master eth1 7",
                "handover eth1 7",
                "handover done",
                "stop Master",
                "stop Backup",
            ]
        );
    }

    #[test]
    fn a_new_master_keeps_its_backup_daemon_for_a_while() {
        let cfg = sync_cfg("eth1", None, None);
        let mut f = SyncDaemonFollower::new(cfg, &[("VI_1", 5)], Recorder::default());
        let t0 = Instant::now();
        f.follow(State::Backup, t0);
        f.follow(State::Master, t0);
        assert_eq!(f.deadline(), Some(t0 + BACKUP_LINGER));
        assert!(f.on_deadline(t0 + BACKUP_LINGER / 2).is_none());
        assert_eq!(
            f.control.0,
            vec!["start Backup eth1 5", "start Master eth1 5"]
        );
        let line = f.on_deadline(t0 + BACKUP_LINGER);
        assert!(line.is_none(), "stopping logs nothing: {line:?}");
        assert_eq!(f.control.0.last().map(String::as_str), Some("stop Backup"));
        assert_eq!(f.deadline(), None);
        // Back to Backup before the linger ends: the backup daemon just stays.
        f.follow(State::Backup, t0);
        f.follow(State::Master, t0);
        f.follow(State::Backup, t0);
        assert_eq!(f.deadline(), None);
        assert_eq!(
            &f.control.0[3..],
            &[
                "stop Master",
                "start Backup eth1 5",
                "start Master eth1 5",
                "stop Master"
            ]
        );
    }

    #[test]
    fn sync_id_defaults_to_the_followed_instance_vrid() {
        let cfg = |instance: Option<&str>, id: Option<u8>| sync_cfg("eth0", instance, id);
        let insts = [("VI_1", 51), ("VI_2", 52)];
        let mut f = SyncDaemonFollower::new(cfg(Some("VI_2"), None), &insts, Recorder::default());
        f.on_state("VI_2", State::Master);
        // Without `inst`: the first instance, and its VRID.
        let mut g = SyncDaemonFollower::new(cfg(None, None), &insts, Recorder::default());
        g.on_state("VI_1", State::Backup);
        // An explicit id wins (0 included).
        let mut h =
            SyncDaemonFollower::new(cfg(Some("VI_2"), Some(0)), &insts, Recorder::default());
        h.on_state("VI_2", State::Backup);
        assert_eq!(f.control.0, vec!["start Master eth0 52"]);
        assert_eq!(g.control.0, vec!["start Backup eth0 51"]);
        assert_eq!(h.control.0, vec!["start Backup eth0 0"]);
    }
}
