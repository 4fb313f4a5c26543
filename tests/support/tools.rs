//! Validators and clients that nobody here wrote, installed on first use
//! from the package registries into the build's scratch directory, so
//! that `cargo test` from a clean clone has them and `.ci/run` needs no
//! extra step.
//!
//! - [`python_with`]: a Python virtual environment holding the named PyPI
//!   packages (the MCP SDK, `kubernetes-validate`, a JSON Schema
//!   validator), at `<target>/tmp/tools/venv`.
//! - [`npm_package`]: an npm package's directory (the compose
//!   specification's schema), under `<target>/tmp/tools/node`.
//!
//! Test binaries run in parallel, so every install happens under one
//! exclusive lock (`flock` on `<target>/tmp/tools/lock`); a package that is
//! already installed costs a file check. A failed install panics with the
//! command and its output: a missing validator must fail the test, never
//! skip it.

use std::fs::{self, File, OpenOptions};
use std::path::PathBuf;
use std::process::Command;

use nix::fcntl::{Flock, FlockArg};

fn tools_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("tools")
}

/// Holds the install lock until dropped.
fn lock() -> Flock<File> {
    let dir = tools_dir();
    fs::create_dir_all(&dir).expect("create the tools directory");
    let file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(dir.join("lock"))
        .expect("open the tools lock");
    Flock::lock(file, FlockArg::LockExclusive)
        .map_err(|(_, errno)| errno)
        .expect("lock the tools directory")
}

fn run(what: &str, command: &mut Command) {
    let output = command
        .output()
        .unwrap_or_else(|error| panic!("{what}: cannot run {command:?}: {error}"));
    assert!(
        output.status.success(),
        "{what}: {command:?} failed ({}):\n{}\n{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

/// A marker file name for one requirement (`mcp>=1.2` → `mcp_1.2`).
fn marker(requirement: &str) -> String {
    requirement
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '.' || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// The venv's `python`, with every requirement (pip syntax) installed.
pub fn python_with(requirements: &[&str]) -> PathBuf {
    let _lock = lock();
    let venv = tools_dir().join("venv");
    let python = venv.join("bin").join("python");
    if !python.is_file() {
        run(
            "create the test venv",
            Command::new("python3").arg("-m").arg("venv").arg(&venv),
        );
    }
    let missing: Vec<&str> = requirements
        .iter()
        .copied()
        .filter(|requirement| {
            !venv
                .join(format!(".installed-{}", marker(requirement)))
                .exists()
        })
        .collect();
    if !missing.is_empty() {
        run(
            "install the test tools",
            Command::new(&python)
                .args([
                    "-m",
                    "pip",
                    "install",
                    "--quiet",
                    "--disable-pip-version-check",
                ])
                .args(&missing),
        );
        for requirement in missing {
            fs::write(
                venv.join(format!(".installed-{}", marker(requirement))),
                b"",
            )
            .expect("record an installed tool");
        }
    }
    python
}

/// The installed directory of an npm package (`node_modules/<name>`).
pub fn npm_package(name: &str) -> PathBuf {
    let _lock = lock();
    let prefix = tools_dir().join("node");
    let package = prefix.join("node_modules").join(name);
    if !package.join("package.json").is_file() {
        fs::create_dir_all(&prefix).expect("create the npm prefix");
        run(
            "install the npm test tool",
            Command::new("npm")
                .args(["install", "--silent", "--no-audit", "--no-fund", "--prefix"])
                .arg(&prefix)
                .arg(name),
        );
    }
    package
}
