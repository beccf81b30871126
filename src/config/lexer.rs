//! Lexing: comment stripping and splitting one logical line into tokens.
//!
//! keepalived's rules: `!` and `#` start a comment anywhere outside double
//! quotes (`\!` and `\#` are literal), `"..."` is one token, and `{` / `}` are
//! tokens of their own wherever they stand outside quotes.

use super::source::{FileId, Loc};
use super::text::Text;

/// One character of a logical line together with where it came from.
pub type SrcChar = (char, Loc);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenKind {
    Word,
    Open,
    Close,
    /// End of a logical line: ends a keyword's argument list.
    Eol,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Token {
    pub kind: TokenKind,
    pub text: Text,
    /// The word was written in double quotes.
    pub quoted: bool,
    pub loc: Loc,
    /// Length in source columns (for carets).
    pub len: u32,
}

impl Token {
    pub fn is_word(&self) -> bool {
        self.kind == TokenKind::Word
    }
}

/// Removes a comment from a raw line, honouring quotes and `\#` / `\!`.
pub fn strip_comment(line: &[SrcChar]) -> Vec<SrcChar> {
    let mut out = Vec::with_capacity(line.len());
    let mut in_quote = false;
    let mut i = 0;
    while i < line.len() {
        let (c, loc) = line[i];
        if c == '"' {
            in_quote = !in_quote;
        } else if !in_quote && c == '\\' {
            if let Some(&(n, nloc)) = line.get(i + 1) {
                if n == '#' || n == '!' {
                    out.push((n, nloc));
                    i += 2;
                    continue;
                }
            }
        } else if !in_quote && (c == '#' || c == '!') {
            break;
        }
        out.push((c, loc));
        i += 1;
    }
    out
}

/// Trims leading and trailing whitespace.
pub fn trim(line: &[SrcChar]) -> &[SrcChar] {
    let start = line
        .iter()
        .position(|(c, _)| !c.is_whitespace())
        .unwrap_or(line.len());
    let end = line
        .iter()
        .rposition(|(c, _)| !c.is_whitespace())
        .map(|p| p + 1)
        .unwrap_or(start);
    &line[start..end.max(start)]
}

/// Error from tokenizing a line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LexError {
    pub loc: Loc,
    pub message: String,
}

/// Splits a (comment-free) logical line into tokens, followed by `Eol`. On
/// error nothing of the line is emitted (so no follow-on errors).
pub fn tokenize(line: &[SrcChar], out: &mut Vec<Token>) -> Result<(), LexError> {
    let start = out.len();
    let r = tokenize_into(line, out);
    if r.is_err() {
        out.truncate(start);
    }
    r
}

fn tokenize_into(line: &[SrcChar], out: &mut Vec<Token>) -> Result<(), LexError> {
    let mut i = 0;
    let n = line.len();
    let mut eol_loc = line.last().map(|&(_, l)| l).unwrap_or_default();
    while i < n {
        let (c, loc) = line[i];
        if c.is_whitespace() {
            i += 1;
            continue;
        }
        match c {
            '{' => {
                out.push(simple(TokenKind::Open, "{", loc));
                i += 1;
            }
            '}' => {
                out.push(simple(TokenKind::Close, "}", loc));
                i += 1;
            }
            '"' => {
                let start = i;
                i += 1;
                let mut text = String::new();
                while i < n && line[i].0 != '"' {
                    text.push(line[i].0);
                    i += 1;
                }
                if i >= n {
                    return Err(LexError {
                        loc,
                        message: "unterminated quoted string (missing closing `\"`)".into(),
                    });
                }
                let end_loc = line[i].1;
                i += 1;
                out.push(Token {
                    kind: TokenKind::Word,
                    text: text.into(),
                    quoted: true,
                    loc,
                    len: span(loc, end_loc, i - start),
                });
            }
            _ => {
                let start = i;
                let mut text = String::new();
                while i < n {
                    let ch = line[i].0;
                    if ch.is_whitespace() || ch == '{' || ch == '}' || ch == '"' {
                        break;
                    }
                    text.push(ch);
                    i += 1;
                }
                let end_loc = line[i - 1].1;
                out.push(Token {
                    kind: TokenKind::Word,
                    text: text.into(),
                    quoted: false,
                    loc,
                    len: span(loc, end_loc, i - start),
                });
            }
        }
        eol_loc = line[i.saturating_sub(1).min(n - 1)].1;
    }
    eol_loc.col += 1;
    out.push(Token {
        kind: TokenKind::Eol,
        text: Text::default(),
        quoted: false,
        loc: eol_loc,
        len: 1,
    });
    Ok(())
}

/// Fast path for a plain ASCII line (no continuation, parameters,
/// conditionals or sequences): comment stripping and tokenizing in one pass,
/// with columns taken from byte offsets.
pub fn tokenize_ascii(
    line: &str,
    file: FileId,
    line_no: u32,
    out: &mut Vec<Token>,
) -> Result<(), LexError> {
    let b = line.as_bytes();
    let start_len = out.len();
    let loc = |i: usize| Loc {
        file,
        line: line_no,
        col: i as u32 + 1,
    };
    let mut i = 0;
    let mut last = 0;
    while i < b.len() {
        let c = b[i];
        match c {
            b' ' | b'\t' | b'\r' | 0x0b | 0x0c => {
                i += 1;
                continue;
            }
            b'#' | b'!' => break,
            b'{' => out.push(simple(TokenKind::Open, "{", loc(i))),
            b'}' => out.push(simple(TokenKind::Close, "}", loc(i))),
            b'"' => {
                let start = i;
                let Some(end) = b[i + 1..].iter().position(|&x| x == b'"') else {
                    out.truncate(start_len);
                    return Err(LexError {
                        loc: loc(start),
                        message: "unterminated quoted string (missing closing `\"`)".into(),
                    });
                };
                let end = i + 1 + end;
                out.push(Token {
                    kind: TokenKind::Word,
                    text: Text::from(&line[start + 1..end]),
                    quoted: true,
                    loc: loc(start),
                    len: (end - start + 1) as u32,
                });
                i = end;
            }
            _ => {
                let start = i;
                while i < b.len() && !ENDS_WORD[b[i] as usize] {
                    i += 1;
                }
                out.push(Token {
                    kind: TokenKind::Word,
                    text: Text::from(&line[start..i]),
                    quoted: false,
                    loc: loc(start),
                    len: (i - start) as u32,
                });
                last = i;
                continue;
            }
        }
        i += 1;
        last = i;
    }
    if out.len() > start_len {
        out.push(Token {
            kind: TokenKind::Eol,
            text: Text::default(),
            quoted: false,
            loc: loc(last),
            len: 1,
        });
    }
    Ok(())
}

/// Bytes that end an unquoted word on the fast path: blanks, braces, a
/// quote, and the comment characters.
const ENDS_WORD: [bool; 256] = {
    let mut t = [false; 256];
    let ends = *b" \t\r\x0b\x0c{}\"#!";
    let mut i = 0;
    while i < ends.len() {
        t[ends[i] as usize] = true;
        i += 1;
    }
    t
};

fn simple(kind: TokenKind, text: &str, loc: Loc) -> Token {
    Token {
        kind,
        text: Text::from(text),
        quoted: false,
        loc,
        len: 1,
    }
}

fn span(start: Loc, end: Loc, chars: usize) -> u32 {
    if start.file == end.file && start.line == end.line && end.col >= start.col {
        end.col - start.col + 1
    } else {
        chars.max(1) as u32
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chars(s: &str) -> Vec<SrcChar> {
        s.chars()
            .enumerate()
            .map(|(i, c)| {
                (
                    c,
                    Loc {
                        file: FileId(0),
                        line: 1,
                        col: i as u32 + 1,
                    },
                )
            })
            .collect()
    }

    fn words(s: &str) -> Vec<(TokenKind, String, u32)> {
        let line = strip_comment(&chars(s));
        let mut out = Vec::new();
        tokenize(trim(&line), &mut out).unwrap();
        out.into_iter()
            .map(|t| (t.kind, t.text.to_string(), t.loc.col))
            .collect()
    }

    #[test]
    fn braces_split_and_comments_end_lines() {
        let t = words("real_server 1.2.3.4 80 { weight 2 } # note");
        let texts: Vec<&str> = t.iter().map(|(_, s, _)| s.as_str()).collect();
        assert_eq!(
            texts,
            ["real_server", "1.2.3.4", "80", "{", "weight", "2", "}", ""]
        );
        assert_eq!(t[3].0, TokenKind::Open);
        assert_eq!(t[4].2, 26);
    }

    #[test]
    fn quotes_keep_spaces_and_comment_chars() {
        let t = words(r#"misc_path "/bin/check -a # b" ! comment"#);
        assert_eq!(t[1].1, "/bin/check -a # b");
        assert_eq!(t.len(), 3);
    }

    #[test]
    fn escaped_comment_chars_are_literal() {
        let t = words(r"auth_pass pa\#ss\!");
        assert_eq!(t[1].1, "pa#ss!");
    }

    #[test]
    fn fast_path_matches_the_general_path() {
        for line in [
            "real_server 1.2.3.4 80 { weight 2 } # note",
            "  misc_path \"/bin/check -a # b\" ! comment",
            "a}b{c\"d e\"f",
            "url{path /x}",
            "   ",
            "# only a comment",
        ] {
            let mut fast = Vec::new();
            tokenize_ascii(line, FileId(0), 1, &mut fast).unwrap();
            let slow_line = strip_comment(&chars(line));
            let mut slow = Vec::new();
            let t = trim(&slow_line);
            if !t.is_empty() {
                tokenize(t, &mut slow).unwrap();
            }
            let key = |v: &[Token]| -> Vec<(TokenKind, String, bool, u32, u32)> {
                v.iter()
                    .filter(|t| t.kind != TokenKind::Eol)
                    .map(|t| (t.kind, t.text.to_string(), t.quoted, t.loc.col, t.len))
                    .collect()
            };
            assert_eq!(key(&fast), key(&slow), "{line}");
            assert_eq!(fast.is_empty(), slow.is_empty(), "{line}");
        }
    }

    #[test]
    fn unterminated_quote_is_an_error() {
        let line = chars(r#"path "abc"#);
        let mut out = Vec::new();
        let e = tokenize(&line, &mut out).unwrap_err();
        assert_eq!(e.loc.col, 6);
    }
}
