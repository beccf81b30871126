//! `Text`: the string of a token, stored inline when short (almost every
//! keyword, number and address), so lexing a large configuration does not
//! allocate once per token.

use std::fmt;
use std::ops::Deref;

const INLINE: usize = 22;

/// A token's string. The representation is private: an inline buffer is
/// only ever filled from a whole `&str`, so it always holds valid UTF-8.
#[derive(Clone)]
pub struct Text(Repr);

#[derive(Clone)]
enum Repr {
    Inline { len: u8, buf: [u8; INLINE] },
    Heap(Box<str>),
}

impl Text {
    pub fn as_str(&self) -> &str {
        match &self.0 {
            Repr::Inline { len, buf } => {
                let bytes = buf.get(..*len as usize).unwrap_or(&[]);
                // SAFETY: `Repr::Inline` is built only in `From<&str>`, which
                // copies the whole of a `&str` (valid UTF-8) and its length;
                // the fields are private, so nothing else can change them.
                // Skipping the re-validation matters: every keyword match
                // and value parse reads a token's text.
                unsafe { std::str::from_utf8_unchecked(bytes) }
            }
            Repr::Heap(s) => s,
        }
    }

    /// Whether the text is stored inline (no heap allocation).
    pub fn is_inline(&self) -> bool {
        matches!(self.0, Repr::Inline { .. })
    }
}

impl Default for Text {
    fn default() -> Self {
        Text(Repr::Inline {
            len: 0,
            buf: [0; INLINE],
        })
    }
}

impl From<&str> for Text {
    fn from(s: &str) -> Self {
        if s.len() <= INLINE {
            let mut buf = [0u8; INLINE];
            buf[..s.len()].copy_from_slice(s.as_bytes());
            Text(Repr::Inline {
                len: s.len() as u8,
                buf,
            })
        } else {
            Text(Repr::Heap(s.into()))
        }
    }
}

impl From<String> for Text {
    fn from(s: String) -> Self {
        if s.len() <= INLINE {
            Text::from(s.as_str())
        } else {
            Text(Repr::Heap(s.into_boxed_str()))
        }
    }
}

impl Deref for Text {
    type Target = str;
    fn deref(&self) -> &str {
        self.as_str()
    }
}

impl PartialEq for Text {
    fn eq(&self, other: &Self) -> bool {
        self.as_str() == other.as_str()
    }
}

impl Eq for Text {}

impl PartialEq<str> for Text {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}

impl PartialEq<&str> for Text {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

impl PartialEq<String> for Text {
    fn eq(&self, other: &String) -> bool {
        self.as_str() == other.as_str()
    }
}

impl PartialEq<Text> for String {
    fn eq(&self, other: &Text) -> bool {
        self.as_str() == other.as_str()
    }
}

impl fmt::Display for Text {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for Text {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_and_long() {
        let a = Text::from("real_server");
        assert!(a.is_inline());
        assert_eq!(a, "real_server");
        let long = "x".repeat(40);
        let b = Text::from(long.clone());
        assert!(!b.is_inline());
        assert_eq!(b.as_str(), long);
        assert_eq!(Text::from("é€").len(), "é€".len());
    }
}
