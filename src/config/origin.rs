//! Provenance of effective values: where each came from (a default, a line
//! of the file, or inheritance from an enclosing block). Positions are kept
//! as `Loc` and rendered as `path:line:col` only when dumped, so tracking
//! them costs nothing on large configurations.

use std::cell::RefCell;
use std::fmt;
use std::path::PathBuf;

use serde::{Serialize, Serializer};

use super::source::{Loc, SourceMap};

/// Where a value came from. 16 bytes: every real server and checker carries
/// a dozen of these, so on a 40,000-server configuration their size is a
/// large part of the model's memory (and of the time spent faulting it in).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// keepalived's default.
    Default,
    /// A rule explains it ("TCP_CHECK default", "implied by port 0"). A
    /// reference to a `&'static str` (one pointer, not two): write notes as
    /// `&"text"`, which the compiler places in static memory.
    Note(&'static &'static str),
    /// Written at this position.
    Set(Loc),
    /// Written in an enclosing block (`virtual_server`, `real_server`).
    Inherited { block: Parent, at: Loc },
}

/// A block whose values its children inherit.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Parent {
    VirtualServer,
    RealServer,
}

impl Parent {
    pub fn keyword(self) -> &'static str {
        match self {
            Parent::VirtualServer => "virtual_server",
            Parent::RealServer => "real_server",
        }
    }
}

impl fmt::Debug for Parent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.keyword(), f)
    }
}

impl Origin {
    /// The origin a child sees when it inherits a parent block's value.
    pub fn inherited(block: Parent, from: &Origin) -> Origin {
        match from {
            Origin::Set(at) => Origin::Inherited { block, at: *at },
            other => *other,
        }
    }
}

impl From<&'static &'static str> for Origin {
    fn from(s: &'static &'static str) -> Self {
        if *s == "default" {
            Origin::Default
        } else {
            Origin::Note(s)
        }
    }
}

/// A source position that serializes as `path:line:col`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Pos(pub Loc);

thread_local! {
    static PATHS: RefCell<Vec<PathBuf>> = const { RefCell::new(Vec::new()) };
}

/// Runs `f` (typically a serde serialization) with `map`'s file names
/// available for rendering positions.
pub fn with_sources<R>(map: &SourceMap, f: impl FnOnce() -> R) -> R {
    let paths: Vec<PathBuf> = map.paths().map(|p| p.to_path_buf()).collect();
    PATHS.with(|p| *p.borrow_mut() = paths);
    let r = f();
    PATHS.with(|p| p.borrow_mut().clear());
    r
}

fn render(loc: Loc) -> String {
    PATHS.with(|p| {
        let p = p.borrow();
        let path = p
            .get(loc.file.0 as usize)
            .map(|x| x.display().to_string())
            .unwrap_or_else(|| format!("file#{}", loc.file.0));
        format!("{path}:{}:{}", loc.line, loc.col)
    })
}

impl Serialize for Origin {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Origin::Default => s.serialize_str("default"),
            Origin::Note(n) => s.serialize_str(n),
            Origin::Set(loc) => s.serialize_str(&format!("set at {}", render(*loc))),
            Origin::Inherited { block, at } => s.serialize_str(&format!(
                "inherited from {} (set at {})",
                block.keyword(),
                render(*at)
            )),
        }
    }
}

impl Serialize for Pos {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&render(self.0))
    }
}
