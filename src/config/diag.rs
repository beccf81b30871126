//! Diagnostics: errors and warnings with their source position, rendered as
//! `FILE:LINE:COL: error: message`, the source line and a caret.

use std::collections::HashSet;
use std::fmt::Write as _;

use super::source::{Loc, SourceMap};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Warning,
    Error,
}

/// What kind of problem, for the exit code: ordinary errors exit 5, a
/// missing file 4, a script-security violation 6.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Class {
    Config,
    MissingFile,
    ScriptSecurity,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Diagnostic {
    pub severity: Severity,
    pub class: Class,
    pub loc: Option<Loc>,
    /// Length of the underlined span, in chars (at least 1).
    pub span: u32,
    pub message: String,
    pub help: Option<String>,
}

/// Collects diagnostics, each reported once.
#[derive(Debug, Default, Clone)]
pub struct Diagnostics {
    items: Vec<Diagnostic>,
    seen: HashSet<(Option<Loc>, String)>,
}

impl Diagnostics {
    pub fn push(&mut self, d: Diagnostic) {
        if self.seen.insert((d.loc, d.message.clone())) {
            self.items.push(d);
        }
    }

    pub fn error(&mut self, loc: Loc, span: usize, message: impl Into<String>) {
        self.push(Diagnostic {
            severity: Severity::Error,
            class: Class::Config,
            loc: Some(loc),
            span: span.max(1) as u32,
            message: message.into(),
            help: None,
        });
    }

    pub fn error_help(
        &mut self,
        loc: Loc,
        span: usize,
        message: impl Into<String>,
        help: impl Into<String>,
    ) {
        self.push(Diagnostic {
            severity: Severity::Error,
            class: Class::Config,
            loc: Some(loc),
            span: span.max(1) as u32,
            message: message.into(),
            help: Some(help.into()),
        });
    }

    pub fn warning(&mut self, loc: Loc, span: usize, message: impl Into<String>) {
        self.push(Diagnostic {
            severity: Severity::Warning,
            class: Class::Config,
            loc: Some(loc),
            span: span.max(1) as u32,
            message: message.into(),
            help: None,
        });
    }

    /// A diagnostic about the configuration as a whole (no position).
    pub fn global(&mut self, severity: Severity, message: impl Into<String>) {
        self.push(Diagnostic {
            severity,
            class: Class::Config,
            loc: None,
            span: 1,
            message: message.into(),
            help: None,
        });
    }

    pub fn items(&self) -> &[Diagnostic] {
        &self.items
    }

    /// The diagnostics, in the order they were reported.
    pub fn into_items(self) -> Vec<Diagnostic> {
        self.items
    }

    pub fn has_errors(&self) -> bool {
        self.items.iter().any(|d| d.severity == Severity::Error)
    }

    pub fn error_count(&self) -> usize {
        self.items
            .iter()
            .filter(|d| d.severity == Severity::Error)
            .count()
    }

    pub fn warning_count(&self) -> usize {
        self.items.len() - self.error_count()
    }

    /// Diagnostics in source order (file, line, col), errors before warnings
    /// at the same position.
    pub fn sorted(&self) -> Vec<&Diagnostic> {
        let mut v: Vec<&Diagnostic> = self.items.iter().collect();
        v.sort_by_key(|d| {
            (
                d.loc.map(|l| (l.file.0, l.line, l.col)),
                std::cmp::Reverse(d.severity),
            )
        });
        v
    }

    /// The `-t` exit code: 0 valid (warnings allowed), 4 missing config file
    /// or strict include, 6 script-security violation, 5 other errors.
    pub fn exit_code(&self) -> i32 {
        let errors: Vec<&Diagnostic> = self
            .items
            .iter()
            .filter(|d| d.severity == Severity::Error)
            .collect();
        if errors.is_empty() {
            0
        } else if errors.iter().any(|d| d.class == Class::MissingFile) {
            4
        } else if errors.iter().any(|d| d.class == Class::ScriptSecurity) {
            6
        } else {
            5
        }
    }

    /// Renders every diagnostic with its source line and caret.
    pub fn render(&self, map: &SourceMap) -> String {
        let mut out = String::new();
        for d in self.sorted() {
            render_one(&mut out, map, d);
        }
        out
    }
}

fn render_one(out: &mut String, map: &SourceMap, d: &Diagnostic) {
    let sev = match d.severity {
        Severity::Error => "error",
        Severity::Warning => "warning",
    };
    match d.loc {
        Some(loc) => {
            let _ = writeln!(out, "{}: {sev}: {}", map.show(loc), d.message);
            if let Some(line) = map.line_text(loc.file, loc.line) {
                let number = loc.line.to_string();
                let pad = " ".repeat(number.len());
                let shown: String = line.replace('\t', " ");
                let _ = writeln!(out, " {number} | {shown}");
                let caret_pad = " ".repeat(loc.col.saturating_sub(1) as usize);
                let carets = "^".repeat(d.span.max(1) as usize);
                match &d.help {
                    Some(h) => {
                        let _ = writeln!(out, " {pad} | {caret_pad}{carets} {h}");
                    }
                    None => {
                        let _ = writeln!(out, " {pad} | {caret_pad}{carets}");
                    }
                }
            } else if let Some(h) = &d.help {
                let _ = writeln!(out, "  = help: {h}");
            }
        }
        None => {
            let _ = writeln!(out, "lvsd: {sev}: {}", d.message);
            if let Some(h) = &d.help {
                let _ = writeln!(out, "  = help: {h}");
            }
        }
    }
}

/// The closest candidate to `word` by edit distance, if close enough to be a
/// plausible typo ("did you mean `weight`?").
pub fn closest<'a>(word: &str, candidates: &[&'a str]) -> Option<&'a str> {
    let limit = (word.chars().count() / 3).clamp(1, 4);
    candidates
        .iter()
        .map(|c| (edit_distance(word, c), *c))
        .filter(|(d, _)| *d <= limit)
        .min_by_key(|(d, c)| (*d, c.len()))
        .map(|(_, c)| c)
}

/// Damerau-Levenshtein distance (optimal string alignment).
pub fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let (n, m) = (a.len(), b.len());
    let mut d = vec![vec![0usize; m + 1]; n + 1];
    for (i, row) in d.iter_mut().enumerate() {
        row[0] = i;
    }
    for (j, cell) in d[0].iter_mut().enumerate() {
        *cell = j;
    }
    for i in 1..=n {
        for j in 1..=m {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut v = (d[i - 1][j] + 1)
                .min(d[i][j - 1] + 1)
                .min(d[i - 1][j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                v = v.min(d[i - 2][j - 2] + 1);
            }
            d[i][j] = v;
        }
    }
    d[n][m]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggests_close_keywords() {
        let kws = ["weight", "smtp_connect_timeout", "connect_timeout"];
        assert_eq!(closest("wieght", &kws), Some("weight"));
        assert_eq!(
            closest("stmp_connect_timeout", &kws),
            Some("smtp_connect_timeout")
        );
        assert_eq!(closest("banana", &kws), None);
    }
}
