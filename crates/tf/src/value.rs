//! Values: literals and Terraform expressions are different types.
//!
//! A [`Value::Str`] is a literal: rendering escapes `${` and `%{` so that bash `${VAR}` or IAM
//! `${aws:username}` survive. An [`Expr`] is built only from typed parts (addresses, function
//! calls, operators) and renders as `"${...}"`, never escaped.

use std::fmt::Write as _;

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
    Call(&'static str, Vec<Value>),
    /// A binary operator: `a >= b`, `a && b`.
    Binary(Box<Value>, &'static str, Box<Value>),
    /// `path.module`, the folder of the configuration.
    PathModule,
}

impl Expr {
    pub fn call(name: &'static str, args: impl IntoIterator<Item = Value>) -> Self {
        Expr::Call(name, args.into_iter().collect())
    }
    pub fn binary(a: impl Into<Value>, op: &'static str, b: impl Into<Value>) -> Self {
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

/// Escape a literal for a Terraform string template: `${` becomes `$${` and `%{` becomes `%%{`.
pub fn escape_template(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let b = s.as_bytes();
    for (i, c) in s.char_indices() {
        if (c == '$' || c == '%') && b.get(i + 1) == Some(&b'{') {
            out.push(c);
        }
        out.push(c);
    }
    out
}

/// Render an expression in HCL native syntax (the text inside `${ }`).
pub fn expr_hcl(e: &Expr) -> String {
    let mut s = String::new();
    write_expr(&mut s, e);
    s
}

fn write_expr(s: &mut String, e: &Expr) {
    match e {
        Expr::Ref(r) => {
            let _ = write!(s, "{r}");
        }
        Expr::Call(name, args) => {
            s.push_str(name);
            s.push('(');
            for (i, a) in args.iter().enumerate() {
                if i > 0 {
                    s.push_str(", ");
                }
                write_value_hcl(s, a);
            }
            s.push(')');
        }
        Expr::Binary(a, op, b) => {
            write_value_hcl(s, a);
            let _ = write!(s, " {op} ");
            write_value_hcl(s, b);
        }
        Expr::PathModule => s.push_str("path.module"),
    }
}

/// Render a value in HCL native expression syntax (used inside function calls, and by the
/// HCL view for expressions and templates).
pub fn value_hcl(v: &Value) -> String {
    let mut s = String::new();
    write_value_hcl(&mut s, v);
    s
}

fn write_quoted(s: &mut String, body: &str) {
    s.push('"');
    for c in body.chars() {
        match c {
            '"' => s.push_str("\\\""),
            '\\' => s.push_str("\\\\"),
            '\n' => s.push_str("\\n"),
            '\r' => s.push_str("\\r"),
            '\t' => s.push_str("\\t"),
            c if (c as u32) < 0x20 => {
                let _ = write!(s, "\\u{:04x}", c as u32);
            }
            c => s.push(c),
        }
    }
    s.push('"');
}

fn write_value_hcl(s: &mut String, v: &Value) {
    match v {
        Value::Null => s.push_str("null"),
        Value::Bool(b) => {
            let _ = write!(s, "{b}");
        }
        Value::Int(n) => {
            let _ = write!(s, "{n}");
        }
        Value::Str(lit) => write_quoted(s, &escape_template(lit)),
        Value::Expr(e) => write_expr(s, e),
        Value::Template(ps) => write_quoted(s, &template_text(ps)),
        Value::Address(a) => {
            let _ = write!(s, "{a}");
        }
        Value::Keyword(k) => s.push_str(k),
        Value::Type(t) => s.push_str(t),
        Value::List(vs) => {
            s.push('[');
            for (i, v) in vs.iter().enumerate() {
                if i > 0 {
                    s.push_str(", ");
                }
                write_value_hcl(s, v);
            }
            s.push(']');
        }
        Value::Object(kv) => {
            s.push('{');
            for (i, (k, v)) in kv.iter().enumerate() {
                if i > 0 {
                    s.push_str(", ");
                }
                if is_identifier(k) {
                    s.push_str(k);
                } else {
                    write_quoted(s, k);
                }
                s.push_str(" = ");
                write_value_hcl(s, v);
            }
            s.push('}');
        }
    }
}

/// The template text (before JSON or HCL string quoting): literals escaped, expressions in `${}`.
pub fn template_text(ps: &[Piece]) -> String {
    let mut s = String::new();
    for p in ps {
        match p {
            Piece::Lit(l) => s.push_str(&escape_template(l)),
            Piece::Expr(e) => {
                s.push_str("${");
                write_expr(&mut s, e);
                s.push('}');
            }
        }
    }
    s
}

/// True when `k` is a valid HCL identifier (letters, digits, `_`, `-`; not starting with a digit).
pub fn is_identifier(k: &str) -> bool {
    let mut cs = k.chars();
    matches!(cs.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && cs.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_interpolation_and_directives() {
        assert_eq!(escape_template("echo ${HOME}"), "echo $${HOME}");
        assert_eq!(escape_template("%{ if x }"), "%%{ if x }");
        assert_eq!(
            escape_template("arn:aws:s3:::b/${aws:username}/*"),
            "arn:aws:s3:::b/$${aws:username}/*"
        );
        assert_eq!(escape_template("$HOME costs 5% {x}"), "$HOME costs 5% {x}");
        // An already escaped sequence stays literal: `$${` means the three characters `$${`.
        assert_eq!(escape_template("$${x}"), "$$${x}");
        assert_eq!(escape_template("ünïcode ${é}"), "ünïcode $${é}");
        assert_eq!(escape_template("ends with $"), "ends with $");
    }

    #[test]
    fn references_render_as_traversals() {
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
    fn expressions_render_in_hcl_syntax() {
        let e = Expr::call(
            "file",
            [Value::template([
                Piece::Expr(Expr::PathModule),
                Piece::Lit("/user_data.sh".into()),
            ])],
        );
        assert_eq!(expr_hcl(&e), r#"file("${path.module}/user_data.sh")"#);
        let v = Address::Var("db_password".into()).whole();
        let cond = Expr::binary(Expr::call("length", [v.into()]), ">=", 12i64);
        assert_eq!(expr_hcl(&cond), "length(var.db_password) >= 12");
        let obj = Value::object([
            ("Version", Value::str("2012-10-17")),
            ("a b", Value::str("${x}")),
        ]);
        assert_eq!(
            value_hcl(&obj),
            r#"{Version = "2012-10-17", "a b" = "$${x}"}"#
        );
    }
}
