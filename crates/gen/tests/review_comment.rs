//! `gen review`'s comment: the plan cross-check and the 65,536-character bound.

use gen::pr::{cross_check, plan_actions, PlannedAction, Review, LIMIT};
use gen::review::read_files;
use serde_json::json;
use tf::Document;

fn doc(main: serde_json::Value) -> Document {
    let text = main.to_string();
    read_files([("main.tf.json", text.as_str())]).unwrap()
}

fn diff(old: &Document, new: &Document) -> Vec<gen::review::Change> {
    gen::review::diff(old, new, gen::PROVIDER)
}

fn plan(actions: &[(&str, &[&str])]) -> Vec<PlannedAction> {
    let rcs: Vec<_> = actions
        .iter()
        .map(|(a, acts)| json!({"address": a, "mode": "managed", "change": {"actions": acts, "after": {"password": "s3cret"}}}))
        .collect();
    plan_actions(&json!({"format_version": "1.2", "resource_changes": rcs}).to_string()).unwrap()
}

fn db(name: &str) -> serde_json::Value {
    json!({"resource": {"aws_db_instance": {"this": {"identifier": "x-db", "db_name": name}},
                        "aws_security_group": {"app": {"name": "x-app", "description": "d"}}}})
}

#[test]
fn a_predicted_replacement_the_plan_does_is_no_mismatch() {
    let changes = diff(&doc(db("app")), &doc(db("app2")));
    assert!(changes[0].danger[0].starts_with("replaces the database"));
    assert!(cross_check(
        &changes,
        &[],
        &plan(&[("aws_db_instance.this", &["delete", "create"])])
    )
    .is_empty());
}

#[test]
fn a_predicted_replacement_the_plan_does_not_do_is_a_mismatch() {
    let changes = diff(&doc(db("app")), &doc(db("app2")));
    let m = cross_check(
        &changes,
        &[],
        &plan(&[("aws_db_instance.this", &["update"])]),
    );
    assert_eq!(m.len(), 1);
    assert_eq!(
        (m[0].address.as_str(), m[0].plan.as_str()),
        ("aws_db_instance.this", "update")
    );
}

#[test]
fn an_unflagged_replace_or_destroy_in_the_plan_is_a_mismatch() {
    let old = doc(db("app"));
    let mut new_main = db("app");
    new_main["resource"]["aws_security_group"]["app"]["description"] = json!("e");
    let changes = diff(&old, &doc(new_main));
    // The description of a security group forces a new one: gen does not flag it.
    let m = cross_check(
        &changes,
        &[],
        &plan(&[
            ("aws_security_group.app", &["create", "delete"]),
            ("aws_db_instance.this", &["delete"]),
        ]),
    );
    let got: Vec<_> = m
        .iter()
        .map(|m| (m.address.as_str(), m.gen.as_str(), m.plan.as_str()))
        .collect();
    assert_eq!(
        got,
        [
            (
                "aws_security_group.app",
                "changed without a replacement flag",
                "replace"
            ),
            ("aws_db_instance.this", "no change", "delete"),
        ]
    );
}

#[test]
fn the_comment_stamps_commits_shows_mismatches_and_never_prints_plan_values() {
    let changes = diff(&doc(db("app")), &doc(db("app2")));
    let p = plan(&[("aws_db_instance.this", &["update"])]);
    let r = Review {
        env: "dev",
        base: "1111111".into(),
        head: "2222222".into(),
        mismatches: cross_check(&changes, &[], &p),
        changes: &changes,
        follows: Vec::new(),
        plan: Some(p),
    };
    let md = r.markdown();
    assert!(md.starts_with("<!-- gen review: dev -->\n"), "{md}");
    assert!(md.contains("Base `1111111`, head `2222222`"), "{md}");
    assert!(md.contains("❌ 1 mismatch(es)"), "{md}");
    assert!(
        md.contains("| `aws_db_instance.this` | replacement predicted | **update** |"),
        "{md}"
    );
    assert!(md.contains("db_name: \"app\" -> \"app2\""), "{md}");
    assert!(!md.contains("s3cret"));
    let j = serde_json::to_value(&r).unwrap();
    assert_eq!(j["mismatches"][0]["plan"], "update");
    assert!(!j.to_string().contains("s3cret"));
}

#[test]
fn a_change_of_hundreds_of_resources_stays_under_githubs_limit() {
    let rules = |cidr: &str| {
        let mut rules = serde_json::Map::new();
        for i in 0..600 {
            rules.insert(
                format!("app_{i}"),
                json!({"cidr_ipv4": cidr, "description": format!("rule {i} from {cidr} {}", "x".repeat(80)), "from_port": i, "to_port": i}),
            );
        }
        let mut buckets = serde_json::Map::new();
        for i in 0..50 {
            buckets.insert(format!("b{i}"), json!({"bucket": format!("{cidr}-{i}")}));
        }
        json!({"resource": {"aws_vpc_security_group_ingress_rule": rules, "aws_s3_bucket": buckets}})
    };
    let changes = diff(&doc(rules("10.0.0.0/16")), &doc(rules("10.1.0.0/16")));
    assert_eq!(changes.len(), 650);
    let r = Review {
        env: "dev",
        base: "b".into(),
        head: "h".into(),
        changes: &changes,
        follows: Vec::new(),
        plan: None,
        mismatches: Vec::new(),
    };
    let md = r.markdown();
    assert!(md.chars().count() <= LIMIT, "{}", md.chars().count());
    assert!(
        md.contains("| `aws_vpc_security_group_ingress_rule` | 0 | 600 | 0 | 0 |"),
        "{}",
        &md[..2000]
    );
    assert!(md.contains("| `aws_s3_bucket` | 0 | 50 | 0 | 0 |"));
    assert!(md.contains(
        "_Cut to stay under GitHub's 65536 characters: the attribute changes of all 650 addresses"
    ));
    // The flags are kept: every bucket replacement is listed.
    assert_eq!(md.matches("replaces the bucket").count(), 50);
}

#[test]
fn backticks_in_values_cannot_break_the_markdown() {
    let a = json!({"resource": {"aws_s3_bucket": {"a": {"tags": {"x": "```\n</details>"}}}}});
    let b = json!({"resource": {"aws_s3_bucket": {"a": {"tags": {"x": "````"}}}}});
    let changes = diff(&doc(a), &doc(b));
    let r = Review {
        env: "dev",
        base: "b".into(),
        head: "h".into(),
        changes: &changes,
        follows: Vec::new(),
        plan: None,
        mismatches: Vec::new(),
    };
    let md = r.markdown();
    // The fence is longer than any run of backticks inside it.
    assert!(md.contains("`````diff\n"), "{md}");
}

#[test]
fn a_file_that_is_not_a_plan_is_refused() {
    assert!(plan_actions("{}")
        .unwrap_err()
        .0
        .contains("not a Terraform JSON plan"));
    assert!(plan_actions("nope").unwrap_err().0.contains("not JSON"));
    assert!(plan_actions(r#"{"format_version": "1.2"}"#)
        .unwrap()
        .is_empty());
}

#[test]
fn resources_that_reference_a_replaced_one_may_be_replaced_with_it() {
    let with_versioning = |name: &str| {
        json!({"resource": {"aws_s3_bucket": {"content": {"bucket": name}},
            "aws_s3_bucket_versioning": {"content": {"bucket": "${aws_s3_bucket.content.id}"}},
            "aws_s3_bucket_policy": {"content": {"bucket": "${aws_s3_bucket_versioning.content.bucket}"}},
            "aws_ssm_parameter": {"other": {"name": "/x"}}}})
    };
    let new = doc(with_versioning("b2"));
    let changes = diff(&doc(with_versioning("b1")), &new);
    let follows = gen::pr::dependents(&new, &changes);
    assert_eq!(
        follows,
        [
            "aws_s3_bucket_versioning.content",
            "aws_s3_bucket_policy.content"
        ]
    );
    let p = plan(&[
        ("aws_s3_bucket.content", &["delete", "create"]),
        ("aws_s3_bucket_versioning.content", &["delete", "create"]),
        ("aws_s3_bucket_policy.content", &["delete", "create"]),
    ]);
    assert!(cross_check(&changes, &follows, &p).is_empty());
    // Without the dependents, the plan's replacements are unexplained.
    assert_eq!(cross_check(&changes, &[], &p).len(), 2);
    let p = plan(&[
        ("aws_s3_bucket.content", &["delete", "create"]),
        ("aws_ssm_parameter.other", &["delete", "create"]),
    ]);
    assert_eq!(
        cross_check(&changes, &follows, &p)[0].address,
        "aws_ssm_parameter.other"
    );
}
