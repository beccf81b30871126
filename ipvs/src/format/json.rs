//! JSON renderings for tools (`lvsd list --json`): the same entries and
//! counters as the text listing, sorted the same way, with serde's field
//! names of `Listing` / `Table`.

use crate::listing::Listing;
use crate::model::Table;

/// A listing as pretty-printed JSON, sorted in ipvsadm order.
pub fn listing_json(listing: &Listing) -> Result<String, serde_json::Error> {
    serde_json::to_string_pretty(&super::list::sorted(listing))
}

/// A table as pretty-printed JSON, sorted in ipvsadm order.
pub fn table_json(table: &Table) -> Result<String, serde_json::Error> {
    let mut sorted = table.clone();
    sorted.sort();
    serde_json::to_string_pretty(&sorted)
}
