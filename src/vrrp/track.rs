//! Tracking: what `track_script`, `track_interface` and `track_file` do to
//! an instance's priority (keepalived's rules, pure) and the tasks that
//! observe them (vrrp_script runs with rise/fall, interface link polling,
//! track files read on change).
//!
//! keepalived's weight rules: weight 0 -> the instance goes to FAULT while
//! the tracked thing is down; positive -> added while up; negative ->
//! subtracted while down; `reverse` swaps up and down. The result is clamped
//! to 1..254 and an owner (255) never changes. In a sync group, members'
//! weights count as 0 (FAULT) unless `sync_group_tracking_weight` is set.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use lvsd_checkers::check::Check;
use lvsd_checkers::misc::{MiscCheck, MiscSpec};
use lvsd_checkers::outcome::Verdict;
use tokio::sync::mpsc::UnboundedSender;

use crate::config::model::{Config, TrackRef, VrrpInstance};

use super::net::iface;

/// What the observers report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TrackEvent {
    Script { name: String, up: bool },
    Interface { name: String, up: bool },
    File { name: String, value: i64 },
}

/// The current observations.
#[derive(Debug, Clone, Default)]
pub struct TrackStatus {
    pub scripts: HashMap<String, bool>,
    pub interfaces: HashMap<String, bool>,
    pub files: HashMap<String, i64>,
}

impl TrackStatus {
    pub fn apply(&mut self, ev: &TrackEvent) -> bool {
        match ev {
            TrackEvent::Script { name, up } => self.scripts.insert(name.clone(), *up) != Some(*up),
            TrackEvent::Interface { name, up } => {
                self.interfaces.insert(name.clone(), *up) != Some(*up)
            }
            TrackEvent::File { name, value } => {
                self.files.insert(name.clone(), *value) != Some(*value)
            }
        }
    }
}

/// The instance's effective priority and fault (with its reason).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Evaluation {
    pub priority: u8,
    pub fault: Option<String>,
    /// Why the priority differs from the configured one.
    pub adjustments: Vec<String>,
}

fn apply_weight(
    what: &str,
    up: bool,
    weight: i64,
    reverse: bool,
    delta: &mut i64,
    faults: &mut Vec<String>,
    adj: &mut Vec<String>,
) {
    if weight == 0 {
        if !up {
            faults.push(format!("{what} down"));
        }
        return;
    }
    let effective_up = up != reverse;
    if weight > 0 && effective_up {
        *delta += weight;
        adj.push(format!(
            "{what} {} +{weight}",
            if up { "up" } else { "down" }
        ));
    } else if weight < 0 && !effective_up {
        *delta += weight;
        adj.push(format!(
            "{what} {} {weight}",
            if up { "up" } else { "down" }
        ));
    }
}

/// Computes the effective priority of `inst` from `status` (pure).
pub fn evaluate(cfg: &Config, inst: &VrrpInstance, status: &TrackStatus) -> Evaluation {
    let base = inst.priority.value;
    let group = cfg
        .vrrp_sync_groups
        .iter()
        .find(|g| g.group.iter().any(|m| m == &inst.name));
    let weights_count = group
        .map(|g| {
            g.global_tracking
                || g.other
                    .iter()
                    .any(|(k, _)| k == "sync_group_tracking_weight")
        })
        .unwrap_or(true);
    let mut delta: i64 = 0;
    let mut faults = Vec::new();
    let mut adj = Vec::new();
    let own_if = inst.interface.as_deref();
    if let Some(i) = own_if {
        if !inst.dont_track_primary && status.interfaces.get(i) == Some(&false) {
            faults.push(format!("interface {i} down"));
        }
    }
    let mut scripts: Vec<(&TrackRef, bool)> = Vec::new();
    let mut ifs: Vec<(&TrackRef, bool)> = Vec::new();
    scripts.extend(inst.track_script.iter().map(|t| (t, weights_count)));
    ifs.extend(inst.track_interface.iter().map(|t| (t, weights_count)));
    if let Some(g) = group {
        scripts.extend(g.track_script.iter().map(|t| (t, true)));
        ifs.extend(g.track_interface.iter().map(|t| (t, true)));
    }
    for (t, count) in scripts {
        let Some(up) = status.scripts.get(&t.name).copied() else {
            continue;
        };
        let script_w = cfg
            .vrrp_scripts
            .iter()
            .find(|s| s.name == t.name)
            .map(|s| (s.weight, s.weight_reverse))
            .unwrap_or((0, false));
        let (w, rev) = match t.weight {
            Some(w) => (w, t.reverse),
            None => script_w,
        };
        apply_weight(
            &format!("vrrp_script {}", t.name),
            up,
            if count { w } else { 0 },
            rev,
            &mut delta,
            &mut faults,
            &mut adj,
        );
    }
    for (t, count) in ifs {
        let Some(up) = status.interfaces.get(&t.name).copied() else {
            continue;
        };
        apply_weight(
            &format!("interface {}", t.name),
            up,
            if count { t.weight.unwrap_or(0) } else { 0 },
            t.reverse,
            &mut delta,
            &mut faults,
            &mut adj,
        );
    }
    for t in &inst.track_file {
        let Some(f) = cfg.track_files.iter().find(|f| f.name == t.name) else {
            continue;
        };
        let value = status.files.get(&t.name).copied().unwrap_or(0);
        let w = t.weight.unwrap_or(f.weight);
        let rev = t.reverse || f.reverse;
        if w == 0 {
            if value != 0 {
                faults.push(format!("track_file {} is {value}", t.name));
            }
        } else {
            let d = if rev { -value * w } else { value * w };
            if d != 0 {
                delta += d;
                adj.push(format!("track_file {} {:+}", t.name, d));
            }
        }
    }
    let priority = if base == 255 {
        255
    } else {
        (i64::from(base) + delta).clamp(1, 254) as u8
    };
    Evaluation {
        priority,
        fault: (!faults.is_empty()).then(|| faults.join(", ")),
        adjustments: adj,
    }
}

/// Names of the scripts, interfaces and files some instance tracks.
pub fn tracked(cfg: &Config) -> (Vec<String>, Vec<String>, Vec<String>) {
    let mut scripts = Vec::new();
    let mut ifs = Vec::new();
    let mut files = Vec::new();
    let add = |v: &mut Vec<String>, n: &str| {
        if !v.iter().any(|x| x == n) {
            v.push(n.to_string());
        }
    };
    for i in &cfg.vrrp_instances {
        for t in &i.track_script {
            add(&mut scripts, &t.name);
        }
        for t in &i.track_interface {
            add(&mut ifs, &t.name);
        }
        if let Some(n) = &i.interface {
            add(&mut ifs, n);
        }
        for t in &i.track_file {
            add(&mut files, &t.name);
        }
    }
    for g in &cfg.vrrp_sync_groups {
        for t in &g.track_script {
            add(&mut scripts, &t.name);
        }
        for t in &g.track_interface {
            add(&mut ifs, &t.name);
        }
    }
    (scripts, ifs, files)
}

/// Rise/fall counting of one vrrp_script (pure).
#[derive(Debug, Clone)]
pub struct RiseFall {
    pub up: bool,
    rise: u32,
    fall: u32,
    streak: u32,
}

impl RiseFall {
    pub fn new(init_up: bool, rise: u32, fall: u32) -> RiseFall {
        RiseFall {
            up: init_up,
            rise: rise.max(1),
            fall: fall.max(1),
            streak: 0,
        }
    }
    /// Records a result; returns the new state when it changed.
    pub fn record(&mut self, ok: bool) -> Option<bool> {
        if ok == self.up {
            self.streak = 0;
            return None;
        }
        self.streak += 1;
        let need = if ok { self.rise } else { self.fall };
        if self.streak >= need {
            self.up = ok;
            self.streak = 0;
            Some(ok)
        } else {
            None
        }
    }
}

/// Starts the observers of everything tracked; they report on `tx` until
/// it closes. Returns the initial status, and the script errors that stop
/// a script from running (it then counts as down).
pub fn spawn_observers(
    cfg: &Config,
    tx: UnboundedSender<TrackEvent>,
) -> (TrackStatus, Vec<String>) {
    spawn_observers_from(cfg, tx, &TrackStatus::default())
}

/// As `spawn_observers`, starting from what `previous` observed (a reload
/// keeps a failed script failed until it succeeds `rise` times).
pub fn spawn_observers_from(
    cfg: &Config,
    tx: UnboundedSender<TrackEvent>,
    previous: &TrackStatus,
) -> (TrackStatus, Vec<String>) {
    let (scripts, ifs, files) = tracked(cfg);
    let mut status = TrackStatus::default();
    let mut errors = Vec::new();
    for name in scripts {
        let Some(s) = cfg.vrrp_scripts.iter().find(|s| s.name == name) else {
            continue;
        };
        let spec = MiscSpec {
            misc_path: s.script.command.clone(),
            misc_timeout: s.timeout.unwrap_or(s.interval),
            misc_dynamic: false,
            user: s.script.user.clone(),
            group: s.script.group.clone(),
            script_user: cfg.global.script_user.as_ref().map(|(u, _)| u.clone()),
            rs_weight: 0,
            script_security: cfg.global.enable_script_security,
        };
        let init_up = previous.scripts.get(&name).copied().unwrap_or(!s.init_fail);
        status.scripts.insert(name.clone(), init_up);
        let check = match MiscCheck::new(spec) {
            Ok(c) => Arc::new(c),
            Err(e) => {
                errors.push(format!("vrrp_script {name}: {e}"));
                status.scripts.insert(name.clone(), false);
                continue;
            }
        };
        let tx = tx.clone();
        let interval = s.interval.max(Duration::from_millis(10));
        let mut rf = RiseFall::new(init_up, s.rise, s.fall);
        tokio::spawn(async move {
            loop {
                let out = check.attempt().await;
                let ok = !matches!(out.verdict, Verdict::Fail(_));
                if let Some(up) = rf.record(ok) {
                    if tx
                        .send(TrackEvent::Script {
                            name: name.clone(),
                            up,
                        })
                        .is_err()
                    {
                        return;
                    }
                }
                if tx.is_closed() {
                    return;
                }
                tokio::time::sleep(interval).await;
            }
        });
    }
    for n in &ifs {
        let up = iface::lookup(n).map(|i| i.running).unwrap_or(false);
        status.interfaces.insert(n.clone(), up);
    }
    if !ifs.is_empty() {
        let tx = tx.clone();
        let mut last: HashMap<String, bool> = status.interfaces.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_millis(100));
            loop {
                tick.tick().await;
                if tx.is_closed() {
                    return;
                }
                for n in &ifs {
                    let up = iface::lookup(n).map(|i| i.running).unwrap_or(false);
                    if last.insert(n.clone(), up) != Some(up)
                        && tx
                            .send(TrackEvent::Interface {
                                name: n.clone(),
                                up,
                            })
                            .is_err()
                    {
                        return;
                    }
                }
            }
        });
    }
    let file_paths: Vec<(String, String, i64)> = files
        .iter()
        .filter_map(|n| {
            cfg.track_files.iter().find(|f| &f.name == n).map(|f| {
                let init = f.init_file.and_then(|(v, _)| v).unwrap_or(0);
                (n.clone(), f.file.clone(), init)
            })
        })
        .collect();
    for (n, path, init) in &file_paths {
        status
            .files
            .insert(n.clone(), read_track_file(path).unwrap_or(*init));
    }
    if !file_paths.is_empty() {
        let mut last = status.files.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_millis(200));
            loop {
                tick.tick().await;
                if tx.is_closed() {
                    return;
                }
                for (n, path, init) in &file_paths {
                    let v = read_track_file(path).unwrap_or(*init);
                    if last.insert(n.clone(), v) != Some(v)
                        && tx
                            .send(TrackEvent::File {
                                name: n.clone(),
                                value: v,
                            })
                            .is_err()
                    {
                        return;
                    }
                }
            }
        });
    }
    (status, errors)
}

/// A track file holds an integer (keepalived: the first number; a missing
/// or unreadable file counts as its init value).
fn read_track_file(path: &str) -> Option<i64> {
    let text = std::fs::read_to_string(path).ok()?;
    text.split_whitespace().next()?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rise_and_fall() {
        let mut r = RiseFall::new(true, 2, 3);
        assert_eq!(r.record(false), None);
        assert_eq!(r.record(false), None);
        assert_eq!(r.record(true), None); // streak broken
        assert_eq!(r.record(false), None);
        assert_eq!(r.record(false), None);
        assert_eq!(r.record(false), Some(false));
        assert_eq!(r.record(true), None);
        assert_eq!(r.record(true), Some(true));
    }
}
