//! The record of which services lvsd owns, kept across restarts (default
//! `/var/lib/lvsd/owned`; the path is always passed in).
//!
//! With it, a service dropped from the config while lvsd was stopped is
//! removed at the next start, and services lvsd never created or adopted are
//! never touched. Format: a version header, then one service per line as
//! ipvsadm names them:
//!
//! ```text
//! # lvsd owned services v1
//! TCP 10.0.0.1:80
//! UDP [2001:db8::1]:53
//! SCTP 10.0.0.2:3868
//! FWM 10
//! FWM 10 IPv6
//! ```
//!
//! Blank lines and further `#` lines are ignored. A missing or empty file is
//! an empty set; anything else unreadable is an error naming file and line.
//! Saving is atomic: a temporary file in the same directory, fsynced, then
//! renamed over the record (the directory is created if needed).

use std::collections::HashSet;
use std::io::Write;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use crate::model::{AddressFamily, Protocol, ServiceKey};

pub const DEFAULT_PATH: &str = "/var/lib/lvsd/owned";

/// The first line of a version-1 record.
pub const HEADER: &str = "# lvsd owned services v1";
const HEADER_PREFIX: &str = "# lvsd owned services v";

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

/// Parses one service (`TCP 10.0.0.1:80`, `UDP [2001:db8::1]:53`,
/// `FWM 10`, `FWM 10 IPv6`): the inverse of `ServiceKey`'s `Display`.
pub fn parse_key(line: &str) -> Result<ServiceKey, String> {
    let mut words = line.split_whitespace();
    let kind = words.next().ok_or("empty line")?;
    let target = words.next().ok_or("missing address or mark")?;
    let family = words.next();
    if let Some(extra) = words.next() {
        return Err(format!("unexpected `{extra}`"));
    }
    if kind == "FWM" {
        let mark: u32 = target
            .parse()
            .map_err(|_| format!("`{target}` is not a firewall mark"))?;
        let af = match family {
            None => AddressFamily::Inet,
            Some("IPv6") => AddressFamily::Inet6,
            Some(x) => return Err(format!("unexpected `{x}` (only `IPv6` may follow a mark)")),
        };
        return Ok(ServiceKey::Fwmark { af, mark });
    }
    let protocol = match kind {
        "TCP" => Protocol::Tcp,
        "UDP" => Protocol::Udp,
        "SCTP" => Protocol::Sctp,
        _ => return Err(format!("`{kind}` is not TCP, UDP, SCTP or FWM")),
    };
    if let Some(x) = family {
        return Err(format!("unexpected `{x}`"));
    }
    let socket: SocketAddr = target.parse().map_err(|_| {
        format!("`{target}` is not ADDRESS:PORT (IPv6 in brackets: [2001:db8::1]:80)")
    })?;
    Ok(ServiceKey::Addr {
        protocol,
        addr: socket.ip(),
        port: socket.port(),
    })
}

/// Parses a record's text; `path` only names the file in errors.
pub fn parse(text: &str, path: &Path) -> Result<HashSet<ServiceKey>, OwnedError> {
    let error = |line: usize, message: String| OwnedError::Parse {
        path: path.to_path_buf(),
        line,
        message,
    };
    let mut lines = text.lines().enumerate();
    let mut set = HashSet::new();
    let Some((header_index, first)) = lines.find(|(_, l)| !l.trim().is_empty()) else {
        return Ok(set);
    };
    match first.trim().strip_prefix(HEADER_PREFIX) {
        Some("1") => {}
        Some(version) => {
            return Err(error(
                header_index + 1,
                format!("unsupported record version `{version}` (this lvsd reads v1)"),
            ))
        }
        None => {
            return Err(error(
                header_index + 1,
                format!("missing header `{HEADER}`"),
            ))
        }
    }
    for (i, line) in lines {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        set.insert(parse_key(line).map_err(|message| error(i + 1, message))?);
    }
    Ok(set)
}

/// The record's text for `owned`, sorted in ipvsadm order.
pub fn render(owned: &HashSet<ServiceKey>) -> String {
    let mut keys: Vec<&ServiceKey> = owned.iter().collect();
    keys.sort();
    let mut text = String::from(HEADER);
    text.push('\n');
    for key in keys {
        text.push_str(&key.to_string());
        text.push('\n');
    }
    text
}

/// Reads the record; a missing file is an empty set.
pub fn load(path: &Path) -> Result<HashSet<ServiceKey>, OwnedError> {
    match std::fs::read_to_string(path) {
        Ok(text) => parse(&text, path),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(HashSet::new()),
        Err(source) => Err(OwnedError::Read {
            path: path.to_path_buf(),
            source,
        }),
    }
}

/// Writes the record atomically (temporary file, fsync, rename, fsync of
/// the directory), creating the directory if needed.
pub fn save(path: &Path, owned: &HashSet<ServiceKey>) -> Result<(), OwnedError> {
    let write_error = |source| OwnedError::Write {
        path: path.to_path_buf(),
        source,
    };
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    std::fs::create_dir_all(&dir).map_err(write_error)?;
    let tmp = temp_path(path);
    let written =
        write_synced(&tmp, render(owned).as_bytes()).and_then(|()| std::fs::rename(&tmp, path));
    if let Err(e) = written {
        let _ = std::fs::remove_file(&tmp);
        return Err(write_error(e));
    }
    // Make the rename itself durable; not all filesystems allow it.
    if let Ok(d) = std::fs::File::open(&dir) {
        let _ = d.sync_all();
    }
    Ok(())
}

fn write_synced(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let mut file = std::fs::File::create(path)?;
    file.write_all(bytes)?;
    file.sync_all()
}

/// `<dir>/.<name>.tmp.<pid>.<n>`: unique per process and call.
fn temp_path(path: &Path) -> PathBuf {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "owned".to_string());
    path.with_file_name(format!(".{name}.tmp.{}.{n}", std::process::id()))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A fresh directory under the system temp dir, removed on drop.
    struct TempDir(PathBuf);

    impl TempDir {
        fn new(tag: &str) -> Self {
            static N: AtomicU64 = AtomicU64::new(0);
            let dir = std::env::temp_dir().join(format!(
                "lvsd-owned-{tag}-{}-{}",
                std::process::id(),
                N.fetch_add(1, Ordering::Relaxed)
            ));
            let _ = std::fs::remove_dir_all(&dir);
            TempDir(dir)
        }
    }

    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    fn sample() -> HashSet<ServiceKey> {
        HashSet::from([
            parse_key("TCP 10.0.0.1:80").unwrap(),
            ServiceKey::Addr {
                protocol: Protocol::Udp,
                addr: "2001:db8::1".parse().unwrap(),
                port: 53,
            },
            ServiceKey::Addr {
                protocol: Protocol::Sctp,
                addr: "10.0.0.2".parse().unwrap(),
                port: 3868,
            },
            ServiceKey::Fwmark {
                af: AddressFamily::Inet,
                mark: 10,
            },
            ServiceKey::Fwmark {
                af: AddressFamily::Inet6,
                mark: 10,
            },
        ])
    }

    #[test]
    fn save_creates_the_directory_and_load_round_trips() {
        let tmp = TempDir::new("roundtrip");
        let path = tmp.0.join("nested/owned");
        save(&path, &sample()).unwrap();
        assert_eq!(load(&path).unwrap(), sample());
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            "# lvsd owned services v1\n\
             TCP 10.0.0.1:80\n\
             SCTP 10.0.0.2:3868\n\
             UDP [2001:db8::1]:53\n\
             FWM 10\n\
             FWM 10 IPv6\n"
        );
        // Overwrite with less; no temporary file is left behind.
        save(&path, &HashSet::new()).unwrap();
        assert!(load(&path).unwrap().is_empty());
        let names: Vec<_> = std::fs::read_dir(path.parent().unwrap())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, vec![std::ffi::OsString::from("owned")]);
    }

    #[test]
    fn missing_or_empty_file_is_an_empty_set() {
        let tmp = TempDir::new("missing");
        assert!(load(&tmp.0.join("absent")).unwrap().is_empty());
        std::fs::create_dir_all(&tmp.0).unwrap();
        std::fs::write(tmp.0.join("empty"), "\n").unwrap();
        assert!(load(&tmp.0.join("empty")).unwrap().is_empty());
    }

    #[test]
    fn corrupt_files_name_file_and_line() {
        let tmp = TempDir::new("corrupt");
        std::fs::create_dir_all(&tmp.0).unwrap();
        let path = tmp.0.join("owned");
        let cases = [
            (
                "# lvsd owned services v1\nTCP 10.0.0.1:80\n\nHTTP x\n",
                ":4: `HTTP` is not TCP, UDP, SCTP or FWM",
            ),
            (
                "TCP 10.0.0.1:80\n",
                ":1: missing header `# lvsd owned services v1`",
            ),
            (
                "# lvsd owned services v2\n",
                ":1: unsupported record version `2` (this lvsd reads v1)",
            ),
            (
                "# lvsd owned services v1\nTCP 2001:db8::1:80\n",
                ":2: `2001:db8::1:80` is not ADDRESS:PORT",
            ),
            (
                "# lvsd owned services v1\nFWM x\n",
                ":2: `x` is not a firewall mark",
            ),
            (
                "# lvsd owned services v1\nFWM 1 IPv4\n",
                ":2: unexpected `IPv4`",
            ),
            (
                "# lvsd owned services v1\nTCP 10.0.0.1:80 x\n",
                ":2: unexpected `x`",
            ),
        ];
        for (text, want) in cases {
            std::fs::write(&path, text).unwrap();
            let e = load(&path).unwrap_err().to_string();
            assert!(e.starts_with(&path.display().to_string()), "{e}");
            assert!(e.contains(want), "{e} does not contain {want}");
        }
    }

    #[test]
    fn unreadable_path_is_a_read_error() {
        let tmp = TempDir::new("unreadable");
        std::fs::create_dir_all(tmp.0.join("owned")).unwrap(); // a directory
        assert!(matches!(
            load(&tmp.0.join("owned")),
            Err(OwnedError::Read { .. })
        ));
        assert!(matches!(
            save(&tmp.0.join("owned"), &sample()),
            Err(OwnedError::Write { .. })
        ));
    }

    #[test]
    fn every_key_display_parses_back() {
        for key in sample() {
            assert_eq!(parse_key(&key.to_string()).unwrap(), key);
        }
    }
}
