//! `enable_script_security`: a script run as root must not be writable by
//! anyone else, nor sit in a directory others can write to (they could swap
//! it). A violation is an error of class `ScriptSecurity` (exit code 6).

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use super::super::diag::{Class, Diagnostic, Severity};
use super::super::lexer::Token;
use super::host::program;
use super::Builder;

/// Why a script path is insecure, if it is.
pub fn insecure_reason(path: &Path) -> Option<String> {
    let mut p: PathBuf = path.to_path_buf();
    loop {
        let meta = std::fs::metadata(&p).ok()?;
        let mode = meta.mode();
        let what = if p == path { "script" } else { "directory" };
        if meta.uid() != 0 {
            return Some(format!(
                "{what} {} is owned by uid {} (must be root)",
                p.display(),
                meta.uid()
            ));
        }
        if mode & 0o022 != 0 && !(what == "directory" && mode & 0o1000 != 0) {
            return Some(format!(
                "{what} {} is writable by {} (mode {:o})",
                p.display(),
                if mode & 0o002 != 0 {
                    "everyone"
                } else {
                    "its group"
                },
                mode & 0o7777
            ));
        }
        match p.parent() {
            Some(parent) if parent != p => p = parent.to_path_buf(),
            _ => return None,
        }
    }
}

pub fn check_script_security(b: &mut Builder<'_>, tok: &Token, command: &str) {
    let prog = program(command);
    if !prog.starts_with('/') {
        return;
    }
    if let Some(reason) = insecure_reason(Path::new(&prog)) {
        b.diags.push(Diagnostic {
            severity: Severity::Error,
            class: Class::ScriptSecurity,
            loc: Some(tok.loc),
            span: tok.len,
            message: format!("script security: refusing `{prog}`: {reason}"),
            help: None,
        });
    }
}
