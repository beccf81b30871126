//! The control protocol: JSON lines over a Unix stream socket. A client
//! writes one request per line and reads one response line (for `watch`:
//! a `watching` line, then one `event` line per transition until it hangs
//! up). Pure data types (serde), no I/O.
//!
//! ```text
//! {"cmd":"status"}
//! {"cmd":"watch"}
//! {"cmd":"reload"}
//! {"cmd":"rs","action":"drain","vs":"10.0.0.1:80","rs":"10.0.0.2:80"}
//! ```
//!
//! Responses are objects with one key: `status`, `watching`, `event`,
//! `reloaded`, `admin` or `error`.

use serde::{Deserialize, Serialize};

use crate::daemon::runtime::{ReconcileStats, ReloadStats};
use crate::director::state::AdminState;

/// What an operator does to a real server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RsAction {
    /// Weight 0: existing connections finish, no new ones.
    Drain,
    /// Removed from IPVS.
    Disable,
    /// Back to following its checks (clears drain/disable).
    Enable,
}

impl RsAction {
    pub fn admin_state(self) -> AdminState {
        match self {
            RsAction::Drain => AdminState::Drain,
            RsAction::Disable => AdminState::Disabled,
            RsAction::Enable => AdminState::Enabled,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "cmd", rename_all = "lowercase")]
pub enum Request {
    Status,
    Watch,
    Reload,
    Rs {
        action: RsAction,
        vs: String,
        rs: String,
    },
}

impl Request {
    /// Whether the request only reads state (anyone who can connect may
    /// send it); the others need uid 0 or the socket owner's uid.
    pub fn is_read_only(&self) -> bool {
        matches!(self, Request::Status | Request::Watch)
    }

    /// Parses one request line.
    pub fn parse(line: &str) -> Result<Self, String> {
        serde_json::from_str(line.trim()).map_err(|e| format!("bad request: {e}"))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RsState {
    Up,
    Down,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RealServerStatus {
    /// `10.0.0.2:80`, `[2001:db8::2]:80`.
    pub rs: String,
    pub state: RsState,
    /// Configured weight.
    pub weight: u32,
    /// Configured weight plus dynamic deltas (misc_dynamic, FILE_CHECK).
    pub effective_weight: u32,
    /// The weight lvsd programs in IPVS; `None` when it is absent.
    pub ipvs_weight: Option<u32>,
    pub admin: AdminState,
    /// When the state last changed (Unix ms).
    pub since_ms: u64,
    /// The last check failure reason (kept after recovery; the table
    /// shows it only while the server is down).
    pub reason: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VirtualServerStatus {
    /// `10.0.0.1:80`, `[2001:db8::1]:80`, `fwmark:1`, `group:NAME`.
    pub vs: String,
    /// `tcp`, `udp`, `sctp`.
    pub protocol: String,
    pub quorum: u32,
    pub quorum_up: bool,
    /// When quorum last changed (Unix ms).
    pub since_ms: u64,
    pub sorry_server: Option<String>,
    pub sorry_server_active: bool,
    pub real_servers: Vec<RealServerStatus>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Status {
    pub virtual_servers: Vec<VirtualServerStatus>,
    pub reconcile: ReconcileStats,
    pub reloads: ReloadStats,
    /// Real servers removed by a reload still draining at weight 0.
    pub draining: usize,
    /// The VRRP instances this daemon runs.
    #[serde(default)]
    pub vrrp: Vec<VrrpInstanceStatus>,
}

/// One VRRP instance: state, priorities and why, the last transition.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VrrpInstanceStatus {
    pub name: String,
    pub interface: String,
    pub vrid: u8,
    /// MASTER, BACKUP, FAULT, LEAVING, STOPPED, INIT.
    pub state: String,
    pub priority: u8,
    pub effective_priority: u8,
    /// Why the effective priority differs (tracked scripts, interfaces).
    pub why: Vec<String>,
    pub fault: Option<String>,
    /// The master last heard.
    pub master: Option<String>,
    pub since_ms: Option<u64>,
    pub cause: Option<String>,
    pub transitions: u64,
    pub adverts_sent: u64,
    pub adverts_received: u64,
    pub send_errors: u64,
    /// Dropped adverts by reason.
    pub drops: std::collections::BTreeMap<String, u64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EventKind {
    RealServerUp,
    RealServerDown,
    QuorumUp,
    QuorumDown,
}

/// One transition, as `watch` streams it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Event {
    pub at_ms: u64,
    pub kind: EventKind,
    pub vs: String,
    pub protocol: String,
    pub rs: Option<String>,
    pub reason: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Response {
    Status(Status),
    /// `watch` accepted; events follow.
    Watching,
    Event(Event),
    Reloaded {
        operations: u64,
    },
    Admin {
        vs: String,
        rs: String,
        admin: AdminState,
        operations: u64,
    },
    Error {
        message: String,
        /// A refused reload's diagnostics, as `lvsd -t` prints them.
        diagnostics: Option<String>,
    },
}

impl Response {
    pub fn error(message: impl Into<String>) -> Self {
        Response::Error {
            message: message.into(),
            diagnostics: None,
        }
    }

    /// One line of JSON with its newline.
    pub fn to_line(&self) -> String {
        let mut s = serde_json::to_string(self).unwrap_or_else(|e| {
            format!("{{\"error\":{{\"message\":\"cannot encode: {e}\",\"diagnostics\":null}}}}")
        });
        s.push('\n');
        s
    }

    pub fn parse(line: &str) -> Result<Self, String> {
        serde_json::from_str(line.trim()).map_err(|e| format!("bad response: {e}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_on_the_wire() {
        assert_eq!(Request::parse(r#"{"cmd":"status"}"#), Ok(Request::Status));
        assert_eq!(Request::parse(" {\"cmd\":\"watch\"}\n"), Ok(Request::Watch));
        assert_eq!(
            Request::parse(r#"{"cmd":"rs","action":"drain","vs":"fwmark:1","rs":"10.0.0.2:80"}"#),
            Ok(Request::Rs {
                action: RsAction::Drain,
                vs: "fwmark:1".into(),
                rs: "10.0.0.2:80".into()
            })
        );
        for bad in [
            "",
            "status",
            r#"{"cmd":"shutdown"}"#,
            r#"{"cmd":"rs","action":"kill","vs":"a","rs":"b"}"#,
            r#"{"cmd":"rs","action":"drain"}"#,
        ] {
            assert!(Request::parse(bad).is_err(), "{bad}");
        }
        let enc = serde_json::to_string(&Request::Reload).unwrap();
        assert_eq!(enc, r#"{"cmd":"reload"}"#);
    }

    #[test]
    fn read_only_and_state_changing_are_distinct() {
        assert!(Request::Status.is_read_only());
        assert!(Request::Watch.is_read_only());
        assert!(!Request::Reload.is_read_only());
        assert!(!Request::Rs {
            action: RsAction::Enable,
            vs: String::new(),
            rs: String::new()
        }
        .is_read_only());
    }

    #[test]
    fn responses_round_trip_as_one_line() {
        let r = Response::Status(Status {
            virtual_servers: vec![VirtualServerStatus {
                vs: "10.0.0.1:80".into(),
                protocol: "tcp".into(),
                quorum: 1,
                quorum_up: true,
                since_ms: 5,
                sorry_server: None,
                sorry_server_active: false,
                real_servers: vec![RealServerStatus {
                    rs: "10.0.0.2:80".into(),
                    state: RsState::Down,
                    weight: 3,
                    effective_weight: 3,
                    ipvs_weight: None,
                    admin: AdminState::Drain,
                    since_ms: 7,
                    reason: Some("connect: refused\n\"x\"".into()),
                }],
            }],
            reconcile: ReconcileStats {
                runs: 1,
                operations: 2,
                failures: 0,
            },
            reloads: ReloadStats::default(),
            draining: 0,
            vrrp: vec![VrrpInstanceStatus {
                name: "VI_1".into(),
                interface: "eth0".into(),
                vrid: 51,
                state: "MASTER".into(),
                priority: 150,
                effective_priority: 90,
                why: vec!["vrrp_script chk down -60".into()],
                fault: None,
                master: None,
                since_ms: Some(3),
                cause: Some("start-up".into()),
                transitions: 2,
                adverts_sent: 10,
                adverts_received: 0,
                send_errors: 0,
                drops: [("ttl".to_string(), 2u64)].into_iter().collect(),
            }],
        });
        let line = r.to_line();
        assert!(line.ends_with('\n') && line.matches('\n').count() == 1);
        assert!(line.contains(r#""state":"down""#) && line.contains(r#""admin":"drain""#));
        assert_eq!(Response::parse(&line), Ok(r));
        assert_eq!(Response::Watching.to_line(), "\"watching\"\n");
        let e = Response::error("no");
        assert_eq!(
            e.to_line(),
            "{\"error\":{\"message\":\"no\",\"diagnostics\":null}}\n"
        );
    }
}
