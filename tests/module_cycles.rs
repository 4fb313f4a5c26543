//! No import cycle between the crate's top-level modules.
//!
//! Shared bits go down into leaf modules (`ids`, value parsers), never
//! sideways, so each room of the house can be read, changed and tested
//! without the one that imports it (STYLE.md, "No cycles"). A module
//! imports another when its files (`src/NAME.rs`, `src/NAME/**`) name
//! `crate::OTHER`; comments do not count, test modules do. The cycles
//! still being taken apart are listed in `KNOWN`: a change may shrink
//! them but not grow them or add a new one, and once one is gone its
//! entry must go too, so it cannot come back unnoticed.

// A test fails by panicking; `expect` says why.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// Cycles that exist today and are being removed (issue 9).
const KNOWN: &[&[&str]] = &[];

/// The top-level modules, from `pub mod NAME;` in lib.rs.
fn modules(root: &Path) -> Vec<String> {
    let lib = std::fs::read_to_string(root.join("src/lib.rs")).expect("read src/lib.rs");
    lib.lines()
        .filter_map(|line| line.trim().strip_prefix("pub mod "))
        .filter_map(|rest| rest.strip_suffix(';'))
        .map(str::to_string)
        .collect()
}

/// Every .rs file of module `name`.
fn files(root: &Path, name: &str) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    let file = root.join("src").join(format!("{name}.rs"));
    if file.is_file() {
        out.push(file);
    }
    let mut dirs = vec![root.join("src").join(name)];
    while let Some(dir) = dirs.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                dirs.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                out.push(path);
            }
        }
    }
    out
}

/// The modules in `modules` that `text` refers to as `crate::NAME` or
/// inside `crate::{…}`.
fn references(text: &str, modules: &[String]) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    for line in text.lines() {
        let code = line.split("//").next().unwrap_or_default();
        for (at, _) in code.match_indices("crate::") {
            let rest = &code[at + "crate::".len()..];
            let names: Vec<&str> = match rest.strip_prefix('{') {
                Some(group) => group
                    .split([',', '}'])
                    .map(|part| part.trim().split("::").next().unwrap_or_default())
                    .collect(),
                None => vec![
                    rest.split(|c: char| !(c.is_alphanumeric() || c == '_'))
                        .next()
                        .unwrap_or_default(),
                ],
            };
            found.extend(
                names
                    .into_iter()
                    .filter(|n| modules.iter().any(|m| m == n))
                    .map(str::to_string),
            );
        }
    }
    found
}

/// Who imports whom among the top-level modules.
fn imports(root: &Path) -> BTreeMap<String, BTreeSet<String>> {
    let modules = modules(root);
    let mut graph = BTreeMap::new();
    for module in &modules {
        let mut uses = BTreeSet::new();
        for file in files(root, module) {
            let text = std::fs::read_to_string(&file).expect("read a source file");
            uses.extend(references(&text, &modules));
        }
        uses.remove(module);
        graph.insert(module.clone(), uses);
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
    let graph = imports(root);
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

#[test]
fn references_are_read_from_code_not_comments() {
    let modules: Vec<String> = ["config", "graph", "ids"].map(String::from).to_vec();
    let text = "use crate::ids::ServiceId;\n// see crate::config\n/// [`crate::config`]\nlet x = crate::{graph::Graph, ids};";
    assert_eq!(
        references(text, &modules),
        BTreeSet::from(["graph".to_string(), "ids".to_string()])
    );
}
