//! Errors of the IPVS client, and errno translated into what an operator
//! should read ("scheduler module ip_vs_mh is not available", "service
//! already exists", "permission denied: needs CAP_NET_ADMIN").

use crate::ops::Operation;

#[derive(Debug, thiserror::Error)]
pub enum IpvsError {
    /// IPVS is not in this kernel (or not loaded).
    #[error("IPVS is not available in this kernel ({0}); load it with `modprobe ip_vs`")]
    Unavailable(String),
    #[error("cannot open a generic netlink socket: {0}")]
    Socket(std::io::Error),
    #[error("netlink I/O: {0}")]
    Io(std::io::Error),
    #[error("malformed reply from the kernel: {0}")]
    Decode(String),
    #[error("{message}")]
    Kernel { errno: i32, message: String },
}

impl IpvsError {
    pub fn errno(&self) -> i32 {
        match self {
            IpvsError::Kernel { errno, .. } => *errno,
            IpvsError::Socket(e) | IpvsError::Io(e) => e.raw_os_error().unwrap_or(0),
            IpvsError::Unavailable(_) => libc::ENOENT,
            IpvsError::Decode(_) => libc::EINVAL,
        }
    }
}

/// What an errno means for the operation that got it.
pub fn describe_errno(errno: i32, op: Option<&Operation>) -> String {
    use Operation::*;
    match (errno, op) {
        (libc::EPERM, _) | (libc::EACCES, _) => "permission denied: needs CAP_NET_ADMIN".into(),
        (libc::EEXIST, Some(AddService(_))) => "service already exists".into(),
        (libc::EEXIST, Some(AddDest(..))) => "destination already exists".into(),
        (libc::ESRCH, _) => "no such service".into(),
        (libc::ENOENT, Some(AddService(s)) | Some(EditService(s))) => match &s.pe_name {
            Some(pe) => format!(
                "scheduler module ip_vs_{} or persistence engine ip_vs_pe_{pe} is not available",
                s.scheduler
            ),
            None => format!("scheduler module ip_vs_{} is not available", s.scheduler),
        },
        (libc::ENOENT, Some(EditDest(..)) | Some(DelDest(..))) => "no such destination".into(),
        (libc::EAFNOSUPPORT, _) => "IPv6 is not supported by this kernel's IPVS".into(),
        (libc::ERANGE, _) => "weight or threshold out of range".into(),
        (libc::EINVAL, Some(op)) => format!("invalid argument for {}", op_name(op)),
        (e, Some(op)) => format!("{}: {}", op_name(op), std::io::Error::from_raw_os_error(e)),
        (e, None) => std::io::Error::from_raw_os_error(e).to_string(),
    }
}

fn op_name(op: &Operation) -> String {
    op.to_string()
}
