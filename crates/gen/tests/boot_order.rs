//! Boot ordering, computed from the generated document the way Terraform orders its work: a
//! block starts only after everything it references (in `${...}`) and everything it names in
//! `depends_on` exists, transitively. user_data reads every SSM parameter with the instance's
//! own role, and the app connects to the database, so `aws_instance.app` must come after each
//! parameter, each policy and policy attachment of its role, and the database; and after the
//! security-group rules those requests pass through: every egress rule of the app's group (the
//! provider removes the default allow-all egress of a group it creates, so before them the host
//! reaches nothing) and the database group's ingress rule from the app's group.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use serde_json::Value as J;

/// Every block of one environment (`type.name`, `data.type.name`) with its body.
fn blocks(env: &str) -> BTreeMap<String, J> {
    let envs = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../envs");
    let files = gen::build(&envs, env, gen::Format::Json).expect("the env generates");
    let mut out = BTreeMap::new();
    for f in files.iter().filter(|f| f.name.ends_with(".tf.json")) {
        let doc: J = serde_json::from_str(&f.contents).unwrap();
        for (section, prefix) in [("resource", ""), ("data", "data.")] {
            for (kind, named) in doc
                .get(section)
                .and_then(J::as_object)
                .into_iter()
                .flatten()
            {
                for (name, body) in named.as_object().into_iter().flatten() {
                    out.insert(format!("{prefix}{kind}.{name}"), body.clone());
                }
            }
        }
    }
    out
}

/// The block addresses a string mentions inside `${ }` (a literal `$${` is not a reference).
fn refs_in(s: &str, known: &BTreeSet<String>, out: &mut BTreeSet<String>) {
    let mut rest = s;
    while let Some(i) = rest.find("${") {
        let escaped = i > 0 && rest.as_bytes()[i - 1] == b'$';
        rest = &rest[i + 2..];
        let end = rest.find('}').unwrap_or(rest.len());
        if !escaped {
            let inner = &rest[..end];
            let words = inner.split(|c: char| !(c.is_ascii_alphanumeric() || "_.-".contains(c)));
            for w in words {
                let parts: Vec<&str> = w.split('.').collect();
                let addr = match parts.as_slice() {
                    ["data", kind, name, ..] => format!("data.{kind}.{name}"),
                    [kind, name, ..] => format!("{kind}.{name}"),
                    _ => continue,
                };
                if known.contains(&addr) {
                    out.insert(addr);
                }
            }
        }
        rest = &rest[end..];
    }
}

/// What one block waits for: references anywhere in its body, and `depends_on`.
fn direct(body: &J, known: &BTreeSet<String>) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    fn walk(v: &J, known: &BTreeSet<String>, out: &mut BTreeSet<String>) {
        match v {
            J::String(s) => refs_in(s, known, out),
            J::Array(a) => a.iter().for_each(|x| walk(x, known, out)),
            J::Object(m) => m.values().for_each(|x| walk(x, known, out)),
            _ => {}
        }
    }
    walk(body, known, &mut out);
    for d in body
        .get("depends_on")
        .and_then(J::as_array)
        .into_iter()
        .flatten()
    {
        let d = d.as_str().expect("depends_on holds bare addresses");
        assert!(
            known.contains(d),
            "depends_on names `{d}`, which is not declared"
        );
        out.insert(d.to_string());
    }
    out
}

/// Everything `start` waits for, transitively.
fn closure(all: &BTreeMap<String, J>, start: &str) -> BTreeSet<String> {
    let known: BTreeSet<String> = all.keys().cloned().collect();
    let mut seen = BTreeSet::new();
    let mut todo = vec![start.to_string()];
    while let Some(a) = todo.pop() {
        for d in direct(&all[&a], &known) {
            if seen.insert(d.clone()) {
                todo.push(d);
            }
        }
    }
    seen
}

/// Whether `body` is a security-group rule of `group` (its `security_group_id`).
fn rule_of(body: &J, group: &str) -> bool {
    body.get("security_group_id")
        .and_then(J::as_str)
        .is_some_and(|s| s == format!("${{{group}.id}}"))
}

/// What user_data and the app read at boot, and the rules their traffic passes through, found
/// in the document itself.
fn read_at_boot(all: &BTreeMap<String, J>) -> Vec<String> {
    let known: BTreeSet<String> = all.keys().cloned().collect();
    let role = "aws_iam_role.app";
    let mut need: Vec<String> = Vec::new();
    for (a, body) in all {
        let kind = a.split('.').next().unwrap_or("");
        let grants_role = matches!(
            kind,
            "aws_iam_role_policy" | "aws_iam_role_policy_attachment" | "aws_iam_policy_attachment"
        ) && direct(body, &known).contains(role);
        let app_egress =
            kind == "aws_vpc_security_group_egress_rule" && rule_of(body, "aws_security_group.app");
        let db_from_app = kind == "aws_vpc_security_group_ingress_rule"
            && rule_of(body, "aws_security_group.db")
            && direct(body, &known).contains("aws_security_group.app");
        if kind == "aws_ssm_parameter"
            || kind == "aws_db_instance"
            || grants_role
            || app_egress
            || db_from_app
        {
            need.push(a.clone());
        }
    }
    need
}

fn check(env: &str) {
    let all = blocks(env);
    let need = read_at_boot(&all);
    let count = |k: &str| need.iter().filter(|a| a.starts_with(k)).count();
    // Not vacuous: the document has parameters, a role policy and a database.
    assert!(
        count("aws_ssm_parameter.") >= 9,
        "{env}: parameters: {need:?}"
    );
    assert!(
        count("aws_iam_role_policy") >= 1,
        "{env}: role policies: {need:?}"
    );
    assert_eq!(count("aws_db_instance."), 1, "{env}: database: {need:?}");
    // 443 (AWS APIs, PyPI), 80 (apt), 5432 (the database); and 5432 into the database's group.
    assert!(
        count("aws_vpc_security_group_egress_rule.") >= 3,
        "{env}: egress rules: {need:?}"
    );
    assert_eq!(
        count("aws_vpc_security_group_ingress_rule."),
        1,
        "{env}: database ingress from the app: {need:?}"
    );
    let before = closure(&all, "aws_instance.app");
    let missing: Vec<&String> = need.iter().filter(|a| !before.contains(*a)).collect();
    assert!(
        missing.is_empty(),
        "{env}: aws_instance.app can boot before {missing:?} exist; it waits only for {before:?}"
    );
    assert!(
        !before.contains("aws_instance.app"),
        "{env}: aws_instance.app waits for itself (a cycle)"
    );
}

#[test]
fn the_dev_instance_boots_after_what_it_reads() {
    check("dev");
}

#[test]
fn the_prod_instance_boots_after_what_it_reads() {
    check("prod");
}

#[test]
fn references_are_found_and_literals_are_not() {
    let known: BTreeSet<String> = [
        "aws_db_instance.this",
        "data.aws_vpc.default",
        "aws_s3_bucket.logs",
    ]
    .map(String::from)
    .into();
    let mut out = BTreeSet::new();
    refs_in(
        "${aws_db_instance.this.address}:${tostring(data.aws_vpc.default.id)} $${aws_s3_bucket.logs.id}",
        &known,
        &mut out,
    );
    let want: BTreeSet<String> = ["aws_db_instance.this", "data.aws_vpc.default"]
        .map(String::from)
        .into();
    assert_eq!(out, want);
}
