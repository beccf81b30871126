//! Facts of the host the config is tested on: interfaces and scripts. A
//! config is often tested away from its host, so absences are warnings.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use super::super::diag::Severity;
use super::super::lexer::Token;
use super::super::model::Script;
use super::Builder;

pub fn interface_exists(name: &str) -> bool {
    !name.is_empty() && !name.contains('/') && Path::new("/sys/class/net").join(name).exists()
}

pub fn check_interface(b: &mut Builder<'_>, tok: &Token) {
    if !interface_exists(&tok.text) {
        b.warn(
            tok,
            format!("interface `{}` does not exist on this host", tok.text),
        );
    }
}

pub fn check_interface_exists_global(b: &mut Builder<'_>, name: &str, what: &str) {
    if !interface_exists(name) {
        b.diags.global(
            Severity::Warning,
            format!("{what}: interface `{name}` does not exist on this host"),
        );
    }
}

/// The program of a script command: its first word (keepalived quoting).
pub fn program(command: &str) -> String {
    let t = command.trim_start();
    let mut out = String::new();
    let mut quote: Option<char> = None;
    for c in t.chars() {
        match quote {
            Some(q) if c == q => quote = None,
            Some(_) => out.push(c),
            None if c == '\'' || c == '"' => quote = Some(c),
            None if c.is_whitespace() => break,
            None => out.push(c),
        }
    }
    out
}

/// Warns when the script's program is missing or not executable here.
pub fn check_script(b: &mut Builder<'_>, tok: &Token, script: &Script) {
    let prog = program(&script.command);
    if !prog.starts_with('/') {
        return;
    }
    match std::fs::metadata(&prog) {
        Err(_) => b.warn(tok, format!("script `{prog}` does not exist on this host")),
        Ok(m) if m.permissions().mode() & 0o111 == 0 => {
            b.warn(tok, format!("script `{prog}` is not executable"))
        }
        Ok(_) => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn program_is_the_first_word() {
        assert_eq!(program("/bin/check -a b"), "/bin/check");
        assert_eq!(program("'/opt/my check' x"), "/opt/my check");
    }
}
