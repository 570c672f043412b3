//! JSON rendering: the source of truth. Properties keep the order modules wrote them in;
//! blocks are sorted by type and name, so the output is byte-identical across runs.

use std::collections::BTreeMap;

use serde_json::{Map, Value as J};

use crate::body::{Body, Entry};
use crate::stack::{Block, Stack};
use crate::value::{expr_hcl, template_text, Value};

/// A rendered file: its name in the environment folder and its contents.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct File {
    pub name: String,
    pub contents: String,
}

/// Render one value as Terraform JSON.
pub fn value(v: &Value) -> J {
    match v {
        Value::Null => J::Null,
        Value::Bool(b) => J::Bool(*b),
        Value::Int(n) => J::from(*n),
        Value::Str(s) => J::String(crate::value::escape_template(s)),
        Value::Expr(e) => J::String(format!("${{{}}}", expr_hcl(e))),
        Value::Template(ps) => J::String(template_text(ps)),
        Value::Address(a) => J::String(a.to_string()),
        Value::Keyword(k) => J::String(k.clone()),
        Value::Type(t) => J::String((*t).to_string()),
        Value::List(vs) => J::Array(vs.iter().map(value).collect()),
        Value::Object(kv) => J::Object(kv.iter().map(|(k, v)| (k.clone(), value(v))).collect()),
    }
}

/// Render a block body as a JSON object.
pub fn body(b: &Body) -> J {
    let mut m = Map::new();
    for (k, e) in &b.entries {
        let v = match e {
            Entry::Attr(v) => value(v),
            Entry::Blocks(bs) if bs.len() == 1 => body(&bs[0]),
            Entry::Blocks(bs) => J::Array(bs.iter().map(body).collect()),
        };
        m.insert(k.clone(), v);
    }
    J::Object(m)
}

fn doc(header: &str, entries: Vec<(&str, J)>) -> String {
    let mut m = Map::new();
    m.insert("//".into(), J::String(header.into()));
    for (k, v) in entries {
        m.insert(k.into(), v);
    }
    let mut s = serde_json::to_string_pretty(&J::Object(m)).expect("JSON values always serialize");
    s.push('\n');
    s
}

/// `{"<type>": {"<name>": body}}`, sorted by type then name.
fn grouped(blocks: &[Block]) -> J {
    let mut by_type: BTreeMap<(String, String), &Body> = BTreeMap::new();
    for b in blocks {
        let (kind, name) = match &b.addr {
            crate::Address::Resource { kind, name } | crate::Address::Data { kind, name } => {
                (kind, name)
            }
            _ => continue,
        };
        by_type.insert((kind.clone(), name.clone()), &b.body);
    }
    let mut out = Map::new();
    for ((kind, name), b) in by_type {
        let slot = out.entry(kind).or_insert_with(|| J::Object(Map::new()));
        if let J::Object(m) = slot {
            m.insert(name, body(b));
        }
    }
    J::Object(out)
}

/// Render the document as split `.tf.json` files plus its extra files.
/// `header` becomes the root `"//"` comment of every JSON file.
pub fn render(stack: &Stack, header: &str) -> Vec<File> {
    let mut files = Vec::new();
    let mut add = |name: &str, contents: String| {
        files.push(File {
            name: name.into(),
            contents,
        })
    };

    let providers: Map<String, J> = stack
        .required_providers
        .iter()
        .map(|p| {
            let mut m = Map::new();
            m.insert("source".into(), J::String(p.source.clone()));
            m.insert("version".into(), J::String(p.version.clone()));
            (p.name.clone(), J::Object(m))
        })
        .collect();
    let mut terraform = Map::new();
    terraform.insert(
        "required_version".into(),
        J::String(stack.required_version.clone()),
    );
    terraform.insert("required_providers".into(), J::Object(providers));
    add(
        "versions.tf.json",
        doc(header, vec![("terraform", J::Object(terraform))]),
    );

    if !stack.providers.is_empty() {
        let mut m = Map::new();
        for (name, b) in &stack.providers {
            m.insert(name.clone(), body(b));
        }
        add(
            "providers.tf.json",
            doc(header, vec![("provider", J::Object(m))]),
        );
    }

    if let Some((kind, b)) = &stack.backend {
        let mut backend = Map::new();
        backend.insert(kind.clone(), body(b));
        let mut terraform = Map::new();
        terraform.insert("backend".into(), J::Object(backend));
        add(
            "backend.tf.json",
            doc(header, vec![("terraform", J::Object(terraform))]),
        );
    }

    if !stack.variables.is_empty() {
        let mut vars: BTreeMap<&str, J> = BTreeMap::new();
        for v in &stack.variables {
            let mut m = Map::new();
            m.insert("description".into(), J::String(v.description.clone()));
            m.insert("type".into(), J::String(v.type_.into()));
            if let Some(d) = &v.default {
                m.insert("default".into(), value(d));
            }
            if v.sensitive {
                m.insert("sensitive".into(), J::Bool(true));
            }
            if v.ephemeral {
                m.insert("ephemeral".into(), J::Bool(true));
            }
            if !v.validations.is_empty() {
                let vals = v
                    .validations
                    .iter()
                    .map(|(c, msg)| {
                        let mut m = Map::new();
                        m.insert("condition".into(), value(c));
                        m.insert(
                            "error_message".into(),
                            J::String(crate::value::escape_template(msg)),
                        );
                        J::Object(m)
                    })
                    .collect();
                m.insert("validation".into(), J::Array(vals));
            }
            vars.insert(&v.name, J::Object(m));
        }
        let vars = vars.into_iter().map(|(k, v)| (k.to_string(), v)).collect();
        add(
            "variables.tf.json",
            doc(header, vec![("variable", J::Object(vars))]),
        );
    }

    let mut main = Vec::new();
    if !stack.locals.is_empty() {
        let locals = stack
            .locals
            .iter()
            .map(|(k, v)| (k.clone(), value(v)))
            .collect();
        main.push(("locals", J::Object(locals)));
    }
    if !stack.data.is_empty() {
        main.push(("data", grouped(&stack.data)));
    }
    if !stack.resources.is_empty() {
        main.push(("resource", grouped(&stack.resources)));
    }
    if !main.is_empty() {
        add("main.tf.json", doc(header, main));
    }

    if !stack.outputs.is_empty() {
        let mut outs: BTreeMap<&str, J> = BTreeMap::new();
        for o in &stack.outputs {
            let mut m = Map::new();
            m.insert("description".into(), J::String(o.description.clone()));
            m.insert("value".into(), value(&o.value));
            if o.sensitive {
                m.insert("sensitive".into(), J::Bool(true));
            }
            outs.insert(&o.name, J::Object(m));
        }
        let outs = outs.into_iter().map(|(k, v)| (k.to_string(), v)).collect();
        add(
            "outputs.tf.json",
            doc(header, vec![("output", J::Object(outs))]),
        );
    }

    if !stack.moved.is_empty() {
        let moved = stack
            .moved
            .iter()
            .map(|(from, to)| {
                let mut m = Map::new();
                m.insert("from".into(), J::String(from.to_string()));
                m.insert("to".into(), J::String(to.to_string()));
                J::Object(m)
            })
            .collect();
        add(
            "moved.tf.json",
            doc(header, vec![("moved", J::Array(moved))]),
        );
    }

    for (name, contents) in &stack.files {
        add(name, contents.clone());
    }
    files
}
