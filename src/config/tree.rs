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
    nodes: Vec<Node>,
    /// The statement whose block this level is (None for the top level or a
    /// stray `{`).
    owner: Option<(Node, Loc)>,
}

/// Builds the statement tree incrementally: tokens are fed as the
/// preprocessor produces them, so the whole token stream never has to exist
/// at once. Unbalanced braces are reported: a stray `}` where no block is
/// open, and each block left open at the end of input (naming the line that
/// opened it).
pub struct TreeBuilder {
    levels: Vec<Level>,
    current: Option<Node>,
    /// Arguments of `current`, moved into it (exactly sized) when it ends.
    args: Vec<Token>,
    /// A statement that just ended at end of line may still take a `{` that
    /// stands on the next line.
    can_attach: bool,
}

impl Default for TreeBuilder {
    fn default() -> Self {
        TreeBuilder {
            levels: vec![Level {
                nodes: Vec::new(),
                owner: None,
            }],
            current: None,
            args: Vec::new(),
            can_attach: false,
        }
    }
}

impl TreeBuilder {
    pub fn feed(&mut self, tok: Token, diags: &mut Diagnostics) {
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
                    push_node(&mut self.levels, node);
                    self.can_attach = true;
                }
            }
            TokenKind::Open => {
                let owner = match self.take_current() {
                    Some(node) => Some(node),
                    None if self.can_attach => self
                        .levels
                        .last_mut()
                        .and_then(|l| l.nodes.pop())
                        .filter(|n| n.block.is_none()),
                    None => None,
                };
                match owner {
                    Some(node) => self.levels.push(Level {
                        nodes: Vec::new(),
                        owner: Some((node, tok.loc)),
                    }),
                    None => {
                        diags.error(
                            tok.loc,
                            1,
                            "unexpected `{`: no keyword before it to own the block; its contents are skipped",
                        );
                        self.levels.push(Level {
                            nodes: Vec::new(),
                            owner: None,
                        });
                    }
                }
                self.can_attach = false;
            }
            TokenKind::Close => {
                if let Some(node) = self.take_current() {
                    push_node(&mut self.levels, node);
                }
                if self.levels.len() == 1 {
                    diags.error(tok.loc, 1, "unexpected `}`: no block is open here");
                } else if let Some(level) = self.levels.pop() {
                    close_level(&mut self.levels, level);
                }
                self.can_attach = false;
            }
        }
    }

    /// Top-level statements that are complete and can no longer change
    /// (a statement that just ended may still take a `{` on the next line).
    pub fn take_completed(&mut self) -> Vec<Node> {
        if self.levels.len() != 1 || self.current.is_some() {
            return Vec::new();
        }
        let keep = usize::from(self.can_attach);
        let nodes = &mut self.levels[0].nodes;
        if nodes.len() <= keep {
            return Vec::new();
        }
        let n = nodes.len() - keep;
        nodes.drain(..n).collect()
    }

    /// The statement being read, with its arguments.
    fn take_current(&mut self) -> Option<Node> {
        let mut node = self.current.take()?;
        node.args = self.args.drain(..).collect();
        Some(node)
    }

    pub fn finish(mut self, diags: &mut Diagnostics) -> Vec<Node> {
        if let Some(node) = self.take_current() {
            push_node(&mut self.levels, node);
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
            close_level(&mut self.levels, level);
        }
        self.levels.pop().map(|l| l.nodes).unwrap_or_default()
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

fn push_node(levels: &mut [Level], node: Node) {
    if let Some(l) = levels.last_mut() {
        l.nodes.push(node);
    }
}

fn close_level(levels: &mut [Level], level: Level) {
    if let Some((mut node, open)) = level.owner {
        node.block = Some(Block {
            open,
            children: level.nodes,
        });
        push_node(levels, node);
    }
}
