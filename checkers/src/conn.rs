//! Connection options shared by the network checkers (keepalived's common
//! checker keywords: connect_ip, connect_port, bindto, bind_port, bind_if,
//! fwmark, connect_timeout).

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnOptions {
    /// Where to connect (connect_ip/connect_port, else the real server).
    pub target: SocketAddr,
    /// Source address (`bindto`).
    pub bind_addr: Option<IpAddr>,
    /// Source port (`bind_port`).
    pub bind_port: Option<u16>,
    /// Source interface (`bind_if`, SO_BINDTODEVICE).
    pub bind_if: Option<String>,
    /// SO_MARK on the check socket (`fwmark`); 0 = none.
    pub fwmark: u32,
    /// `connect_timeout`.
    pub connect_timeout: Duration,
}

impl ConnOptions {
    pub fn new(target: SocketAddr, connect_timeout: Duration) -> Self {
        ConnOptions {
            target,
            bind_addr: None,
            bind_port: None,
            bind_if: None,
            fwmark: 0,
            connect_timeout,
        }
    }

    /// A compact text equal for equal options (for `Check::identity`).
    pub fn identity(&self) -> String {
        format!(
            "{}|{:?}|{:?}|{:?}|{}|{}",
            self.target,
            self.bind_addr,
            self.bind_port,
            self.bind_if,
            self.fwmark,
            self.connect_timeout.as_nanos()
        )
    }
}
