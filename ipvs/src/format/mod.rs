//! ipvsadm 1.31's text formats, byte for byte, and a JSON rendering.
//!
//! This module owns how an IPVS table is *shown*: `ipvsadm -L -n` in every
//! listing mode (`list`), `ipvsadm -S -n` save rules (`save`), the JSON form
//! of a listing (`json`), and the pieces they share (`names`, `largenum`).
//! Everything here is pure string building from `Listing` / `Table`.
//!
//! Sorting: unless `ListOptions::nosort`, services and destinations are put
//! in ipvsadm's order (fwmark, family, protocol, address, port) with a true
//! unsigned address comparison. ipvsadm itself compares with a signed
//! subtraction, so two addresses 2^31 or more apart (`200.1.1.1` and
//! `10.1.1.1`) come out inverted there; we deliberately do not copy that.

pub mod json;
pub mod largenum;
pub mod list;
pub mod names;
pub mod save;

pub use json::{listing_json, table_json};
pub use largenum::largenum;
pub use list::{list, sorted, ListOptions};
pub use save::{save_listing, save_table};
