//! No source file over 600 lines, tests aside: a file that grows past that
//! has more than one job, and is split along the seams it already has
//! (issue 9; STYLE.md, "Small modules with one job").

// A test fails by panicking; `expect` says why.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};

const MAX_LINES: usize = 600;

/// Every `.rs` file under `dir`.
fn sources(dir: &Path, found: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("a readable source directory") {
        let path = entry.expect("a directory entry").path();
        if path.is_dir() {
            sources(&path, found);
        } else if path.extension().is_some_and(|e| e == "rs") {
            found.push(path);
        }
    }
}

/// Unit-test files of a module split in a directory (`machine/tests.rs`,
/// `machine/properties.rs`) are tests.
fn is_tests(path: &Path) -> bool {
    path.file_stem()
        .is_some_and(|stem| stem == "tests" || stem == "properties")
}

#[test]
fn no_source_file_is_over_600_lines() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    sources(&src, &mut files);
    assert!(
        files.len() > 50,
        "found only {} files in {src:?}",
        files.len()
    );
    let mut long: Vec<String> = files
        .iter()
        .filter(|path| !is_tests(path))
        .filter_map(|path| {
            let lines = std::fs::read_to_string(path)
                .expect("a readable file")
                .lines()
                .count();
            (lines > MAX_LINES).then(|| format!("{} ({lines} lines)", path.display()))
        })
        .collect();
    long.sort();
    assert!(
        long.is_empty(),
        "over {MAX_LINES} lines; split along the seams the code has:\n{}",
        long.join("\n")
    );
}
