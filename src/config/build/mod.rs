//! From the statement tree to the typed `Config`: keyword dispatch per block,
//! value checking, defaults and inheritance, cross-references, and host
//! facts (interfaces, scripts) reported as warnings.

mod checker;
mod global;
mod host;
mod lvs;
mod security;
mod values;
mod vrrp;

use std::net::IpAddr;
use std::time::Duration;

use super::diag::{closest, Diagnostics, Severity};
use super::lexer::Token;
use super::model::{Config, Origin, Pos, Script};
use super::source::{Loc, SourceMap};
use super::tree::Node;

pub use values::timer as parse_timer;

/// Options of the build step.
#[derive(Debug, Clone, Default)]
pub struct BuildOptions {
    /// Check facts of this host (interfaces, scripts) and warn when absent.
    pub host_checks: bool,
}

pub(crate) struct Builder<'a> {
    pub diags: &'a mut Diagnostics,
    pub sources: &'a SourceMap,
    pub opts: &'a BuildOptions,
}

const TOP_LEVEL: &[&str] = &[
    "global_defs",
    "SSL",
    "virtual_server_group",
    "virtual_server",
    "vrrp_instance",
    "vrrp_script",
    "vrrp_sync_group",
    "track_file",
    "vrrp_track_file",
    "static_ipaddress",
    "static_routes",
    "static_rules",
    "bfd_instance",
    "linkbeat_interfaces",
    "garp_group",
    "vrrp_track_process",
    "static_track_group",
    "net_namespace",
    "net_namespace_ipvs",
    "namespace_with_ipsets",
    "instance",
    "use_pid_dir",
    "child_wait_time",
    "include_check",
];

/// Whether a top-level block is one others refer to (built first).
fn is_definition(name: &str) -> bool {
    matches!(
        name,
        "global_defs"
            | "SSL"
            | "track_file"
            | "vrrp_track_file"
            | "vrrp_script"
            | "virtual_server_group"
    )
}

/// Builds the configuration one top-level statement at a time, so a large
/// file never needs its whole statement tree in memory. Definitions
/// (global_defs, groups, scripts, track files) must come before what uses
/// them for this to equal keepalived's order-independent result; when one
/// comes after, `order_violation` is set and the caller builds again with
/// `build` (which orders definitions first).
#[derive(Default)]
pub struct StreamBuilder {
    cfg: Config,
    sync_nodes: Vec<Node>,
    built_users: bool,
    pub order_violation: bool,
}

impl StreamBuilder {
    /// Builds one top-level statement (a `vrrp_sync_group` is kept, copied,
    /// until `finish`).
    pub fn add(
        &mut self,
        node: &Node,
        sources: &SourceMap,
        opts: &BuildOptions,
        diags: &mut Diagnostics,
    ) {
        let mut b = Builder {
            diags,
            sources,
            opts,
        };
        let name = node.name.text.as_str();
        if is_definition(name) {
            if self.built_users {
                self.order_violation = true;
            }
            add_definition(&mut b, node, &mut self.cfg);
            return;
        }
        if name == "vrrp_sync_group" {
            self.sync_nodes.push(node.clone());
            return;
        }
        if matches!(name, "virtual_server" | "vrrp_instance") {
            self.built_users = true;
        }
        add_statement(&mut b, node, &mut self.cfg);
    }

    pub fn finish(
        self,
        sources: &SourceMap,
        opts: &BuildOptions,
        diags: &mut Diagnostics,
    ) -> Config {
        let mut b = Builder {
            diags,
            sources,
            opts,
        };
        let mut cfg = self.cfg;
        let sync_nodes = self.sync_nodes;
        // What refers to instances.
        for node in &sync_nodes {
            if let Some(g) = vrrp::sync_group(&mut b, node, &cfg) {
                cfg.vrrp_sync_groups.push(g);
            }
        }
        // Cross-references that need everything.
        lvs::check_groups_used(&mut b, &cfg);
        vrrp::check_sync_members(&mut b, &sync_nodes, &cfg);
        if let Some(sd) = &cfg.global.lvs_sync_daemon {
            if let Some(inst) = &sd.instance {
                if !cfg.vrrp_instances.iter().any(|v| &v.name == inst) {
                    b.diags.global(
                        Severity::Error,
                        format!("lvs_sync_daemon refers to unknown vrrp_instance `{inst}`"),
                    );
                }
            }
            if b.opts.host_checks {
                host::check_interface_exists_global(&mut b, &sd.interface, "lvs_sync_daemon");
            }
        }
        cfg
    }
}

/// Builds the configuration from a whole statement tree: definitions first
/// (keepalived resolves references after parsing everything), then the rest
/// in file order, each statement dropped once built.
pub fn build(
    nodes: Vec<Node>,
    sources: &SourceMap,
    opts: &BuildOptions,
    diags: &mut Diagnostics,
) -> Config {
    let mut sb = StreamBuilder::default();
    let (defs, rest): (Vec<Node>, Vec<Node>) =
        nodes.into_iter().partition(|n| is_definition(&n.name.text));
    for node in defs.into_iter().chain(rest) {
        sb.add(&node, sources, opts, diags);
    }
    sb.order_violation = false;
    sb.finish(sources, opts, diags)
}

fn add_definition(b: &mut Builder<'_>, node: &Node, cfg: &mut Config) {
    match node.name.text.as_str() {
        "global_defs" => {
            if let Some(children) = b.need_block(node) {
                b.no_args(node);
                global::global_defs(b, children, &mut cfg.global);
            }
        }
        "SSL" => {
            if let Some(children) = b.need_block(node) {
                cfg.ssl = Some(global::ssl(b, children));
            }
        }
        "track_file" | "vrrp_track_file" => {
            if let Some(tf) = checker::track_file(b, node) {
                cfg.track_files.push(tf);
            }
        }
        "vrrp_script" => {
            if let Some(s) = vrrp::vrrp_script(b, node) {
                cfg.vrrp_scripts.push(s);
            }
        }
        _ => {
            if let Some(g) = lvs::vs_group(b, node) {
                cfg.vs_groups.push(g);
            }
        }
    }
}

fn add_statement(b: &mut Builder<'_>, node: &Node, cfg: &mut Config) {
    let name = node.name.text.as_str();
    match name {
        "virtual_server" => {
            if let Some(vs) = lvs::virtual_server(b, node, cfg) {
                cfg.virtual_servers.push(vs);
            }
        }
        "vrrp_instance" => {
            if let Some(vi) = vrrp::vrrp_instance(b, node, cfg) {
                cfg.vrrp_instances.push(vi);
            }
        }
        "static_ipaddress" | "static_routes" | "static_rules" => {
            if let Some(children) = b.need_block(node) {
                let lines: Vec<String> = children.iter().map(line_text).collect();
                match name {
                    "static_ipaddress" => cfg.static_ipaddress.extend(lines),
                    "static_routes" => cfg.static_routes.extend(lines),
                    _ => cfg.static_rules.extend(lines),
                }
            }
        }
        "bfd_instance" => {
            let n = node
                .args
                .first()
                .map(|a| a.text.to_string())
                .unwrap_or_default();
            b.diags.warning(
                node.loc(),
                node.name.len as usize,
                format!("bfd_instance `{n}` is parsed but BFD is not supported by lvsd"),
            );
            cfg.bfd_instances.push(n);
        }
        "linkbeat_interfaces"
        | "garp_group"
        | "vrrp_track_process"
        | "static_track_group"
        | "net_namespace"
        | "net_namespace_ipvs"
        | "namespace_with_ipsets"
        | "instance"
        | "use_pid_dir"
        | "child_wait_time"
        | "include_check" => {
            cfg.other_blocks.push(name.to_string());
        }
        _ => b.unknown(node, "at top level", TOP_LEVEL),
    }
}

/// A statement as one line of text (for blocks lvsd keeps as written).
fn line_text(n: &Node) -> String {
    std::iter::once(n.name.text.as_str())
        .chain(n.args.iter().map(|a| a.text.as_str()))
        .collect::<Vec<_>>()
        .join(" ")
}

impl Builder<'_> {
    /// `file:line:col` of a location.
    pub fn at(&self, loc: Loc) -> Pos {
        Pos(loc)
    }

    pub fn set_at(&self, node: &Node) -> Origin {
        Origin::Set(node.loc())
    }

    pub fn error(&mut self, tok: &Token, msg: impl Into<String>) {
        self.diags.error(tok.loc, tok.len as usize, msg);
    }

    pub fn warn(&mut self, tok: &Token, msg: impl Into<String>) {
        self.diags.warning(tok.loc, tok.len as usize, msg);
    }

    /// Reports an unknown keyword, suggesting the closest known one. Its
    /// block, if any, is skipped as a whole.
    pub fn unknown(&mut self, node: &Node, context: &str, known: &[&str]) {
        let word = &node.name.text;
        let msg = format!("unknown keyword `{word}` {context}");
        let msg = if node.block.is_some() {
            format!("{msg}; its block is skipped")
        } else {
            msg
        };
        match closest(word, known) {
            Some(s) => self.diags.error_help(
                node.name.loc,
                node.name.len as usize,
                msg,
                format!("did you mean `{s}`?"),
            ),
            None => self.error(&node.name, msg),
        }
    }

    /// Checks the argument count; extra arguments are flagged at the first
    /// one. Returns false when too few were given.
    pub fn arity(&mut self, node: &Node, min: usize, max: usize) -> bool {
        if node.block.is_some() {
            self.diags.error(
                node.name.loc,
                node.name.len as usize,
                format!("`{}` does not take a `{{ ... }}` block", node.name.text),
            );
        }
        if node.args.len() < min {
            let what = if min == 1 {
                "a value".to_string()
            } else {
                format!("{min} values")
            };
            self.error(&node.name, format!("`{}` needs {what}", node.name.text));
            return false;
        }
        if node.args.len() > max {
            let extra = &node.args[max];
            let msg = format!(
                "unexpected extra argument `{}` after `{}`",
                extra.text, node.name.text
            );
            self.error(extra, msg);
        }
        true
    }

    pub fn no_args(&mut self, node: &Node) {
        if let Some(extra) = node.args.first() {
            let msg = format!(
                "unexpected argument `{}`: `{}` takes none",
                extra.text, node.name.text
            );
            self.error(extra, msg);
        }
    }

    /// The block of a block keyword, or an error saying it needs one.
    pub fn need_block<'n>(&mut self, node: &'n Node) -> Option<&'n [Node]> {
        match &node.block {
            Some(b) => Some(&b.children),
            None => {
                self.error(
                    &node.name,
                    format!("`{}` needs a `{{ ... }}` block", node.name.text),
                );
                None
            }
        }
    }

    pub fn first_arg<'n>(&mut self, node: &'n Node) -> Option<&'n Token> {
        if self.arity(node, 1, 1) {
            node.args.first()
        } else {
            None
        }
    }

    pub fn timer_tok(&mut self, tok: &Token, allow_zero: bool) -> Option<Duration> {
        match values::timer(&tok.text) {
            Ok((d, rounded)) => {
                if !allow_zero && d.is_zero() {
                    self.error(tok, format!("`{}` must be greater than 0", tok.text));
                    return None;
                }
                if rounded {
                    self.warn(
                        tok,
                        format!(
                            "`{}` has more than 6 decimal places; rounded to microseconds",
                            tok.text
                        ),
                    );
                }
                Some(d)
            }
            Err(e) => {
                self.error(tok, e);
                None
            }
        }
    }

    /// A keyword with one TIMER argument.
    pub fn timer(&mut self, node: &Node, allow_zero: bool) -> Option<Duration> {
        let tok = self.first_arg(node)?;
        self.timer_tok(tok, allow_zero)
    }

    pub fn int_tok(&mut self, tok: &Token, min: i64, max: i64) -> Option<i64> {
        match values::integer(&tok.text, min, max) {
            Ok(v) => Some(v),
            Err(e) => {
                self.error(tok, e);
                None
            }
        }
    }

    /// A keyword with one integer argument in `[min, max]`.
    pub fn int(&mut self, node: &Node, min: i64, max: i64) -> Option<i64> {
        let tok = self.first_arg(node)?;
        match values::integer(&tok.text, min, max) {
            Ok(v) => Some(v),
            Err(e) => {
                self.error(tok, format!("{}: {e}", node.name.text));
                None
            }
        }
    }

    /// A flag keyword with an optional BOOL (bare keyword = true).
    pub fn flag(&mut self, node: &Node) -> bool {
        self.arity(node, 0, 1);
        match node.args.first() {
            None => true,
            Some(tok) => match values::boolean(&tok.text) {
                Ok(v) => v,
                Err(e) => {
                    self.error(tok, e);
                    false
                }
            },
        }
    }

    /// A flag keyword that takes no argument at all.
    pub fn bare(&mut self, node: &Node) -> bool {
        self.arity(node, 0, 0);
        true
    }

    pub fn ip_tok(&mut self, tok: &Token) -> Option<IpAddr> {
        match values::ip(&tok.text) {
            Ok(v) => Some(v),
            Err(e) => {
                self.error(tok, e);
                None
            }
        }
    }

    pub fn ip(&mut self, node: &Node) -> Option<IpAddr> {
        let tok = self.first_arg(node)?;
        self.ip_tok(tok)
    }

    pub fn port_tok(&mut self, tok: &Token) -> Option<u16> {
        match values::port(&tok.text) {
            Ok(v) => Some(v),
            Err(e) => {
                self.error(tok, e);
                None
            }
        }
    }

    pub fn string(&mut self, node: &Node) -> Option<String> {
        self.first_arg(node).map(|t| t.text.to_string())
    }

    /// `keyword "command args" [user [group]]` (keepalived's script syntax).
    pub fn script(&mut self, node: &Node) -> Option<Script> {
        if !self.arity(node, 1, 3) {
            return None;
        }
        let command = node.args[0].text.to_string();
        if command.trim().is_empty() {
            self.error(
                &node.args[0],
                format!("`{}`: empty command", node.name.text),
            );
            return None;
        }
        let user = node.args.get(1).map(|t| t.text.to_string());
        let group = node
            .args
            .get(2)
            .map(|t| t.text.trim_start_matches(':').to_string());
        let script = Script {
            command,
            user,
            group,
        };
        if self.opts.host_checks {
            host::check_script(self, &node.args[0], &script);
        }
        Some(script)
    }
}
