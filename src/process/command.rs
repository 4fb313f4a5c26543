//! From a configured command to the argv that is really executed.
//!
//! Three things happen here, each to spare a service a needless layer:
//!
//! - A shell string that is plain words (no `$`, globs, redirections or
//!   operators) is split like the shell would and run directly. One that
//!   is a simple command but needs the shell (`server --port $PORT`) runs
//!   as `sh -c 'exec …'`, so the shell replaces itself with the service.
//!   Either way the service leads its process group, receives signals
//!   first-hand and its exit status is its own. Anything else (`a && b`,
//!   pipes, loops) is left to `sh -c` as written.
//! - The program is looked up before spawning, so "command not found" and
//!   a missing working directory are reported as such, not as an exit 127.
//! - The parent-death signal. Setting it needs code between fork and exec,
//!   and a fork costs time in proportion to bringup's memory (0.6 ms at
//!   start, 9 ms with 64 MiB of logs held, measured here), during which the
//!   engine is blocked. util-linux's `setpriv --pdeathsig` sets it in a
//!   tiny process that then execs the service (the setting survives exec),
//!   so bringup can use `posix_spawn`, which costs 0.3 ms whatever its
//!   size. Where `setpriv` is missing, `spawn` falls back to fork.

use std::io;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// Characters that make a shell string need a shell (besides quotes, which
/// `shell-words` handles like the shell does).
const SHELL_SYNTAX: &[char] = &[
    '$', '`', '\\', '*', '?', '[', ']', '~', '<', '>', ';', '&', '|', '(', ')', '{', '}', '#', '!',
    '\n',
];

/// The argv for a shell string (see the module docs).
pub fn shell_argv(text: &str) -> Vec<String> {
    let first = text.split_whitespace().next().unwrap_or("");
    if !text.contains(SHELL_SYNTAX)
        && !first.contains('=')
        && let Ok(words) = shell_words::split(text)
        && !words.is_empty()
        && !is_shell_builtin(&words[0])
    {
        return words;
    }
    let compound = text.contains([';', '&', '|', '\n', '`', '(', ')', '{', '}'])
        || first.contains('=')
        || is_shell_builtin(first)
        || matches!(
            first,
            "if" | "for" | "while" | "until" | "case" | "!" | "exec" | "[" | "[["
        );
    let script = if compound || first.is_empty() {
        text.to_string()
    } else {
        format!("exec {text}")
    };
    vec!["sh".to_string(), "-c".to_string(), script]
}

/// Words the shell handles itself (the POSIX special and regular
/// builtins, and a few common extras); they cannot be executed directly.
fn is_shell_builtin(word: &str) -> bool {
    matches!(
        word,
        ":" | "."
            | "alias"
            | "bg"
            | "break"
            | "cd"
            | "command"
            | "continue"
            | "eval"
            | "exec"
            | "exit"
            | "export"
            | "false"
            | "fc"
            | "fg"
            | "getopts"
            | "hash"
            | "jobs"
            | "local"
            | "read"
            | "readonly"
            | "return"
            | "set"
            | "shift"
            | "source"
            | "times"
            | "trap"
            | "true"
            | "type"
            | "ulimit"
            | "umask"
            | "unalias"
            | "unset"
            | "wait"
    )
}

/// Finds `program` the way `execvp` will: a path with a `/` relative to
/// `cwd`, anything else on `path` (the child's `$PATH`).
pub fn resolve(program: &str, cwd: &Path, path: Option<&str>) -> io::Result<PathBuf> {
    if !cwd.is_dir() {
        return Err(io::Error::new(
            io::ErrorKind::NotFound,
            format!("working directory {} does not exist", cwd.display()),
        ));
    }
    if program.contains('/') {
        let full = cwd.join(program);
        return match executable(&full) {
            Some(true) => Ok(full),
            Some(false) => Err(io::Error::new(
                io::ErrorKind::PermissionDenied,
                format!("{program}: permission denied (not an executable file)"),
            )),
            None => Err(io::Error::new(
                io::ErrorKind::NotFound,
                format!("{program}: no such file"),
            )),
        };
    }
    let path = path
        .map(str::to_string)
        .or_else(|| std::env::var("PATH").ok())
        .unwrap_or_default();
    std::env::split_paths(&path)
        .map(|dir| cwd.join(dir).join(program))
        .find(|candidate| executable(candidate) == Some(true))
        .ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::NotFound,
                format!("{program}: command not found"),
            )
        })
}

/// `Some(true)` for an executable file, `Some(false)` for another file,
/// `None` when there is nothing there.
fn executable(path: &Path) -> Option<bool> {
    let meta = std::fs::metadata(path).ok()?;
    Some(meta.is_file() && meta.permissions().mode() & 0o111 != 0)
}

/// `setpriv`, if this system has one that understands `--pdeathsig`.
/// Checked once, by running it.
pub fn pdeathsig_shim() -> Option<&'static Path> {
    static SHIM: OnceLock<Option<PathBuf>> = OnceLock::new();
    SHIM.get_or_init(|| {
        if !cfg!(target_os = "linux") {
            return None;
        }
        let setpriv = resolve("setpriv", Path::new("/"), None).ok()?;
        let works = std::process::Command::new(&setpriv)
            .args(["--pdeathsig", "TERM", "--", "true"])
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .status()
            .is_ok_and(|status| status.success());
        works.then_some(setpriv)
    })
    .as_deref()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_words_run_without_a_shell() {
        assert_eq!(
            shell_argv("uvicorn app:api --port 8000 --log-level=info"),
            ["uvicorn", "app:api", "--port", "8000", "--log-level=info"]
        );
        assert_eq!(
            shell_argv("fixture --ready-line 'ready now'"),
            ["fixture", "--ready-line", "ready now"]
        );
    }

    #[test]
    fn simple_commands_that_need_the_shell_replace_it() {
        assert_eq!(
            shell_argv("server --port $PORT")[2],
            "exec server --port $PORT"
        );
        assert_eq!(shell_argv("server > log")[2], "exec server > log");
        assert_eq!(
            shell_argv("cd web"),
            ["sh", "-c", "cd web"],
            "builtins stay in the shell"
        );
    }

    #[test]
    fn compound_commands_are_left_to_the_shell() {
        for compound in [
            "cd web && npm start",
            "a; b",
            "a | b",
            "FOO=1 server",
            "while true; do x; done",
            "echo $(date)",
            "exec server",
            "(cd x; y)",
        ] {
            assert_eq!(shell_argv(compound), ["sh", "-c", compound], "{compound}");
        }
    }

    #[test]
    fn programs_are_found_or_reported() {
        let dir = tempfile::tempdir().unwrap();
        assert!(resolve("sh", dir.path(), None).is_ok());
        let err = resolve("no-such-program-xyz", dir.path(), None).unwrap_err();
        assert_eq!(err.to_string(), "no-such-program-xyz: command not found");
        std::fs::write(dir.path().join("data.txt"), "x").unwrap();
        let err = resolve("./data.txt", dir.path(), None).unwrap_err();
        assert!(err.to_string().contains("not an executable"), "{err}");
        let err = resolve("sh", &dir.path().join("gone"), None).unwrap_err();
        assert!(err.to_string().contains("working directory"), "{err}");
    }
}
