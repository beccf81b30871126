//! keepalived's script word splitting (`alloc_strvec_quoted`): whitespace
//! separates words; `'…'` and `"…"` group (quotes removed, may join with
//! adjacent text); no shell, no expansion, no escapes. Pure.

use thiserror::Error;

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ArgvError {
    #[error("unmatched {0} quote in script command")]
    UnmatchedQuote(char),
    #[error("empty script command")]
    Empty,
}

/// Splits `cmd` into argv.
pub fn split_argv(cmd: &str) -> Result<Vec<String>, ArgvError> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut in_word = false;
    let mut quote: Option<char> = None;
    for c in cmd.chars() {
        match quote {
            Some(q) if c == q => quote = None,
            Some(_) => cur.push(c),
            None if c == '\'' || c == '"' => {
                quote = Some(c);
                in_word = true;
            }
            None if c.is_whitespace() => {
                if in_word {
                    out.push(std::mem::take(&mut cur));
                    in_word = false;
                }
            }
            None => {
                cur.push(c);
                in_word = true;
            }
        }
    }
    if let Some(q) = quote {
        return Err(ArgvError::UnmatchedQuote(q));
    }
    if in_word {
        out.push(cur);
    }
    if out.is_empty() {
        return Err(ArgvError::Empty);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table() {
        let ok: &[(&str, &[&str])] = &[
            ("/bin/true", &["/bin/true"]),
            ("  /bin/x  a   b ", &["/bin/x", "a", "b"]),
            ("/x 'a b' c", &["/x", "a b", "c"]),
            ("/x \"a 'b' c\"", &["/x", "a 'b' c"]),
            ("/x 'a \"b\"'", &["/x", "a \"b\""]),
            ("/x a'b c'd", &["/x", "ab cd"]),
            ("/x ''", &["/x", ""]),
            ("/x $HOME *", &["/x", "$HOME", "*"]),
            ("/x\ta\nb", &["/x", "a", "b"]),
        ];
        for (input, want) in ok {
            assert_eq!(split_argv(input).unwrap(), *want, "input {input:?}");
        }
        assert_eq!(split_argv("/x 'a"), Err(ArgvError::UnmatchedQuote('\'')));
        assert_eq!(split_argv("/x \"a"), Err(ArgvError::UnmatchedQuote('"')));
        assert_eq!(split_argv("   "), Err(ArgvError::Empty));
    }
}
