//! Source files and positions: every token and diagnostic points back to the
//! original `file:line:col`, through includes and macro expansions.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// Index of a file in a `SourceMap`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct FileId(pub u32);

/// A position in a source file (1-based line and column, columns in chars).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Loc {
    pub file: FileId,
    pub line: u32,
    pub col: u32,
}

/// The files read while loading a configuration, with their text, so that
/// diagnostics can quote the offending line.
#[derive(Debug, Default, Clone)]
pub struct SourceMap {
    files: Vec<SourceFile>,
}

#[derive(Debug, Clone)]
struct SourceFile {
    path: PathBuf,
    /// Byte offset of the start of each line, computed when a diagnostic
    /// first quotes a line (a valid configuration never needs it).
    line_starts: OnceLock<Vec<usize>>,
    text: String,
}

impl SourceMap {
    pub fn add(&mut self, path: &Path, text: String) -> FileId {
        self.files.push(SourceFile {
            path: path.to_path_buf(),
            line_starts: OnceLock::new(),
            text,
        });
        FileId((self.files.len() - 1) as u32)
    }

    pub fn path(&self, id: FileId) -> &Path {
        self.files
            .get(id.0 as usize)
            .map(|f| f.path.as_path())
            .unwrap_or(Path::new("<unknown>"))
    }

    pub fn text(&self, id: FileId) -> &str {
        self.files
            .get(id.0 as usize)
            .map(|f| f.text.as_str())
            .unwrap_or("")
    }

    /// The text of line `line` (1-based) without its line ending.
    pub fn line_text(&self, id: FileId, line: u32) -> Option<&str> {
        let f = self.files.get(id.0 as usize)?;
        let idx = (line as usize).checked_sub(1)?;
        let line_starts = f.line_starts.get_or_init(|| {
            std::iter::once(0)
                .chain(f.text.match_indices('\n').map(|(i, _)| i + 1))
                .collect()
        });
        let start = *line_starts.get(idx)?;
        let end = line_starts
            .get(idx + 1)
            .map(|e| e.saturating_sub(1))
            .unwrap_or(f.text.len());
        let s = f.text.get(start..end)?;
        Some(s.strip_suffix('\r').unwrap_or(s))
    }

    /// Lends a file's text out (to read it while the map is being added
    /// to) without copying it; `restore_text` puts it back.
    pub fn take_text(&mut self, id: FileId) -> String {
        self.files
            .get_mut(id.0 as usize)
            .map(|f| std::mem::take(&mut f.text))
            .unwrap_or_default()
    }

    pub fn restore_text(&mut self, id: FileId, text: String) {
        if let Some(f) = self.files.get_mut(id.0 as usize) {
            f.text = text;
            // Line starts computed while the text was lent out are wrong.
            f.line_starts = OnceLock::new();
        }
    }

    pub fn paths(&self) -> impl Iterator<Item = &Path> {
        self.files.iter().map(|f| f.path.as_path())
    }

    /// Renders a location as `path:line:col`.
    pub fn show(&self, loc: Loc) -> LocText<'_> {
        LocText { map: self, loc }
    }
}

/// `path:line:col` display helper.
pub struct LocText<'a> {
    map: &'a SourceMap,
    loc: Loc,
}

impl fmt::Display for LocText<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}:{}",
            self.map.path(self.loc.file).display(),
            self.loc.line,
            self.loc.col
        )
    }
}
