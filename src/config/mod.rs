//! keepalived.conf front end: lexing, preprocessing, the block tree, and the
//! typed model with keepalived's defaults and inheritance. Pure: no tokio,
//! sockets or netlink, so `lvsd -t` and fuzzers stay light.

pub mod build;
pub mod diag;
pub mod glob;
pub mod lexer;
pub mod model;
pub mod origin;
pub mod preprocess;
pub mod source;
pub mod text;
pub mod tree;

use std::path::Path;

pub use build::BuildOptions;
pub use diag::{Diagnostic, Diagnostics, Severity};
pub use model::Config;
pub use preprocess::PreprocessOptions;
pub use source::SourceMap;

/// How to load a configuration.
#[derive(Debug, Clone, Default)]
pub struct LoadOptions {
    pub preprocess: PreprocessOptions,
    pub build: BuildOptions,
}

/// A loaded configuration with everything said about it.
#[derive(Debug)]
pub struct Loaded {
    pub config: Config,
    pub diagnostics: Diagnostics,
    pub sources: SourceMap,
}

impl Loaded {
    pub fn has_errors(&self) -> bool {
        self.diagnostics.has_errors()
    }

    /// Diagnostics rendered with source lines and carets.
    pub fn render_diagnostics(&self) -> String {
        self.diagnostics.render(&self.sources)
    }
}

/// Loads a configuration file and everything it includes.
pub fn load_file(path: &Path, opts: &LoadOptions) -> Loaded {
    load_with(opts, |pre| pre.read_main(path))
}

/// Loads configuration text as if read from `path` (includes resolve
/// relative to its directory).
pub fn load_str(path: &Path, text: &str, opts: &LoadOptions) -> Loaded {
    load_with(opts, |pre| pre.read_text(path, text.to_string()))
}

fn load_with(opts: &LoadOptions, read: impl Fn(&mut preprocess::Preprocessor<'_>)) -> Loaded {
    // Fast path: build each top-level block as soon as it is read.
    let mut diags = Diagnostics::default();
    let streamed = {
        let mut pre = preprocess::Preprocessor::new(&opts.preprocess, &mut diags);
        pre.stream_into(build::StreamBuilder::default(), opts.build.clone());
        read(&mut pre);
        pre.finish_streaming()
    };
    if let Some((config, sources, false)) = streamed {
        return Loaded {
            config,
            diagnostics: diags,
            sources,
        };
    }
    // A definition came after a block using it: build from the whole tree,
    // definitions first, as keepalived resolves references.
    let mut diags = Diagnostics::default();
    let (nodes, sources) = {
        let mut pre = preprocess::Preprocessor::new(&opts.preprocess, &mut diags);
        read(&mut pre);
        pre.finish()
    };
    let config = build::build(nodes, &sources, &opts.build, &mut diags);
    Loaded {
        config,
        diagnostics: diags,
        sources,
    }
}
