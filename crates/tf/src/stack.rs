//! The whole document of one environment: terraform settings, providers, variables, locals,
//! data sources, resources, outputs, and extra files (such as `user_data.sh`).

use std::borrow::Cow;
use std::collections::{BTreeSet, HashSet};

use crate::body::Body;
use crate::document::{BlockType, Section, TopBlock};
use crate::error::{Error, Result};
use crate::schema::Schema;
use crate::value::{Address, Ref, Value};

/// `required_providers` entry.
#[derive(Clone, Debug, PartialEq)]
pub struct RequiredProvider {
    pub name: String,
    pub source: String,
    pub version: String,
}

/// `variable "name" { ... }`.
#[derive(Clone, Debug, PartialEq)]
pub struct Variable {
    pub name: String,
    /// A type expression: `string`, `number`, `bool`, `list(string)`...
    pub type_: &'static str,
    pub description: String,
    pub default: Option<Value>,
    pub sensitive: bool,
    /// `validation` blocks: a condition and the message shown when it is false.
    pub validations: Vec<(Value, String)>,
}

impl Variable {
    pub fn new(name: &str, type_: &'static str, description: &str) -> Self {
        Variable {
            name: name.into(),
            type_,
            description: description.into(),
            default: None,
            sensitive: false,
            validations: Vec::new(),
        }
    }
    pub fn sensitive(mut self) -> Self {
        self.sensitive = true;
        self
    }
    pub fn default(mut self, v: impl Into<Value>) -> Self {
        self.default = Some(v.into());
        self
    }
    pub fn validation(mut self, condition: impl Into<Value>, message: &str) -> Self {
        self.validations.push((condition.into(), message.into()));
        self
    }
}

impl Variable {
    fn body(&self) -> Body {
        let mut b = Body::new()
            .attr("description", &self.description)
            .attr("type", Value::Type(self.type_))
            .attr_opt("default", self.default.clone());
        if self.sensitive {
            b.set("sensitive", true);
        }
        for (c, m) in &self.validations {
            b.push_block(
                "validation",
                Body::new()
                    .attr("condition", c.clone())
                    .attr("error_message", m),
            );
        }
        b
    }
}

/// `output "name" { ... }`.
#[derive(Clone, Debug, PartialEq)]
pub struct Output {
    pub name: String,
    pub description: String,
    pub value: Value,
    pub sensitive: bool,
}

impl Output {
    fn body(&self) -> Body {
        let b = Body::new()
            .attr("description", &self.description)
            .attr("value", self.value.clone());
        if self.sensitive {
            b.attr("sensitive", true)
        } else {
            b
        }
    }
}

/// A resource or data block.
#[derive(Clone, Debug, PartialEq)]
pub struct Block {
    pub addr: Address,
    pub body: Body,
}

/// A Terraform document.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Stack {
    pub required_version: String,
    pub required_providers: Vec<RequiredProvider>,
    /// `backend "<kind>" { ... }`: literals only, as Terraform requires.
    pub backend: Option<(String, Body)>,
    pub providers: Vec<(String, Body)>,
    pub variables: Vec<Variable>,
    pub locals: Vec<(String, Value)>,
    pub data: Vec<Block>,
    pub resources: Vec<Block>,
    pub outputs: Vec<Output>,
    /// Files written beside the Terraform files, e.g. `user_data.sh`: (name, contents).
    pub files: Vec<(String, String)>,
    /// `moved { from = ..., to = ... }`: renamed resources keep their state.
    pub moved: Vec<(Address, Address)>,
}

impl Stack {
    pub fn new(required_version: &str) -> Self {
        Stack {
            required_version: required_version.into(),
            ..Stack::default()
        }
    }

    pub fn require_provider(&mut self, name: &str, source: &str, version: &str) {
        self.required_providers.push(RequiredProvider {
            name: name.into(),
            source: source.into(),
            version: version.into(),
        });
    }

    pub fn provider(&mut self, name: &str, body: Body) {
        self.providers.push((name.into(), body));
    }

    /// Declare a resource; returns its address for typed references.
    pub fn resource(&mut self, kind: &str, name: &str, body: Body) -> Address {
        let addr = Address::resource(kind, name);
        self.resources.push(Block {
            addr: addr.clone(),
            body,
        });
        addr
    }

    /// Declare a data source; returns its address.
    pub fn data(&mut self, kind: &str, name: &str, body: Body) -> Address {
        let addr = Address::data(kind, name);
        self.data.push(Block {
            addr: addr.clone(),
            body,
        });
        addr
    }

    /// Declare a variable; returns `var.<name>`.
    pub fn variable(&mut self, v: Variable) -> Ref {
        let r = Address::Var(v.name.clone()).whole();
        self.variables.push(v);
        r
    }

    /// Declare a local value; returns `local.<name>`.
    pub fn local(&mut self, name: &str, value: impl Into<Value>) -> Ref {
        self.locals.push((name.into(), value.into()));
        Address::Local(name.into()).whole()
    }

    pub fn output(&mut self, name: &str, description: &str, value: impl Into<Value>) {
        self.outputs.push(Output {
            name: name.into(),
            description: description.into(),
            value: value.into(),
            sensitive: false,
        });
    }

    pub fn file(&mut self, name: &str, contents: String) {
        self.files.push((name.into(), contents));
    }

    /// Find a resource or data block by address.
    pub fn block(&self, addr: &Address) -> Option<&Block> {
        self.resources
            .iter()
            .chain(&self.data)
            .find(|b| &b.addr == addr)
    }

    /// The files of the document and their blocks, in order: the one list both renderers walk.
    /// Variables, outputs and blocks are sorted by name; files with no blocks are left out.
    pub fn sections<'a>(&'a self) -> Vec<Section<'a>> {
        let versions = TopBlock::new(BlockType::Terraform, &[], Cow::Owned(self.versions_body()));
        let mut out = vec![Section {
            name: "versions",
            blocks: vec![versions],
        }];
        let mut add = |name: &'static str, blocks: Vec<TopBlock<'a>>| {
            if !blocks.is_empty() {
                out.push(Section { name, blocks });
            }
        };
        add(
            "providers",
            self.providers
                .iter()
                .map(|(n, b)| TopBlock::new(BlockType::Provider, &[n], Cow::Borrowed(b)))
                .collect(),
        );
        add(
            "backend",
            self.backend
                .iter()
                .map(|(kind, b)| {
                    let body = Body::new().labeled_block("backend", kind, b.clone());
                    TopBlock::new(BlockType::Terraform, &[], Cow::Owned(body))
                })
                .collect(),
        );
        let mut variables: Vec<&Variable> = self.variables.iter().collect();
        variables.sort_by(|a, b| a.name.cmp(&b.name));
        add(
            "variables",
            variables
                .into_iter()
                .map(|v| TopBlock::new(BlockType::Variable, &[&v.name], Cow::Owned(v.body())))
                .collect(),
        );
        add("main", self.main_blocks());
        let mut outputs: Vec<&Output> = self.outputs.iter().collect();
        outputs.sort_by(|a, b| a.name.cmp(&b.name));
        add(
            "outputs",
            outputs
                .into_iter()
                .map(|o| TopBlock::new(BlockType::Output, &[&o.name], Cow::Owned(o.body())))
                .collect(),
        );
        add(
            "moved",
            self.moved
                .iter()
                .map(|(from, to)| {
                    let body = Body::new()
                        .attr("from", Value::Address(from.clone()))
                        .attr("to", Value::Address(to.clone()));
                    TopBlock::new(BlockType::Moved, &[], Cow::Owned(body))
                })
                .collect(),
        );
        out
    }

    fn versions_body(&self) -> Body {
        let mut providers = Body::new();
        for p in &self.required_providers {
            providers.set(
                &p.name,
                Value::object([("source", &p.source), ("version", &p.version)]),
            );
        }
        Body::new()
            .attr("required_version", &self.required_version)
            .block("required_providers", providers)
    }

    /// `locals`, then data sources and resources sorted by address.
    fn main_blocks(&self) -> Vec<TopBlock<'_>> {
        let mut out = Vec::new();
        if !self.locals.is_empty() {
            let mut locals = Body::new();
            for (k, v) in &self.locals {
                locals.set(k, v.clone());
            }
            out.push(TopBlock::new(BlockType::Locals, &[], Cow::Owned(locals)));
        }
        for (ty, blocks) in [
            (BlockType::Data, &self.data),
            (BlockType::Resource, &self.resources),
        ] {
            let mut sorted: Vec<&Block> = blocks.iter().collect();
            sorted.sort_by(|a, b| a.addr.cmp(&b.addr));
            for b in sorted {
                if let Address::Resource { kind, name } | Address::Data { kind, name } = &b.addr {
                    out.push(TopBlock::new(ty, &[kind, name], Cow::Borrowed(&b.body)));
                }
            }
        }
        out
    }

    /// Every declared address, in a stable order.
    fn declared(&self) -> Result<BTreeSet<Address>> {
        let mut seen = BTreeSet::new();
        let all = self
            .resources
            .iter()
            .chain(&self.data)
            .map(|b| b.addr.clone())
            .chain(self.variables.iter().map(|v| Address::Var(v.name.clone())))
            .chain(self.locals.iter().map(|(n, _)| Address::Local(n.clone())));
        for a in all {
            if !seen.insert(a.clone()) {
                return Err(Error::DuplicateAddress {
                    address: a.to_string(),
                });
            }
        }
        let mut outputs = HashSet::new();
        for o in &self.outputs {
            if !outputs.insert(&o.name) {
                return Err(Error::DuplicateAddress {
                    address: format!("output.{}", o.name),
                });
            }
        }
        Ok(seen)
    }

    /// Check the document before it is written: duplicate addresses, dangling references and
    /// sensitive values (the schema says which attributes are) flowing into non-sensitive
    /// outputs.
    pub fn check(&self, schema: &Schema) -> Result<()> {
        let declared = self.declared()?;
        let mut uses: Vec<(String, &Value)> = Vec::new();
        for b in self.resources.iter().chain(&self.data) {
            for v in b.body.values() {
                uses.push((b.addr.to_string(), v));
            }
        }
        for v in &self.variables {
            for (cond, _) in &v.validations {
                uses.push((format!("var.{}", v.name), cond));
            }
        }
        for (n, v) in &self.locals {
            uses.push((format!("local.{n}"), v));
        }
        for o in &self.outputs {
            uses.push((format!("output.{}", o.name), &o.value));
        }
        for (from, v) in &uses {
            let mut refs = Vec::new();
            v.refs(&mut refs);
            let mut addrs: Vec<&Address> = refs.iter().map(|r| &r.addr).collect();
            v.addresses(&mut addrs);
            if let Some(to) = addrs.into_iter().find(|a| !declared.contains(a)) {
                return Err(Error::DanglingReference {
                    from: from.clone(),
                    to: to.to_string(),
                });
            }
        }
        for (from, to) in &self.moved {
            if declared.contains(from) {
                return Err(Error::BadMoved {
                    from: from.to_string(),
                    to: to.to_string(),
                    why: "`from` is still declared".into(),
                });
            }
            if !declared.contains(to) {
                return Err(Error::BadMoved {
                    from: from.to_string(),
                    to: to.to_string(),
                    why: "`to` is not declared".into(),
                });
            }
        }
        self.check_sensitive(schema)
    }

    fn check_sensitive(&self, schema: &Schema) -> Result<()> {
        // Sensitive sources: sensitive variables, provider-sensitive attributes, and locals
        // computed from either (to a fixed point).
        let mut sensitive: Vec<String> = self
            .variables
            .iter()
            .filter(|v| v.sensitive)
            .map(|v| format!("var.{}", v.name))
            .collect();
        let is_sensitive = |r: &Ref, sensitive: &[String]| -> Option<String> {
            if let (Address::Resource { kind, .. }, Some(attr)) = (&r.addr, r.path.first()) {
                if schema.is_sensitive(kind, attr) {
                    return Some(r.to_string());
                }
            }
            let a = r.addr.to_string();
            sensitive.contains(&a).then_some(a)
        };
        loop {
            let before = sensitive.len();
            for (n, v) in &self.locals {
                let name = format!("local.{n}");
                let mut refs = Vec::new();
                v.refs(&mut refs);
                if !sensitive.contains(&name)
                    && refs.iter().any(|r| is_sensitive(r, &sensitive).is_some())
                {
                    sensitive.push(name);
                }
            }
            if sensitive.len() == before {
                break;
            }
        }
        for o in self.outputs.iter().filter(|o| !o.sensitive) {
            let mut refs = Vec::new();
            o.value.refs(&mut refs);
            if let Some(via) = refs.iter().find_map(|r| is_sensitive(r, &sensitive)) {
                return Err(Error::SensitiveOutput {
                    output: o.name.clone(),
                    via,
                });
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::ResourceType;
    use crate::value::{Expr, Piece};

    const SCHEMA: Schema = Schema {
        types: &[ResourceType {
            sensitive: &["value"],
            ..ResourceType::new("aws_ssm_parameter")
        }],
    };

    fn small() -> Stack {
        let mut s = Stack::new(">= 1.11");
        let vpc = s.data("aws_vpc", "default", Body::new().attr("default", true));
        s.resource(
            "aws_security_group",
            "app",
            Body::new().attr("vpc_id", vpc.attr("id")),
        );
        s
    }

    #[test]
    fn a_wired_document_passes() {
        assert_eq!(small().check(&SCHEMA), Ok(()));
    }

    #[test]
    fn duplicate_addresses_are_rejected() {
        let mut s = small();
        s.resource("aws_security_group", "app", Body::new());
        assert_eq!(
            s.check(&SCHEMA),
            Err(Error::DuplicateAddress {
                address: "aws_security_group.app".into()
            })
        );
    }

    #[test]
    fn dangling_references_are_rejected() {
        let mut s = small();
        let ghost = Address::resource("aws_db_instance", "ghost");
        s.output(
            "db",
            "The database",
            Value::template([Piece::Expr(Expr::Ref(ghost.attr("address")))]),
        );
        let err = s.check(&SCHEMA).unwrap_err();
        assert_eq!(
            err,
            Error::DanglingReference {
                from: "output.db".into(),
                to: "aws_db_instance.ghost".into()
            }
        );
        assert!(err.to_string().contains("fix:"));
    }

    #[test]
    fn dangling_depends_on_is_rejected() {
        let mut s = small();
        s.resource(
            "aws_instance",
            "app",
            Body::new().depends_on([Address::resource("aws_iam_role", "nope")]),
        );
        assert!(matches!(
            s.check(&SCHEMA),
            Err(Error::DanglingReference { .. })
        ));
    }

    #[test]
    fn sensitive_values_need_sensitive_outputs() {
        let mut s = small();
        let pw = s.variable(Variable::new("db_password", "string", "Password").sensitive());
        let l = s.local(
            "dsn",
            Value::template([Piece::Lit("pg://u:".into()), Piece::Expr(Expr::Ref(pw))]),
        );
        s.output("dsn", "DSN", l.clone());
        assert_eq!(
            s.check(&SCHEMA),
            Err(Error::SensitiveOutput {
                output: "dsn".into(),
                via: "local.dsn".into()
            })
        );
        s.outputs.last_mut().unwrap().sensitive = true;
        assert_eq!(s.check(&SCHEMA), Ok(()));
        let p = s.resource("aws_ssm_parameter", "p", Body::new());
        s.output("p", "P", p.attr("value"));
        assert!(matches!(
            s.check(&SCHEMA),
            Err(Error::SensitiveOutput { .. })
        ));
    }
}
