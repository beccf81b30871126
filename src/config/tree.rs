//! The block tree: statements (`keyword args...`) and their `{ ... }` blocks,
//! built from the token stream with keepalived's brace rules (a `{` may stand
//! on the next line; `}` may share a line with anything).

use super::diag::Diagnostics;
use super::lexer::{Token, TokenKind};
use super::source::Loc;

/// One statement: its keyword, arguments, and optional block.
#[derive(Debug, Clone)]
pub struct Node {
    pub name: Token,
    pub args: Vec<Token>,
    pub block: Option<Block>,
}

#[derive(Debug, Clone)]
pub struct Block {
    pub open: Loc,
    pub children: Vec<Node>,
}

impl Node {
    pub fn loc(&self) -> Loc {
        self.name.loc
    }

    pub fn arg_texts(&self) -> Vec<&str> {
        self.args.iter().map(|a| a.text.as_str()).collect()
    }

    /// The block's statements, or nothing.
    pub fn children(&self) -> &[Node] {
        self.block
            .as_ref()
            .map(|b| b.children.as_slice())
            .unwrap_or(&[])
    }
}

struct Level {
    /// Where this level's statements start in `TreeBuilder::nodes`.
    start: usize,
    /// Where the block's `{` stands, when the statement just before
    /// `start` owns it (None for the top level or a stray `{`).
    open: Option<Loc>,
}

/// Builds the statement tree incrementally: tokens are fed as the
/// preprocessor produces them, so the whole token stream never has to exist
/// at once. Unbalanced braces are reported: a stray `}` where no block is
/// open, and each block left open at the end of input (naming the line that
/// opened it).
///
/// The statements of every open level share one stack (`nodes`), in
/// order: a statement is pushed when its keyword arrives and stays in
/// place while its arguments and block are read (a block's owner is the
/// statement just before the block's first one). A block's statements are
/// moved out in one vector when it closes, so a block costs at most one
/// allocation however many statements it has. Trees handed back with
/// `reuse` (a streaming reader's statements once built) give their emptied
/// vectors to the next statements, so a long file is read with few
/// allocations at all.
pub struct TreeBuilder {
    levels: Vec<Level>,
    nodes: Vec<Node>,
    /// The last of `nodes` is a statement still taking arguments.
    reading: bool,
    /// Arguments of the statement being read, moved into it when it ends.
    args: Vec<Token>,
    /// A statement that just ended at end of line may still take a `{` that
    /// stands on the next line.
    can_attach: bool,
    /// Emptied vectors of recycled trees.
    spares: Spares,
}

/// Emptied argument and block vectors of trees that are no longer needed,
/// for new statements to fill instead of allocating.
#[derive(Default)]
pub struct Spares {
    args: Vec<Vec<Token>>,
    blocks: Vec<Vec<Node>>,
}

/// Most emptied vectors of each kind kept for reuse (bounds what a huge
/// recycled tree can leave behind).
const SPARE_MAX: usize = 1 << 16;

impl Spares {
    /// Empties `nodes` and everything below them into reusable vectors.
    pub fn take_tree(&mut self, mut nodes: Vec<Node>) {
        for node in nodes.drain(..) {
            let Node {
                mut args, block, ..
            } = node;
            if args.capacity() > 0 && self.args.len() < SPARE_MAX {
                args.clear();
                self.args.push(args);
            }
            if let Some(block) = block {
                self.take_tree(block.children);
            }
        }
        if nodes.capacity() > 0 && self.blocks.len() < SPARE_MAX {
            self.blocks.push(nodes);
        }
    }

    /// Moves `other`'s vectors into this collection.
    pub fn absorb(&mut self, mut other: Spares) {
        let room = SPARE_MAX.saturating_sub(self.args.len());
        other.args.truncate(room);
        self.args.append(&mut other.args);
        let room = SPARE_MAX.saturating_sub(self.blocks.len());
        other.blocks.truncate(room);
        self.blocks.append(&mut other.blocks);
    }
}

impl Default for TreeBuilder {
    fn default() -> Self {
        TreeBuilder {
            levels: vec![Level {
                start: 0,
                open: None,
            }],
            nodes: Vec::new(),
            reading: false,
            args: Vec::new(),
            can_attach: false,
            spares: Spares::default(),
        }
    }
}

impl TreeBuilder {
    pub fn feed(&mut self, tok: Token, diags: &mut Diagnostics) {
        match tok.kind {
            TokenKind::Word => {
                if self.reading {
                    self.args.push(tok);
                } else {
                    self.nodes.push(Node {
                        name: tok,
                        args: Vec::new(),
                        block: None,
                    });
                    self.reading = true;
                }
                self.can_attach = false;
            }
            TokenKind::Eol => {
                if self.end_statement() {
                    self.can_attach = true;
                }
            }
            TokenKind::Open => {
                // The owner: the statement being read, or one that ended
                // at the end of the previous line (it has no block yet).
                let owned = self.end_statement()
                    || (self.can_attach && self.nodes.len() > self.level_start());
                if !owned {
                    diags.error(
                        tok.loc,
                        1,
                        "unexpected `{`: no keyword before it to own the block; its contents are skipped",
                    );
                }
                self.levels.push(Level {
                    start: self.nodes.len(),
                    open: owned.then_some(tok.loc),
                });
                self.can_attach = false;
            }
            TokenKind::Close => {
                self.end_statement();
                if self.levels.len() == 1 {
                    diags.error(tok.loc, 1, "unexpected `}`: no block is open here");
                } else if let Some(level) = self.levels.pop() {
                    self.close_level(level);
                }
                self.can_attach = false;
            }
        }
    }

    /// Top-level statements that are complete and can no longer change
    /// (a statement that just ended may still take a `{` on the next line).
    pub fn take_completed(&mut self) -> std::vec::Drain<'_, Node> {
        if self.levels.len() != 1 || self.reading {
            return self.nodes.drain(0..0);
        }
        let keep = usize::from(self.can_attach);
        let n = self.nodes.len().saturating_sub(keep);
        self.nodes.drain(..n)
    }

    /// Where the innermost open level's statements start.
    fn level_start(&self) -> usize {
        self.levels.last().map(|l| l.start).unwrap_or(0)
    }

    /// Ends the statement being read, if any: its arguments move into it.
    fn end_statement(&mut self) -> bool {
        if !self.reading {
            return false;
        }
        self.reading = false;
        if !self.args.is_empty() {
            // A spare vector, or a new one of exactly the right size;
            // `args` keeps its buffer for the next statement.
            let needed = self.args.len();
            let mut args = self
                .spares
                .args
                .pop()
                .unwrap_or_else(|| Vec::with_capacity(needed));
            args.append(&mut self.args);
            if let Some(node) = self.nodes.last_mut() {
                node.args = args;
            }
        }
        true
    }

    /// Ends a level: its statements become its owner's block (a stray
    /// `{`'s contents are dropped).
    fn close_level(&mut self, level: Level) {
        let start = level.start.min(self.nodes.len());
        let Some(open) = level.open else {
            self.nodes.truncate(start);
            return;
        };
        // A spare vector, or a new one of exactly the right size.
        let needed = self.nodes.len() - start;
        let mut children = self
            .spares
            .blocks
            .pop()
            .unwrap_or_else(|| Vec::with_capacity(needed));
        children.extend(self.nodes.drain(start..));
        if let Some(owner) = start.checked_sub(1).and_then(|i| self.nodes.get_mut(i)) {
            owner.block = Some(Block { open, children });
        }
    }

    /// Takes back the emptied vectors of statements that are no longer
    /// needed, for the statements still to come.
    pub fn reuse(&mut self, spares: Spares) {
        self.spares.absorb(spares);
    }

    pub fn finish(mut self, diags: &mut Diagnostics) -> Vec<Node> {
        self.end_statement();
        while self.levels.len() > 1 {
            let Some(level) = self.levels.pop() else {
                break;
            };
            if level.open.is_some() {
                if let Some(owner) = level.start.checked_sub(1).and_then(|i| self.nodes.get(i)) {
                    diags.error_help(
                        owner.name.loc,
                        owner.name.len as usize,
                        format!("`{}` block is never closed", owner.name.text),
                        "missing `}` for the block opened here",
                    );
                }
            }
            self.close_level(level);
        }
        self.nodes
    }
}

/// Builds the statement tree from a complete token stream.
pub fn build(tokens: Vec<Token>, diags: &mut Diagnostics) -> Vec<Node> {
    let mut t = TreeBuilder::default();
    for tok in tokens {
        t.feed(tok, diags);
    }
    t.finish(diags)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::source::FileId;
    use crate::config::text::Text;
    use proptest::prelude::*;
    use proptest::test_runner::{Config, TestRunner};

    // The builder as it was before statements were built in place (each
    // statement moved through `current` and each block owner through its
    // level): the reference the faster builder must agree with.
    struct Level {
        start: usize,
        owner: Option<(Node, Loc)>,
    }

    struct Reference {
        levels: Vec<Level>,
        nodes: Vec<Node>,
        current: Option<Node>,
        args: Vec<Token>,
        can_attach: bool,
    }

    impl Default for Reference {
        fn default() -> Self {
            Reference {
                levels: vec![Level {
                    start: 0,
                    owner: None,
                }],
                nodes: Vec::new(),
                current: None,
                args: Vec::new(),
                can_attach: false,
            }
        }
    }

    impl Reference {
        fn feed(&mut self, tok: Token, diags: &mut Diagnostics) {
            match tok.kind {
                TokenKind::Word => {
                    match self.current.as_mut() {
                        Some(_) => self.args.push(tok),
                        None => {
                            self.current = Some(Node {
                                name: tok,
                                args: Vec::new(),
                                block: None,
                            })
                        }
                    }
                    self.can_attach = false;
                }
                TokenKind::Eol => {
                    if let Some(node) = self.take_current() {
                        self.nodes.push(node);
                        self.can_attach = true;
                    }
                }
                TokenKind::Open => {
                    let owner = match self.take_current() {
                        Some(node) => Some(node),
                        None if self.can_attach => self.pop_last().filter(|n| n.block.is_none()),
                        None => None,
                    };
                    let start = self.nodes.len();
                    match owner {
                        Some(node) => self.levels.push(Level {
                            start,
                            owner: Some((node, tok.loc)),
                        }),
                        None => {
                            diags.error(
                                tok.loc,
                                1,
                                "unexpected `{`: no keyword before it to own the block; its contents are skipped",
                            );
                            self.levels.push(Level { start, owner: None });
                        }
                    }
                    self.can_attach = false;
                }
                TokenKind::Close => {
                    if let Some(node) = self.take_current() {
                        self.nodes.push(node);
                    }
                    if self.levels.len() == 1 {
                        diags.error(tok.loc, 1, "unexpected `}`: no block is open here");
                    } else if let Some(level) = self.levels.pop() {
                        self.close_level(level);
                    }
                    self.can_attach = false;
                }
            }
        }

        fn take_completed(&mut self) -> Vec<Node> {
            if self.levels.len() != 1 || self.current.is_some() {
                return Vec::new();
            }
            let keep = usize::from(self.can_attach);
            if self.nodes.len() <= keep {
                return Vec::new();
            }
            let n = self.nodes.len() - keep;
            self.nodes.drain(..n).collect()
        }

        fn pop_last(&mut self) -> Option<Node> {
            let start = self.levels.last().map(|l| l.start).unwrap_or(0);
            if self.nodes.len() > start {
                self.nodes.pop()
            } else {
                None
            }
        }

        fn take_current(&mut self) -> Option<Node> {
            let mut node = self.current.take()?;
            if !self.args.is_empty() {
                // An exactly sized copy; `args` keeps its buffer for the next
                // statement.
                node.args = std::mem::take(&mut self.args);
            }
            Some(node)
        }

        fn close_level(&mut self, level: Level) {
            let children = self.nodes.split_off(level.start.min(self.nodes.len()));
            if let Some((mut node, open)) = level.owner {
                node.block = Some(Block { open, children });
                self.nodes.push(node);
            }
        }

        fn finish(mut self, diags: &mut Diagnostics) -> Vec<Node> {
            if let Some(node) = self.take_current() {
                self.nodes.push(node);
            }
            while self.levels.len() > 1 {
                let Some(level) = self.levels.pop() else {
                    break;
                };
                if let Some((node, _)) = &level.owner {
                    diags.error_help(
                        node.name.loc,
                        node.name.len as usize,
                        format!("`{}` block is never closed", node.name.text),
                        "missing `}` for the block opened here",
                    );
                }
                self.close_level(level);
            }
            self.nodes
        }
    }

    fn token(kind: TokenKind, n: usize) -> Token {
        let text = match kind {
            TokenKind::Word => format!("w{n}"),
            TokenKind::Open => "{".into(),
            TokenKind::Close => "}".into(),
            TokenKind::Eol => String::new(),
        };
        Token {
            kind,
            text: Text::from(text.as_str()),
            quoted: false,
            loc: Loc {
                file: FileId(0),
                line: n as u32 + 1,
                col: 1,
            },
            len: 1,
        }
    }

    fn heads(d: &Diagnostics) -> Vec<String> {
        d.items()
            .iter()
            .map(|x| format!("{}:{} {}", x.loc.map_or(0, |l| l.line), x.span, x.message))
            .collect()
    }

    /// Random token streams (with completed statements taken at random
    /// moments, and some built trees recycled): the same statements, in
    /// the same order and shape, and the same diagnostics as the
    /// reference builder.
    #[test]
    fn agrees_with_the_reference_builder() {
        let step = prop_oneof![
            4 => Just(0u8), // word
            3 => Just(1u8), // end of line
            2 => Just(2u8), // {
            2 => Just(3u8), // }
            1 => Just(4u8), // take the completed statements
        ];
        let mut runner = TestRunner::new(Config {
            cases: 2000,
            ..Config::default()
        });
        let result = runner.run(&prop::collection::vec(step, 0..60), |steps| {
            let (mut fast, mut reference) = (TreeBuilder::default(), Reference::default());
            let (mut d_fast, mut d_ref) = (Diagnostics::default(), Diagnostics::default());
            let (mut got, mut want) = (Vec::new(), Vec::new());
            for (n, s) in steps.iter().enumerate() {
                let kind = match s {
                    0 => TokenKind::Word,
                    1 => TokenKind::Eol,
                    2 => TokenKind::Open,
                    3 => TokenKind::Close,
                    _ => {
                        let taken: Vec<Node> = fast.take_completed().collect();
                        got.extend(taken.iter().map(|x| format!("{x:?}")));
                        want.extend(reference.take_completed().iter().map(|x| format!("{x:?}")));
                        // Every other batch comes back for reuse.
                        if n % 2 == 0 {
                            let mut spares = Spares::default();
                            spares.take_tree(taken);
                            fast.reuse(spares);
                        }
                        continue;
                    }
                };
                fast.feed(token(kind, n), &mut d_fast);
                reference.feed(token(kind, n), &mut d_ref);
            }
            got.extend(fast.finish(&mut d_fast).iter().map(|x| format!("{x:?}")));
            want.extend(
                reference
                    .finish(&mut d_ref)
                    .iter()
                    .map(|x| format!("{x:?}")),
            );
            prop_assert_eq!(got, want);
            prop_assert_eq!(heads(&d_fast), heads(&d_ref));
            Ok(())
        });
        if let Err(e) = result {
            panic!("{e}");
        }
    }
}
