//! A YAML document as a small tree whose nodes remember their line, built
//! from yaml-rust2's event stream. The typed parser needs both things the
//! crate's own `Yaml` loses: line numbers for its messages, and the raw text
//! of scalars (`permissions: 0644` must stay the digits `0644`).
//!
//! The input is untrusted: nesting depth and the node count (aliases can
//! multiply a document, "billion laughs") are capped, so a hostile document
//! gets an error instead of eating the memory or the stack.

use std::collections::HashMap;
use yaml_rust2::parser::{Event, MarkedEventReceiver, Parser, Tag};
use yaml_rust2::scanner::{Marker, TScalarStyle};

const MAX_DEPTH: usize = 64;
const MAX_NODES: usize = 1_000_000;

#[derive(Clone, Debug)]
pub struct Scalar {
    pub text: String,
    /// Unquoted: only plain scalars can be `null`, booleans or numbers.
    pub plain: bool,
    /// `binary` for `!!binary`, the whole tag for any other explicit one.
    pub tag: Option<String>,
}

#[derive(Clone, Debug)]
pub enum Value {
    Scalar(Scalar),
    Seq(Vec<Node>),
    Map(Vec<(Node, Node)>),
}

#[derive(Clone, Debug)]
pub struct Node {
    pub value: Value,
    /// 1-based, counted in the whole user-data file (the header is line 1).
    pub line: usize,
}

impl Node {
    /// `key:` with no value, `~` or `null`: "not given".
    pub fn is_null(&self) -> bool {
        match &self.value {
            Value::Scalar(s) => {
                s.plain
                    && s.tag.is_none()
                    && matches!(s.text.as_str(), "" | "~" | "null" | "Null" | "NULL")
            }
            _ => false,
        }
    }

    pub fn scalar(&self) -> Option<&Scalar> {
        match &self.value {
            Value::Scalar(s) => Some(s),
            _ => None,
        }
    }

    /// What the node is, for "expected X, found Y" messages.
    pub fn kind(&self) -> &'static str {
        match &self.value {
            _ if self.is_null() => "nothing",
            Value::Scalar(_) => "a scalar",
            Value::Seq(_) => "a list",
            Value::Map(_) => "a mapping",
        }
    }
}

/// A parse failure: the scanner's words and the line they point at.
#[derive(Debug, PartialEq, Eq)]
pub struct YamlError {
    pub message: String,
    pub line: usize,
}

/// The first document of `text` (`None` when it has none, e.g. only
/// comments), and how many documents there were. Later documents are still
/// checked for syntax, so an error anywhere is reported.
pub fn parse(text: &str) -> Result<(Option<Node>, usize), YamlError> {
    let mut builder = Builder::default();
    let mut parser = Parser::new_from_str(text);
    let loaded = parser.load(&mut builder, true);
    if let Some(e) = builder.error {
        return Err(e);
    }
    loaded.map_err(|e| YamlError {
        message: format!("YAML syntax error: {}", e.info()),
        line: e.marker().line(),
    })?;
    let count = builder.docs.len();
    Ok((builder.docs.into_iter().next().flatten(), count))
}

struct Frame {
    node: Node,
    anchor: usize,
    key: Option<Node>,
}

#[derive(Default)]
struct Builder {
    stack: Vec<Frame>,
    root: Option<Node>,
    docs: Vec<Option<Node>>,
    /// Anchored nodes and their sizes, for aliases.
    anchors: HashMap<usize, (Node, usize)>,
    /// Node count of each open container, to size anchors.
    counts: Vec<usize>,
    nodes: usize,
    error: Option<YamlError>,
}

impl MarkedEventReceiver for Builder {
    fn on_event(&mut self, ev: Event, mark: Marker) {
        if self.error.is_some() {
            return;
        }
        if let Err(message) = self.event(ev, mark) {
            self.error = Some(YamlError {
                message,
                line: mark.line(),
            });
        }
    }
}

impl Builder {
    fn event(&mut self, ev: Event, mark: Marker) -> Result<(), String> {
        match ev {
            Event::DocumentStart => self.root = None,
            Event::DocumentEnd => {
                let root = self.root.take();
                self.docs.push(root);
            }
            Event::SequenceStart(anchor, _) => self.open(Value::Seq(Vec::new()), anchor, mark)?,
            Event::MappingStart(anchor, _) => self.open(Value::Map(Vec::new()), anchor, mark)?,
            Event::SequenceEnd | Event::MappingEnd => {
                let frame = self.stack.pop().ok_or("unbalanced YAML events")?;
                let size = self.counts.pop().unwrap_or(1);
                if frame.key.is_some() {
                    return Err("a mapping key has no value".into());
                }
                self.insert(frame.node, frame.anchor, size)?;
            }
            Event::Scalar(text, style, anchor, tag) => {
                let node = Node {
                    value: Value::Scalar(Scalar {
                        text,
                        plain: style == TScalarStyle::Plain,
                        tag: tag.map(tag_name),
                    }),
                    line: mark.line(),
                };
                self.count(1)?;
                self.insert(node, anchor, 1)?;
            }
            Event::Alias(id) => {
                let size = self
                    .anchors
                    .get(&id)
                    .map(|a| a.1)
                    .ok_or("alias to an unknown anchor")?;
                // Counted before the copy is made, so a bomb never gets built.
                self.count(size)?;
                let node = self.anchors.get(&id).map(|a| a.0.clone());
                self.insert(node.ok_or("alias to an unknown anchor")?, 0, size)?;
            }
            Event::Nothing | Event::StreamStart | Event::StreamEnd => {}
        }
        Ok(())
    }

    fn count(&mut self, n: usize) -> Result<(), String> {
        self.nodes = self.nodes.saturating_add(n);
        if self.nodes > MAX_NODES {
            return Err(format!("document too large (more than {MAX_NODES} nodes)"));
        }
        Ok(())
    }

    fn open(&mut self, value: Value, anchor: usize, mark: Marker) -> Result<(), String> {
        if self.stack.len() >= MAX_DEPTH {
            return Err(format!("nested more than {MAX_DEPTH} levels deep"));
        }
        self.count(1)?;
        self.stack.push(Frame {
            node: Node {
                value,
                line: mark.line(),
            },
            anchor,
            key: None,
        });
        self.counts.push(1);
        Ok(())
    }

    fn insert(&mut self, node: Node, anchor: usize, size: usize) -> Result<(), String> {
        if anchor > 0 {
            self.anchors.insert(anchor, (node.clone(), size));
        }
        if let Some(c) = self.counts.last_mut() {
            *c = c.saturating_add(size);
        }
        let Some(top) = self.stack.last_mut() else {
            self.root = Some(node);
            return Ok(());
        };
        match &mut top.node.value {
            Value::Seq(items) => items.push(node),
            Value::Map(pairs) => match top.key.take() {
                None => top.key = Some(node),
                Some(key) => pairs.push((key, node)),
            },
            Value::Scalar(_) => return Err("unbalanced YAML events".into()),
        }
        Ok(())
    }
}

fn tag_name(tag: Tag) -> String {
    if tag.handle == "tag:yaml.org,2002:" {
        tag.suffix
    } else {
        format!("{}{}", tag.handle, tag.suffix)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn root(text: &str) -> Node {
        parse(text).unwrap().0.unwrap()
    }

    #[test]
    fn lines_count_from_the_header() {
        let n = root("#cloud-config\na: 1\nb:\n  - x\n  - 0644\n");
        let Value::Map(pairs) = &n.value else {
            panic!("{n:?}")
        };
        assert_eq!(pairs[0].0.line, 2);
        let Value::Seq(items) = &pairs[1].1.value else {
            panic!()
        };
        assert_eq!(items[1].line, 5);
        assert_eq!(items[1].scalar().unwrap().text, "0644");
    }

    #[test]
    fn syntax_errors_have_lines() {
        let e = parse("#cloud-config\na: 1\nb: [1, 2\nc: 3\n").unwrap_err();
        assert!(e.line >= 3, "{e:?}");
        assert!(e.message.starts_with("YAML syntax error"), "{e:?}");
    }

    #[test]
    fn tags_quotes_and_nulls() {
        let n = root("a: !!binary aGk=\nb: 'yes'\nc:\nd: ~\n");
        let Value::Map(p) = &n.value else { panic!() };
        assert_eq!(p[0].1.scalar().unwrap().tag.as_deref(), Some("binary"));
        assert!(!p[1].1.scalar().unwrap().plain);
        assert!(p[2].1.is_null() && p[3].1.is_null());
        assert!(!p[1].1.is_null());
    }

    #[test]
    fn aliases_are_copied_and_bombs_refused() {
        let n = root("a: &x [1, 2]\nb: *x\n");
        let Value::Map(p) = &n.value else { panic!() };
        assert!(matches!(&p[1].1.value, Value::Seq(v) if v.len() == 2));
        let mut bomb = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
        for i in 1..10 {
            let j = i - 1;
            bomb.push_str(&format!(
                "a{i}: &a{i} [*a{j}, *a{j}, *a{j}, *a{j}, *a{j}, *a{j}, *a{j}, *a{j}, *a{j}, *a{j}]\n"
            ));
        }
        assert!(parse(&bomb).unwrap_err().message.contains("too large"));
        let deep = "[".repeat(1000);
        assert!(parse(&deep).is_err());
    }

    #[test]
    fn empty_documents() {
        assert!(parse("#cloud-config\n").unwrap().0.is_none());
        assert!(parse("").unwrap().0.is_none());
        assert_eq!(parse("a: 1\n---\nb: 2\n").unwrap().1, 2);
    }
}
