//! The IPVS connection-sync daemon follows a VRRP instance
//! (`lvs_sync_daemon IF [inst] NAME ...`): master daemon while the instance
//! is Master, backup daemon otherwise, none once stopped. Established
//! connections are synchronised to the backup, so they survive failover.

use lvsd_ipvs::netlink::client::IpvsClient;
use lvsd_ipvs::netlink::convert::{SyncDaemon, SyncState};

use crate::config::model::LvsSyncDaemon;
use crate::vrrp::engine::StateHook;
use crate::vrrp::fsm::State;

/// The kernel side of the sync daemon, behind a trait for tests.
pub trait SyncDaemonControl: Send {
    fn start(&mut self, d: &SyncDaemon) -> Result<(), String>;
    fn stop(&mut self, state: SyncState) -> Result<(), String>;
}

impl SyncDaemonControl for IpvsClient {
    fn start(&mut self, d: &SyncDaemon) -> Result<(), String> {
        self.start_daemon(d).map_err(|e| e.to_string())
    }
    fn stop(&mut self, state: SyncState) -> Result<(), String> {
        self.stop_daemon(state).map_err(|e| e.to_string())
    }
}

pub struct SyncDaemonFollower<C: SyncDaemonControl> {
    cfg: LvsSyncDaemon,
    instance: String,
    control: C,
    running: Option<SyncState>,
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
            running: None,
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

    /// Makes the kernel run the daemon `want` (None = no daemon).
    pub fn set(&mut self, want: Option<SyncState>) -> Vec<String> {
        let mut log = Vec::new();
        if self.running == want {
            return log;
        }
        if let Some(old) = self.running.take() {
            if let Err(e) = self.control.stop(old) {
                log.push(format!("sync daemon: cannot stop the {old:?} daemon: {e}"));
            }
        }
        if let Some(new) = want {
            let d = self.daemon(new);
            match self.control.start(&d) {
                Ok(()) => {
                    self.running = Some(new);
                    log.push(format!(
                        "sync daemon: {} on {} (syncid {})",
                        match new {
                            SyncState::Master => "master",
                            SyncState::Backup => "backup",
                        },
                        d.mcast_ifn,
                        d.sync_id
                    ));
                }
                Err(e) => log.push(format!("sync daemon: cannot start: {e}")),
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
        let want = match state {
            State::Master | State::Leaving => Some(SyncState::Master),
            State::Backup | State::Fault => Some(SyncState::Backup),
            State::Stopped | State::Initialize => None,
        };
        let log = self.set(want);
        (!log.is_empty()).then(|| log.join("; "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
    }

    #[test]
    fn follows_the_named_instance() {
        let cfg = LvsSyncDaemon {
            interface: "eth1".into(),
            instance: Some("VI_1".into()),
            sync_id: Some(7),
            maxlen: None,
            port: None,
            ttl: None,
            group: None,
        };
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
                "stop Backup",
                "start Master eth1 7",
                "stop Master"
            ]
        );
    }

    #[test]
    fn sync_id_defaults_to_the_followed_instance_vrid() {
        let cfg = |instance: Option<&str>, id: Option<u8>| LvsSyncDaemon {
            interface: "eth0".into(),
            instance: instance.map(str::to_string),
            sync_id: id,
            maxlen: None,
            port: None,
            ttl: None,
            group: None,
        };
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
