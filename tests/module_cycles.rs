//! No import cycle between the crate's top-level modules, nor between the
//! files of a module split in a directory (the dashboard's `src/tui/`).
//!
//! Shared bits go down into leaf modules (`ids`, value parsers, the
//! dashboard's `layout` and `widgets`), never sideways, so each room of
//! the house can be read, changed and tested without the one that imports
//! it (STYLE.md, "No cycles").
//!
//! The check works on any module whose children are files: the crate root
//! (`src/lib.rs` declaring `src/NAME.rs`) or a module like `tui`
//! (`src/tui.rs` declaring `src/tui/NAME.rs`). Each child counts with its
//! own subdirectory (`src/tui/app.rs` and `src/tui/app/**`). A child
//! imports a sibling when its code names it by path from the crate
//! (`crate::tui::NAME`, also inside `crate::tui::{…}` groups over several
//! lines) or from the file (`super::NAME` in `src/tui/app.rs`,
//! `super::super::NAME` in `src/tui/app/input.rs`). Comments do not count,
//! test modules do; a `super::` inside an inline module (`mod tests {}`)
//! is read as if it were at the file's top, which can only add an edge.
//!
//! The top-level cycles still being taken apart are listed in `KNOWN`: a
//! change may shrink them but not grow them or add a new one, and once one
//! is gone its entry must go too, so it cannot come back unnoticed.

// A test fails by panicking; `expect` says why.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Cycles that exist today and are being removed (issue 9).
const KNOWN: &[&[&str]] = &[];

/// A module whose children are files: where they are and how code names them.
struct Parent {
    /// The file that declares the children (`src/lib.rs`, `src/tui.rs`).
    file: PathBuf,
    /// The directory that holds them (`src`, `src/tui`).
    dir: PathBuf,
    /// How code names a child by path from the crate (`crate::`, `crate::tui::`).
    prefix: String,
}

impl Parent {
    /// `path` is the module's path inside the crate: "" for the crate root,
    /// "tui" or "engine::machine" for a module in a directory.
    fn new(root: &Path, path: &str) -> Self {
        let src = root.join("src");
        if path.is_empty() {
            return Self {
                file: src.join("lib.rs"),
                dir: src,
                prefix: "crate::".to_string(),
            };
        }
        let relative: PathBuf = path.split("::").collect();
        Self {
            file: src.join(&relative).with_extension("rs"),
            dir: src.join(relative),
            prefix: format!("crate::{path}::"),
        }
    }

    /// The children, from `mod NAME;` in the declaring file (any visibility).
    fn children(&self) -> Vec<String> {
        let text = std::fs::read_to_string(&self.file)
            .unwrap_or_else(|e| panic!("read {}: {e}", self.file.display()));
        text.lines()
            .filter_map(|line| {
                let line = line.trim();
                let rest = match line.strip_prefix("pub") {
                    // `pub mod`, `pub(crate) mod`, `pub(super) mod`
                    Some(rest) => rest.trim_start_matches(|c| c != ' ').trim_start(),
                    None => line,
                };
                rest.strip_prefix("mod ")?.strip_suffix(';')
            })
            .map(|name| name.trim().to_string())
            .collect()
    }

    /// Every .rs file of child `name`, each with its depth below the
    /// directory (1 for `dir/NAME.rs`, 2 for `dir/NAME/x.rs`, …).
    fn files(&self, name: &str) -> Vec<(PathBuf, usize)> {
        let mut out = Vec::new();
        let file = self.dir.join(format!("{name}.rs"));
        if file.is_file() {
            out.push((file, 1));
        }
        let mut dirs = vec![(self.dir.join(name), 2)];
        while let Some((dir, depth)) = dirs.pop() {
            let Ok(entries) = std::fs::read_dir(&dir) else {
                continue;
            };
            for entry in entries.flatten() {
                let path = entry.path();
                if path.is_dir() {
                    dirs.push((path, depth + 1));
                } else if path.extension().is_some_and(|e| e == "rs") {
                    out.push((path, depth));
                }
            }
        }
        out
    }
}

/// The names that follow `prefix` in `code`: `PREFIX NAME` or each first
/// segment of a `PREFIX{…}` group (nested groups and line breaks allowed).
/// A prefix glued to a longer path (`x::crate::`, `super::super::` seen
/// from `super::`) is not a match.
fn named_after(code: &str, prefix: &str) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    for (at, _) in code.match_indices(prefix) {
        let glued = code[..at]
            .chars()
            .next_back()
            .is_some_and(|c| c.is_alphanumeric() || c == '_' || c == ':');
        if glued {
            continue;
        }
        let rest = &code[at + prefix.len()..];
        let Some(group) = rest.strip_prefix('{') else {
            found.insert(first_segment(rest));
            continue;
        };
        // The group's top-level parts, up to its closing brace.
        let mut depth = 0usize;
        let mut part = String::new();
        for c in group.chars() {
            match c {
                '{' => depth += 1,
                '}' if depth == 0 => break,
                '}' => depth -= 1,
                ',' if depth == 0 => {
                    found.insert(first_segment(&part));
                    part.clear();
                    continue;
                }
                _ => {}
            }
            part.push(c);
        }
        found.insert(first_segment(&part));
    }
    found.remove("");
    found
}

fn first_segment(path: &str) -> String {
    path.trim_start()
        .split(|c: char| !(c.is_alphanumeric() || c == '_'))
        .next()
        .unwrap_or_default()
        .to_string()
}

/// The siblings among `names` that a file at `depth` below the parent's
/// directory refers to in `text`, by path from the crate (`prefix`) or by
/// `super::` from the file.
fn references(text: &str, prefix: &str, depth: usize, names: &[String]) -> BTreeSet<String> {
    let code: String = text
        .lines()
        .map(|line| line.split("//").next().unwrap_or_default())
        .collect::<Vec<_>>()
        .join("\n");
    let mut found = named_after(&code, prefix);
    found.extend(named_after(&code, &"super::".repeat(depth)));
    found.retain(|n| names.contains(n));
    found
}

/// Who imports whom among the children of the module at `path` ("" for
/// the crate's top-level modules).
fn imports(root: &Path, path: &str) -> BTreeMap<String, BTreeSet<String>> {
    let parent = Parent::new(root, path);
    let names = parent.children();
    let mut graph = BTreeMap::new();
    for name in &names {
        let mut uses = BTreeSet::new();
        for (file, depth) in parent.files(name) {
            let text = std::fs::read_to_string(&file)
                .unwrap_or_else(|e| panic!("read {}: {e}", file.display()));
            uses.extend(references(&text, &parent.prefix, depth, &names));
        }
        uses.remove(name);
        graph.insert(name.clone(), uses);
    }
    graph
}

/// The modules reachable from `from` (itself included).
fn reachable(graph: &BTreeMap<String, BTreeSet<String>>, from: &str) -> BTreeSet<String> {
    let mut seen = BTreeSet::from([from.to_string()]);
    let mut todo = vec![from.to_string()];
    while let Some(next) = todo.pop() {
        for to in graph.get(&next).into_iter().flatten() {
            if seen.insert(to.clone()) {
                todo.push(to.clone());
            }
        }
    }
    seen
}

/// The groups of modules that import each other (directly or around a
/// circle), each with more than one member.
fn cycles(graph: &BTreeMap<String, BTreeSet<String>>) -> Vec<BTreeSet<String>> {
    let reach: BTreeMap<&String, BTreeSet<String>> =
        graph.keys().map(|m| (m, reachable(graph, m))).collect();
    let mut groups: Vec<BTreeSet<String>> = Vec::new();
    for module in graph.keys() {
        if groups.iter().any(|g| g.contains(module)) {
            continue;
        }
        let group: BTreeSet<String> = reach[module]
            .iter()
            .filter(|other| reach[other].contains(module))
            .cloned()
            .collect();
        if group.len() > 1 {
            groups.push(group);
        }
    }
    groups
}

#[test]
fn no_top_level_module_imports_one_that_imports_it_back() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let graph = imports(root, "");
    assert!(
        graph.contains_key("config") && graph.contains_key("graph"),
        "the module list was not read: {graph:?}"
    );
    let known: Vec<BTreeSet<String>> = KNOWN
        .iter()
        .map(|k| k.iter().map(|m| m.to_string()).collect())
        .collect();
    let found = cycles(&graph);
    for group in &found {
        assert!(
            known.iter().any(|k| group.is_subset(k)),
            "modules {group:?} import each other; move what they share into a leaf module (imports: {graph:#?})"
        );
    }
    for k in &known {
        assert!(
            found.iter().any(|group| group.is_subset(k)),
            "the cycle {k:?} is gone: remove it from KNOWN so it cannot come back"
        );
    }
}

/// The front ends (the dashboard, headless output, the control server and
/// the MCP server)
/// reach the engine through
/// its protocol only: a control socket can then stand in for a local
/// engine without them changing. (Only `session` starts from a local
/// [`Engine`]; the machine, the plan and port owners stay out of reach.)
#[test]
fn front_ends_import_the_protocol_and_the_session_not_the_engine() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let graph = imports(root, "");
    for front_end in ["tui", "headless", "control", "mcp"] {
        let uses = &graph[front_end];
        assert!(
            uses.contains("api"),
            "{front_end} was not read: it imports {uses:?}"
        );
        for inside in ["engine", "config", "ports", "process", "probe"] {
            assert!(
                !uses.contains(inside),
                "{front_end} imports {inside}; what it needs belongs in api (data, describe) or the session (imports: {uses:?})"
            );
        }
    }
}

#[test]
fn no_file_of_the_dashboard_imports_one_that_imports_it_back() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let graph = imports(root, "tui");
    assert!(
        graph.contains_key("app") && graph.contains_key("view") && graph["view"].contains("app"),
        "the dashboard's files were not read: {graph:?}"
    );
    let found = cycles(&graph);
    assert!(
        found.is_empty(),
        "files of src/tui/ import each other: {found:?}; move what they share into a leaf \
         (layout: where things are; widgets: how they are drawn) (imports: {graph:#?})"
    );
}

#[test]
fn references_are_read_from_code_not_comments() {
    let names: Vec<String> = ["config", "graph", "ids"].map(String::from).to_vec();
    let text = "use crate::ids::ServiceId;\n// see crate::config\n/// [`crate::config`]\nlet x = crate::{graph::Graph, ids};";
    assert_eq!(
        references(text, "crate::", 1, &names),
        BTreeSet::from(["graph".to_string(), "ids".to_string()])
    );
}

#[test]
fn references_by_group_over_lines_and_by_super_count() {
    let names: Vec<String> = ["app", "grid", "layout", "view", "theme"]
        .map(String::from)
        .to_vec();
    // rustfmt breaks a long group over lines; groups nest.
    let grouped = "use crate::tui::{\n    app::{App, Pane},\n    grid, // the rows\n};";
    assert_eq!(
        references(grouped, "crate::tui::", 1, &names),
        BTreeSet::from(["app".to_string(), "grid".to_string()])
    );
    // From src/tui/app/input.rs, `super::` is app itself and
    // `super::super::` the directory's other files.
    let nested =
        "use super::App;\nuse super::super::view::draw;\nfn f() { super::super::layout::areas() }";
    assert_eq!(
        references(nested, "crate::tui::", 2, &names),
        BTreeSet::from(["layout".to_string(), "view".to_string()])
    );
    // From src/tui/grid.rs, `super::view` is a sibling; a path that only
    // ends like the prefix is not one.
    let flat = "use super::view;\nuse other::crate::tui::theme;\nuse super::super::theme;";
    assert_eq!(
        references(flat, "crate::tui::", 1, &names),
        BTreeSet::from(["view".to_string()])
    );
}

#[test]
fn a_cycle_among_files_is_found_however_long() {
    let graph: BTreeMap<String, BTreeSet<String>> = [
        ("app", vec!["layout"]),
        ("layout", vec![]),
        ("view", vec!["app", "grid"]),
        ("grid", vec!["widgets"]),
        ("widgets", vec!["view"]),
    ]
    .into_iter()
    .map(|(m, to)| (m.to_string(), to.into_iter().map(String::from).collect()))
    .collect();
    assert_eq!(
        cycles(&graph),
        [BTreeSet::from(
            ["grid", "view", "widgets"].map(String::from)
        )]
    );
}
