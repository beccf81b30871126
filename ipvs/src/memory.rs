//! Compatibility path: the in-memory kernel is `fake::FakeIpvs`.

pub use crate::fake::{FakeIpvs as MemoryIpvs, DEFAULT_SCHEDULERS};
pub use crate::ops::errno::{EAFNOSUPPORT, EEXIST, EINVAL, ENOENT, ERANGE, ESRCH};
