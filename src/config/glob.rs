//! Include patterns: csh-style brace expansion (`{a,b}`) and shell wildcards
//! (`*`, `?`, `[...]`), as keepalived's `glob(GLOB_BRACE)` resolves them.

use std::path::{Path, PathBuf};

/// Expands `{a,b}` alternatives (nested allowed). Unbalanced braces are
/// taken literally.
pub fn expand_braces(pattern: &str) -> Vec<String> {
    let chars: Vec<char> = pattern.chars().collect();
    // Find the first top-level `{` with a matching `}`.
    let mut depth = 0;
    let mut open = None;
    for (i, &c) in chars.iter().enumerate() {
        match c {
            '{' => {
                if depth == 0 {
                    open = Some(i);
                }
                depth += 1;
            }
            '}' if depth > 0 => {
                depth -= 1;
                if depth == 0 {
                    if let Some(o) = open {
                        let prefix: String = chars[..o].iter().collect();
                        let suffix: String = chars[i + 1..].iter().collect();
                        let inner = &chars[o + 1..i];
                        let mut out = Vec::new();
                        for alt in split_top_level(inner) {
                            for rest in expand_braces(&format!("{prefix}{alt}{suffix}")) {
                                out.push(rest);
                            }
                        }
                        return out;
                    }
                }
            }
            _ => {}
        }
    }
    vec![pattern.to_string()]
}

fn split_top_level(inner: &[char]) -> Vec<String> {
    let mut parts = Vec::new();
    let mut depth = 0;
    let mut cur = String::new();
    for &c in inner {
        match c {
            '{' => {
                depth += 1;
                cur.push(c);
            }
            '}' => {
                depth -= 1;
                cur.push(c);
            }
            ',' if depth == 0 => parts.push(std::mem::take(&mut cur)),
            _ => cur.push(c),
        }
    }
    parts.push(cur);
    parts
}

pub fn has_wildcard(s: &str) -> bool {
    s.contains(['*', '?', '['])
}

/// Files matching a wildcard pattern (no braces), sorted. A pattern without
/// wildcards yields itself if it exists.
pub fn glob(pattern: &Path) -> Vec<PathBuf> {
    let mut current: Vec<PathBuf> = Vec::new();
    let mut components = pattern.components().peekable();
    if pattern.is_absolute() {
        current.push(PathBuf::from("/"));
        components.next();
    } else {
        current.push(PathBuf::new());
    }
    for comp in components {
        let part = comp.as_os_str().to_string_lossy().to_string();
        let mut next = Vec::new();
        for base in &current {
            if has_wildcard(&part) {
                let dir = if base.as_os_str().is_empty() {
                    PathBuf::from(".")
                } else {
                    base.clone()
                };
                let Ok(entries) = std::fs::read_dir(&dir) else {
                    continue;
                };
                let mut names: Vec<String> = entries
                    .filter_map(|e| e.ok())
                    .map(|e| e.file_name().to_string_lossy().to_string())
                    .filter(|n| !n.starts_with('.') || part.starts_with('.'))
                    .filter(|n| wildcard_match(&part, n))
                    .collect();
                names.sort();
                for n in names {
                    next.push(base.join(n));
                }
            } else {
                next.push(base.join(&part));
            }
        }
        current = next;
    }
    current.into_iter().filter(|p| p.exists()).collect()
}

/// Shell wildcard match of one path component.
pub fn wildcard_match(pattern: &str, name: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let n: Vec<char> = name.chars().collect();
    match_from(&p, &n)
}

fn match_from(p: &[char], n: &[char]) -> bool {
    match p.first() {
        None => n.is_empty(),
        Some('*') => (0..=n.len()).any(|k| match_from(&p[1..], &n[k..])),
        Some('?') => !n.is_empty() && match_from(&p[1..], &n[1..]),
        Some('[') => {
            let Some(close) = p.iter().skip(1).position(|&c| c == ']').map(|i| i + 1) else {
                return n.first() == Some(&'[') && match_from(&p[1..], &n[1..]);
            };
            let Some(&c) = n.first() else { return false };
            let set = &p[1..close];
            let (negate, set) = match set.first() {
                Some('!') | Some('^') => (true, &set[1..]),
                _ => (false, set),
            };
            let mut hit = false;
            let mut i = 0;
            while i < set.len() {
                if i + 2 < set.len() && set[i + 1] == '-' {
                    if set[i] <= c && c <= set[i + 2] {
                        hit = true;
                    }
                    i += 3;
                } else {
                    if set[i] == c {
                        hit = true;
                    }
                    i += 1;
                }
            }
            hit != negate && match_from(&p[close + 1..], &n[1..])
        }
        Some(&c) => n.first() == Some(&c) && match_from(&p[1..], &n[1..]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn braces_expand_nested() {
        assert_eq!(
            expand_braces("conf/{a,b{1,2}}.conf"),
            ["conf/a.conf", "conf/b1.conf", "conf/b2.conf"]
        );
        assert_eq!(expand_braces("plain"), ["plain"]);
    }

    #[test]
    fn wildcards() {
        assert!(wildcard_match("*.conf", "vs1.conf"));
        assert!(!wildcard_match("*.conf", "vs1.conf.bak"));
        assert!(wildcard_match("vs?.c[a-o]nf", "vs1.conf"));
        assert!(!wildcard_match("vs[!1].conf", "vs1.conf"));
    }
}
