//! keepalived.conf front end: lexing, preprocessing, the block tree, and the
//! typed model with keepalived's defaults and inheritance. Pure: no tokio,
//! sockets or netlink, so `lvsd -t` and fuzzers stay light.

pub mod build;
pub mod diag;
pub mod glob;
pub mod lexer;
pub mod model;
pub mod origin;
pub mod pipeline;
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
    if let Some(loaded) = load_streaming(opts, &read) {
        return loaded;
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

/// Reads and builds side by side (see `pipeline`); on one thread if a
/// second cannot be started. None when a definition came after a block
/// using it.
fn load_streaming(
    opts: &LoadOptions,
    read: &impl Fn(&mut preprocess::Preprocessor<'_>),
) -> Option<Loaded> {
    let (tx, rx) = std::sync::mpsc::sync_channel(pipeline::QUEUE);
    let (done_tx, done_rx) = std::sync::mpsc::channel();
    std::thread::scope(|scope| {
        let spawned = std::thread::Builder::new()
            .name("config-build".into())
            .spawn_scoped(scope, move || {
                pipeline::build_received(rx, done_tx, &opts.build)
            });
        let Ok(builder) = spawned else {
            return load_streaming_inline(opts, read);
        };
        let mut diags = Diagnostics::default();
        let (sources, marks) = {
            let mut pre = preprocess::Preprocessor::new(&opts.preprocess, &mut diags);
            pre.hand_off(pipeline::Handoff::new(tx, done_rx));
            read(&mut pre);
            pre.finish_handoff()
        };
        let built = match builder.join() {
            Ok(b) => b,
            Err(panic) => std::panic::resume_unwind(panic),
        };
        if built.order_violation {
            return None;
        }
        Some(Loaded {
            config: built.config,
            diagnostics: pipeline::merge(diags, &marks, built.diagnostics),
            sources,
        })
    })
}

/// `load_streaming` on the calling thread alone.
fn load_streaming_inline(
    opts: &LoadOptions,
    read: &impl Fn(&mut preprocess::Preprocessor<'_>),
) -> Option<Loaded> {
    let mut diags = Diagnostics::default();
    let streamed = {
        let mut pre = preprocess::Preprocessor::new(&opts.preprocess, &mut diags);
        pre.stream_into(build::StreamBuilder::default(), opts.build.clone());
        read(&mut pre);
        pre.finish_streaming()
    };
    match streamed {
        Some((config, sources, false)) => Some(Loaded {
            config,
            diagnostics: diags,
            sources,
        }),
        _ => None,
    }
}
