//! Compatibility path for `lvsd list`: the renderer lives in
//! `format::list`. This keeps the original seven-flag `ListOptions` (no
//! `nosort`) so existing callers compile unchanged.

pub use crate::format::largenum::largenum;
pub use crate::format::list::sorted;

use crate::listing::Listing;

/// ipvsadm's listing flags (see `format::ListOptions`, which adds `nosort`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ListOptions {
    pub save: bool,
    pub stats: bool,
    pub rate: bool,
    pub exact: bool,
    pub thresholds: bool,
    pub persistent_conn: bool,
    pub tun_info: bool,
}

impl From<ListOptions> for crate::format::ListOptions {
    fn from(o: ListOptions) -> Self {
        crate::format::ListOptions {
            save: o.save,
            stats: o.stats,
            rate: o.rate,
            exact: o.exact,
            thresholds: o.thresholds,
            persistent_conn: o.persistent_conn,
            tun_info: o.tun_info,
            nosort: false,
        }
    }
}

/// Renders a listing exactly as `ipvsadm -L -n [options]`, sorted.
pub fn list(listing: &Listing, options: &ListOptions) -> String {
    crate::format::list(listing, &(*options).into())
}
