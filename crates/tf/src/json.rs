//! JSON: the source of truth. [`render`] writes a stack's [sections](crate::document) as
//! `.tf.json` files; properties keep the order modules wrote them in and blocks are sorted by
//! type and name, so the output is byte-identical across runs. [`parse`] reads such files back
//! into a [`Document`].

use serde_json::{Map, Value as J};

use crate::body::{Body, Entry};
use crate::document::{BlockType, Document, Section, TopBlock};
use crate::error::{Error, Result};
use crate::stack::Stack;
use crate::syntax;
use crate::value::Value;

/// A rendered file: its name in the environment folder and its contents.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct File {
    pub name: String,
    pub contents: String,
}

/// Nested blocks written as a JSON array even when there is one: a variable's `validation`
/// blocks (as gen always wrote them). Any other single nested block is one object.
const LIST_BLOCKS: &[&str] = &["validation"];

/// Render one value as Terraform JSON.
pub fn value(v: &Value) -> J {
    if let Some(text) = syntax::json_text(v) {
        return J::String(text);
    }
    match v {
        Value::Bool(b) => J::Bool(*b),
        Value::Int(n) => J::from(*n),
        Value::Float(n) => J::from(*n),
        Value::List(vs) => J::Array(vs.iter().map(value).collect()),
        Value::Object(kv) => J::Object(kv.iter().map(|(k, v)| (k.clone(), value(v))).collect()),
        _ => J::Null,
    }
}

/// How JSON writes the nested blocks `key` of a body: one as an object, several (or one of
/// the language's repeatable blocks) as a list.
fn as_list(key: &str, blocks: &[Body]) -> bool {
    blocks.len() != 1 || LIST_BLOCKS.contains(&key)
}

/// A body's entries as JSON writes them: attributes as they are, nested blocks as objects (see
/// [`as_list`]), labeled blocks as an object by label.
pub fn body_entries(b: &Body) -> Vec<(String, Value)> {
    let entry = |k: &str, e: &Entry| match e {
        Entry::Attr(v) => v.clone(),
        Entry::Blocks(bs) if as_list(k, bs) => {
            Value::List(bs.iter().map(|b| Value::Object(body_entries(b))).collect())
        }
        Entry::Blocks(bs) => Value::Object(body_entries(&bs[0])),
        Entry::Labeled(bs) => Value::Object(
            bs.iter()
                .map(|(l, b)| (l.clone(), Value::Object(body_entries(b))))
                .collect(),
        ),
    };
    b.entries
        .iter()
        .map(|(k, e)| (k.clone(), entry(k, e)))
        .collect()
}

/// Render a block body as a JSON object: the same shape as [`body_entries`], written directly.
pub fn body(b: &Body) -> J {
    let entry = |k: &str, e: &Entry| match e {
        Entry::Attr(v) => value(v),
        Entry::Blocks(bs) if as_list(k, bs) => J::Array(bs.iter().map(body).collect()),
        Entry::Blocks(bs) => body(&bs[0]),
        Entry::Labeled(bs) => J::Object(bs.iter().map(|(l, b)| (l.clone(), body(b))).collect()),
    };
    J::Object(
        b.entries
            .iter()
            .map(|(k, e)| (k.clone(), entry(k, e)))
            .collect(),
    )
}

/// One section as a JSON document: `{"//": header, "<block type>": {"<label>": ... body}}`.
fn section(header: &str, s: &Section) -> String {
    let mut root = Map::new();
    root.insert("//".into(), J::String(header.into()));
    for b in &s.blocks {
        let kw = b.ty.keyword().to_string();
        if b.ty.repeats() {
            let slot = root.entry(kw).or_insert_with(|| J::Array(Vec::new()));
            if let J::Array(items) = slot {
                items.push(body(&b.body));
            }
            continue;
        }
        let mut slot = root.entry(kw).or_insert_with(|| J::Object(Map::new()));
        for l in &b.labels {
            let J::Object(m) = slot else { break };
            slot = m.entry(l.clone()).or_insert_with(|| J::Object(Map::new()));
        }
        *slot = body(&b.body);
    }
    let mut text =
        serde_json::to_string_pretty(&J::Object(root)).expect("JSON values always serialize");
    text.push('\n');
    text
}

/// Render the document as split `.tf.json` files plus its extra files.
/// `header` becomes the root `"//"` comment of every JSON file.
pub fn render(stack: &Stack, header: &str) -> Vec<File> {
    let mut files: Vec<File> = stack
        .sections()
        .iter()
        .map(|s| File {
            name: format!("{}.tf.json", s.name),
            contents: section(header, s),
        })
        .collect();
    files.extend(stack.files.iter().map(|(name, contents)| File {
        name: name.clone(),
        contents: contents.clone(),
    }));
    files
}

/// Read generated files back: `.tf.json` files as Terraform JSON, the others as they are.
///
/// The folder may also hold the user's own Terraform JSON. What gen does not write is not
/// guessed at: block types it does not write (`module`, ...) are left out, and a string that is
/// not an expression gen writes (a conditional, a directive) stays its text, so it compares
/// equal only to the same text. Only a file that is not JSON, or not shaped as Terraform JSON,
/// is an error.
pub fn parse<'a>(files: impl IntoIterator<Item = (&'a str, &'a str)>) -> Result<Document> {
    let mut blocks = Vec::new();
    let mut others = Vec::new();
    for (name, text) in files {
        if name.ends_with(".tf.json") {
            let unreadable = |why: String| Error::Unreadable {
                file: name.to_string(),
                why,
            };
            let root: J =
                serde_json::from_str(text).map_err(|e| unreadable(format!("not JSON ({e})")))?;
            read_root(&root, &mut blocks).map_err(unreadable)?;
        } else {
            others.push((name.to_string(), text.to_string()));
        }
    }
    Ok(Document::from_blocks(blocks, others))
}

type Read<T> = std::result::Result<T, String>;

fn read_root(root: &J, out: &mut Vec<TopBlock<'static>>) -> Read<()> {
    let J::Object(root) = root else {
        return Err("the top level is not an object".into());
    };
    for (kw, v) in root {
        if let Some(ty) = BlockType::from_keyword(kw) {
            read_labeled(ty, Vec::new(), v, out)?;
        }
    }
    Ok(())
}

/// Descend one object level per label, then read the body (or the list of bodies).
fn read_labeled(
    ty: BlockType,
    labels: Vec<String>,
    v: &J,
    out: &mut Vec<TopBlock<'static>>,
) -> Read<()> {
    if labels.len() < ty.labels() {
        let J::Object(m) = v else {
            return Err(format!("`{}` needs {} label(s)", ty.keyword(), ty.labels()));
        };
        for (l, inner) in m {
            let mut labels = labels.clone();
            labels.push(l.clone());
            read_labeled(ty, labels, inner, out)?;
        }
        return Ok(());
    }
    let bodies = match v {
        J::Array(items) => items.iter().collect(),
        one => vec![one],
    };
    for b in bodies {
        let J::Object(m) = b else {
            return Err(format!("a `{}` body is not an object", ty.keyword()));
        };
        let mut body = Body::new();
        for (k, v) in m {
            body.set(k, read_value(v));
        }
        read_meta_arguments(ty, &mut body);
        out.push(TopBlock {
            ty,
            labels: labels.clone(),
            body: std::borrow::Cow::Owned(body),
        });
    }
    Ok(())
}

/// Meta-arguments whose strings are bare addresses, not templates (`depends_on`, a `moved`
/// block's ends). A string that is no address stays a string.
fn read_meta_arguments(ty: BlockType, body: &mut Body) {
    let keys: &[&str] = match ty {
        BlockType::Resource | BlockType::Data => &["depends_on"],
        BlockType::Moved => &["from", "to"],
        _ => return,
    };
    let address = |v: &Value| match v {
        Value::Str(s) => syntax::address_from_text(s).map_or(v.clone(), Value::Address),
        other => other.clone(),
    };
    for k in keys {
        match body.get(k) {
            Some(Value::List(items)) => {
                let list = Value::List(items.iter().map(address).collect());
                body.set(k, list);
            }
            Some(v) => body.set(k, address(v)),
            None => {}
        }
    }
}

fn read_value(v: &J) -> Value {
    match v {
        J::Null => Value::Null,
        J::Bool(b) => Value::Bool(*b),
        J::Number(n) => match (n.as_i64(), n.as_f64()) {
            (Some(i), _) => Value::Int(i),
            (None, Some(f)) => Value::Float(f),
            _ => Value::Str(n.to_string()),
        },
        J::String(s) => syntax::from_json_text(s).unwrap_or_else(|_| Value::Str(s.clone())),
        J::Array(items) => Value::List(items.iter().map(read_value).collect()),
        J::Object(m) => Value::Object(m.iter().map(|(k, v)| (k.clone(), read_value(v))).collect()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::value::{Address, Expr, Op, Piece};
    use crate::{Schema, Variable};

    /// A document with every kind of block and value gen writes.
    fn everything() -> Stack {
        let mut s = Stack::new(">= 1.11");
        s.require_provider("aws", "hashicorp/aws", "~> 5.0");
        s.provider("aws", Body::new().attr("region", "us-east-1"));
        s.backend = Some(("s3".into(), Body::new().attr("bucket", "state")));
        let name = s.variable(
            Variable::new("name", "string", "A name")
                .default("demo")
                .validation(
                    Expr::binary(Expr::call("length", [name_ref()]), Op::Greater, 2i64),
                    "name needs 3 characters or more.",
                ),
        );
        let tags = s.local("tags", Value::object([("Name", Value::from(name.clone()))]));
        let vpc = s.data("aws_vpc", "default", Body::new().attr("default", true));
        let sg = s.resource(
            "aws_security_group",
            "app",
            Body::new()
                .attr("vpc_id", vpc.attr("id"))
                .attr("description", "Literal ${not_interpolated} 100%")
                .attr("tags", tags)
                .block(
                    "lifecycle",
                    Body::new().attr(
                        "ignore_changes",
                        Value::list([Value::Keyword("tags".into())]),
                    ),
                ),
        );
        let rule = Body::new()
            .attr("security_group_id", sg.attr("id"))
            .attr("from_port", 8000u16)
            // A number with a fraction reads back as one (not as a string).
            .attr("weight", 0.5f64)
            .block("statement", Body::new().attr("sid", "a"))
            .block("statement", Body::new().attr("sid", "b"))
            .depends_on([sg.clone(), vpc.clone()]);
        s.resource("aws_vpc_security_group_ingress_rule", "web", rule);
        let url = Value::template([
            Piece::Lit("http://".into()),
            Piece::Expr(Expr::Ref(sg.attr("id"))),
        ]);
        s.output("url", "The URL", url);
        s.moved
            .push((Address::resource("aws_security_group", "old"), sg));
        s.file("user_data.sh", "#!/bin/sh\necho ${HOME}\n".into());
        s.check(&Schema::EMPTY).unwrap();
        s
    }

    fn name_ref() -> Value {
        Address::Var("name".into()).whole().into()
    }

    /// What JSON cannot tell apart, made equal: bare keywords and types are strings there.
    fn plain(v: &Value) -> Value {
        match v {
            Value::Keyword(k) => Value::Str(k.clone()),
            Value::Type(t) => Value::Str(t.to_string()),
            Value::List(vs) => Value::List(vs.iter().map(plain).collect()),
            Value::Object(kv) => {
                Value::Object(kv.iter().map(|(k, v)| (k.clone(), plain(v))).collect())
            }
            other => other.clone(),
        }
    }

    #[test]
    fn generated_files_read_back_into_the_same_document() {
        let s = everything();
        let files = render(&s, "test");
        let read = parse(files.iter().map(|f| (f.name.as_str(), f.contents.as_str()))).unwrap();
        let mut direct = Document::from_stack(&s);
        direct.items.values_mut().for_each(|v| *v = plain(v));
        assert_eq!(read, direct);
        let web = read
            .block(&Address::resource(
                "aws_vpc_security_group_ingress_rule",
                "web",
            ))
            .unwrap();
        assert_eq!(
            web.get("depends_on"),
            Some(&Value::List(vec![
                Value::Address(Address::resource("aws_security_group", "app")),
                Value::Address(Address::data("aws_vpc", "default")),
            ]))
        );
        assert_eq!(read.moved.len(), 1);
        assert_eq!(read.files["user_data.sh"], "#!/bin/sh\necho ${HOME}\n");
    }

    #[test]
    fn what_gen_does_not_write_is_left_out_or_kept_as_text() {
        let user = r#"{
          "module": {"m": {"source": "./m"}},
          "x": 1,
          "resource": {"aws_x": {"y": {
            "a": "${c ? d : e}", "n": 1.5, "depends_on": ["not an address"]
          }}}
        }"#;
        let doc = parse([("mine.tf.json", user)]).unwrap();
        assert_eq!(doc.items.len(), 1, "{doc:?}");
        let y = doc.block(&Address::resource("aws_x", "y")).unwrap();
        assert_eq!(y.get("a"), Some(&Value::str("${c ? d : e}")));
        // gen writes numbers with a fraction (alarm thresholds): they read back as numbers.
        assert_eq!(y.get("n"), Some(&Value::Float(1.5)));
        assert_eq!(y.get("depends_on"), Some(&Value::list(["not an address"])));
        for (text, why) in [
            ("{", "not JSON"),
            ("[]", "the top level is not an object"),
            (
                r#"{"resource": {"aws_x": 1}}"#,
                "`resource` needs 2 label(s)",
            ),
        ] {
            let err = parse([("main.tf.json", text)]).unwrap_err().to_string();
            assert!(
                err.starts_with("main.tf.json: ") && err.contains(why),
                "{err}"
            );
        }
    }
}
