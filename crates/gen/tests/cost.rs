//! `gen cost`: one insta snapshot of its output per environment file, the README's cost blocks
//! kept current, `gen diff` saying how much a change moves the estimate, and bad input.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn gen(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_gen"))
        .current_dir(dir)
        .args(args)
        .output()
        .unwrap()
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("gen-cost-{}-{name}", std::process::id()));
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(dir.join("envs")).unwrap();
    for e in ["dev", "prod", "bootstrap"] {
        fs::copy(
            repo().join(format!("envs/{e}.toml")),
            dir.join(format!("envs/{e}.toml")),
        )
        .unwrap();
        fs::create_dir_all(dir.join(format!("generated/{e}"))).unwrap();
        let lock = format!("generated/{e}/.terraform.lock.hcl");
        fs::copy(repo().join(&lock), dir.join(&lock)).unwrap();
    }
    dir
}

#[test]
fn cost_of_every_environment() {
    let envs = repo().join("envs").canonicalize().unwrap();
    insta::glob!(&envs, "*.toml", |path| {
        let name = path.file_stem().unwrap().to_str().unwrap();
        let o = gen(&repo(), &["cost", "--env", name]);
        assert!(o.status.success(), "{}", text(&o.stderr));
        insta::assert_snapshot!("cost", text(&o.stdout));
    });
}

#[test]
fn the_json_total_is_the_sum_of_the_lines() {
    let o = gen(&repo(), &["cost", "--env", "prod", "--json"]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let sum: i64 = v["lines"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["monthly"].as_i64().unwrap())
        .sum();
    assert_eq!(v["total"].as_i64(), Some(sum));
    assert_eq!(v["region"], "us-east-1");
    assert!(v["date"].as_str().unwrap().len() == 10, "{v}");
}

#[test]
fn an_unpriced_instance_type_is_refused_naming_the_table_and_the_fix() {
    let dir = scratch("unpriced");
    let dev = fs::read_to_string(dir.join("envs/dev.toml")).unwrap();
    fs::write(
        dir.join("envs/dev.toml"),
        dev.replace(
            "instance_type = \"t3.micro\"",
            "instance_type = \"t3.mega\"",
        ),
    )
    .unwrap();
    let o = gen(&dir, &["cost", "--env", "dev"]);
    assert_eq!(o.status.code(), Some(2));
    let e = text(&o.stderr);
    for needle in [
        "cannot price `dev`",
        "crates/aws/prices/us-east-1.toml",
        "`t3.mega`",
        "[ec2.instance_hourly]",
        "aws_instance.app",
        "fix:",
    ] {
        assert!(e.contains(needle), "`{needle}` not in {e}");
    }
    assert!(o.stdout.is_empty());
    // A region without a price table.
    fs::write(
        dir.join("envs/dev.toml"),
        dev.replacen(
            "\nregion = \"us-east-1\"\n",
            "\nregion = \"eu-west-3\"\n",
            1,
        ),
    )
    .unwrap();
    let o = gen(&dir, &["cost", "--env", "dev"]);
    assert_eq!(o.status.code(), Some(2));
    let e = text(&o.stderr);
    assert!(
        e.contains("no price table for region `eu-west-3`") && e.contains("fix:"),
        "{e}"
    );
}

#[test]
fn diff_says_how_much_a_change_moves_the_estimate() {
    let dir = scratch("diff");
    assert!(gen(&dir, &["--all", "--no-readme"]).status.success());
    let dev = fs::read_to_string(dir.join("envs/dev.toml")).unwrap();
    fs::write(
        dir.join("envs/dev.toml"),
        dev.replace(
            "instance_type = \"t3.micro\"",
            "instance_type = \"t3.small\"",
        ),
    )
    .unwrap();
    let o = gen(&dir, &["diff", "--env", "dev"]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o.stderr));
    let out = text(&o.stdout);
    // t3.small - t3.micro: (0.0208 - 0.0104) USD/h x 730 h = 7.592.
    let line = out
        .lines()
        .find(|l| l.starts_with("  $ monthly estimate: "))
        .unwrap_or_else(|| panic!("no cost line in {out}"));
    assert!(line.ends_with("(+$7.59)"), "{line}");
    // A change that moves nothing priced says nothing about cost.
    fs::write(
        dir.join("envs/dev.toml"),
        dev.replace("db_name = \"app\"", "db_name = \"app2\""),
    )
    .unwrap();
    let out = text(&gen(&dir, &["diff", "--env", "dev"]).stdout);
    assert!(
        out.contains("db_name") && !out.contains("monthly estimate"),
        "{out}"
    );
    // Two envs.
    fs::write(dir.join("envs/dev.toml"), &dev).unwrap();
    let out = text(&gen(&dir, &["diff", "--envs", "dev", "prod"]).stdout);
    assert!(out.contains("dev -> prod: monthly estimate: $"), "{out}");
}

#[test]
fn the_readme_cost_blocks_are_kept_current() {
    let dir = scratch("readme");
    let readme = dir.join("README.md");
    fs::write(
        &readme,
        "# x\n<!-- gen graph dev -->\n<!-- end gen graph -->\n<!-- gen cost prod -->\n<!-- end gen cost -->\nend\n",
    )
    .unwrap();
    assert!(gen(&dir, &["--all"]).status.success());
    let body = fs::read_to_string(&readme).unwrap();
    let cost = text(&gen(&dir, &["cost", "--env", "prod"]).stdout);
    assert!(
        body.contains(&format!(
            "<!-- gen cost prod -->\n```text\n{cost}```\n<!-- end gen cost -->\nend\n"
        )),
        "{body}"
    );
    assert_eq!(gen(&dir, &["--all", "--check"]).status.code(), Some(0));
    // A hand-edited estimate is stale.
    fs::write(&readme, body.replace("  total", "  Total")).unwrap();
    let o = gen(&dir, &["--all", "--check"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        text(&o.stdout).contains("README.md: a generated block"),
        "{}",
        text(&o.stdout)
    );
    // A mangled marker stops the run, naming the line.
    fs::write(
        &readme,
        body.replace("<!-- end gen cost -->", "<!-- end gen cost"),
    )
    .unwrap();
    let o = gen(&dir, &["--all"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        text(&o.stderr).contains("README.md:"),
        "{}",
        text(&o.stderr)
    );
}
