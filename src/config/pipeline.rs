//! Reading and building side by side: the preprocessor (lexing, includes,
//! the block tree) runs on the calling thread and hands each complete
//! top-level statement to a builder thread, which turns it into the model
//! while the next one is read. Each side collects its own diagnostics; they
//! are merged back into the order a single-threaded streaming load reports
//! them in (reader diagnostics up to a statement's hand-over, then that
//! statement's build diagnostics), so results are identical.

use std::path::{Path, PathBuf};
use std::sync::mpsc::{Receiver, Sender, SyncSender};

use super::build::{BuildOptions, StreamBuilder};
use super::diag::{Diagnostic, Diagnostics};
use super::model::Config;
use super::source::SourceMap;
use super::tree::{Node, Spares};

/// Batches in flight between the threads (bounds the memory held by trees
/// read but not yet built).
pub const QUEUE: usize = 8;
/// Statements per batch: handing over one at a time would wake the builder
/// thousands of times on a large file.
const BATCH: usize = 16;

/// What the reader sends to the builder.
pub enum Msg {
    /// A file was added to the source map (the builder names files in
    /// messages such as "first defined at path:line:col").
    File(PathBuf),
    /// Complete top-level statements, in file order.
    Statements(Vec<Node>),
}

/// The reader's end: batches statements, remembers how many reader
/// diagnostics preceded each one, and takes back the emptied vectors of
/// the trees the builder is done with, for the reader to fill again (the
/// reader allocated them: freeing them on the builder thread would contend
/// for the reader's allocator arena).
pub struct Handoff {
    tx: SyncSender<Msg>,
    done: Receiver<Spares>,
    batch: Vec<Node>,
    /// The reader's diagnostic count when each statement was handed over.
    marks: Vec<usize>,
}

impl Handoff {
    pub fn new(tx: SyncSender<Msg>, done: Receiver<Spares>) -> Self {
        Handoff {
            tx,
            done,
            batch: Vec::with_capacity(BATCH),
            marks: Vec::new(),
        }
    }

    pub fn file(&mut self, path: &Path) {
        self.send_batch();
        // A send fails only when the builder is gone (it panicked); joining
        // it reports that.
        let _ = self.tx.send(Msg::File(path.to_path_buf()));
    }

    pub fn statement(&mut self, node: Node, reader_diags: usize) {
        self.marks.push(reader_diags);
        self.batch.push(node);
        if self.batch.len() >= BATCH {
            self.send_batch();
        }
    }

    fn send_batch(&mut self) {
        if !self.batch.is_empty() {
            let batch = std::mem::replace(&mut self.batch, Vec::with_capacity(BATCH));
            let _ = self.tx.send(Msg::Statements(batch));
        }
    }

    /// The emptied vectors of the statements the builder has finished
    /// with since the last call.
    pub fn take_returned(&mut self) -> impl Iterator<Item = Spares> + '_ {
        self.done.try_iter()
    }

    /// Sends the last batch and closes the channel (the builder then
    /// finishes); the marks remain.
    pub fn close(mut self) -> Vec<usize> {
        self.send_batch();
        let Handoff {
            tx, done, marks, ..
        } = self;
        drop(tx);
        // The builder returns the last trees until it finishes.
        for built in done {
            drop(built);
        }
        marks
    }
}

/// What the builder thread produces.
pub struct Built {
    pub config: Config,
    /// A definition came after a block using it (build again from the tree).
    pub order_violation: bool,
    pub diagnostics: BuiltDiagnostics,
}

/// The builder's diagnostics, with where each statement's start.
pub struct BuiltDiagnostics {
    pub diagnostics: Vec<Diagnostic>,
    /// The builder's diagnostic count before each statement was built.
    pub marks: Vec<usize>,
    /// Its count before the final cross-reference checks.
    pub finish_mark: usize,
}

/// The builder thread's loop: builds statements until the reader is done,
/// then the cross-references that need everything.
pub fn build_received(rx: Receiver<Msg>, done: Sender<Spares>, opts: &BuildOptions) -> Built {
    let mut diags = Diagnostics::default();
    let mut sources = SourceMap::default();
    let mut sb = StreamBuilder::default();
    let mut marks = Vec::new();
    for msg in rx {
        match msg {
            Msg::File(path) => {
                sources.add(&path, String::new());
            }
            Msg::Statements(batch) => {
                for node in &batch {
                    marks.push(diags.items().len());
                    sb.add(node, &sources, opts, &mut diags);
                }
                // The reader fills the emptied vectors again (it stops
                // listening only if it panicked).
                let mut spares = Spares::default();
                spares.take_tree(batch);
                let _ = done.send(spares);
            }
        }
    }
    let order_violation = sb.order_violation;
    let finish_mark = diags.items().len();
    let config = sb.finish(&sources, opts, &mut diags);
    Built {
        config,
        order_violation,
        diagnostics: BuiltDiagnostics {
            diagnostics: diags.into_items(),
            marks,
            finish_mark,
        },
    }
}

/// Interleaves the reader's and the builder's diagnostics as a
/// single-threaded load pushes them: the reader's up to each statement's
/// hand-over, that statement's build diagnostics, and finally the reader's
/// rest and the builder's cross-reference checks (duplicates dropped as it
/// would).
pub fn merge(reader: Diagnostics, reader_marks: &[usize], built: BuiltDiagnostics) -> Diagnostics {
    let mut out = Diagnostics::default();
    let mut r = reader.into_items().into_iter();
    let mut b = built.diagnostics.into_iter();
    let (mut r_at, mut b_at) = (0, 0);
    for (i, &r_mark) in reader_marks.iter().enumerate() {
        let b_end = built.marks.get(i + 1).copied().unwrap_or(built.finish_mark);
        for d in r.by_ref().take(r_mark.saturating_sub(r_at)) {
            out.push(d);
        }
        r_at = r_at.max(r_mark);
        for d in b.by_ref().take(b_end.saturating_sub(b_at)) {
            out.push(d);
        }
        b_at = b_at.max(b_end);
    }
    for d in r.chain(b) {
        out.push(d);
    }
    out
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::super::{load_streaming, load_streaming_inline, LoadOptions};

    /// Diagnostics from every stage, some at the same position: reader
    /// (lexer, tree) and builder (values, duplicates, cross-references).
    const MIXED: &str = r#"global_defs {
    router_id t
}
virtual_server_group unused {
    10.0.0.1 80
}
}
virtual_server 10.0.0.1 80 {
    lb_algo nope
    protocol TCP
    real_server 10.0.0.2 80 {
        weight x
    }
    real_server 10.0.0.2 80 {
        weight 1
    }
    bogus "unterminated
}
frobnicate {
}
virtual_server 10.0.0.3 80 {
    real_server 10.0.0.4 80 {
        TCP_CHECK {
            connect_port 0
        }
    }
"#;

    fn rendered(l: &super::super::Loaded) -> (String, Vec<String>) {
        let messages = l
            .diagnostics
            .items()
            .iter()
            .map(|d| format!("{:?}", d))
            .collect();
        (l.render_diagnostics(), messages)
    }

    #[test]
    fn two_threads_report_exactly_what_one_does() {
        let opts = LoadOptions::default();
        let read = |pre: &mut super::super::preprocess::Preprocessor<'_>| {
            pre.read_text(Path::new("mixed.conf"), MIXED.to_string())
        };
        let two = load_streaming(&opts, &read).expect("streamed");
        let one = load_streaming_inline(&opts, &read).expect("streamed");
        assert!(two.diagnostics.items().len() >= 6);
        assert_eq!(rendered(&two), rendered(&one));
        assert_eq!(
            format!("{:?}", two.config.virtual_servers),
            format!("{:?}", one.config.virtual_servers)
        );
    }

    /// Lines that draw diagnostics from every stage, alone or together:
    /// preprocessor (variables, includes, NUL, sequences), lexer, tree
    /// (stray and unowned braces, unclosed blocks) and builder.
    const FRAGMENTS: &[&str] = &[
        "global_defs {\n    router_id r1\n}\n",
        "}\n",
        "{\n",
        "virtual_server 10.0.0.1 80 {\n",
        "virtual_server 10.0.0.1 80\n{\n",
        "    lb_algo nope\n",
        "    lb_algo rr\n",
        "    real_server 10.0.0.2 80 {\n        weight x\n    }\n",
        "    real_server 10.0.0.2 80 {\n        weight 1\n    }\n",
        "    real_server 10.0.0.3 80 {\n        TCP_CHECK {\n            connect_port 0\n        }\n    }\n",
        "    bogus \"unterminated\n",
        "frobnicate {\n}\n",
        "    weight $UNDEFINED\n",
        "$DEF=10.0.0.9\n",
        "virtual_server $DEF 80 {\n real_server 10.0.0.4 80 {\n }\n}\n",
        "include /nonexistent/lvsd-pipeline-test-*.conf\n",
        "line with a NUL \0 byte\n",
        "~SEQ(i,1,3) real_server 10.0.1.$i 80 { weight 1 }\n",
        "@nobody vrrp_instance VI_1 {\n",
        "vrrp_instance VI_1 {\n    state MASTER\n    interface lo\n    virtual_router_id 300\n}\n",
        "    delay_loop 6 extra\n",
        "virtual_server_group G {\n    10.0.0.1 80\n}\n",
        "   \\\n",
        "\n",
        // A block closed and a stray one opened on one line; a parameter
        // whose two lines do the same in one expansion.
        "} {\n",
        "$ML=} \\\n{\n",
        "$ML\n",
    ];

    /// Random arrangements of `FRAGMENTS` load the same on two threads as
    /// on one (a fixed-seed generator, so a failure repeats).
    #[test]
    fn random_fragment_configs_load_the_same_on_two_threads() {
        let opts = LoadOptions::default();
        let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        let mut with_diagnostics = 0;
        for case in 0..400 {
            let n = 1 + (next() % 30) as usize;
            let text: String = (0..n)
                .map(|_| FRAGMENTS[(next() % FRAGMENTS.len() as u64) as usize])
                .collect();
            let read = |pre: &mut super::super::preprocess::Preprocessor<'_>| {
                pre.read_text(Path::new("random.conf"), text.clone())
            };
            let (two, one) = (
                load_streaming(&opts, &read),
                load_streaming_inline(&opts, &read),
            );
            match (two, one) {
                (Some(two), Some(one)) => {
                    if !one.diagnostics.items().is_empty() {
                        with_diagnostics += 1;
                    }
                    assert_eq!(rendered(&two), rendered(&one), "case {case}:\n{text}");
                    assert_eq!(
                        format!("{:?}", two.config),
                        format!("{:?}", one.config),
                        "case {case}:\n{text}"
                    );
                }
                (None, None) => {}
                (two, one) => panic!(
                    "case {case}: streamed on two threads {}, on one {}:\n{text}",
                    two.is_some(),
                    one.is_some()
                ),
            }
        }
        assert!(
            with_diagnostics > 300,
            "{with_diagnostics} cases with diagnostics"
        );
    }

    /// Every example configuration (seeds included, with their includes):
    /// the same diagnostics and the same model on two threads as on one.
    #[test]
    fn examples_load_the_same_on_two_threads() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples");
        let mut files = Vec::new();
        for dir in [root.clone(), root.join("seeds")] {
            for entry in std::fs::read_dir(&dir).expect("examples directory") {
                let path = entry.expect("directory entry").path();
                if path.extension().is_some_and(|e| e == "conf") {
                    files.push(path);
                }
            }
        }
        assert!(files.len() >= 30, "{} example configurations", files.len());
        let opts = LoadOptions::default();
        for path in &files {
            let read = |pre: &mut super::super::preprocess::Preprocessor<'_>| pre.read_main(path);
            let (Some(two), Some(one)) = (
                load_streaming(&opts, &read),
                load_streaming_inline(&opts, &read),
            ) else {
                panic!("{}: not streamed", path.display());
            };
            assert_eq!(rendered(&two), rendered(&one), "{}", path.display());
            assert_eq!(
                format!("{:?}", two.config),
                format!("{:?}", one.config),
                "{}",
                path.display()
            );
        }
    }
}
