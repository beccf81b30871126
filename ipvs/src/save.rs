//! Compatibility path for `lvsd plan`: the `ipvsadm -S -n` renderer lives
//! in `format::save` (and its names in `format::names`).

pub use crate::format::names::{forward_switch, sched_flag_names, service_switch};
pub use crate::format::save::{dest_rule, save_listing, save_table, service_rule};
