//! Loading rules files the way Falco does: read them in order into one collection and
//! recompile the whole collection after each file, so every file gets its own result.

use crate::collection::Collection;
use crate::compile::{compile, CompileOptions};
use crate::diag::{Code, Diagnostic, ErrorCode, Location};
use crate::loader::read_rules;
use crate::ruleset::Ruleset;
use std::path::Path;

/// One rules file's name and content.
#[derive(Clone, Debug)]
pub struct RulesSource {
    pub name: String,
    pub content: Result<String, String>,
}

impl RulesSource {
    pub fn new(name: impl Into<String>, content: impl Into<String>) -> RulesSource {
        RulesSource {
            name: name.into(),
            content: Ok(content.into()),
        }
    }

    /// Reads a file; a read failure becomes a `LOAD_ERR_FILE_READ` when loaded.
    pub fn read(path: &Path) -> RulesSource {
        let content = std::fs::read(path)
            .map_err(|e| e.to_string())
            .and_then(|bytes| {
                String::from_utf8(bytes).map_err(|e| format!("not valid UTF-8: {e}"))
            });
        RulesSource {
            name: path.display().to_string(),
            content,
        }
    }
}

/// What loading one file produced.
#[derive(Clone, Debug)]
pub struct FileResult {
    pub name: String,
    pub diagnostics: Vec<Diagnostic>,
}

impl FileResult {
    pub fn is_ok(&self) -> bool {
        !self.diagnostics.iter().any(Diagnostic::is_error)
    }

    pub fn errors(&self) -> impl Iterator<Item = &Diagnostic> {
        self.diagnostics.iter().filter(|d| d.is_error())
    }

    pub fn warnings(&self) -> impl Iterator<Item = &Diagnostic> {
        self.diagnostics.iter().filter(|d| !d.is_error())
    }
}

/// The outcome of loading a sequence of rules files.
#[derive(Debug)]
pub struct LoadOutcome {
    /// One entry per file that was processed (loading stops after the first failing file).
    pub files: Vec<FileResult>,
    /// The compiled ruleset, when every file loaded.
    pub ruleset: Option<Ruleset>,
    pub collection: Collection,
}

impl LoadOutcome {
    pub fn is_ok(&self) -> bool {
        self.ruleset.is_some() && self.files.iter().all(FileResult::is_ok)
    }

    pub fn diagnostics(&self) -> impl Iterator<Item = &Diagnostic> {
        self.files.iter().flat_map(|f| f.diagnostics.iter())
    }

    pub fn errors(&self) -> impl Iterator<Item = &Diagnostic> {
        self.diagnostics().filter(|d| d.is_error())
    }
}

/// Loads files from disk, in order.
pub fn load_files(paths: &[impl AsRef<Path>], opts: &CompileOptions) -> LoadOutcome {
    let sources: Vec<RulesSource> = paths
        .iter()
        .map(|p| RulesSource::read(p.as_ref()))
        .collect();
    load_sources(&sources, opts)
}

/// Loads rules contents, in order.
pub fn load_sources(sources: &[RulesSource], opts: &CompileOptions) -> LoadOutcome {
    let mut collection = Collection::default();
    let mut files = Vec::with_capacity(sources.len());
    let mut ruleset = None;
    for src in sources {
        let content = match &src.content {
            Ok(c) => c,
            Err(e) => {
                files.push(FileResult {
                    name: src.name.clone(),
                    diagnostics: vec![Diagnostic {
                        code: Code::Error(ErrorCode::FileRead),
                        message: format!("Could not read rules file {}: {e}", src.name),
                        context: vec![Location {
                            item_type: "rules content".into(),
                            item_name: String::new(),
                            file: src.name.clone(),
                            line: 1,
                            column: 1,
                            offset: 0,
                        }],
                        snippet: None,
                    }],
                });
                return LoadOutcome {
                    files,
                    ruleset: None,
                    collection,
                };
            }
        };
        let mut diagnostics = read_rules(&src.name, content, &mut collection);
        let read_failed = diagnostics.iter().any(Diagnostic::is_error);
        if !read_failed {
            let out = compile(&collection, opts);
            diagnostics.extend(out.diagnostics);
            ruleset = out.ruleset;
        }
        for d in diagnostics.iter_mut() {
            fill_snippet(d, &src.name, content);
        }
        let failed = diagnostics.iter().any(Diagnostic::is_error);
        files.push(FileResult {
            name: src.name.clone(),
            diagnostics,
        });
        if failed {
            return LoadOutcome {
                files,
                ruleset: None,
                collection,
            };
        }
    }
    if sources.is_empty() {
        ruleset = compile(&collection, opts).ruleset;
    }
    LoadOutcome {
        files,
        ruleset,
        collection,
    }
}

/// Adds the offending line with a caret under the position, when the problem is in `file`.
fn fill_snippet(d: &mut Diagnostic, file: &str, content: &str) {
    if d.snippet.is_some() {
        return;
    }
    let Some(loc) = d.context.last() else { return };
    if loc.file != file || !crate::loader::starts_like_rules(content) {
        return;
    }
    d.snippet = Some(crate::loader::snippet(content, loc.offset));
}
