//! The HCL view: the same document as `.tf` files through hcl-rs, for readers. JSON stays the
//! source of truth; this view is never parsed back.

use std::collections::BTreeMap;
use std::str::FromStr;

use hcl::expr::{Expression, Object, ObjectKey, TemplateExpr};
use hcl::structure::{Attribute, Block as HBlock, Body as HBody};

use crate::body::{Body, Entry};
use crate::error::{Error, Result};
use crate::json::File;
use crate::stack::{Block, Stack};
use crate::value::{value_hcl, Address, Value};

fn expr(v: &Value) -> Result<Expression> {
    Ok(match v {
        Value::Null => Expression::Null,
        Value::Bool(b) => Expression::Bool(*b),
        Value::Int(n) => Expression::from(*n),
        // hcl-rs escapes `${` and `%{` in plain strings itself.
        Value::Str(s) => Expression::String(s.clone()),
        Value::List(vs) => Expression::Array(vs.iter().map(expr).collect::<Result<_>>()?),
        Value::Object(kv) => {
            let mut o = Object::new();
            for (k, v) in kv {
                let key = if crate::value::is_identifier(k) {
                    ObjectKey::Identifier(hcl::Identifier::unchecked(k))
                } else {
                    ObjectKey::Expression(Expression::String(k.clone()))
                };
                o.insert(key, expr(v)?);
            }
            Expression::Object(o)
        }
        Value::Template(_) => {
            let quoted = value_hcl(v);
            Expression::TemplateExpr(Box::new(TemplateExpr::QuotedString(
                quoted[1..quoted.len() - 1].to_string(),
            )))
        }
        // Expressions, addresses, keywords and types: parse our own HCL text, so that a typo in
        // the printer is caught here rather than by terraform.
        other => {
            let text = value_hcl(other);
            Expression::from_str(&text).map_err(|e| Error::Hcl {
                message: format!("`{text}`: {e}"),
            })?
        }
    })
}

fn body(b: &Body) -> Result<HBody> {
    let mut out = HBody::builder();
    for (k, e) in &b.entries {
        match e {
            Entry::Attr(v) => out = out.add_attribute(Attribute::new(k.as_str(), expr(v)?)),
            Entry::Blocks(bs) => {
                for nb in bs {
                    out = out.add_block(
                        HBlock::builder(k.as_str())
                            .add_structures(body(nb)?)
                            .build(),
                    );
                }
            }
        }
    }
    Ok(out.build())
}

fn labeled(kind: &str, labels: &[&str], b: &Body) -> Result<HBlock> {
    Ok(HBlock::builder(kind)
        .add_labels(labels.iter().copied())
        .add_structures(body(b)?)
        .build())
}

fn sorted(blocks: &[Block]) -> Vec<(&str, &str, &Body)> {
    let mut v: BTreeMap<(&str, &str), &Body> = BTreeMap::new();
    for b in blocks {
        if let Address::Resource { kind, name } | Address::Data { kind, name } = &b.addr {
            v.insert((kind, name), &b.body);
        }
    }
    v.into_iter().map(|((k, n), b)| (k, n, b)).collect()
}

fn file(name: &str, header: &str, blocks: Vec<HBlock>) -> Result<File> {
    let body = HBody::builder().add_blocks(blocks).build();
    let text = hcl::format::to_string(&body).map_err(|e| Error::Hcl {
        message: e.to_string(),
    })?;
    Ok(File {
        name: name.into(),
        contents: format!("# {header}\n\n{text}"),
    })
}

/// Render the document as `.tf` files (same split as the JSON) plus its extra files.
pub fn render(stack: &Stack, header: &str) -> Result<Vec<File>> {
    let mut files = Vec::new();
    let mut rp = Body::new();
    for p in &stack.required_providers {
        rp.set(
            &p.name,
            Value::object([
                ("source", p.source.as_str()),
                ("version", p.version.as_str()),
            ]),
        );
    }
    let tf = Body::new()
        .attr("required_version", stack.required_version.as_str())
        .block("required_providers", rp);
    files.push(file(
        "versions.tf",
        header,
        vec![labeled("terraform", &[], &tf)?],
    )?);

    if !stack.providers.is_empty() {
        let blocks = stack
            .providers
            .iter()
            .map(|(n, b)| labeled("provider", &[n], b))
            .collect::<Result<_>>()?;
        files.push(file("providers.tf", header, blocks)?);
    }
    if let Some((kind, b)) = &stack.backend {
        let tf = HBlock::builder("terraform")
            .add_block(labeled("backend", &[kind], b)?)
            .build();
        files.push(file("backend.tf", header, vec![tf])?);
    }
    if !stack.variables.is_empty() {
        let mut vars: Vec<_> = stack.variables.iter().collect();
        vars.sort_by(|a, b| a.name.cmp(&b.name));
        let mut blocks = Vec::new();
        for v in vars {
            let mut b = Body::new()
                .attr("description", v.description.as_str())
                .attr("type", Value::Type(v.type_));
            if let Some(d) = &v.default {
                b.set("default", d.clone());
            }
            if v.sensitive {
                b.set("sensitive", true);
            }
            if v.ephemeral {
                b.set("ephemeral", true);
            }
            for (c, m) in &v.validations {
                b.push_block(
                    "validation",
                    Body::new()
                        .attr("condition", c.clone())
                        .attr("error_message", m.as_str()),
                );
            }
            blocks.push(labeled("variable", &[&v.name], &b)?);
        }
        files.push(file("variables.tf", header, blocks)?);
    }
    let mut main = Vec::new();
    if !stack.locals.is_empty() {
        let mut b = Body::new();
        for (k, v) in &stack.locals {
            b.set(k, v.clone());
        }
        main.push(labeled("locals", &[], &b)?);
    }
    for (k, n, b) in sorted(&stack.data) {
        main.push(labeled("data", &[k, n], b)?);
    }
    for (k, n, b) in sorted(&stack.resources) {
        main.push(labeled("resource", &[k, n], b)?);
    }
    if !main.is_empty() {
        files.push(file("main.tf", header, main)?);
    }
    if !stack.outputs.is_empty() {
        let mut outs: Vec<_> = stack.outputs.iter().collect();
        outs.sort_by(|a, b| a.name.cmp(&b.name));
        let mut blocks = Vec::new();
        for o in outs {
            let mut b = Body::new()
                .attr("description", o.description.as_str())
                .attr("value", o.value.clone());
            if o.sensitive {
                b.set("sensitive", true);
            }
            blocks.push(labeled("output", &[&o.name], &b)?);
        }
        files.push(file("outputs.tf", header, blocks)?);
    }
    for (name, contents) in &stack.files {
        files.push(File {
            name: name.clone(),
            contents: contents.clone(),
        });
    }
    Ok(files)
}
