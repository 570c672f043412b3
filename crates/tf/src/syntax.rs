//! Values in Terraform's own syntax, through hcl-rs's types: the one conversion from a
//! [`Value`] to an hcl-rs [`Expression`] (typed traversals, function calls and operators) that
//! both renderers use, and its inverse for reading a generated JSON string back.
//!
//! hcl-rs writes every character: literals are escaped by its template formatter (`${` becomes
//! `$${`, `%{` becomes `%%{`), expressions by its expression formatter. Nothing here prints HCL
//! by hand.

use std::str::FromStr;

use hcl::expr::{
    BinaryOp, Expression, FuncCall, Object, ObjectKey, Operation, TemplateExpr, Traversal,
    TraversalOperator, Variable,
};
use hcl::template::{Element, Template};
use hcl::{Identifier, Number};

use crate::value::{Address, Expr, Piece, Ref, Value};

/// The hcl-rs expression of a value, as the HCL view writes it.
pub fn expression(v: &Value) -> Expression {
    match v {
        Value::Null => Expression::Null,
        Value::Bool(b) => Expression::Bool(*b),
        Value::Int(n) => Expression::Number(Number::from(*n)),
        Value::Float(n) => Number::from_f64(*n).map_or(Expression::Null, Expression::Number),
        Value::Str(s) if literal_parts(s).len() == 1 => Expression::String(s.clone()),
        Value::Str(s) => {
            Expression::TemplateExpr(Box::new(TemplateExpr::QuotedString(quoted_template(&[
                Piece::Lit(s.clone()),
            ]))))
        }
        Value::Expr(e) => expr(e),
        Value::Template(ps) => {
            Expression::TemplateExpr(Box::new(TemplateExpr::QuotedString(quoted_template(ps))))
        }
        Value::Address(a) => traversal(a, &[]),
        Value::Keyword(k) => Expression::Variable(Variable::unchecked(k.as_str())),
        Value::Type(t) => type_expression(t),
        Value::List(vs) => Expression::Array(vs.iter().map(expression).collect()),
        Value::Object(kv) => {
            let mut o = Object::new();
            for (k, v) in kv {
                // hcl-rs quotes a key that is not a valid identifier.
                o.insert(
                    ObjectKey::Identifier(Identifier::unchecked(k.as_str())),
                    expression(v),
                );
            }
            Expression::Object(o)
        }
    }
}

/// The text of a value inside a JSON string: a literal escaped, an expression as `${...}`, a
/// template as its pieces. `None` for values JSON writes natively (numbers, lists, ...).
pub fn json_text(v: &Value) -> Option<String> {
    let template = match v {
        // Nothing to escape: the text is the string (most literals; keeps rendering fast).
        Value::Str(s) if !s.contains("${") && !s.contains("%{") => return Some(s.clone()),
        Value::Str(s) => literal(Template::new(), s),
        Value::Expr(e) => Template::new().add_interpolation(expr(e)),
        Value::Template(ps) => template(ps),
        // Bare traversals and type expressions: the expression's own text.
        Value::Address(_) | Value::Keyword(_) | Value::Type(_) => {
            return Some(format(&expression(v)));
        }
        _ => return None,
    };
    Some(format(&template))
}

fn format<T: hcl::format::Format>(t: &T) -> String {
    hcl::format::to_string(t).expect("formatting into memory cannot fail")
}

fn expr(e: &Expr) -> Expression {
    match e {
        Expr::Ref(r) => traversal(&r.addr, &r.path),
        Expr::Call(name, args) => {
            let call = args.iter().fold(FuncCall::builder(name.as_str()), |c, a| {
                c.arg(expression(a))
            });
            Expression::FuncCall(Box::new(call.build()))
        }
        Expr::Binary(a, op, b) => Expression::Operation(Box::new(Operation::Binary(
            BinaryOp::new(operand(a), *op, operand(b)),
        ))),
        Expr::PathModule => traversal_of("path", &["module".to_string()]),
    }
}

/// An operand of a binary operator; a nested operation keeps its own precedence.
fn operand(v: &Value) -> Expression {
    match v {
        Value::Expr(Expr::Binary(..)) => Expression::Parenthesis(Box::new(expression(v))),
        _ => expression(v),
    }
}

fn traversal(a: &Address, path: &[String]) -> Expression {
    let (root, mut steps): (&str, Vec<String>) = match a {
        Address::Resource { kind, name } => (kind, vec![name.clone()]),
        Address::Data { kind, name } => ("data", vec![kind.clone(), name.clone()]),
        Address::Var(n) => ("var", vec![n.clone()]),
        Address::Local(n) => ("local", vec![n.clone()]),
    };
    steps.extend(path.iter().cloned());
    traversal_of(root, &steps)
}

fn traversal_of(root: &str, steps: &[String]) -> Expression {
    let operators = steps.iter().map(|s| match s.parse::<u64>() {
        Ok(i) => TraversalOperator::Index(Expression::Number(Number::from(i))),
        Err(_) => TraversalOperator::GetAttr(Identifier::unchecked(s.as_str())),
    });
    Expression::Traversal(Box::new(Traversal::new(
        Variable::unchecked(root),
        operators,
    )))
}

/// A type constraint such as `string` or `list(string)`.
fn type_expression(t: &str) -> Expression {
    match t.strip_suffix(')').and_then(|t| t.split_once('(')) {
        Some((f, inner)) => Expression::FuncCall(Box::new(
            FuncCall::builder(f).arg(type_expression(inner)).build(),
        )),
        None => Expression::Variable(Variable::unchecked(t)),
    }
}

fn template(ps: &[Piece]) -> Template {
    ps.iter().fold(Template::new(), |t, p| match p {
        Piece::Lit(l) => literal(t, l),
        Piece::Expr(e) => t.add_interpolation(expr(e)),
    })
}

/// A literal in the pieces hcl-rs escapes correctly. hcl-rs 0.20 (hcl-primitives 0.1.13)
/// skips the character after a `$` or `%` once it has escaped a marker, so in `${a} $%{b}` the
/// `%{` would stay a directive. Splitting between two adjacent `$`/`%` avoids that case.
fn literal_parts(s: &str) -> Vec<&str> {
    let b = s.as_bytes();
    let mut parts = Vec::new();
    let mut start = 0;
    for i in 1..b.len() {
        if matches!(b[i - 1], b'$' | b'%') && matches!(b[i], b'$' | b'%') {
            parts.push(&s[start..i]);
            start = i;
        }
    }
    parts.push(&s[start..]);
    parts
}

fn literal(t: Template, s: &str) -> Template {
    literal_parts(s)
        .into_iter()
        .fold(t, |t, p| t.add_literal(p))
}

/// The inside of a quoted template (`"http://${aws_instance.app.public_ip}:8000"`): hcl-rs's
/// string escaping for the literals, its template formatting for the interpolations.
fn quoted_template(ps: &[Piece]) -> String {
    let mut out = String::new();
    for p in ps {
        match p {
            Piece::Lit(l) => {
                for part in literal_parts(l) {
                    let quoted = format(&Expression::String(part.to_string()));
                    out.push_str(&quoted[1..quoted.len() - 1]);
                }
            }
            Piece::Expr(e) => out.push_str(&format(&Template::new().add_interpolation(expr(e)))),
        }
    }
    out
}

/// Why a generated string could not be read back.
pub type ReadError = String;

/// Read the text of a JSON string back into a value: a literal, an expression (`${...}` alone)
/// or a template.
pub fn from_json_text(s: &str) -> Result<Value, ReadError> {
    if !s.contains("${") && !s.contains("%{") {
        return Ok(Value::Str(s.to_string()));
    }
    let t = Template::from_str(s).map_err(|e| format!("`{s}`: {e}"))?;
    from_template(&t).map_err(|e| format!("`{s}`: {e}"))
}

fn from_template(t: &Template) -> Result<Value, ReadError> {
    let mut pieces = Vec::new();
    for el in t.elements() {
        match el {
            Element::Literal(l) => match pieces.last_mut() {
                Some(Piece::Lit(prev)) => prev.push_str(l),
                _ => pieces.push(Piece::Lit(l.clone())),
            },
            Element::Interpolation(i) => pieces.push(Piece::Expr(to_expr(&i.expr)?)),
            Element::Directive(_) => return Err("a template directive".into()),
        }
    }
    Ok(match pieces.as_slice() {
        [] => Value::Str(String::new()),
        [Piece::Lit(l)] => Value::Str(l.clone()),
        [Piece::Expr(e)] => Value::Expr(e.clone()),
        _ => Value::Template(pieces),
    })
}

fn to_expr(e: &Expression) -> Result<Expr, ReadError> {
    match from_expression(e)? {
        Value::Expr(x) => Ok(x),
        other => Err(format!("a literal where an expression belongs ({other:?})")),
    }
}

/// The value of an hcl-rs expression.
pub fn from_expression(e: &Expression) -> Result<Value, ReadError> {
    Ok(match e {
        Expression::Null => Value::Null,
        Expression::Bool(b) => Value::Bool(*b),
        Expression::Number(n) => match (n.as_i64(), n.as_f64()) {
            (Some(i), _) => Value::Int(i),
            (None, Some(f)) => Value::Float(f),
            _ => return Err(format!("the number {n}")),
        },
        Expression::String(s) => Value::Str(s.clone()),
        Expression::Array(vs) => {
            Value::List(vs.iter().map(from_expression).collect::<Result<_, _>>()?)
        }
        Expression::Object(o) => {
            let mut kv = Vec::new();
            for (k, v) in o {
                let key = match k {
                    ObjectKey::Identifier(i) => i.to_string(),
                    ObjectKey::Expression(Expression::String(s)) => s.clone(),
                    other => return Err(format!("the object key {other:?}")),
                };
                kv.push((key, from_expression(v)?));
            }
            Value::Object(kv)
        }
        Expression::TemplateExpr(t) => {
            from_template(&Template::from_expr(t).map_err(|e| e.to_string())?)?
        }
        Expression::Traversal(t) => Value::Expr(from_traversal(t)?),
        Expression::FuncCall(f) if f.name.namespace.is_empty() && !f.expand_final => {
            let args = f
                .args
                .iter()
                .map(from_expression)
                .collect::<Result<_, _>>()?;
            Value::Expr(Expr::Call(f.name.name.to_string(), args))
        }
        Expression::Operation(op) => match op.as_ref() {
            Operation::Binary(b) => Value::Expr(Expr::Binary(
                Box::new(from_expression(&b.lhs_expr)?),
                b.operator,
                Box::new(from_expression(&b.rhs_expr)?),
            )),
            Operation::Unary(_) => return Err("a unary operator".into()),
        },
        Expression::Parenthesis(inner) => from_expression(inner)?,
        other => return Err(format!("an expression gen does not write ({other:?})")),
    })
}

fn from_traversal(t: &Traversal) -> Result<Expr, ReadError> {
    let Expression::Variable(root) = &t.expr else {
        return Err("a traversal that does not start at a name".into());
    };
    let mut steps = Vec::new();
    for op in &t.operators {
        steps.push(match op {
            TraversalOperator::GetAttr(i) => i.to_string(),
            TraversalOperator::Index(Expression::Number(n)) => n.to_string(),
            TraversalOperator::LegacyIndex(i) => i.to_string(),
            other => return Err(format!("the traversal step {other:?}")),
        });
    }
    let mut steps = steps.into_iter();
    let mut next = |what: &str| {
        steps
            .next()
            .ok_or(format!("`{}` without {what}", root.as_str()))
    };
    let addr = match root.as_str() {
        "path" if next("a name")? == "module" => return Ok(Expr::PathModule),
        "var" => Address::Var(next("a name")?),
        "local" => Address::Local(next("a name")?),
        "data" => {
            let kind = next("a type")?;
            Address::Data {
                kind,
                name: next("a name")?,
            }
        }
        kind => Address::Resource {
            kind: kind.to_string(),
            name: next("a name")?,
        },
    };
    Ok(Expr::Ref(Ref {
        addr,
        path: steps.collect(),
    }))
}

/// A bare address as `depends_on` and `moved` write it: `aws_iam_role.app`.
pub fn address_from_text(s: &str) -> Result<Address, ReadError> {
    let e = Expression::from_str(s).map_err(|e| format!("`{s}`: {e}"))?;
    match from_expression(&e)? {
        Value::Expr(Expr::Ref(Ref { addr, path })) if path.is_empty() => Ok(addr),
        _ => Err(format!("`{s}` is not a block address")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::value::Op;

    fn text(v: &Value) -> String {
        json_text(v).unwrap()
    }

    #[test]
    fn literals_are_escaped_and_read_back() {
        for (lit, escaped) in [
            ("echo ${HOME}", "echo $${HOME}"),
            ("%{ if x }", "%%{ if x }"),
            (
                "arn:aws:s3:::b/${aws:username}/*",
                "arn:aws:s3:::b/$${aws:username}/*",
            ),
            ("$HOME costs 5% {x}", "$HOME costs 5% {x}"),
            // An already escaped sequence stays literal: `$${` means the three characters `$${`.
            ("$${x}", "$$${x}"),
            ("ünïcode ${é}", "ünïcode $${é}"),
            ("ends with $", "ends with $"),
            ("5%${w}s and $%{x}", "5%$${w}s and $%%{x}"),
        ] {
            let v = Value::str(lit);
            assert_eq!(text(&v), escaped, "{lit}");
            assert_eq!(from_json_text(escaped), Ok(v), "{lit}");
        }
    }

    /// Every string of up to 6 characters from `$`, `%`, `{`, `a`: escaped as the reference
    /// rule says (a `$` or `%` right before `{` is doubled), and read back unchanged, in JSON and
    /// in the HCL view.
    #[test]
    fn every_short_literal_survives_escaping() {
        let reference = |s: &str| {
            let b = s.as_bytes();
            let mut out = String::new();
            for (i, c) in s.char_indices() {
                if (c == '$' || c == '%') && b.get(i + 1) == Some(&b'{') {
                    out.push(c);
                }
                out.push(c);
            }
            out
        };
        let mut strings = vec![String::new()];
        let mut longest = vec![String::new()];
        for _ in 0..6 {
            longest = longest
                .iter()
                .flat_map(|s| "$%{a".chars().map(move |c| format!("{s}{c}")))
                .collect();
            strings.extend(longest.iter().cloned());
        }
        assert_eq!(strings.len(), (0..=6).map(|n| 4usize.pow(n)).sum::<usize>());
        for s in &strings {
            let v = Value::str(s.as_str());
            assert_eq!(text(&v), reference(s), "{s:?}");
            assert_eq!(from_json_text(&reference(s)), Ok(v.clone()), "{s:?}");
            let hcl_text = format(&expression(&v));
            let back = from_expression(&Expression::from_str(&hcl_text).unwrap());
            assert_eq!(back, Ok(v), "{s:?} as {hcl_text}");
        }
    }

    #[test]
    fn expressions_render_in_hcl_syntax_and_read_back() {
        let module = Piece::Expr(Expr::PathModule);
        let file = Expr::call(
            "file",
            [Value::template([
                module,
                Piece::Lit("/user_data.sh".into()),
            ])],
        );
        let v = Address::Var("db_password".into()).whole();
        let len = Expr::binary(
            Expr::call("length", [v.clone().into()]),
            Op::GreaterEq,
            12i64,
        );
        let cond = Expr::binary(len.clone(), Op::And, Expr::binary(1i64, Op::Less, 2i64));
        let regex = Expr::call("regex", [Value::str("^[^/@\" ]{8,128}$"), v.into()]);
        let app = Address::resource("aws_instance", "app");
        let url = Value::template([
            Piece::Lit("http://".into()),
            Piece::Expr(Expr::Ref(app.attr("public_ip"))),
            Piece::Lit(":8000".into()),
        ]);
        let indexed = Address::data("aws_x", "y")
            .attr("list")
            .then("0")
            .then("id");
        for (value, json) in [
            (
                Value::from(file),
                r#"${file("${path.module}/user_data.sh")}"#,
            ),
            (Value::from(len), "${length(var.db_password) >= 12}"),
            (
                Value::from(cond),
                "${(length(var.db_password) >= 12) && (1 < 2)}",
            ),
            (
                Value::from(regex),
                r#"${regex("^[^/@\" ]{8,128}$", var.db_password)}"#,
            ),
            (url, "http://${aws_instance.app.public_ip}:8000"),
            (Value::from(indexed), "${data.aws_x.y.list[0].id}"),
        ] {
            assert_eq!(text(&value), json);
            assert_eq!(from_json_text(json), Ok(value), "{json}");
        }
    }

    #[test]
    fn the_hcl_view_uses_typed_expressions() {
        let obj = Value::object([
            ("Version", Value::str("2012-10-17")),
            ("a b", Value::str("${x}")),
        ]);
        let call = Value::from(Expr::call("jsonencode", [obj]));
        assert_eq!(
            format(&expression(&call)),
            r#"jsonencode({ Version = "2012-10-17", "a b" = "$${x}" })"#
        );
        let quoted = Value::template([
            Piece::Lit("say \"hi\"\n${not} ".into()),
            Piece::Expr(Expr::call("lower", [Value::str("A\"B")])),
        ]);
        assert_eq!(
            format(&expression(&quoted)),
            r#""say \"hi\"\n$${not} ${lower("A\"B")}""#
        );
        assert_eq!(
            format(&expression(&Value::Type("list(string)"))),
            "list(string)"
        );
        let dep = Value::Address(Address::data("aws_vpc", "default"));
        assert_eq!(format(&expression(&dep)), "data.aws_vpc.default");
        assert_eq!(
            address_from_text("data.aws_vpc.default"),
            Ok(Address::data("aws_vpc", "default"))
        );
        assert!(address_from_text("aws_vpc.default.id").is_err());
    }

    #[test]
    fn what_gen_never_writes_is_an_error_not_a_guess() {
        assert!(from_json_text("%{ if true }x%{ endif }").is_err());
        assert!(from_json_text("${a ? b : c}").is_err());
        assert!(from_json_text("${1.5}").is_err());
    }
}
