//! The YAML (and JSON) loader the importers share: text → a [`Node`] tree
//! where every value and every key keeps its line and column.
//!
//! Built on `saphyr-parser`'s event stream rather than a serde model, for
//! three reasons. Warnings and errors must name the line of each key, which
//! a deserialized struct no longer knows. Anchors, aliases and merge keys
//! (`<<: *base`, `<<: [*a, *b]`) are resolved here once, the way YAML 1.1
//! tools (docker compose, process-compose) resolve them: keys written in the
//! mapping win over merged ones, and of several merged mappings the first
//! wins. And scalars keep whether they were plain, so an importer can read
//! an unquoted `no` as the YAML 1.1 boolean the source tool sees, while the
//! quoted `"no"` stays a string.
//!
//! A key written twice in one mapping is an error at the second place, as
//! in the tools whose files these are (go-yaml and serde_yaml refuse them
//! too). Aliases are expanded by copying, bounded by [`MAX_NODES`] so a
//! "billion laughs" file is refused instead of eating the memory. JSON is
//! YAML's flow style, so `.json` files go through here unchanged.

use std::collections::HashMap;

use saphyr_parser::{Event, Parser, ScalarStyle, Span};

/// More nodes than this (after expanding aliases) and loading stops.
pub const MAX_NODES: usize = 200_000;
/// Aliases copying more text than this (bytes of keys and scalars) and
/// loading stops: a few large anchored strings aliased many times stay
/// under [`MAX_NODES`] yet would take gigabytes.
pub const MAX_ALIAS_BYTES: usize = 16 * 1024 * 1024;
/// Deeper nesting than this and loading stops.
const MAX_DEPTH: usize = 64;

/// A place in the source: 1-based line and column.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Pos {
    pub line: usize,
    pub column: usize,
}

/// A value with the place it was written.
#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    pub at: Pos,
    pub value: Value,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// A scalar as written; `plain` when it had no quotes (only then is it
    /// a number, boolean or null).
    Scalar {
        text: String,
        plain: bool,
    },
    Seq(Vec<Node>),
    Map(Vec<Entry>),
}

/// One `key: value` of a mapping.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    pub key: String,
    pub key_at: Pos,
    pub value: Node,
}

/// A located loading error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct YamlError {
    pub at: Pos,
    pub message: String,
}

impl Node {
    pub fn as_map(&self) -> Option<&[Entry]> {
        match &self.value {
            Value::Map(entries) => Some(entries),
            _ => None,
        }
    }

    pub fn as_seq(&self) -> Option<&[Node]> {
        match &self.value {
            Value::Seq(items) => Some(items),
            _ => None,
        }
    }

    /// The text of any scalar that is not null (numbers and booleans too:
    /// `PORT: 8080` is the string "8080" to an env table).
    pub fn as_str(&self) -> Option<&str> {
        match &self.value {
            Value::Scalar { text, .. } if !self.is_null() => Some(text),
            _ => None,
        }
    }

    /// `~`, `null`, or nothing at all, unquoted.
    pub fn is_null(&self) -> bool {
        matches!(&self.value, Value::Scalar { text, plain: true }
            if matches!(text.as_str(), "" | "~" | "null" | "Null" | "NULL"))
    }

    /// A boolean as YAML 1.1 reads it (`yes`, `no`, `on`, `off` too), which
    /// is what the Go tools whose files these are see in an unquoted word.
    pub fn as_bool(&self) -> Option<bool> {
        let Value::Scalar { text, plain: true } = &self.value else {
            return None;
        };
        match text.to_ascii_lowercase().as_str() {
            "true" | "yes" | "y" | "on" => Some(true),
            "false" | "no" | "n" | "off" => Some(false),
            _ => None,
        }
    }

    /// A number (integer or decimal) written without quotes, or quoted.
    pub fn as_f64(&self) -> Option<f64> {
        let Value::Scalar { text, .. } = &self.value else {
            return None;
        };
        text.trim().parse::<f64>().ok().filter(|n| n.is_finite())
    }

    pub fn as_u64(&self) -> Option<u64> {
        let Value::Scalar { text, .. } = &self.value else {
            return None;
        };
        text.trim().parse::<u64>().ok()
    }

    /// The value under `key` in a mapping.
    pub fn get(&self, key: &str) -> Option<&Node> {
        self.as_map()?
            .iter()
            .find(|e| e.key == key)
            .map(|e| &e.value)
    }

    /// A short name for the kind of value, for messages.
    pub fn kind(&self) -> &'static str {
        match &self.value {
            Value::Scalar { .. } if self.is_null() => "null",
            Value::Scalar { .. } => "a scalar",
            Value::Seq(_) => "a list",
            Value::Map(_) => "a mapping",
        }
    }
}

/// Parses the first document of `text`. An empty text is an empty mapping.
pub fn load(text: &str) -> Result<Node, YamlError> {
    let mut builder = Builder::default();
    for event in Parser::new_from_str(text) {
        let (event, span) = event.map_err(|e| YamlError {
            at: Pos {
                line: e.marker().line(),
                column: e.marker().col() + 1,
            },
            message: format!("YAML syntax: {}", e.info()),
        })?;
        if builder.event(event, span)? {
            break;
        }
    }
    Ok(builder.root.unwrap_or(Node {
        at: Pos { line: 1, column: 1 },
        value: Value::Map(Vec::new()),
    }))
}

enum Frame {
    Seq {
        at: Pos,
        anchor: usize,
        items: Vec<Node>,
    },
    Map {
        at: Pos,
        anchor: usize,
        entries: Vec<Entry>,
        merges: Vec<Node>,
        /// The key read, waiting for its value: text, place, plain `<<`.
        key: Option<(String, Pos, bool)>,
    },
}

#[derive(Default)]
struct Builder {
    stack: Vec<Frame>,
    anchors: HashMap<usize, Node>,
    root: Option<Node>,
    nodes: usize,
    /// Bytes of text copied by aliases so far.
    alias_bytes: usize,
}

fn pos(span: &Span) -> Pos {
    Pos {
        line: span.start.line(),
        column: span.start.col() + 1,
    }
}

impl Builder {
    /// Takes one event; true once the first document is complete.
    fn event(&mut self, event: Event<'_>, span: Span) -> Result<bool, YamlError> {
        let at = pos(&span);
        match event {
            Event::Scalar(text, style, anchor, tag) => {
                let quoted =
                    !matches!(style, ScalarStyle::Plain) || tag.is_some_and(|t| t.suffix == "str");
                let node = Node {
                    at,
                    value: Value::Scalar {
                        text: text.into_owned(),
                        plain: !quoted,
                    },
                };
                self.finish(node, anchor)
            }
            Event::Alias(id) => {
                let node = self.anchors.get(&id).cloned().ok_or(YamlError {
                    at,
                    message: "alias to an anchor that is not defined before it".into(),
                })?;
                self.count(&node, at)?;
                self.finish(node, 0)
            }
            Event::SequenceStart(anchor, _) => {
                self.push(
                    Frame::Seq {
                        at,
                        anchor,
                        items: Vec::new(),
                    },
                    at,
                )?;
                Ok(false)
            }
            Event::MappingStart(anchor, _) => {
                self.push(
                    Frame::Map {
                        at,
                        anchor,
                        entries: Vec::new(),
                        merges: Vec::new(),
                        key: None,
                    },
                    at,
                )?;
                Ok(false)
            }
            Event::SequenceEnd | Event::MappingEnd => {
                let Some(frame) = self.stack.pop() else {
                    return Ok(false);
                };
                let (node, anchor) = match frame {
                    Frame::Seq { at, anchor, items } => (
                        Node {
                            at,
                            value: Value::Seq(items),
                        },
                        anchor,
                    ),
                    Frame::Map {
                        at,
                        anchor,
                        mut entries,
                        merges,
                        ..
                    } => {
                        merge(&mut entries, merges)?;
                        (
                            Node {
                                at,
                                value: Value::Map(entries),
                            },
                            anchor,
                        )
                    }
                };
                self.finish(node, anchor)
            }
            Event::DocumentEnd => Ok(self.root.is_some()),
            _ => Ok(false),
        }
    }

    fn push(&mut self, frame: Frame, at: Pos) -> Result<(), YamlError> {
        if self.stack.len() >= MAX_DEPTH {
            return Err(YamlError {
                at,
                message: format!("nested deeper than {MAX_DEPTH} levels"),
            });
        }
        self.nodes += 1;
        self.stack.push(frame);
        Ok(())
    }

    fn count(&mut self, node: &Node, at: Pos) -> Result<(), YamlError> {
        /// (nodes, bytes of text) in `node`.
        fn size(node: &Node) -> (usize, usize) {
            match &node.value {
                Value::Scalar { text, .. } => (1, text.len()),
                Value::Seq(items) => items.iter().map(size).fold((1, 0), |(n, b), (m, c)| {
                    (n.saturating_add(m), b.saturating_add(c))
                }),
                Value::Map(entries) => entries
                    .iter()
                    .map(|e| {
                        let (n, b) = size(&e.value);
                        (n, b.saturating_add(e.key.len()))
                    })
                    .fold((1, 0), |(n, b), (m, c)| {
                        (n.saturating_add(m), b.saturating_add(c))
                    }),
            }
        }
        let (nodes, bytes) = size(node);
        self.nodes = self.nodes.saturating_add(nodes);
        self.alias_bytes = self.alias_bytes.saturating_add(bytes);
        if self.nodes > MAX_NODES {
            return Err(YamlError {
                at,
                message: format!("more than {MAX_NODES} values once aliases are expanded"),
            });
        }
        if self.alias_bytes > MAX_ALIAS_BYTES {
            return Err(YamlError {
                at,
                message: format!(
                    "aliases copy more than {} MiB of text once expanded",
                    MAX_ALIAS_BYTES / (1024 * 1024)
                ),
            });
        }
        Ok(())
    }

    /// A complete node: remember its anchor and hand it to its parent.
    fn finish(&mut self, node: Node, anchor: usize) -> Result<bool, YamlError> {
        self.nodes += 1;
        if anchor != 0 {
            self.anchors.insert(anchor, node.clone());
        }
        let Some(top) = self.stack.last_mut() else {
            self.root = Some(node);
            return Ok(false);
        };
        match top {
            Frame::Seq { items, .. } => items.push(node),
            Frame::Map {
                entries,
                merges,
                key,
                ..
            } => match key.take() {
                None => {
                    let Value::Scalar { text, plain } = node.value else {
                        return Err(YamlError {
                            at: node.at,
                            message: "a mapping key must be a plain word, not a list or mapping"
                                .into(),
                        });
                    };
                    *key = Some((text, node.at, plain));
                }
                Some((name, key_at, plain)) => {
                    if plain && name == "<<" {
                        merges.push(node);
                    } else if let Some(first) = entries.iter().find(|e| e.key == name) {
                        return Err(YamlError {
                            at: key_at,
                            message: format!(
                                "key `{name}` is written twice in this mapping (first on line {}); keep one",
                                first.key_at.line
                            ),
                        });
                    } else {
                        entries.push(Entry {
                            key: name,
                            key_at,
                            value: node,
                        });
                    }
                }
            },
        }
        Ok(false)
    }
}

/// Resolves merge keys: each merged mapping adds the keys not written yet.
fn merge(entries: &mut Vec<Entry>, merges: Vec<Node>) -> Result<(), YamlError> {
    for source in merges {
        let maps: Vec<Node> = match source.value {
            Value::Map(_) => vec![source],
            Value::Seq(items) => items,
            _ => {
                return Err(YamlError {
                    at: source.at,
                    message: "`<<` merges a mapping or a list of mappings (such as `<<: *base`)"
                        .into(),
                });
            }
        };
        for map in maps {
            let at = map.at;
            let Value::Map(merged) = map.value else {
                return Err(YamlError {
                    at,
                    message: "`<<` merges mappings only".into(),
                });
            };
            for entry in merged {
                if !entries.iter().any(|e| e.key == entry.key) {
                    entries.push(entry);
                }
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merge_keys_anchors_and_places() {
        let text = "base: &b\n  a: 1\n  b: 2\nx:\n  <<: *b\n  b: 3\n";
        let root = load(text).unwrap();
        let x = root.get("x").unwrap();
        assert_eq!(x.get("a").unwrap().as_str(), Some("1"));
        assert_eq!(x.get("b").unwrap().as_str(), Some("3"));
        let entries = x.as_map().unwrap();
        assert_eq!(entries[0].key, "b");
        assert_eq!(entries[0].key_at, Pos { line: 6, column: 3 });
    }

    #[test]
    fn duplicate_keys_and_bombs_are_located_errors() {
        let err = load("a: 1\nb: 2\na: 3\n").unwrap_err();
        assert_eq!(err.at.line, 3);
        assert!(err.message.contains("first on line 1"), "{}", err.message);
        let mut bomb = String::from("a: &a [x, x, x, x, x, x, x, x, x, x]\n");
        for (i, prev) in ["b", "c", "d", "e", "f", "g"]
            .iter()
            .zip(["a", "b", "c", "d", "e", "f"])
        {
            bomb.push_str(&format!("{i}: &{i} [*{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}]\n"));
        }
        assert!(load(&bomb).unwrap_err().message.contains("aliases"));
        // Few values, but a large string aliased many times.
        let mut wide = format!("big: &s \"{}\"\nall:\n", "A".repeat(1 << 20));
        for i in 0..40 {
            wide.push_str(&format!("  v{i}: *s\n"));
        }
        let err = load(&wide).unwrap_err();
        assert!(err.message.contains("MiB"), "{}", err.message);
        assert_eq!(err.at.line, 19, "at the alias that went over");
        let syntax = load("a: [1, 2\n").unwrap_err();
        assert!(syntax.message.starts_with("YAML syntax"));
    }

    #[test]
    fn plain_words_are_yaml_1_1_booleans_quoted_ones_are_not() {
        let root = load("a: no\nb: \"no\"\nc: On\nd: ~\ne:\n").unwrap();
        assert_eq!(root.get("a").unwrap().as_bool(), Some(false));
        assert_eq!(root.get("b").unwrap().as_bool(), None);
        assert_eq!(root.get("c").unwrap().as_bool(), Some(true));
        assert!(root.get("d").unwrap().is_null() && root.get("e").unwrap().is_null());
    }
}
