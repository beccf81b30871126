//! The director: turns the configuration and check results into the IPVS
//! table lvsd wants (real server state, inhibit, quorum, sorry server).

pub mod checks;
pub mod migrate;
pub mod names;
pub mod services;
pub mod startup;
pub mod state;
