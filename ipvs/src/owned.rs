//! The record of which services lvsd owns, kept across restarts (default
//! `/var/lib/lvsd/owned`), so a service dropped from the config while lvsd
//! was stopped is removed at the next start, and without a record nothing
//! foreign is touched. One service per line, as ipvsadm names them:
//! `TCP 10.0.0.1:80`, `UDP [2001:db8::1]:53`, `SCTP ...`, `FWM 10`,
//! `FWM 10 IPv6`, after a version header.

use std::collections::HashSet;
use std::io::Write;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

use crate::model::{AddressFamily, Protocol, ServiceKey};

pub const DEFAULT_PATH: &str = "/var/lib/lvsd/owned";
const HEADER: &str = "# lvsd owned services v1";

#[derive(Debug, thiserror::Error)]
pub enum OwnedError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}:{line}: {message}")]
    Parse {
        path: PathBuf,
        line: usize,
        message: String,
    },
    #[error("cannot write {path}: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// Parses one line (`TCP 10.0.0.1:80`, `FWM 10 IPv6`).
pub fn parse_key(line: &str) -> Result<ServiceKey, String> {
    let mut words = line.split_whitespace();
    let kind = words.next().ok_or("empty line")?;
    let rest = words.next().ok_or("missing address or mark")?;
    let extra = words.next();
    if kind == "FWM" {
        let mark: u32 = rest
            .parse()
            .map_err(|_| format!("`{rest}` is not a mark"))?;
        let af = match extra {
            None => AddressFamily::Inet,
            Some("IPv6") => AddressFamily::Inet6,
            Some(x) => return Err(format!("unexpected `{x}`")),
        };
        return Ok(ServiceKey::Fwmark { af, mark });
    }
    let protocol = match kind {
        "TCP" => Protocol::Tcp,
        "UDP" => Protocol::Udp,
        "SCTP" => Protocol::Sctp,
        _ => return Err(format!("`{kind}` is not TCP, UDP, SCTP or FWM")),
    };
    if let Some(x) = extra {
        return Err(format!("unexpected `{x}`"));
    }
    let (addr, port) = rest
        .rsplit_once(':')
        .ok_or_else(|| format!("`{rest}` is not ADDR:PORT"))?;
    let addr = addr.trim_start_matches('[').trim_end_matches(']');
    let addr: IpAddr = addr
        .parse()
        .map_err(|_| format!("`{addr}` is not an address"))?;
    let port: u16 = port
        .parse()
        .map_err(|_| format!("`{port}` is not a port"))?;
    Ok(ServiceKey::Addr {
        protocol,
        addr,
        port,
    })
}

/// Reads the record; a missing file is an empty set.
pub fn load(path: &Path) -> Result<HashSet<ServiceKey>, OwnedError> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(HashSet::new()),
        Err(source) => {
            return Err(OwnedError::Read {
                path: path.to_path_buf(),
                source,
            })
        }
    };
    let mut set = HashSet::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let key = parse_key(line).map_err(|message| OwnedError::Parse {
            path: path.to_path_buf(),
            line: i + 1,
            message,
        })?;
        set.insert(key);
    }
    Ok(set)
}

/// Writes the record atomically (temporary file, then rename).
pub fn save(path: &Path, owned: &HashSet<ServiceKey>) -> Result<(), OwnedError> {
    let werr = |source| OwnedError::Write {
        path: path.to_path_buf(),
        source,
    };
    if let Some(dir) = path.parent() {
        if !dir.as_os_str().is_empty() {
            std::fs::create_dir_all(dir).map_err(werr)?;
        }
    }
    let mut keys: Vec<&ServiceKey> = owned.iter().collect();
    keys.sort();
    let mut text = String::from(HEADER);
    text.push('\n');
    for k in keys {
        text.push_str(&k.to_string());
        text.push('\n');
    }
    let tmp = path.with_extension(format!("tmp.{}", std::process::id()));
    let mut f = std::fs::File::create(&tmp).map_err(werr)?;
    f.write_all(text.as_bytes()).map_err(werr)?;
    f.sync_all().map_err(werr)?;
    std::fs::rename(&tmp, path).map_err(werr)?;
    Ok(())
}
