//! IPVS over generic netlink: the pure codec (`attr`, `consts`, `message`,
//! `convert`), the framing of whole netlink messages (`frame`), and the
//! client over a netlink socket (`client`).

pub mod attr;
pub mod client;
pub mod consts;
pub mod convert;
pub mod encode;
pub mod frame;
pub mod message;
pub mod sim;
