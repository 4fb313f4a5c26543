//! Putting values into shell text so that the shell reads them as data.
//!
//! `${env.VAR}` and `${bringup}` stand for values that come from outside
//! the config (the environment, bringup's own path). In a shell command or
//! an `exec` check, `sh -c` parses the text, so a value pasted as is would
//! run: `$(…)`, backticks, `;` or a stray quote in an environment variable
//! would be code. Each value is therefore quoted for the place it lands in:
//!
//! - outside quotes (`server --name ${env.NAME}`): as one single-quoted
//!   word (`'…'`, a `'` inside written `'\''`); plain words such as
//!   `8080` or `/usr/bin/x` stay as they are;
//! - inside `'…'`: each `'` becomes `'\''`;
//! - inside `"…"`: `$`, `` ` ``, `"` and `\` get a backslash.
//!
//! Which of the three applies is found by [`Scanner`], which follows the
//! shell's quoting through the text written around the value: quotes,
//! backslashes, comments, and `$(…)` command substitutions. A value is
//! always exactly one word with exactly its own characters, as it would be
//! in an argument array.
//!
//! Quoting protects the shell bringup runs, not a program that runs its
//! own arguments as code: in `bash -c 'echo ${env.NAME}'` the outer `sh`
//! hands bash exactly the value, inside bash's script. [`Scanner::in_script`]
//! notices a value in the word after `-c`, and validation warns about it.
//!
//! Some places cannot be quoted reliably without a full shell parser:
//! inside `$(…)` or backticks, inside `${…}`, in a here-document, after
//! `$'`, right after a backslash. A value there is a config error that says
//! so and offers the way that always works: pass the value in the
//! environment (`env = { NAME = "${env.NAME}" }`) and write `"$NAME"`,
//! which the shell expands but never runs.

use std::borrow::Cow;

/// How a value must be quoted where it lands in shell text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Quoting {
    /// Outside quotes.
    Bare,
    /// Inside `'…'`.
    Single,
    /// Inside `"…"`.
    Double,
    /// Somewhere bringup cannot quote reliably; the text says where.
    Unsure(&'static str),
}

/// `value` written so that the shell reads exactly `value` at a place
/// with `quoting`. [`Quoting::Unsure`] places are rejected by validation;
/// should one get here anyway, the value is quoted as a bare word.
pub fn quote(value: &str, quoting: Quoting) -> Cow<'_, str> {
    match quoting {
        Quoting::Bare | Quoting::Unsure(_) => quote_bare(value),
        Quoting::Single if value.contains('\'') => Cow::Owned(value.replace('\'', r"'\''")),
        Quoting::Single => Cow::Borrowed(value),
        Quoting::Double if value.contains(['$', '`', '"', '\\']) => {
            let mut out = String::with_capacity(value.len() + 8);
            for c in value.chars() {
                if matches!(c, '$' | '`' | '"' | '\\') {
                    out.push('\\');
                }
                out.push(c);
            }
            Cow::Owned(out)
        }
        Quoting::Double => Cow::Borrowed(value),
    }
}

/// One word, single-quoted unless it is made of characters no shell
/// treats specially. Not `shell_words::quote`: it leaves `{a,b}` bare,
/// which bash (the `sh` of some systems) expands into two words.
fn quote_bare(value: &str) -> Cow<'_, str> {
    let plain = !value.is_empty()
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_-./:@%+,".contains(&b));
    if plain {
        return Cow::Borrowed(value);
    }
    let mut out = String::with_capacity(value.len() + 2);
    out.push('\'');
    out.push_str(&value.replace('\'', r"'\''"));
    out.push('\'');
    Cow::Owned(out)
}

/// Follows the shell's quoting through text written around values.
///
/// Only ASCII bytes change the quoting, and UTF-8 never uses ASCII bytes
/// inside a multi-byte character, so the scan walks bytes.
#[derive(Debug, Default)]
pub struct Scanner {
    frames: Vec<Frame>,
    /// The previous byte was a backslash that escapes this one.
    escaped: bool,
    /// Inside a `#` comment (until the end of the line).
    comment: bool,
    /// The last byte seen, to tell where a word starts (`#`, `case`).
    prev: Option<u8>,
    /// Set for good once the text does something the scan cannot follow.
    lost: Option<&'static str>,
    /// Bytes of the unquoted word being read (0: none yet).
    word_len: usize,
    /// Its first bytes, enough to recognise `-c`.
    word: [u8; 2],
    /// The last word read was `-c`: what follows is a script.
    after_c: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Frame {
    /// `'…'`; `true` when it is the script after `-c`.
    Single(bool),
    /// `"…"`; the same.
    Double(bool),
    /// `$(…)`, with the depth of plain parentheses inside it.
    Substitution(u32),
    Backtick,
    /// `${…}`: a shell parameter expansion (written `$${…}` in bringup).
    Brace,
}

impl Scanner {
    /// How a value placed here must be quoted.
    pub fn quoting(&self) -> Quoting {
        if let Some(why) = self.lost {
            return Quoting::Unsure(why);
        }
        if self.comment {
            // Nothing in a comment runs; quoting it does no harm.
            return Quoting::Bare;
        }
        if self.escaped {
            return Quoting::Unsure("right after a backslash");
        }
        for frame in &self.frames {
            match frame {
                Frame::Substitution(_) => return Quoting::Unsure("inside `$(…)`"),
                Frame::Backtick => return Quoting::Unsure("inside backticks"),
                Frame::Brace => return Quoting::Unsure("inside a shell `${…}`"),
                Frame::Single(_) | Frame::Double(_) => {}
            }
        }
        match self.frames.last() {
            None => Quoting::Bare,
            Some(Frame::Single(_)) => Quoting::Single,
            Some(_) => Quoting::Double,
        }
    }

    /// Whether a value placed here is part of the script given to `-c`
    /// (`sh -c '…'`, `python3 -c "…"`, or the word itself), which that
    /// program will run as code whatever the quoting.
    pub fn in_script(&self) -> bool {
        let quoted = self
            .frames
            .iter()
            .any(|f| matches!(f, Frame::Single(true) | Frame::Double(true)));
        let bare = matches!(self.frames.last(), None | Some(Frame::Substitution(_)));
        quoted || (bare && self.word_len == 0 && self.after_c)
    }

    /// Notes that a value was placed here (quoted as [`Scanner::quoting`]
    /// said): it leaves the quoting as it was, and it is part of a word.
    pub fn value(&mut self) {
        self.escaped = false;
        self.prev = Some(b'x');
        self.word_len += 1;
    }

    /// Follows the quoting through `text`.
    pub fn feed(&mut self, text: &str) {
        let bytes = text.as_bytes();
        let mut i = 0;
        while i < bytes.len() && self.lost.is_none() {
            let b = bytes[i];
            let next = bytes.get(i + 1).copied();
            let mut skip = 0;
            if self.comment {
                self.comment = b != b'\n';
            } else if self.escaped {
                self.escaped = false;
            } else {
                match self.frames.last().copied() {
                    Some(Frame::Single(_)) => {
                        if b == b'\'' {
                            self.frames.pop();
                        }
                    }
                    Some(Frame::Double(_)) => match b {
                        b'\\' => self.escaped = true,
                        b'"' => {
                            self.frames.pop();
                        }
                        b'`' => self.frames.push(Frame::Backtick),
                        b'$' => skip = self.dollar(next),
                        _ => {}
                    },
                    Some(Frame::Backtick) => match b {
                        b'\\' => self.escaped = true,
                        b'`' => {
                            self.frames.pop();
                        }
                        _ => {}
                    },
                    Some(Frame::Brace) => match b {
                        b'}' => {
                            self.frames.pop();
                        }
                        // Quoting inside `${…}` differs between shells.
                        b'\'' | b'"' | b'`' | b'\\' | b'$' => {
                            self.lost = Some("after quotes inside a shell `${…}`");
                        }
                        _ => {}
                    },
                    top @ (None | Some(Frame::Substitution(_))) => {
                        let inside = matches!(top, Some(Frame::Substitution(_)));
                        let script = self.word_len == 0 && self.after_c;
                        self.words(b);
                        match b {
                            b'\\' => self.escaped = true,
                            b'\'' => self.frames.push(Frame::Single(script)),
                            b'"' => self.frames.push(Frame::Double(script)),
                            b'`' => self.frames.push(Frame::Backtick),
                            b'#' if self.word_starts() => self.comment = true,
                            b'$' if next == Some(b'\'') => {
                                // bash reads `$'…'` with escapes; dash does not.
                                self.lost = Some("after `$'…'`");
                            }
                            b'$' => skip = self.dollar(next),
                            b'<' if next == Some(b'<') => {
                                self.lost = Some("in or after a here-document");
                            }
                            b'(' if inside => {
                                if let Some(Frame::Substitution(depth)) = self.frames.last_mut() {
                                    *depth += 1;
                                }
                            }
                            b')' if inside => match self.frames.last_mut() {
                                Some(Frame::Substitution(0)) => {
                                    self.frames.pop();
                                }
                                Some(Frame::Substitution(depth)) => *depth -= 1,
                                _ => {}
                            },
                            // A `case` pattern's `)` would end the `$(…)`
                            // early in this count.
                            b'c' if inside
                                && self.word_starts()
                                && starts_word(&bytes[i..], b"case") =>
                            {
                                self.lost = Some("after `case` inside `$(…)`");
                            }
                            _ => {}
                        }
                    }
                }
            }
            self.prev = Some(b);
            for _ in 0..skip {
                i += 1;
                self.prev = bytes.get(i).copied();
            }
            i += 1;
        }
    }

    /// Follows the unquoted words, to know when one is `-c`.
    fn words(&mut self, b: u8) {
        if b.is_ascii_whitespace() || b";&|()<>".contains(&b) {
            if self.word_len > 0 {
                self.after_c = self.word_len == 2 && &self.word == b"-c";
            }
            if !b.is_ascii_whitespace() {
                // A new command starts.
                self.after_c = false;
            }
            self.word_len = 0;
        } else {
            if let Some(slot) = self.word.get_mut(self.word_len) {
                *slot = b;
            }
            self.word_len += 1;
        }
    }

    /// After a `$` outside single quotes: `$(` and `${` open frames.
    /// Returns how many bytes after the `$` it consumed.
    fn dollar(&mut self, next: Option<u8>) -> usize {
        match next {
            Some(b'(') => {
                self.frames.push(Frame::Substitution(0));
                1
            }
            Some(b'{') => {
                self.frames.push(Frame::Brace);
                1
            }
            _ => 0,
        }
    }

    fn word_starts(&self) -> bool {
        self.prev
            .is_none_or(|b| b.is_ascii_whitespace() || b";&|()<>".contains(&b))
    }
}

/// Whether `bytes` starts with the word `word` (followed by a space or the end).
fn starts_word(bytes: &[u8], word: &[u8]) -> bool {
    bytes.starts_with(word)
        && bytes
            .get(word.len())
            .is_none_or(|b| b.is_ascii_whitespace() || b";&|()".contains(b))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at_end(text: &str) -> Quoting {
        let mut scanner = Scanner::default();
        scanner.feed(text);
        scanner.quoting()
    }

    #[test]
    fn the_quoting_in_force_is_followed() {
        assert_eq!(at_end("server --name "), Quoting::Bare);
        assert_eq!(at_end("echo 'a "), Quoting::Single);
        assert_eq!(at_end("echo \"a "), Quoting::Double);
        assert_eq!(at_end("echo \"a'"), Quoting::Double);
        assert_eq!(at_end("echo 'a\"'"), Quoting::Bare);
        assert_eq!(at_end("echo \"a\\\" "), Quoting::Double);
        assert_eq!(at_end("echo a\\'"), Quoting::Bare);
        assert_eq!(at_end("echo $(hostname) "), Quoting::Bare);
        assert_eq!(at_end("echo \"$(hostname)"), Quoting::Double);
        assert_eq!(at_end("echo \"$(echo \")\") "), Quoting::Double);
        assert_eq!(at_end("echo $((1 + (2))) "), Quoting::Bare);
        assert_eq!(at_end("echo `date` "), Quoting::Bare);
        assert_eq!(at_end("echo ${HOME:-x} "), Quoting::Bare);
        // A quote in a comment is not a quote.
        assert_eq!(at_end("# don't\necho "), Quoting::Bare);
        assert_eq!(at_end("echo a#'b "), Quoting::Single);
        assert_eq!(at_end("echo 1 # it's "), Quoting::Bare);
    }

    #[test]
    fn places_it_cannot_follow_are_unsure() {
        for text in [
            "echo $(cat ",
            "echo \"$(cat ",
            "echo `cat ",
            "echo ${X:-",
            "cat <<EOF\n",
            "printf $'\\t'; echo ",
            "echo \\",
            "echo $(case x in a) echo hi;; esac) ",
            "echo ${X:-'a'} ",
        ] {
            assert!(
                matches!(at_end(text), Quoting::Unsure(_)),
                "{text:?}: {:?}",
                at_end(text)
            );
        }
    }

    #[test]
    fn a_script_after_dash_c_is_noticed() {
        let script = |text: &str| {
            let mut scanner = Scanner::default();
            scanner.feed(text);
            scanner.in_script()
        };
        assert!(script("bash -c 'echo "));
        assert!(script("sh -c \"echo "));
        assert!(script("python3 -c "));
        assert!(script("x; sh -c 'a' && sh -c 'b "));
        assert!(!script("sh -c 'a' "));
        assert!(!script("server --name "));
        assert!(!script("server --name '"));
        assert!(!script("grep -c; echo '"));
        assert!(!script("echo -cx '"));
    }

    #[test]
    fn values_are_quoted_for_their_place() {
        assert_eq!(quote("8080", Quoting::Bare), "8080");
        assert_eq!(quote("/usr/bin/x", Quoting::Bare), "/usr/bin/x");
        assert_eq!(quote("", Quoting::Bare), "''");
        assert_eq!(quote("a b", Quoting::Bare), "'a b'");
        assert_eq!(quote("{a,b}", Quoting::Bare), "'{a,b}'");
        assert_eq!(quote("it's", Quoting::Bare), r"'it'\''s'");
        assert_eq!(quote("it's", Quoting::Single), r"it'\''s");
        assert_eq!(
            quote("$(x) `y` \"z\" \\", Quoting::Double),
            r#"\$(x) \`y\` \"z\" \\"#
        );
    }
}
