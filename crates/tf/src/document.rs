//! The document as Terraform's language sees it, in two shapes.
//!
//! - [`Section`]s: the files of a document and the top-level blocks of each, in order. A
//!   [`Stack`] lists them once ([`Stack::sections`]); the JSON and the HCL renderer both walk
//!   that one list, so neither can drop a kind of block the other writes.
//! - [`Document`]: every top-level item by its [`Key`] (a block address, an output, ...), with
//!   bodies as [`Value`]s. Reviews and diagrams read it; it comes from a stack
//!   ([`Document::from_stack`]) or from generated files read back ([`crate::json::parse`]).

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fmt;

use crate::body::Body;
use crate::stack::Stack;
use crate::value::{Address, Expr, Piece, Value};

/// A top-level block type of the Terraform language.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum BlockType {
    Terraform,
    Provider,
    Variable,
    Locals,
    Data,
    Resource,
    Output,
    Moved,
}

impl BlockType {
    pub const ALL: [BlockType; 8] = [
        BlockType::Terraform,
        BlockType::Provider,
        BlockType::Variable,
        BlockType::Locals,
        BlockType::Data,
        BlockType::Resource,
        BlockType::Output,
        BlockType::Moved,
    ];

    pub fn keyword(self) -> &'static str {
        match self {
            BlockType::Terraform => "terraform",
            BlockType::Provider => "provider",
            BlockType::Variable => "variable",
            BlockType::Locals => "locals",
            BlockType::Data => "data",
            BlockType::Resource => "resource",
            BlockType::Output => "output",
            BlockType::Moved => "moved",
        }
    }

    pub fn from_keyword(k: &str) -> Option<BlockType> {
        BlockType::ALL.into_iter().find(|t| t.keyword() == k)
    }

    /// How many labels the block has: `resource "type" "name"` has two.
    pub fn labels(self) -> usize {
        match self {
            BlockType::Data | BlockType::Resource => 2,
            BlockType::Provider | BlockType::Variable | BlockType::Output => 1,
            BlockType::Terraform | BlockType::Locals | BlockType::Moved => 0,
        }
    }

    /// A block without labels that a file may hold many of (written as a JSON array).
    pub fn repeats(self) -> bool {
        self == BlockType::Moved
    }
}

/// One top-level block: `resource "aws_s3_bucket" "logs" { ... }`. The body is borrowed from
/// the stack when it has one as it is.
#[derive(Clone, Debug, PartialEq)]
pub struct TopBlock<'a> {
    pub ty: BlockType,
    pub labels: Vec<String>,
    pub body: Cow<'a, Body>,
}

impl<'a> TopBlock<'a> {
    pub fn new(ty: BlockType, labels: &[&str], body: Cow<'a, Body>) -> Self {
        TopBlock {
            ty,
            labels: labels.iter().map(|l| l.to_string()).collect(),
            body,
        }
    }
}

/// One file of the document: its name without the extension (`main`) and its blocks in order.
#[derive(Clone, Debug, PartialEq)]
pub struct Section<'a> {
    pub name: &'static str,
    pub blocks: Vec<TopBlock<'a>>,
}

/// Where a top-level item lives: a block address (resource, data source, variable, local), or
/// one of the items that have no address of their own.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Key {
    Block(Address),
    Output(String),
    Provider(String),
    /// The `terraform` settings (every `terraform` block, merged).
    Terraform,
}

impl fmt::Display for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Key::Block(a) => write!(f, "{a}"),
            Key::Output(n) => write!(f, "output.{n}"),
            Key::Provider(n) => write!(f, "provider.{n}"),
            Key::Terraform => f.write_str("terraform"),
        }
    }
}

/// A whole document by key.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Document {
    /// Block bodies as objects (nested blocks as JSON writes them), locals as their values.
    pub items: BTreeMap<Key, Value>,
    /// `moved` blocks: (from, to).
    pub moved: Vec<(Address, Address)>,
    /// Files beside the Terraform files (`user_data.sh`): name to contents.
    pub files: BTreeMap<String, String>,
}

impl Document {
    /// The document a stack renders.
    pub fn from_stack(stack: &Stack) -> Document {
        let blocks = stack.sections().into_iter().flat_map(|s| s.blocks);
        Document::from_blocks(blocks, stack.files.iter().cloned())
    }

    /// Index top-level blocks by key. `moved` blocks whose ends are not bare addresses are
    /// skipped: a stack always writes addresses and [`crate::json::parse`] checks them.
    pub fn from_blocks<'a>(
        blocks: impl IntoIterator<Item = TopBlock<'a>>,
        files: impl IntoIterator<Item = (String, String)>,
    ) -> Document {
        let mut doc = Document {
            files: files.into_iter().collect(),
            ..Document::default()
        };
        for b in blocks {
            let label = |i: usize| b.labels.get(i).cloned().unwrap_or_default();
            let key = match b.ty {
                BlockType::Resource => Key::Block(Address::resource(&label(0), &label(1))),
                BlockType::Data => Key::Block(Address::data(&label(0), &label(1))),
                BlockType::Variable => Key::Block(Address::Var(label(0))),
                BlockType::Output => Key::Output(label(0)),
                BlockType::Provider => Key::Provider(label(0)),
                BlockType::Terraform => Key::Terraform,
                BlockType::Locals => {
                    for (name, v) in crate::json::body_entries(&b.body) {
                        doc.items.insert(Key::Block(Address::Local(name)), v);
                    }
                    continue;
                }
                BlockType::Moved => {
                    if let (Some(Value::Address(from)), Some(Value::Address(to))) =
                        (b.body.get("from"), b.body.get("to"))
                    {
                        doc.moved.push((from.clone(), to.clone()));
                    }
                    continue;
                }
            };
            let body = crate::json::body_entries(&b.body);
            match doc.items.get_mut(&key) {
                // Terraform merges its `terraform` blocks (versions and backend files).
                Some(Value::Object(kv)) => kv.extend(body),
                _ => {
                    doc.items.insert(key, Value::Object(body));
                }
            }
        }
        doc
    }

    /// The body of a resource or data block.
    pub fn block(&self, a: &Address) -> Option<&Value> {
        self.items.get(&Key::Block(a.clone()))
    }

    /// Every resource and data block, by address.
    pub fn blocks(&self) -> impl Iterator<Item = (&Address, &Value)> {
        self.items.iter().filter_map(|(k, v)| match k {
            Key::Block(a @ (Address::Resource { .. } | Address::Data { .. })) => Some((a, v)),
            _ => None,
        })
    }

    /// The block attributes that read the file `name` beside the document
    /// (`file("${path.module}/<name>")`).
    pub fn readers_of(&self, name: &str) -> Vec<(&Address, &str)> {
        let mut out = Vec::new();
        for (a, body) in self.blocks() {
            let Value::Object(kv) = body else { continue };
            for (attr, v) in kv {
                if reads_file(v, name) {
                    out.push((a, attr.as_str()));
                }
            }
        }
        out
    }
}

fn reads_file(v: &Value, name: &str) -> bool {
    let Value::Expr(Expr::Call(f, args)) = v else {
        return false;
    };
    let names = |path: &str| path == name || path.ends_with(&format!("/{name}"));
    f == "file"
        && match args.as_slice() {
            [Value::Str(path)] => names(path),
            [Value::Template(ps)] => matches!(ps.last(), Some(Piece::Lit(l)) if names(l)),
            _ => false,
        }
}
