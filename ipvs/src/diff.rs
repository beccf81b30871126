//! Compatibility path: the desired-state diff is `reconcile::plan`.

pub use crate::reconcile::plan::{dest_differs, owned_after, plan, service_differs};
