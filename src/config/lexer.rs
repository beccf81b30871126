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

/// What `tokenize_plain_line` made of a line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PlainLine {
    /// Tokens pushed (with `Eol` if the line had any); the next line
    /// starts at byte `next`.
    Tokens { next: usize },
    /// A lexing error (nothing of the line pushed); the next line starts
    /// at byte `next`.
    Failed { next: usize, error: LexError },
    /// Not a plain line: the preprocessor must look at it. Nothing pushed.
    NotPlain,
}

/// Fast path for the line of `text` that starts at byte `start`, when it
/// is plain: ASCII without NUL, `$` or backslash anywhere (comments
/// included), and not starting with `@`, `~` or `include`. One pass finds
/// the line's end, checks that it is plain, strips the comment and splits
/// the tokens, with columns taken from byte offsets. A `\r` before the
/// newline is whitespace like any other.
pub fn tokenize_plain_line(
    text: &str,
    start: usize,
    file: FileId,
    line_no: u32,
    out: &mut Vec<Token>,
) -> PlainLine {
    let b = text.as_bytes();
    let base = out.len();
    let loc = |i: usize| Loc {
        file,
        line: line_no,
        col: (i - start) as u32 + 1,
    };
    let not_plain = |out: &mut Vec<Token>| {
        out.truncate(base);
        PlainLine::NotPlain
    };
    let mut i = start;
    // After the first token's first byte is checked.
    let mut first = true;
    let mut last = start;
    let mut error = None;
    loop {
        i = skip_class(b, i, WS);
        let Some(&c) = b.get(i) else {
            break;
        };
        let class = CLASS[c as usize];
        if first && class != NL {
            if c == b'@' || c == b'~' || b[i..].starts_with(b"include") {
                return not_plain(out);
            }
            first = false;
        }
        match class {
            NL => break,
            SPECIAL => return not_plain(out),
            COMMENT => {
                // The rest of the line is a comment: find its end, and
                // still refuse what a plain line may not hold.
                i += 1;
                while i < b.len() && CLASS[b[i] as usize] < NL {
                    i += 1;
                }
                if b.get(i).is_some_and(|&x| CLASS[x as usize] == SPECIAL) {
                    return not_plain(out);
                }
                break;
            }
            OPEN | CLOSE => {
                let kind = if class == OPEN {
                    TokenKind::Open
                } else {
                    TokenKind::Close
                };
                let text = if class == OPEN { "{" } else { "}" };
                out.push(simple(kind, text, loc(i)));
                i += 1;
                last = i;
            }
            QUOTE => {
                let open = i;
                i += 1;
                while i < b.len() && !matches!(CLASS[b[i] as usize], QUOTE | NL | SPECIAL) {
                    i += 1;
                }
                match b.get(i).map(|&x| CLASS[x as usize]) {
                    Some(QUOTE) => {
                        out.push(Token {
                            kind: TokenKind::Word,
                            text: Text::from(&text[open + 1..i]),
                            quoted: true,
                            loc: loc(open),
                            len: (i - open + 1) as u32,
                        });
                        i += 1;
                        last = i;
                    }
                    Some(SPECIAL) => return not_plain(out),
                    _ => {
                        error = Some(LexError {
                            loc: loc(open),
                            message: "unterminated quoted string (missing closing `\"`)".into(),
                        });
                        break;
                    }
                }
            }
            _ => {
                let word = i;
                i = skip_class(b, i, WORD);
                out.push(Token {
                    kind: TokenKind::Word,
                    text: Text::from(&text[word..i]),
                    quoted: false,
                    loc: loc(word),
                    len: (i - word) as u32,
                });
                last = i;
            }
        }
    }
    let next = i + 1;
    if let Some(error) = error {
        out.truncate(base);
        return PlainLine::Failed { next, error };
    }
    if out.len() > base {
        out.push(Token {
            kind: TokenKind::Eol,
            text: Text::default(),
            quoted: false,
            loc: loc(last),
            len: 1,
        });
    }
    PlainLine::Tokens { next }
}

/// The first position from `i` on whose byte is not of `class` (WS or
/// WORD). Eight bytes are classified at a time (one load, then bit
/// arithmetic on the word; loads are what an emulated CPU pays most for),
/// the tail byte by byte.
fn skip_class(b: &[u8], mut i: usize, class: u8) -> usize {
    while let Some(chunk) = b.get(i..i + 8) {
        let Ok(bytes) = <[u8; 8]>::try_from(chunk) else {
            break;
        };
        let x = u64::from_le_bytes(bytes);
        let other = if class == WS {
            !ws_bytes(x)
        } else {
            !word_bytes(x)
        } & HIGH;
        if other != 0 {
            return i + (other.trailing_zeros() / 8) as usize;
        }
        i += 8;
    }
    while i < b.len() && CLASS[b[i] as usize] == class {
        i += 1;
    }
    i
}

const LOW7: u64 = 0x7f7f_7f7f_7f7f_7f7f;
const HIGH: u64 = 0x8080_8080_8080_8080;
const ONES: u64 = 0x0101_0101_0101_0101;

/// Bit 7 of each byte of `x` that lies in `lo..=hi` (both below 0x80);
/// exact, no carry crosses a byte.
fn in_range(x: u64, lo: u8, hi: u8) -> u64 {
    let low = x & LOW7;
    let at_least_lo = low + (0x80 - lo as u64) * ONES;
    let above_hi = low + (0x7f - hi as u64) * ONES;
    at_least_lo & !above_hi & !x & HIGH
}

/// Bit 7 of each whitespace byte of `x` (class WS).
fn ws_bytes(x: u64) -> u64 {
    (in_range(x, 0x09, 0x0d) & !in_range(x, 0x0a, 0x0a)) | in_range(x, b' ', b' ')
}

/// Bit 7 of each word byte of `x` (class WORD): everything below 0x80 but
/// NUL, blanks and newline (0x09-0x0d), space, `!`, `"`, `#`, `$`,
/// backslash and braces.
fn word_bytes(x: u64) -> u64 {
    let other = in_range(x, 0x00, 0x00)
        | in_range(x, 0x09, 0x0d)
        | in_range(x, b' ', b'$')
        | in_range(x, b'\\', b'\\')
        | in_range(x, b'{', b'{')
        | in_range(x, b'}', b'}');
    !other & !x & HIGH
}

/// Byte classes of the fast path, ordered so that `< NL` means "inside a
/// comment, go on".
const WORD: u8 = 0;
const WS: u8 = 1;
const OPEN: u8 = 2;
const CLOSE: u8 = 3;
const QUOTE: u8 = 4;
const COMMENT: u8 = 5;
const NL: u8 = 6;
/// Bytes a plain line may not hold: NUL, `$`, backslash, non-ASCII.
const SPECIAL: u8 = 7;

const CLASS: [u8; 256] = {
    let mut t = [WORD; 256];
    let mut i = 0x80;
    while i < 256 {
        t[i] = SPECIAL;
        i += 1;
    }
    t[0] = SPECIAL;
    t[b'$' as usize] = SPECIAL;
    t[b'\\' as usize] = SPECIAL;
    t[b'\n' as usize] = NL;
    t[b' ' as usize] = WS;
    t[b'\t' as usize] = WS;
    t[b'\r' as usize] = WS;
    t[0x0b] = WS;
    t[0x0c] = WS;
    t[b'{' as usize] = OPEN;
    t[b'}' as usize] = CLOSE;
    t[b'"' as usize] = QUOTE;
    t[b'#' as usize] = COMMENT;
    t[b'!' as usize] = COMMENT;
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
            let text = format!("{line}\nnext");
            let r = tokenize_plain_line(&text, 0, FileId(0), 1, &mut fast);
            assert_eq!(
                r,
                PlainLine::Tokens {
                    next: line.len() + 1
                },
                "{line}"
            );
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

    /// The fast path against the general one (comment stripping, trimming,
    /// tokenizing) on lines built from every byte class it tells apart:
    /// the same tokens, columns and end of line, the same error, or the
    /// line left to the preprocessor exactly when it is not plain.
    #[test]
    fn fast_path_agrees_with_the_general_path_on_random_lines() {
        use proptest::prelude::*;
        use proptest::test_runner::{Config, TestRunner};
        let pieces = prop::sample::select(vec![
            "a", "word", "10.0.0.1", " ", "\t", "\r", "\x0b", "{", "}", "\"", "#", "!", "$", "\\",
            "@", "~", "include", "\0", "é", "x\ny",
        ]);
        let mut runner = TestRunner::new(Config {
            cases: 3000,
            ..Config::default()
        });
        let result = runner.run(&prop::collection::vec(pieces, 0..12), |parts| {
            let text: String = parts.concat();
            let line = text.split('\n').next().unwrap_or("");
            let mut fast = Vec::new();
            let r = tokenize_plain_line(&text, 0, FileId(3), 7, &mut fast);
            let b = line.as_bytes();
            let trimmed = line.trim_start_matches(|c: char| c.is_ascii_whitespace() || c == '\x0b');
            let plain = !b
                .iter()
                .any(|&c| c >= 0x80 || c == b'$' || c == b'\\' || c == 0)
                && !trimmed.starts_with('@')
                && !trimmed.starts_with('~')
                && !trimmed.starts_with("include");
            if !plain {
                prop_assert_eq!(r, PlainLine::NotPlain);
                prop_assert!(fast.is_empty());
                return Ok(());
            }
            let mut slow = Vec::new();
            let chars: Vec<SrcChar> = line
                .chars()
                .enumerate()
                .map(|(i, c)| {
                    let loc = Loc {
                        file: FileId(3),
                        line: 7,
                        col: i as u32 + 1,
                    };
                    (c, loc)
                })
                .collect();
            let stripped = strip_comment(&chars);
            let t = trim(&stripped);
            let slow_result = if t.is_empty() {
                Ok(())
            } else {
                tokenize(t, &mut slow)
            };
            let next = line.len() + 1;
            match (r, slow_result) {
                (PlainLine::Tokens { next: n }, Ok(())) => {
                    prop_assert_eq!(n, next);
                    let key = |v: &[Token]| -> Vec<(TokenKind, String, bool, u32, u32)> {
                        v.iter()
                            .map(|t| (t.kind, t.text.to_string(), t.quoted, t.loc.col, t.len))
                            .collect()
                    };
                    prop_assert_eq!(key(&fast), key(&slow));
                    prop_assert!(fast
                        .iter()
                        .all(|t| t.loc.file == FileId(3) && t.loc.line == 7));
                }
                (PlainLine::Failed { next: n, error }, Err(e)) => {
                    prop_assert_eq!(n, next);
                    prop_assert_eq!(error, e);
                    prop_assert!(fast.is_empty());
                }
                (r, s) => prop_assert!(false, "fast {:?} but general {:?} for {:?}", r, s, line),
            }
            Ok(())
        });
        if let Err(e) = result {
            panic!("{e}");
        }
    }

    /// Eight bytes at a time classify every byte value as the table does.
    #[test]
    fn word_and_blank_runs_match_the_class_table() {
        for v in 0..=255u8 {
            for class in [WS, WORD] {
                for at in 0..8 {
                    let mut bytes = [if class == WS { b' ' } else { b'a' }; 8];
                    bytes[at] = v;
                    let in_class = CLASS[v as usize] == class;
                    let want = if in_class { 8 } else { at };
                    let mut line = bytes.to_vec();
                    line.extend_from_slice(b"\n\n\n\n\n\n\n\n");
                    assert_eq!(skip_class(&line, 0, class), want, "byte {v:#x} at {at}");
                }
            }
        }
        let text = b"    real_server 10.0.0.1 8080 {";
        assert_eq!(skip_class(text, 0, WS), 4);
        assert_eq!(skip_class(text, 4, WORD), 15);
        assert_eq!(skip_class(text, 16, WORD), 24);
        assert_eq!(skip_class(text, 25, WORD), 29);
    }

    #[test]
    fn unterminated_quote_is_an_error() {
        let line = chars(r#"path "abc"#);
        let mut out = Vec::new();
        let e = tokenize(&line, &mut out).unwrap_err();
        assert_eq!(e.loc.col, 6);
    }
}
