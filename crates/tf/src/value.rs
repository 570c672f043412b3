//! Values: literals and Terraform expressions are different types.
//!
//! A [`Value::Str`] is a literal: rendering escapes `${` and `%{` so that bash `${VAR}` or IAM
//! `${aws:username}` survive. An [`Expr`] is built only from typed parts (addresses, function
//! calls, operators) and renders as `"${...}"`, never escaped. The text of both is written by
//! hcl-rs (see [`crate::syntax`]); this module only holds the types.

/// A binary operator (`>=`, `&&`, ...): hcl-rs's own type.
pub use hcl::expr::BinaryOperator as Op;

/// The address of a block in the document, e.g. `aws_instance.app`, `data.aws_vpc.default`,
/// `var.db_password`, `local.tags`.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Address {
    Resource { kind: String, name: String },
    Data { kind: String, name: String },
    Var(String),
    Local(String),
}

impl Address {
    pub fn resource(kind: &str, name: &str) -> Self {
        Address::Resource {
            kind: kind.into(),
            name: name.into(),
        }
    }
    pub fn data(kind: &str, name: &str) -> Self {
        Address::Data {
            kind: kind.into(),
            name: name.into(),
        }
    }

    /// A reference to an attribute of this block, e.g. `aws_db_instance.this.address`.
    pub fn attr(&self, attr: &str) -> Ref {
        Ref {
            addr: self.clone(),
            path: vec![attr.to_string()],
        }
    }

    /// A reference to the block itself (a whole variable or local).
    pub fn whole(&self) -> Ref {
        Ref {
            addr: self.clone(),
            path: Vec::new(),
        }
    }

    /// The type of a resource or data block (`aws_s3_bucket`); `None` for variables and locals.
    pub fn kind(&self) -> Option<&str> {
        match self {
            Address::Resource { kind, .. } | Address::Data { kind, .. } => Some(kind),
            Address::Var(_) | Address::Local(_) => None,
        }
    }
}

impl std::fmt::Display for Address {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Address::Resource { kind, name } => write!(f, "{kind}.{name}"),
            Address::Data { kind, name } => write!(f, "data.{kind}.{name}"),
            Address::Var(n) => write!(f, "var.{n}"),
            Address::Local(n) => write!(f, "local.{n}"),
        }
    }
}

/// A typed reference to an attribute of a block: renders as a Terraform traversal and can never
/// be mistaken for a literal string.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Ref {
    pub addr: Address,
    pub path: Vec<String>,
}

impl Ref {
    /// A deeper attribute: `aws_instance.app.root_block_device` then `.0`...
    pub fn then(mut self, step: &str) -> Self {
        self.path.push(step.to_string());
        self
    }
}

impl std::fmt::Display for Ref {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.addr)?;
        for p in &self.path {
            if p.bytes().all(|b| b.is_ascii_digit()) {
                write!(f, "[{p}]")?;
            } else {
                write!(f, ".{p}")?;
            }
        }
        Ok(())
    }
}

/// A Terraform expression, rendered inside `${ }`.
#[derive(Clone, Debug, PartialEq)]
pub enum Expr {
    Ref(Ref),
    /// A function call: `jsonencode(...)`, `file(...)`, `length(...)`.
    Call(String, Vec<Value>),
    /// A binary operator: `a >= b`, `a && b`.
    Binary(Box<Value>, Op, Box<Value>),
    /// `path.module`, the folder of the configuration.
    PathModule,
}

impl Expr {
    pub fn call(name: &str, args: impl IntoIterator<Item = Value>) -> Self {
        Expr::Call(name.to_string(), args.into_iter().collect())
    }
    pub fn binary(a: impl Into<Value>, op: Op, b: impl Into<Value>) -> Self {
        Expr::Binary(Box::new(a.into()), op, Box::new(b.into()))
    }
    /// Every reference inside this expression.
    pub fn refs<'a>(&'a self, out: &mut Vec<&'a Ref>) {
        match self {
            Expr::Ref(r) => out.push(r),
            Expr::Call(_, args) => args.iter().for_each(|a| a.refs(out)),
            Expr::Binary(a, _, b) => {
                a.refs(out);
                b.refs(out);
            }
            Expr::PathModule => {}
        }
    }

    fn replace_address(&mut self, from: &Address, to: &Address) {
        match self {
            Expr::Ref(r) if &r.addr == from => r.addr = to.clone(),
            Expr::Ref(_) | Expr::PathModule => {}
            Expr::Call(_, args) => args.iter_mut().for_each(|a| a.replace_address(from, to)),
            Expr::Binary(a, _, b) => {
                a.replace_address(from, to);
                b.replace_address(from, to);
            }
        }
    }
}

/// One piece of a string template such as `http://${aws_instance.app.public_ip}:8000`.
#[derive(Clone, Debug, PartialEq)]
pub enum Piece {
    Lit(String),
    Expr(Expr),
}

/// A value in the document: a literal, an expression, a template, a bare traversal for
/// meta-arguments, or a collection of them.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    Null,
    Bool(bool),
    Int(i64),
    /// A number with a fraction (`0.5`); whole numbers are [`Value::Int`].
    Float(f64),
    /// A literal string; escaped when rendered.
    Str(String),
    Expr(Expr),
    Template(Vec<Piece>),
    /// A bare block address, as `depends_on` needs (`aws_iam_role.this`, no `${}`).
    Address(Address),
    /// A bare attribute name, as `ignore_changes` needs (`description`, no `${}`).
    Keyword(String),
    /// A type expression such as `string` or `list(string)`, for variable `type`.
    Type(&'static str),
    List(Vec<Value>),
    Object(Vec<(String, Value)>),
}

impl Value {
    pub fn str(s: impl Into<String>) -> Self {
        Value::Str(s.into())
    }
    pub fn list<T: Into<Value>>(items: impl IntoIterator<Item = T>) -> Self {
        Value::List(items.into_iter().map(Into::into).collect())
    }
    pub fn object<K: Into<String>, V: Into<Value>>(
        items: impl IntoIterator<Item = (K, V)>,
    ) -> Self {
        Value::Object(
            items
                .into_iter()
                .map(|(k, v)| (k.into(), v.into()))
                .collect(),
        )
    }
    pub fn template(pieces: impl IntoIterator<Item = Piece>) -> Self {
        Value::Template(pieces.into_iter().collect())
    }

    /// Every reference this value makes (expressions, templates and bare addresses).
    pub fn refs<'a>(&'a self, out: &mut Vec<&'a Ref>) {
        match self {
            Value::Expr(e) => e.refs(out),
            Value::Template(ps) => ps.iter().for_each(|p| {
                if let Piece::Expr(e) = p {
                    e.refs(out)
                }
            }),
            Value::List(vs) => vs.iter().for_each(|v| v.refs(out)),
            Value::Object(kv) => kv.iter().for_each(|(_, v)| v.refs(out)),
            _ => {}
        }
    }

    /// Bare addresses (depends_on) inside this value.
    pub fn addresses<'a>(&'a self, out: &mut Vec<&'a Address>) {
        match self {
            Value::Address(a) => out.push(a),
            Value::List(vs) => vs.iter().for_each(|v| v.addresses(out)),
            Value::Object(kv) => kv.iter().for_each(|(_, v)| v.addresses(out)),
            _ => {}
        }
    }

    /// Every block this value names, by reference or as a bare address, in order.
    pub fn blocks_named(&self) -> Vec<&Address> {
        let mut refs = Vec::new();
        self.refs(&mut refs);
        let mut out: Vec<&Address> = refs.into_iter().map(|r| &r.addr).collect();
        self.addresses(&mut out);
        out
    }

    /// The same value with every reference to (and bare mention of) `from` pointing at `to`:
    /// what a block looks like after the block it uses was renamed.
    pub fn replace_address(&mut self, from: &Address, to: &Address) {
        match self {
            Value::Expr(e) => e.replace_address(from, to),
            Value::Template(ps) => ps.iter_mut().for_each(|p| {
                if let Piece::Expr(e) = p {
                    e.replace_address(from, to)
                }
            }),
            Value::Address(a) if a == from => *a = to.clone(),
            Value::List(vs) => vs.iter_mut().for_each(|v| v.replace_address(from, to)),
            Value::Object(kv) => kv.iter_mut().for_each(|(_, v)| v.replace_address(from, to)),
            _ => {}
        }
    }

    /// The value of `key` in an object.
    pub fn get(&self, key: &str) -> Option<&Value> {
        match self {
            Value::Object(kv) => kv.iter().find_map(|(k, v)| (k == key).then_some(v)),
            _ => None,
        }
    }

    /// The value at a path of object keys (`["tags", "Name"]`).
    pub fn at(&self, path: &[&str]) -> Option<&Value> {
        path.iter().try_fold(self, |v, k| v.get(k))
    }
}

impl From<&str> for Value {
    fn from(s: &str) -> Self {
        Value::Str(s.to_string())
    }
}
impl From<String> for Value {
    fn from(s: String) -> Self {
        Value::Str(s)
    }
}
impl From<&String> for Value {
    fn from(s: &String) -> Self {
        Value::Str(s.clone())
    }
}
impl From<bool> for Value {
    fn from(b: bool) -> Self {
        Value::Bool(b)
    }
}
impl From<i64> for Value {
    fn from(n: i64) -> Self {
        Value::Int(n)
    }
}
impl From<f64> for Value {
    fn from(n: f64) -> Self {
        Value::Float(n)
    }
}
impl From<u32> for Value {
    fn from(n: u32) -> Self {
        Value::Int(n.into())
    }
}
impl From<u16> for Value {
    fn from(n: u16) -> Self {
        Value::Int(n.into())
    }
}
impl From<Expr> for Value {
    fn from(e: Expr) -> Self {
        Value::Expr(e)
    }
}
impl From<Ref> for Value {
    fn from(r: Ref) -> Self {
        Value::Expr(Expr::Ref(r))
    }
}
impl From<&Ref> for Value {
    fn from(r: &Ref) -> Self {
        Value::Expr(Expr::Ref(r.clone()))
    }
}
impl<T: Into<Value>> From<Vec<T>> for Value {
    fn from(v: Vec<T>) -> Self {
        Value::list(v)
    }
}
impl From<Piece> for Value {
    fn from(p: Piece) -> Self {
        match p {
            Piece::Lit(s) => Value::Str(s),
            Piece::Expr(e) => Value::Expr(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_display_as_terraform_addresses() {
        let db = Address::resource("aws_db_instance", "this");
        assert_eq!(
            db.attr("address").to_string(),
            "aws_db_instance.this.address"
        );
        let vpc = Address::data("aws_vpc", "default");
        assert_eq!(vpc.attr("id").to_string(), "data.aws_vpc.default.id");
        assert_eq!(Address::Var("x".into()).whole().to_string(), "var.x");
        let r = Address::resource("aws_instance", "app")
            .attr("root_block_device")
            .then("0")
            .then("volume_id");
        assert_eq!(
            r.to_string(),
            "aws_instance.app.root_block_device[0].volume_id"
        );
    }

    #[test]
    fn a_rename_follows_every_reference_and_bare_address() {
        let old = Address::resource("aws_s3_bucket", "media");
        let new = Address::resource("aws_s3_bucket", "content");
        let other = Address::resource("aws_s3_bucket", "logs");
        let mut v = Value::object([
            ("bucket", Value::from(old.attr("id"))),
            ("keep", Value::from(other.attr("id"))),
            (
                "arn",
                Value::template([
                    Piece::Expr(Expr::Ref(old.attr("arn"))),
                    Piece::Lit("/*".into()),
                ]),
            ),
            (
                "len",
                Expr::call("length", [old.attr("tags").into()]).into(),
            ),
            ("depends_on", Value::List(vec![Value::Address(old.clone())])),
        ]);
        v.replace_address(&old, &new);
        assert_eq!(
            v.blocks_named(),
            vec![&new, &other, &new, &new, &new],
            "every mention of the old address moved, the others stayed"
        );
        assert_eq!(v.at(&["bucket"]), Some(&Value::from(new.attr("id"))));
    }
}
