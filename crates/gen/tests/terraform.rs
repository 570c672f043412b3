//! Real `terraform validate` (offline, with the mirrored AWS provider) on a small document and on
//! every generated environment, both as JSON (the source of truth) and as the HCL view.
//!
//! Needs `terraform` on PATH and the provider mirror at /opt/tf-plugins (or $TF_PLUGIN_DIR):
//! without them this test fails, it does not skip.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use tf::{Address, Body, Expr, Op, Piece, Stack, Value, Variable};

fn plugin_dir() -> String {
    std::env::var("TF_PLUGIN_DIR").unwrap_or_else(|_| "/opt/tf-plugins".into())
}

fn terraform(dir: &Path, args: &[&str]) -> (bool, String) {
    let o = Command::new("timeout")
        .arg("120")
        .arg("terraform")
        .args(args)
        .arg("-no-color")
        .current_dir(dir)
        .env("TF_IN_AUTOMATION", "1")
        .env("CHECKPOINT_DISABLE", "1")
        .output()
        .expect("terraform must be installed (see README: requirements)");
    (
        o.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        ),
    )
}

fn validate(dir: &Path) {
    let pd = format!("-plugin-dir={}", plugin_dir());
    let (ok, out) = terraform(dir, &["init", "-input=false", "-backend=false", &pd]);
    assert!(ok, "terraform init failed in {}:\n{out}", dir.display());
    let (ok, out) = terraform(dir, &["validate"]);
    assert!(
        ok && out.contains("The configuration is valid"),
        "terraform validate failed in {}:\n{out}",
        dir.display()
    );
}

fn scratch(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("gen-tf-{}-{name}", std::process::id()));
    let _ = fs::remove_dir_all(&d);
    fs::create_dir_all(&d).unwrap();
    d
}

fn write(dir: &Path, files: &[tf::File]) {
    for f in files {
        fs::write(dir.join(&f.name), &f.contents).unwrap();
    }
}

/// A small document that uses every kind of value: literals with `${`, references, templates,
/// function calls, validation, depends_on and lifecycle.
fn small() -> Stack {
    let mut s = Stack::new(">= 1.11");
    s.require_provider("aws", "hashicorp/aws", "~> 5.0");
    s.provider("aws", Body::new().attr("region", "us-east-1"));
    let name = s.variable(
        Variable::new("name", "string", "A name")
            .default("demo")
            .validation(
                Expr::binary(
                    Expr::call(
                        "length",
                        [Value::from(tf::Address::Var("name".into()).whole())],
                    ),
                    Op::Greater,
                    2i64,
                ),
                "name needs 3 characters or more.",
            ),
    );
    let vpc = s.data("aws_vpc", "default", Body::new().attr("default", true));
    let sg = s.resource(
        "aws_security_group",
        "demo",
        Body::new()
            .attr("name", name.clone())
            .attr(
                "description",
                "Literal ${not_interpolated} and %{ not a directive }",
            )
            .attr("vpc_id", vpc.attr("id"))
            .attr(
                "tags",
                Value::object([(
                    "Name",
                    Value::template([Piece::Lit("sg-".into()), Piece::Expr(Expr::Ref(name))]),
                )]),
            )
            .block(
                "lifecycle",
                Body::new().attr(
                    "ignore_changes",
                    Value::list([Value::Keyword("tags".into())]),
                ),
            ),
    );
    s.resource(
        "aws_vpc_security_group_ingress_rule",
        "demo",
        Body::new()
            .attr("security_group_id", sg.attr("id"))
            .attr("cidr_ipv4", "203.0.113.0/24")
            .attr("ip_protocol", "tcp")
            .attr("from_port", 8000u16)
            .attr("to_port", 8000u16)
            .attr(
                "description",
                Expr::call("jsonencode", [Value::object([("a", "${b}")])]),
            )
            .depends_on([sg.clone()]),
    );
    s.output("sg_id", "The security group", sg.attr("id"));
    s.moved
        .push((Address::resource("aws_security_group", "old"), sg));
    s.check(gen::PROVIDER).unwrap();
    s
}

#[test]
fn a_small_document_validates_as_json_and_as_hcl() {
    let s = small();
    let json = scratch("small-json");
    write(&json, &tf::json::render(&s, "test"));
    validate(&json);
    let hcl = scratch("small-hcl");
    write(&hcl, &tf::hcl::render(&s, "test"));
    validate(&hcl);
    let _ = fs::remove_dir_all(json);
    let _ = fs::remove_dir_all(hcl);
}

#[test]
fn every_generated_environment_validates_as_json_and_as_hcl() {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    for env in ["bootstrap", "dev", "prod"] {
        for format in [gen::Format::Json, gen::Format::Hcl] {
            let files = gen::build(&repo.join("envs"), env, format).unwrap();
            let dir = scratch(&format!("{env}-{format:?}"));
            write(&dir, &files);
            validate(&dir);
            let _ = fs::remove_dir_all(dir);
        }
    }
}

/// The HCL view writes the same files as the JSON, `moved` blocks included, and Terraform
/// accepts them.
#[test]
fn a_moved_block_survives_in_the_hcl_view() {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let envs = scratch("moved-envs");
    for e in ["dev", "bootstrap"] {
        fs::copy(
            repo.join(format!("envs/{e}.toml")),
            envs.join(format!("{e}.toml")),
        )
        .unwrap();
    }
    let dev = envs.join("dev.toml");
    let text = fs::read_to_string(&dev).unwrap();
    let moved = "[[moved]]\nfrom = \"aws_s3_bucket.media\"\nto = \"aws_s3_bucket.content\"\n";
    fs::write(&dev, format!("{text}\n{moved}")).unwrap();
    let json = gen::build(&envs, "dev", gen::Format::Json).unwrap();
    let hcl = gen::build(&envs, "dev", gen::Format::Hcl).unwrap();
    let names = |files: &[tf::File]| -> Vec<String> {
        files
            .iter()
            .map(|f| f.name.replace(".tf.json", ".tf"))
            .collect()
    };
    assert_eq!(names(&json), names(&hcl), "both views write the same files");
    let view = &hcl.iter().find(|f| f.name == "moved.tf").unwrap().contents;
    assert!(
        view.contains("moved {\n  from = aws_s3_bucket.media\n  to = aws_s3_bucket.content\n}"),
        "{view}"
    );
    let dir = scratch("moved-hcl");
    write(&dir, &hcl);
    validate(&dir);
    let _ = fs::remove_dir_all(dir);
    let _ = fs::remove_dir_all(envs);
}
