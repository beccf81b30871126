//! Preprocessing: files and includes, line continuation, `$NAME=value`
//! definitions and substitution, `@id` / `@^id` conditional lines, and
//! `~SEQ` / `~SEQx` / `~LST` expansion. Produces the flat token stream the
//! block parser reads, every token still carrying its original position.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use super::build::{BuildOptions, StreamBuilder};
use super::diag::{Class, Diagnostic, Diagnostics, Severity};
use super::glob;
use super::lexer::{self, PlainLine, SrcChar, Token, TokenKind};
use super::model::Config;
use super::pipeline::Handoff;
use super::source::{FileId, Loc, SourceMap};
use super::tree::{Node, TreeBuilder};

/// Knobs of preprocessing that come from the command line and the host.
#[derive(Debug, Clone)]
pub struct PreprocessOptions {
    /// `-i ID`; defaults to the first label of the host name.
    pub config_id: String,
    /// Seed for `${_RANDOM}` (fixed in tests).
    pub random_seed: u64,
    /// Most lines that expansions (parameters, ~SEQ, ~LST) may produce.
    pub max_expanded_lines: u64,
}

impl Default for PreprocessOptions {
    fn default() -> Self {
        PreprocessOptions {
            config_id: default_config_id(),
            random_seed: std::process::id() as u64,
            max_expanded_lines: MAX_EXPANDED_LINES,
        }
    }
}

/// The first label of the host name (keepalived's default config id).
pub fn default_config_id() -> String {
    let mut buf = [0u8; 256];
    // SAFETY: gethostname writes at most buf.len() bytes into buf.
    let rc = unsafe { libc::gethostname(buf.as_mut_ptr() as *mut libc::c_char, buf.len()) };
    if rc != 0 {
        return String::new();
    }
    let end = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
    let name = String::from_utf8_lossy(&buf[..end]).to_string();
    name.split('.').next().unwrap_or("").to_string()
}

const MAX_DEPTH: usize = 40;
const MAX_INCLUDE_DEPTH: usize = 32;
const MAX_SEQ_VALUES: i64 = 1_000_000;
/// Most lines that expansions (parameters, ~SEQ, ~LST) may produce in all.
pub const MAX_EXPANDED_LINES: u64 = 2_000_000;
/// Longest line parameter substitution may produce (keepalived: 1 KiB+).
const MAX_LINE_CHARS: usize = 64 * 1024;

#[derive(Debug, Clone)]
struct Param {
    lines: Vec<Vec<SrcChar>>,
}

/// keepalived's `include_check` levels.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct IncludeCheck {
    readable: bool,
    matched: bool,
    wildcard_match: bool,
    brace_match: bool,
}

impl IncludeCheck {
    fn all() -> Self {
        IncludeCheck {
            readable: true,
            matched: true,
            wildcard_match: true,
            brace_match: true,
        }
    }

    fn union(self, o: Self) -> Self {
        IncludeCheck {
            readable: self.readable || o.readable,
            matched: self.matched || o.matched,
            wildcard_match: self.wildcard_match || o.wildcard_match,
            brace_match: self.brace_match || o.brace_match,
        }
    }
}

/// Reads a configuration and everything it includes into tokens.
pub struct Preprocessor<'a> {
    opts: &'a PreprocessOptions,
    pub sources: SourceMap,
    diags: &'a mut Diagnostics,
    params: HashMap<String, Param>,
    /// Tokens of the line being processed, fed to `tree` after each line.
    tokens: Vec<Token>,
    tree: TreeBuilder,
    /// When set, complete top-level statements are built as they arrive.
    stream: Option<(StreamBuilder, BuildOptions)>,
    /// When set, complete top-level statements go to a builder thread.
    handoff: Option<Handoff>,
    /// Canonical paths of the files being read (include cycle detection).
    stack: Vec<PathBuf>,
    /// Directory of each file being read (`${_PWD}`, relative includes).
    dirs: Vec<PathBuf>,
    include_check: IncludeCheck,
    rng: u64,
    /// Lines processed so far (bounded by MAX_EXPANDED_LINES).
    lines_processed: u64,
    budget_reported: bool,
}

impl<'a> Preprocessor<'a> {
    pub fn new(opts: &'a PreprocessOptions, diags: &'a mut Diagnostics) -> Self {
        Preprocessor {
            opts,
            sources: SourceMap::default(),
            diags,
            params: HashMap::new(),
            tokens: Vec::new(),
            tree: TreeBuilder::default(),
            stream: None,
            handoff: None,
            stack: Vec::new(),
            dirs: Vec::new(),
            include_check: IncludeCheck::default(),
            rng: opts.random_seed | 1,
            lines_processed: 0,
            budget_reported: false,
        }
    }

    /// Reads the main configuration file. A missing file is an error of
    /// class `MissingFile` (exit code 4).
    pub fn read_main(&mut self, path: &Path) {
        match std::fs::read(path) {
            Ok(bytes) => {
                let text = self.decode(bytes, path, None);
                self.read_text(path, text);
            }
            Err(e) => self.diags.push(Diagnostic {
                severity: Severity::Error,
                class: Class::MissingFile,
                loc: None,
                span: 1,
                message: format!("cannot read configuration file {}: {e}", path.display()),
                help: None,
            }),
        }
    }

    /// Reads configuration text that claims to come from `path` (relative
    /// includes resolve against its directory).
    pub fn read_text(&mut self, path: &Path, text: String) {
        let canonical = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
        let dir = path
            .parent()
            .map(|p| {
                if p.as_os_str().is_empty() {
                    PathBuf::from(".")
                } else {
                    p.to_path_buf()
                }
            })
            .unwrap_or_else(|| PathBuf::from("."));
        let id = self.sources.add(path, text);
        if let Some(h) = self.handoff.as_mut() {
            h.file(path);
        }
        self.stack.push(canonical);
        self.dirs.push(dir);
        let saved_check = self.include_check;
        self.read_lines(id);
        self.include_check = saved_check;
        self.dirs.pop();
        self.stack.pop();
    }

    /// The statement tree and the sources it came from.
    pub fn finish(mut self) -> (Vec<Node>, SourceMap) {
        self.flush();
        let nodes = self.tree.finish(self.diags);
        (nodes, self.sources)
    }

    /// Builds top-level statements as soon as they are complete (see
    /// `StreamBuilder`), instead of keeping the whole tree.
    pub fn stream_into(&mut self, builder: StreamBuilder, opts: BuildOptions) {
        self.stream = Some((builder, opts));
    }

    /// Finishes a streaming read: the configuration, the sources, and whether
    /// a definition came after its users (then build again with `build`).
    pub fn finish_streaming(mut self) -> Option<(Config, SourceMap, bool)> {
        self.flush();
        let rest = std::mem::take(&mut self.tree).finish(self.diags);
        let (mut sb, opts) = self.stream.take()?;
        for node in rest {
            sb.add(&node, &self.sources, &opts, self.diags);
        }
        let violation = sb.order_violation;
        let cfg = sb.finish(&self.sources, &opts, self.diags);
        Some((cfg, self.sources, violation))
    }

    /// Sends top-level statements to a builder thread as soon as they are
    /// complete (see `pipeline`).
    pub fn hand_off(&mut self, handoff: Handoff) {
        self.handoff = Some(handoff);
    }

    /// Finishes a read whose statements went to a builder thread: the
    /// sources, and the reader's diagnostic count at each hand-over (the
    /// channel is closed, so the builder finishes).
    pub fn finish_handoff(mut self) -> (SourceMap, Vec<usize>) {
        self.flush();
        let rest = std::mem::take(&mut self.tree).finish(self.diags);
        let mut marks = Vec::new();
        if let Some(mut h) = self.handoff.take() {
            for node in rest {
                h.statement(node, self.diags.items().len());
            }
            marks = h.close();
        }
        (self.sources, marks)
    }

    /// Hands the tokens produced so far to the tree builder.
    fn flush(&mut self) {
        for tok in self.tokens.drain(..) {
            self.tree.feed(tok, self.diags);
        }
        if let Some((sb, opts)) = self.stream.as_mut() {
            for node in self.tree.take_completed() {
                sb.add(&node, &self.sources, opts, self.diags);
            }
        } else if let Some(h) = self.handoff.as_mut() {
            for node in self.tree.take_completed() {
                h.statement(node, self.diags.items().len());
            }
            for spares in h.take_returned() {
                self.tree.reuse(spares);
            }
        }
    }

    fn decode(&mut self, bytes: Vec<u8>, path: &Path, via: Option<Loc>) -> String {
        match String::from_utf8(bytes) {
            Ok(s) => s,
            Err(e) => {
                let msg = format!(
                    "{} is not valid UTF-8 (byte offset {}); invalid bytes replaced",
                    path.display(),
                    e.utf8_error().valid_up_to()
                );
                match via {
                    Some(loc) => self.diags.warning(loc, 1, msg),
                    None => self.diags.push(Diagnostic {
                        severity: Severity::Warning,
                        class: Class::Config,
                        loc: None,
                        span: 1,
                        message: msg,
                        help: None,
                    }),
                }
                String::from_utf8_lossy(e.as_bytes()).into_owned()
            }
        }
    }

    fn read_lines(&mut self, file: FileId) {
        let text = self.sources.take_text(file);
        let mut pending: Vec<SrcChar> = Vec::new();
        let mut multi_def: Option<(String, Vec<Vec<SrcChar>>)> = None;
        let mut pos = 0;
        let mut line_no: u32 = 0;
        while pos <= text.len() {
            line_no += 1;
            if multi_def.is_none() && pending.is_empty() {
                let next =
                    match lexer::tokenize_plain_line(&text, pos, file, line_no, &mut self.tokens) {
                        PlainLine::Tokens { next } => Some(next),
                        PlainLine::Failed { next, error } => {
                            self.diags.error(error.loc, 1, error.message);
                            Some(next)
                        }
                        PlainLine::NotPlain => None,
                    };
                if let Some(next) = next {
                    self.flush();
                    pos = next;
                    continue;
                }
            }
            let end = text[pos..].find('\n').map_or(text.len(), |k| pos + k);
            let raw = &text[pos..end];
            pos = end + 1;
            let raw = raw.strip_suffix('\r').unwrap_or(raw);
            if raw.contains('\0') {
                self.diags.error(
                    Loc {
                        file,
                        line: line_no,
                        col: 1,
                    },
                    1,
                    "line contains a NUL byte",
                );
                continue;
            }
            let chars: Vec<SrcChar> = raw
                .chars()
                .enumerate()
                .map(|(i, c)| {
                    (
                        c,
                        Loc {
                            file,
                            line: line_no,
                            col: i as u32 + 1,
                        },
                    )
                })
                .collect();
            let stripped = lexer::strip_comment(&chars);
            let t = lexer::trim(&stripped);
            let continues = t.last().map(|&(c, _)| c == '\\').unwrap_or(false);
            let body = if continues {
                lexer::trim(&t[..t.len() - 1])
            } else {
                t
            };

            if let Some((_, lines)) = multi_def.as_mut() {
                if t.is_empty() {
                    continue;
                }
                if !body.is_empty() {
                    lines.push(body.to_vec());
                }
                if !continues {
                    if let Some((name, lines)) = multi_def.take() {
                        self.params.insert(name, Param { lines });
                    }
                }
                continue;
            }
            if continues {
                if pending.is_empty() {
                    if let Some((name, first)) = definition_head(body) {
                        let mut lines = Vec::new();
                        if !first.is_empty() {
                            lines.push(first.to_vec());
                        }
                        multi_def = Some((name, lines));
                        continue;
                    }
                }
                pending.extend_from_slice(body);
                if let Some(&(_, loc)) = body.last() {
                    pending.push((' ', loc));
                }
                continue;
            }
            if t.is_empty() && pending.is_empty() {
                continue;
            }
            let line: Vec<SrcChar> = if pending.is_empty() {
                t.to_vec()
            } else {
                let mut l = std::mem::take(&mut pending);
                l.extend_from_slice(t);
                l
            };
            self.process_raw(line);
            self.flush();
        }
        if !pending.is_empty() {
            let line = std::mem::take(&mut pending);
            self.process_raw(line);
        }
        if let Some((name, lines)) = multi_def.take() {
            self.params.insert(name, Param { lines });
        }
        self.sources.restore_text(file, text);
    }

    /// A complete physical (or continued) line: includes are recognised
    /// here, before conditionals and substitution, as keepalived does.
    fn process_raw(&mut self, line: Vec<SrcChar>) {
        let line = lexer::trim(&line).to_vec();
        if let Some(kind) = include_kind(&line) {
            self.include(kind, &line);
            return;
        }
        if starts_with_word(&line, "include_check") {
            self.set_include_check(&line);
        }
        self.process_line(line, 0);
    }

    fn process_line(&mut self, line: Vec<SrcChar>, depth: usize) {
        let t = lexer::trim(&line);
        let Some(&(first, first_loc)) = t.first() else {
            return;
        };
        self.lines_processed += 1;
        let limit = self.opts.max_expanded_lines;
        if self.lines_processed > limit {
            if !self.budget_reported {
                self.budget_reported = true;
                self.diags.error(
                    first_loc,
                    1,
                    format!("expansions produce more than {limit} lines; stopping here"),
                );
            }
            return;
        }
        if depth > MAX_DEPTH {
            self.diags.error(
                first_loc,
                1,
                "parameter expansion nested too deeply (a definition refers to itself?)",
            );
            return;
        }
        if first == '@' {
            let end = t
                .iter()
                .position(|(c, _)| c.is_whitespace())
                .unwrap_or(t.len());
            let id: String = t[1..end].iter().map(|(c, _)| *c).collect();
            let keep = match id.strip_prefix('^') {
                Some(neg) => neg != self.opts.config_id,
                None => id == self.opts.config_id,
            };
            if id.is_empty() || id == "^" {
                self.diags
                    .error(first_loc, 1, "`@` must be followed by a config id");
                return;
            }
            if keep {
                let rest = lexer::trim(&t[end..]).to_vec();
                self.process_line(rest, depth + 1);
            }
            return;
        }
        if first == '$' {
            if let Some((name, value)) = definition_head(t) {
                let lines = if value.is_empty() {
                    vec![Vec::new()]
                } else {
                    vec![value.to_vec()]
                };
                self.params.insert(name, Param { lines });
                return;
            }
        }
        if first == '~' {
            let text: String = t.iter().take(6).map(|(c, _)| *c).collect();
            if text.starts_with("~SEQx(") {
                self.expand_seq(t, 6, true, depth);
                return;
            }
            if text.starts_with("~SEQ(") {
                self.expand_seq(t, 5, false, depth);
                return;
            }
            if text.starts_with("~LST(") {
                self.expand_lst(t, depth);
                return;
            }
        }
        if let Some(lines) = self.substitute(t) {
            for l in lines {
                self.process_line(l, depth + 1);
            }
            return;
        }
        if let Err(e) = lexer::tokenize(t, &mut self.tokens) {
            self.diags.error(e.loc, 1, e.message);
        }
    }

    /// Replaces `$NAME` (followed by blank or end) and `${NAME}` with their
    /// values. Returns `None` when nothing was replaced.
    fn substitute(&mut self, t: &[SrcChar]) -> Option<Vec<Vec<SrcChar>>> {
        if !t.iter().any(|(c, _)| *c == '$') {
            return None;
        }
        let mut out: Vec<Vec<SrcChar>> = vec![Vec::new()];
        let mut replaced = false;
        let mut i = 0;
        while i < t.len() {
            let (c, loc) = t[i];
            if c != '$' {
                push_char(&mut out, (c, loc));
                i += 1;
                continue;
            }
            let (name_and_args, next) = if t.get(i + 1).map(|x| x.0) == Some('{') {
                match t[i + 2..].iter().position(|(c, _)| *c == '}') {
                    Some(p) => {
                        let inner: String = t[i + 2..i + 2 + p].iter().map(|(c, _)| *c).collect();
                        (Some(inner), i + 2 + p + 1)
                    }
                    None => (None, i + 1),
                }
            } else {
                let mut j = i + 1;
                while j < t.len() && (t[j].0.is_ascii_alphanumeric() || t[j].0 == '_') {
                    j += 1;
                }
                let name: String = t[i + 1..j].iter().map(|(c, _)| *c).collect();
                let delimited = j == t.len() || t[j].0.is_whitespace();
                if !name.is_empty() && !name.starts_with(|c: char| c.is_ascii_digit()) && delimited
                {
                    (Some(name), j)
                } else {
                    (None, i + 1)
                }
            };
            let value = name_and_args.and_then(|n| self.lookup(&n, loc));
            match value {
                Some(lines) => {
                    replaced = true;
                    let added: usize = lines.iter().map(Vec::len).sum();
                    let current: usize = out.iter().map(Vec::len).sum();
                    if current + added > MAX_LINE_CHARS {
                        self.diags.error(
                            loc,
                            1,
                            format!("parameter substitution makes this line longer than {MAX_LINE_CHARS} characters (a definition that refers to itself?)"),
                        );
                        return Some(Vec::new());
                    }
                    let single = lines.len() == 1;
                    for (k, vline) in lines.into_iter().enumerate() {
                        if k > 0 {
                            out.push(Vec::new());
                        }
                        for (vc, vloc) in vline {
                            push_char(&mut out, (vc, if single { loc } else { vloc }));
                        }
                    }
                    i = next;
                }
                None => {
                    push_char(&mut out, (c, loc));
                    i += 1;
                }
            }
        }
        replaced.then_some(out)
    }

    /// The value of a parameter or built-in (`_PWD`, `_INSTANCE`, `_HASH`,
    /// `_BANG`, `_RANDOM [MIN [MAX]]`, `_ENV NAME`).
    fn lookup(&mut self, spec: &str, loc: Loc) -> Option<Vec<Vec<SrcChar>>> {
        let mut words = spec.split_whitespace();
        let name = words.next()?;
        let single = |s: String| Some(vec![s.chars().map(|c| (c, loc)).collect()]);
        match name {
            "_PWD" => {
                let dir = self
                    .dirs
                    .last()
                    .cloned()
                    .unwrap_or_else(|| PathBuf::from("."));
                let abs = std::fs::canonicalize(&dir).unwrap_or(dir);
                single(abs.display().to_string())
            }
            "_INSTANCE" => single(self.opts.config_id.clone()),
            "_HASH" => single("#".into()),
            "_BANG" => single("!".into()),
            "_RANDOM" => {
                let min: u64 = words.next().and_then(|w| w.parse().ok()).unwrap_or(0);
                let max: u64 = words.next().and_then(|w| w.parse().ok()).unwrap_or(32767);
                let (lo, hi) = if min <= max { (min, max) } else { (max, min) };
                let r = self.next_random();
                single((lo + r % (hi - lo + 1)).to_string())
            }
            "_ENV" => {
                let var = words.next()?;
                match std::env::var(var) {
                    Ok(v) => single(v),
                    Err(_) => {
                        self.diags.warning(
                            loc,
                            1,
                            format!("environment variable `{var}` is not set; `${{_ENV {var}}}` is empty"),
                        );
                        single(String::new())
                    }
                }
            }
            _ => {
                if words.next().is_some() {
                    return None;
                }
                self.params.get(name).map(|p| p.lines.clone())
            }
        }
    }

    fn next_random(&mut self) -> u64 {
        // xorshift64*: enough for `${_RANDOM}`; seeded per process.
        let mut x = self.rng;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.rng = x;
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// `~SEQ(var, [start,] [step,] end) rest`.
    fn expand_seq(&mut self, t: &[SrcChar], open: usize, hex: bool, depth: usize) {
        let loc = t[0].1;
        let Some((args, rest)) = self.split_spec(t, open) else {
            return;
        };
        let word = if hex { "~SEQx" } else { "~SEQ" };
        if args.len() < 2 || args.len() > 4 {
            self.diags.error(
                loc,
                word.len(),
                format!(
                    "{word}(var, [start,] [step,] end) takes 2 to 4 arguments, found {}",
                    args.len()
                ),
            );
            return;
        }
        let var = args[0].trim().to_string();
        let mut nums = Vec::new();
        for a in &args[1..] {
            match parse_c_integer(a.trim()) {
                Some(n) => nums.push(n),
                None => {
                    self.diags.error(
                        loc,
                        word.len(),
                        format!("{word}: `{}` is not an integer", a.trim()),
                    );
                    return;
                }
            }
        }
        let (start, step, end) = match nums.as_slice() {
            [end] => (if *end < 0 { -1 } else { 1 }, None, *end),
            [start, end] => (*start, None, *end),
            [start, step, end] => (*start, Some(*step), *end),
            _ => return,
        };
        let step = step.unwrap_or(if end >= start { 1 } else { -1 });
        if step == 0 {
            self.diags
                .error(loc, word.len(), format!("{word}: step must not be 0"));
            return;
        }
        let count = (end - start) / step + 1;
        if count > MAX_SEQ_VALUES {
            self.diags.error(
                loc,
                word.len(),
                format!("{word}: {count} values is more than the limit of {MAX_SEQ_VALUES}"),
            );
            return;
        }
        let mut v = start;
        while (step > 0 && v <= end) || (step < 0 && v >= end) {
            let text = if hex { format!("{v:x}") } else { v.to_string() };
            self.set_param(&var, &text, loc);
            self.process_line(rest.clone(), depth + 1);
            v += step;
        }
    }

    /// `~LST(var, v1, v2, ...) rest` or `~LST({a, b}, {1, 2}, {3, 4}) rest`.
    fn expand_lst(&mut self, t: &[SrcChar], depth: usize) {
        let loc = t[0].1;
        let Some((args, rest)) = self.split_spec(t, 5) else {
            return;
        };
        if args.len() < 2 {
            self.diags
                .error(loc, 4, "~LST(var, value, ...) needs at least one value");
            return;
        }
        let vars = unbrace(&args[0]);
        for group in &args[1..] {
            let values = unbrace(group);
            if values.len() != vars.len() {
                self.diags.error(
                    loc,
                    4,
                    format!(
                        "~LST: `{}` has {} values for {} variables",
                        group.trim(),
                        values.len(),
                        vars.len()
                    ),
                );
                return;
            }
            for (var, value) in vars.iter().zip(values.iter()) {
                self.set_param(var, value, loc);
            }
            self.process_line(rest.clone(), depth + 1);
        }
    }

    fn set_param(&mut self, name: &str, value: &str, loc: Loc) {
        self.params.insert(
            name.to_string(),
            Param {
                lines: vec![value.chars().map(|c| (c, loc)).collect()],
            },
        );
    }

    /// Splits `~XXX(args) rest` into the top-level comma-separated args (with
    /// parameters substituted) and the rest of the line.
    fn split_spec(&mut self, t: &[SrcChar], open: usize) -> Option<(Vec<String>, Vec<SrcChar>)> {
        let loc = t[0].1;
        let mut depth = 0;
        let mut close = None;
        for (i, (c, _)) in t.iter().enumerate().skip(open) {
            match c {
                '{' => depth += 1,
                '}' => depth -= 1,
                ')' if depth == 0 => {
                    close = Some(i);
                    break;
                }
                _ => {}
            }
        }
        let Some(close) = close else {
            self.diags.error(
                loc,
                open - 1,
                "missing `)` closing the sequence specification",
            );
            return None;
        };
        let spec = &t[open..close];
        let spec = self
            .substitute(spec)
            .and_then(|mut l| if l.len() == 1 { l.pop() } else { None })
            .unwrap_or_else(|| spec.to_vec());
        let spec: String = spec.iter().map(|(c, _)| *c).collect();
        let mut args = Vec::new();
        let mut cur = String::new();
        let mut d = 0;
        for c in spec.chars() {
            match c {
                '{' => {
                    d += 1;
                    cur.push(c);
                }
                '}' => {
                    d -= 1;
                    cur.push(c);
                }
                ',' if d == 0 => args.push(std::mem::take(&mut cur)),
                _ => cur.push(c),
            }
        }
        args.push(cur);
        let rest = lexer::trim(&t[close + 1..]).to_vec();
        if rest.is_empty() {
            self.diags.warning(
                loc,
                1,
                "sequence expansion has nothing after its specification",
            );
        }
        Some((args, rest))
    }

    fn set_include_check(&mut self, line: &[SrcChar]) {
        let text: String = line.iter().map(|(c, _)| *c).collect();
        let opts: Vec<&str> = text.split_whitespace().skip(1).collect();
        if opts.is_empty() {
            self.include_check = IncludeCheck::all();
            return;
        }
        for o in opts {
            let (on, name) = match o.strip_prefix('-') {
                Some(n) => (false, n),
                None => (true, o.strip_prefix('+').unwrap_or(o)),
            };
            let c = &mut self.include_check;
            match name {
                "readable" => c.readable = on,
                "match" => c.matched = on,
                "wildcard_match" => c.wildcard_match = on,
                "brace_match" => c.brace_match = on,
                _ => {}
            }
        }
    }

    fn include(&mut self, kind: IncludeCheck, line: &[SrcChar]) {
        // The pattern is the raw rest of the line: braces in it are glob
        // alternatives, not blocks.
        let kw_end = line
            .iter()
            .position(|(c, _)| c.is_whitespace())
            .unwrap_or(line.len());
        let keyword = Token {
            kind: TokenKind::Word,
            text: line[..kw_end]
                .iter()
                .map(|(c, _)| *c)
                .collect::<String>()
                .into(),
            quoted: false,
            loc: line[0].1,
            len: kw_end as u32,
        };
        let rest = lexer::trim(&line[kw_end..]);
        let mut text: String = rest.iter().map(|(c, _)| *c).collect();
        if text.len() >= 2 && text.starts_with('"') && text.ends_with('"') {
            text = text[1..text.len() - 1].to_string();
        }
        if text.is_empty() || text.contains(char::is_whitespace) {
            self.diags.error(
                keyword.loc,
                keyword.len as usize,
                format!("`{}` takes exactly one file name or pattern", keyword.text),
            );
            return;
        }
        let pattern_tok = &Token {
            kind: TokenKind::Word,
            len: rest.len() as u32,
            loc: rest[0].1,
            quoted: false,
            text: text.into(),
        };
        if self.stack.len() >= MAX_INCLUDE_DEPTH {
            self.diags.error(
                pattern_tok.loc,
                pattern_tok.len as usize,
                format!("includes nested more than {MAX_INCLUDE_DEPTH} deep"),
            );
            return;
        }
        let check = self.include_check.union(kind);
        let strict = check != IncludeCheck::default();
        let base = self
            .dirs
            .last()
            .cloned()
            .unwrap_or_else(|| PathBuf::from("."));
        let alternatives = glob::expand_braces(&pattern_tok.text);
        let mut files: Vec<PathBuf> = Vec::new();
        for alt in &alternatives {
            let p = Path::new(alt);
            let full = if p.is_absolute() {
                p.to_path_buf()
            } else {
                base.join(p)
            };
            let wild = glob::has_wildcard(alt);
            let matched = glob::glob(&full);
            if matched.is_empty() {
                let required = check.wildcard_match
                    || (check.matched && !wild)
                    || (check.brace_match && alternatives.len() > 1);
                let msg = format!(
                    "include `{}`: no file matches {}",
                    pattern_tok.text,
                    full.display()
                );
                if required {
                    self.missing(pattern_tok, msg);
                } else if !wild {
                    self.diags
                        .warning(pattern_tok.loc, pattern_tok.len as usize, msg);
                }
            }
            files.extend(matched);
        }
        for f in files {
            let canonical = std::fs::canonicalize(&f).unwrap_or_else(|_| f.clone());
            if let Some(pos) = self.stack.iter().position(|p| p == &canonical) {
                let chain: Vec<String> = self.stack[pos..]
                    .iter()
                    .chain(std::iter::once(&canonical))
                    .map(|p| p.display().to_string())
                    .collect();
                self.diags.error(
                    pattern_tok.loc,
                    pattern_tok.len as usize,
                    format!("include cycle: {}", chain.join(" -> ")),
                );
                continue;
            }
            match std::fs::read(&f) {
                Ok(bytes) => {
                    let text = self.decode(bytes, &f, Some(pattern_tok.loc));
                    self.read_text(&f, text);
                }
                Err(e) => {
                    let msg = format!("cannot read included file {}: {e}", f.display());
                    if strict && check.readable {
                        self.missing(pattern_tok, msg);
                    } else {
                        self.diags
                            .warning(pattern_tok.loc, pattern_tok.len as usize, msg);
                    }
                }
            }
        }
    }

    fn missing(&mut self, tok: &Token, message: String) {
        self.diags.push(Diagnostic {
            severity: Severity::Error,
            class: Class::MissingFile,
            loc: Some(tok.loc),
            span: tok.len,
            message,
            help: None,
        });
    }
}

fn push_char(out: &mut [Vec<SrcChar>], c: SrcChar) {
    if let Some(last) = out.last_mut() {
        last.push(c);
    }
}

/// `$NAME=value` at the start of a line: the name and the value.
fn definition_head(t: &[SrcChar]) -> Option<(String, &[SrcChar])> {
    if t.first()?.0 != '$' {
        return None;
    }
    let mut j = 1;
    while j < t.len() && (t[j].0.is_ascii_alphanumeric() || t[j].0 == '_') {
        j += 1;
    }
    if j == 1 || t.get(j)?.0 != '=' || t[1].0.is_ascii_digit() {
        return None;
    }
    let name: String = t[1..j].iter().map(|(c, _)| *c).collect();
    Some((name, lexer::trim(&t[j + 1..])))
}

fn starts_with_word(t: &[SrcChar], word: &str) -> bool {
    let n = word.chars().count();
    t.len() >= n
        && t.iter().zip(word.chars()).all(|((c, _), w)| *c == w)
        && t.get(n).map(|(c, _)| c.is_whitespace()).unwrap_or(true)
}

fn include_kind(t: &[SrcChar]) -> Option<IncludeCheck> {
    let r = IncludeCheck {
        readable: true,
        ..Default::default()
    };
    for (word, check) in [
        ("include", IncludeCheck::default()),
        ("includer", r),
        ("includem", IncludeCheck { matched: true, ..r }),
        (
            "includew",
            IncludeCheck {
                wildcard_match: true,
                ..r
            },
        ),
        (
            "includeb",
            IncludeCheck {
                brace_match: true,
                ..r
            },
        ),
        ("includea", IncludeCheck::all()),
    ] {
        if starts_with_word(t, word) {
            return Some(check);
        }
    }
    None
}

/// `{a, b}` → [a, b]; `a` → [a].
fn unbrace(s: &str) -> Vec<String> {
    let s = s.trim();
    let inner = s
        .strip_prefix('{')
        .and_then(|x| x.strip_suffix('}'))
        .unwrap_or(s);
    inner.split(',').map(|x| x.trim().to_string()).collect()
}

/// `strtol(s, NULL, 0)` for a whole string: decimal, `0x` hex, `0` octal.
pub fn parse_c_integer(s: &str) -> Option<i64> {
    let (neg, body) = match s.strip_prefix('-') {
        Some(b) => (true, b),
        None => (false, s.strip_prefix('+').unwrap_or(s)),
    };
    let v = if let Some(h) = body.strip_prefix("0x").or_else(|| body.strip_prefix("0X")) {
        i64::from_str_radix(h, 16).ok()?
    } else if body.len() > 1 && body.starts_with('0') {
        i64::from_str_radix(&body[1..], 8).ok()?
    } else {
        body.parse::<i64>().ok()?
    };
    Some(if neg { -v } else { v })
}
