//! `lvsd status [--json] [--watch]`, `lvsd reload`, `lvsd rs drain|disable|
//! enable VS RS`: clients of the running daemon's control socket. The
//! human table and event lines are pure functions of the protocol types.

use std::fmt::Write;

use crate::cli::args::{RsActionArg, RsArgs, SocketArgs, StatusArgs};
use crate::cli::exit;
use crate::control::client::{Client, ClientError};
use crate::control::protocol::{Event, EventKind, Request, Response, RsAction, RsState, Status};
use crate::director::state::AdminState;

/// `3m05s`, `2h01m`, `4d03h` (how long ago).
pub fn age(now_ms: u64, since_ms: u64) -> String {
    let s = now_ms.saturating_sub(since_ms) / 1000;
    match s {
        0..=59 => format!("{s}s"),
        60..=3599 => format!("{}m{:02}s", s / 60, s % 60),
        3600..=86399 => format!("{}h{:02}m", s / 3600, (s % 3600) / 60),
        _ => format!("{}d{:02}h", s / 86400, (s % 86400) / 3600),
    }
}

fn admin_text(a: AdminState) -> &'static str {
    match a {
        AdminState::Enabled => "",
        AdminState::Drain => " (drain)",
        AdminState::Disabled => " (disabled)",
    }
}

/// The human table: one line per real server (and sorry server).
pub fn render_table(st: &Status, now_ms: u64) -> String {
    let mut rows: Vec<[String; 6]> = vec![[
        "VS".into(),
        "RS".into(),
        "STATE".into(),
        "WEIGHT".into(),
        "SINCE".into(),
        "REASON".into(),
    ]];
    for v in &st.virtual_servers {
        let vs = format!("{}/{}", v.vs, v.protocol);
        let quorum = if v.quorum_up {
            "quorum up"
        } else {
            "QUORUM DOWN"
        };
        rows.push([
            vs.clone(),
            "-".into(),
            quorum.into(),
            format!("q={}", v.quorum),
            age(now_ms, v.since_ms),
            String::new(),
        ]);
        for r in &v.real_servers {
            let state = match r.state {
                RsState::Up => "up",
                RsState::Down => "down",
            };
            let weight = match r.ipvs_weight {
                Some(w) if w == r.weight => w.to_string(),
                Some(w) => format!("{w}/{}", r.weight),
                None => format!("-/{}", r.weight),
            };
            rows.push([
                vs.clone(),
                r.rs.clone(),
                format!("{state}{}", admin_text(r.admin)),
                weight,
                age(now_ms, r.since_ms),
                match r.state {
                    RsState::Down => r.reason.clone().unwrap_or_default(),
                    RsState::Up => String::new(),
                },
            ]);
        }
        if let Some(s) = &v.sorry_server {
            let active = if v.sorry_server_active {
                "sorry (active)"
            } else {
                "sorry"
            };
            rows.push([
                vs.clone(),
                s.clone(),
                active.into(),
                String::new(),
                String::new(),
                String::new(),
            ]);
        }
    }
    let mut widths = [0usize; 5];
    for r in &rows {
        for (w, c) in widths.iter_mut().zip(r.iter()) {
            *w = (*w).max(c.chars().count());
        }
    }
    let mut out = String::new();
    for r in &rows {
        let mut line = String::new();
        for (i, w) in widths.iter().enumerate() {
            let _ = write!(line, "{:<w$}  ", r[i], w = *w);
        }
        line.push_str(&r[5]);
        out.push_str(line.trim_end());
        out.push('\n');
    }
    let _ = writeln!(
        out,
        "reconcile: {} runs, {} operations, {} failures; reloads: {} ({} refused); draining: {}",
        st.reconcile.runs,
        st.reconcile.operations,
        st.reconcile.failures,
        st.reloads.count,
        st.reloads.failures,
        st.draining
    );
    for v in &st.vrrp {
        let prio = if v.effective_priority == v.priority {
            v.priority.to_string()
        } else {
            format!("{} (configured {})", v.effective_priority, v.priority)
        };
        let _ = write!(
            out,
            "vrrp {} (vrid {} on {}): {} priority {}",
            v.name, v.vrid, v.interface, v.state, prio
        );
        if let Some(s) = v.since_ms {
            let _ = write!(out, " since {}", age(now_ms, s));
        }
        if let Some(c) = &v.cause {
            let _ = write!(out, " ({c})");
        }
        out.push('\n');
        if let Some(f) = &v.fault {
            let _ = writeln!(out, "  fault: {f}");
        }
        if !v.why.is_empty() {
            let _ = writeln!(out, "  priority: {}", v.why.join(", "));
        }
        if let Some(m) = &v.master {
            let _ = writeln!(out, "  master heard: {m}");
        }
        let drops: u64 = v.drops.values().sum();
        let _ = writeln!(
            out,
            "  adverts: {} sent, {} received, {} dropped{}, {} send errors",
            v.adverts_sent,
            v.adverts_received,
            drops,
            if drops > 0 {
                format!(
                    " ({})",
                    v.drops
                        .iter()
                        .map(|(k, n)| format!("{k} {n}"))
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            } else {
                String::new()
            },
            v.send_errors
        );
    }
    out
}

/// One watch event as a human line.
pub fn render_event(e: &Event) -> String {
    let what = match e.kind {
        EventKind::RealServerUp => "up",
        EventKind::RealServerDown => "down",
        EventKind::QuorumUp => "quorum up",
        EventKind::QuorumDown => "quorum down",
    };
    let mut s = format!("{} {}/{}", e.at_ms, e.vs, e.protocol);
    if let Some(rs) = &e.rs {
        let _ = write!(s, " {rs}");
    }
    let _ = write!(s, " {what}");
    if let Some(r) = &e.reason {
        let _ = write!(s, ": {r}");
    }
    s
}

fn now_ms() -> u64 {
    crate::daemon::runtime::now_ms()
}

fn fail(e: ClientError) -> i32 {
    eprintln!("lvsd: {e}");
    match e {
        ClientError::NotRunning(_) | ClientError::Refused(_) => exit::NOT_RUNNING,
        _ => exit::RUNTIME,
    }
}

fn error_response(message: &str, diagnostics: Option<&str>) -> i32 {
    if let Some(d) = diagnostics {
        eprint!("{d}");
    }
    eprintln!("lvsd: {message}");
    exit::FAILED
}

fn connect(s: &SocketArgs) -> Result<Client, i32> {
    Client::connect(&s.socket).map_err(fail)
}

pub fn status(a: &StatusArgs) -> i32 {
    let mut c = match connect(&a.socket) {
        Ok(c) => c,
        Err(code) => return code,
    };
    if a.watch {
        return watch(&mut c, a.json);
    }
    match c.request(&Request::Status) {
        Ok(Response::Status(st)) => {
            if a.json {
                match serde_json::to_string_pretty(&st) {
                    Ok(j) => println!("{j}"),
                    Err(e) => return error_response(&e.to_string(), None),
                }
            } else {
                print!("{}", render_table(&st, now_ms()));
            }
            exit::OK
        }
        Ok(Response::Error {
            message,
            diagnostics,
        }) => error_response(&message, diagnostics.as_deref()),
        Ok(other) => error_response(&format!("unexpected answer: {other:?}"), None),
        Err(e) => fail(e),
    }
}

fn watch(c: &mut Client, json: bool) -> i32 {
    if let Err(e) = c.send(&Request::Watch) {
        return fail(e);
    }
    // Ends when the daemon closes the stream (or this process is stopped).
    loop {
        match c.read_response() {
            Ok(Some(Response::Watching)) => {}
            Ok(Some(Response::Event(e))) => {
                if json {
                    match serde_json::to_string(&e) {
                        Ok(j) => println!("{j}"),
                        Err(err) => return error_response(&err.to_string(), None),
                    }
                } else {
                    println!("{}", render_event(&e));
                }
            }
            Ok(Some(Response::Error { message, .. })) => eprintln!("lvsd: {message}"),
            Ok(Some(_)) => {}
            Ok(None) => {
                eprintln!("lvsd: the daemon closed the watch");
                return exit::NOT_RUNNING;
            }
            Err(e) => return fail(e),
        }
    }
}

pub fn reload(a: &SocketArgs) -> i32 {
    let mut c = match connect(a) {
        Ok(c) => c,
        Err(code) => return code,
    };
    match c.request(&Request::Reload) {
        Ok(Response::Reloaded { operations }) => {
            println!("reloaded: {operations} IPVS operations");
            exit::OK
        }
        Ok(Response::Error {
            message,
            diagnostics,
        }) => error_response(&message, diagnostics.as_deref()),
        Ok(other) => error_response(&format!("unexpected answer: {other:?}"), None),
        Err(e) => fail(e),
    }
}

pub fn rs(a: &RsArgs) -> i32 {
    let action = match a.action {
        RsActionArg::Drain => RsAction::Drain,
        RsActionArg::Disable => RsAction::Disable,
        RsActionArg::Enable => RsAction::Enable,
    };
    // Validate the names here for a clear message before connecting.
    if let Err(e) = crate::director::names::VsSelector::parse(&a.vs)
        .and_then(|_| crate::director::names::parse_rs(&a.rs))
    {
        eprintln!("lvsd: {e}");
        return exit::USAGE;
    }
    let mut c = match connect(&a.socket) {
        Ok(c) => c,
        Err(code) => return code,
    };
    let req = Request::Rs {
        action,
        vs: a.vs.clone(),
        rs: a.rs.clone(),
    };
    match c.request(&req) {
        Ok(Response::Admin {
            vs,
            rs,
            admin,
            operations,
        }) => {
            println!(
                "{rs} of {vs}: {} ({operations} IPVS operations)",
                serde_json::to_value(admin)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_string))
                    .unwrap_or_default()
            );
            exit::OK
        }
        Ok(Response::Error {
            message,
            diagnostics,
        }) => error_response(&message, diagnostics.as_deref()),
        Ok(other) => error_response(&format!("unexpected answer: {other:?}"), None),
        Err(e) => fail(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::control::protocol::{RealServerStatus, VirtualServerStatus};

    #[test]
    fn ages() {
        assert_eq!(age(10_000, 10_000), "0s");
        assert_eq!(age(10_000, 20_000), "0s", "clock skew");
        assert_eq!(age(185_000, 0), "3m05s");
        assert_eq!(age(7_260_000, 0), "2h01m");
        assert_eq!(age(97_200_000, 0), "1d03h");
    }

    #[test]
    fn table() {
        let st = Status {
            virtual_servers: vec![VirtualServerStatus {
                vs: "10.0.0.1:80".into(),
                protocol: "tcp".into(),
                quorum: 1,
                quorum_up: true,
                since_ms: 0,
                sorry_server: Some("10.0.0.9:80".into()),
                sorry_server_active: false,
                real_servers: vec![
                    RealServerStatus {
                        rs: "10.0.0.2:80".into(),
                        state: RsState::Up,
                        weight: 3,
                        effective_weight: 3,
                        ipvs_weight: Some(3),
                        admin: AdminState::Enabled,
                        since_ms: 0,
                        // Recovered: the old reason is not shown.
                        reason: Some("old failure".into()),
                    },
                    RealServerStatus {
                        rs: "10.0.0.3:80".into(),
                        state: RsState::Down,
                        weight: 5,
                        effective_weight: 5,
                        ipvs_weight: None,
                        admin: AdminState::Drain,
                        since_ms: 55_000,
                        reason: Some("TCP_CHECK: connection refused".into()),
                    },
                ],
            }],
            reconcile: Default::default(),
            reloads: Default::default(),
            draining: 0,
            vrrp: vec![crate::control::protocol::VrrpInstanceStatus {
                name: "VI_1".into(),
                interface: "eth0".into(),
                vrid: 51,
                state: "BACKUP".into(),
                priority: 150,
                effective_priority: 90,
                why: vec!["vrrp_script chk down -60".into()],
                fault: None,
                master: Some("10.0.0.3 (priority 100)".into()),
                since_ms: Some(50_000),
                cause: Some("advertisement from 10.0.0.3 with priority 100".into()),
                transitions: 3,
                adverts_sent: 7,
                adverts_received: 12,
                send_errors: 0,
                drops: [("ttl".to_string(), 2u64)].into_iter().collect(),
            }],
        };
        let t = render_table(&st, 60_000);
        let want = "\
VS               RS           STATE         WEIGHT  SINCE  REASON
10.0.0.1:80/tcp  -            quorum up     q=1     1m00s
10.0.0.1:80/tcp  10.0.0.2:80  up            3       1m00s
10.0.0.1:80/tcp  10.0.0.3:80  down (drain)  -/5     5s     TCP_CHECK: connection refused
10.0.0.1:80/tcp  10.0.0.9:80  sorry
reconcile: 0 runs, 0 operations, 0 failures; reloads: 0 (0 refused); draining: 0
vrrp VI_1 (vrid 51 on eth0): BACKUP priority 90 (configured 150) since 10s (advertisement from 10.0.0.3 with priority 100)
  priority: vrrp_script chk down -60
  master heard: 10.0.0.3 (priority 100)
  adverts: 7 sent, 12 received, 2 dropped (ttl 2), 0 send errors
";
        assert_eq!(t, want);
    }

    #[test]
    fn event_line() {
        let e = Event {
            at_ms: 42,
            kind: EventKind::RealServerDown,
            vs: "fwmark:1".into(),
            protocol: "tcp".into(),
            rs: Some("10.0.0.2:80".into()),
            reason: Some("refused".into()),
        };
        assert_eq!(
            render_event(&e),
            "42 fwmark:1/tcp 10.0.0.2:80 down: refused"
        );
    }
}
