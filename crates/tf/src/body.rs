//! The body of a block: attributes and nested blocks, in the order a module wrote them.

use crate::value::{Address, Value};

/// One entry of a body.
#[derive(Clone, Debug, PartialEq)]
pub enum Entry {
    Attr(Value),
    /// Nested blocks of one type (`lifecycle`, `statement`, `rule`...), in order.
    Blocks(Vec<Body>),
    /// Nested blocks of one type with a label each (`backend "s3" { ... }`), in order.
    Labeled(Vec<(String, Body)>),
}

/// Attributes and nested blocks. In JSON both are object properties; the HCL view needs to know
/// which is which, so the model keeps them apart.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Body {
    pub entries: Vec<(String, Entry)>,
}

impl Body {
    pub fn new() -> Self {
        Body::default()
    }

    /// Set an attribute (replacing one of the same name).
    pub fn attr(mut self, key: &str, value: impl Into<Value>) -> Self {
        self.set(key, value);
        self
    }

    /// Set an attribute when `value` is `Some`.
    pub fn attr_opt<V: Into<Value>>(self, key: &str, value: Option<V>) -> Self {
        match value {
            Some(v) => self.attr(key, v),
            None => self,
        }
    }

    pub fn set(&mut self, key: &str, value: impl Into<Value>) {
        let value = Entry::Attr(value.into());
        match self.entries.iter_mut().find(|(k, _)| k == key) {
            Some(slot) => slot.1 = value,
            None => self.entries.push((key.to_string(), value)),
        }
    }

    /// Add a nested block; a second block of the same type is appended after the first.
    pub fn block(mut self, key: &str, body: Body) -> Self {
        self.push_block(key, body);
        self
    }

    pub fn push_block(&mut self, key: &str, body: Body) {
        match self.entries.iter_mut().find(|(k, _)| k == key) {
            Some((_, Entry::Blocks(bs))) => bs.push(body),
            _ => self
                .entries
                .push((key.to_string(), Entry::Blocks(vec![body]))),
        }
    }

    /// Add a nested block with a label: `backend "s3" { ... }`.
    pub fn labeled_block(mut self, key: &str, label: &str, body: Body) -> Self {
        let block = (label.to_string(), body);
        match self.entries.iter_mut().find(|(k, _)| k == key) {
            Some((_, Entry::Labeled(bs))) => bs.push(block),
            _ => self
                .entries
                .push((key.to_string(), Entry::Labeled(vec![block]))),
        }
        self
    }

    /// `depends_on = [addr, ...]`, rendered as bare addresses.
    pub fn depends_on(self, addrs: impl IntoIterator<Item = Address>) -> Self {
        self.attr(
            "depends_on",
            Value::List(addrs.into_iter().map(Value::Address).collect()),
        )
    }

    /// Get an attribute by name.
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.entries.iter().find_map(|(k, e)| match e {
            Entry::Attr(v) if k == key => Some(v),
            _ => None,
        })
    }

    /// Get the nested blocks of a type.
    pub fn blocks(&self, key: &str) -> &[Body] {
        self.entries
            .iter()
            .find_map(|(k, e)| match e {
                Entry::Blocks(b) if k == key => Some(b.as_slice()),
                _ => None,
            })
            .unwrap_or(&[])
    }

    /// Visit every value in this body and its nested blocks.
    pub fn values(&self) -> Vec<&Value> {
        let mut out = Vec::new();
        self.collect_values(&mut out);
        out
    }

    fn collect_values<'a>(&'a self, out: &mut Vec<&'a Value>) {
        for (_, e) in &self.entries {
            match e {
                Entry::Attr(v) => out.push(v),
                Entry::Blocks(bs) => bs.iter().for_each(|b| b.collect_values(out)),
                Entry::Labeled(bs) => bs.iter().for_each(|(_, b)| b.collect_values(out)),
            }
        }
    }
}
