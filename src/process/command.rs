//! From a configured command to the argv that is really executed.
//!
//! Two things happen here, each to spare a service a needless layer:
//!
//! - A shell string that is plain words once its quotes are understood
//!   (no `$`, globs, redirections or operators outside quotes) is split
//!   like the shell would and run directly: `python3 -c 'a; b'` is two
//!   words, whatever the quotes hold. One that is a simple command but
//!   needs the shell (`server --port $PORT`) runs as `sh -c 'exec …'`, so
//!   the shell replaces itself with the service. Either way the service
//!   leads its process group, gets the parent-death signal itself (a
//!   process the shell forked would not: it would outlive a SIGKILLed
//!   bringup and watchdog), receives signals first-hand and its exit
//!   status is its own. Anything else (`a && b`, pipes, loops) is left to
//!   `sh -c` as written.
//! - The program is looked up before spawning, so "command not found" and
//!   a missing working directory are reported as such, not as an exit 127.
//!
//! The scan follows POSIX quoting: inside single quotes nothing is
//! special; inside double quotes `$` and backquotes still expand (so they
//! need the shell) and a backslash escapes only `$`, `` ` ``, `"`, `\` and a
//! newline, which `shell-words` does exactly as the shell; outside quotes a
//! backslash quotes the next character, and `$`, backquotes, globs,
//! `~`, `#`, `!`, redirections, operators, parentheses and braces need the
//! shell.

use std::io;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

/// What a shell string needs, from a scan that understands quotes.
#[derive(Debug, Default, PartialEq, Eq)]
struct Needs {
    /// Something only a shell does (expansion, redirection, an operator).
    shell: bool,
    /// More than one simple command, or a grouping: `exec` cannot be put
    /// in front.
    compound: bool,
}

/// Scans `text` the way `sh` tokenizes it, as far as telling plain words
/// from shell syntax goes.
fn needs(text: &str) -> Needs {
    #[derive(Clone, Copy, PartialEq)]
    enum Quote {
        None,
        Single,
        Double,
    }
    let mut needs = Needs::default();
    let mut quote = Quote::None;
    let mut escaped = false;
    let mut word_start = true;
    for c in text.chars() {
        if escaped {
            escaped = false;
            word_start = false;
            continue;
        }
        match quote {
            Quote::Single => {
                if c == '\'' {
                    quote = Quote::None;
                }
            }
            Quote::Double => match c {
                '"' => quote = Quote::None,
                '\\' => escaped = true,
                '$' | '`' => needs.shell = true,
                _ => {}
            },
            Quote::None => {
                match c {
                    '\'' => quote = Quote::Single,
                    '"' => quote = Quote::Double,
                    '\\' => escaped = true,
                    ';' | '&' | '|' | '\n' | '(' | ')' | '{' | '}' | '`' => {
                        needs.shell = true;
                        needs.compound = true;
                    }
                    '$' | '*' | '?' | '[' | ']' | '~' | '<' | '>' | '!' => needs.shell = true,
                    '#' if word_start => needs.shell = true,
                    _ => {}
                }
                word_start = matches!(c, ' ' | '\t');
                continue;
            }
        }
        word_start = false;
    }
    // An unfinished quote or a trailing backslash: let the shell say so.
    if quote != Quote::None || escaped {
        needs.shell = true;
        needs.compound = true;
    }
    needs
}

/// The argv for a shell string (see the module docs).
pub fn shell_argv(text: &str) -> Vec<String> {
    let first = text.split_whitespace().next().unwrap_or("");
    let needs = needs(text);
    // `FOO=1 server`: an assignment prefix (checked on the raw first word,
    // which errs towards the shell).
    let assignment = first.contains('=');
    if !needs.shell
        && !assignment
        && let Ok(words) = shell_words::split(text)
        && let Some(program) = words.first()
        && !is_shell_builtin(program)
    {
        return words;
    }
    let compound = needs.compound
        || assignment
        || first.starts_with('#')
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
    fn quoted_shell_syntax_is_just_text() {
        // The case from issue 8: the `;` is inside quotes, so this is three
        // words, and python runs without a shell to outlive bringup.
        assert_eq!(
            shell_argv("python3 -c 'import time; time.sleep(600)'"),
            ["python3", "-c", "import time; time.sleep(600)"]
        );
        assert_eq!(
            shell_argv(r#"grep -E "a|b" 'x > y' it\'s"#),
            ["grep", "-E", "a|b", "x > y", "it's"]
        );
        assert_eq!(
            shell_argv("echo 'costs $5' \"~home\" a#b"),
            ["echo", "costs $5", "~home", "a#b"]
        );
        assert_eq!(
            shell_argv(r#"printf "%s\n" "\$x""#),
            ["printf", "%s\\n", "$x"],
            "a backslash in double quotes escapes `$`, and only such"
        );
    }

    #[test]
    fn expansions_in_double_quotes_need_the_shell() {
        assert_eq!(
            shell_argv(r#"server --name "$HOSTNAME""#)[2],
            r#"exec server --name "$HOSTNAME""#
        );
        assert_eq!(
            shell_argv(r#"server --at "`date`""#)[2],
            r#"exec server --at "`date`""#
        );
        // Quoted operators do not make a command compound: exec still goes in front.
        assert_eq!(
            shell_argv("python3 -c 'a; b' --port $PORT")[2],
            "exec python3 -c 'a; b' --port $PORT"
        );
        for unfinished in ["echo 'open", "echo \"open", "echo trailing\\"] {
            assert_eq!(shell_argv(unfinished), ["sh", "-c", unfinished]);
        }
        assert_eq!(
            shell_argv("# just a comment"),
            ["sh", "-c", "# just a comment"]
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
