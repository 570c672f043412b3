//! Env-file values that reach shell code, unit files and Terraform addresses: strict grammars
//! and length limits, checked at load with exit 2, the file and the key named, nothing written.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .unwrap()
}

/// A fresh folder with a copy of the committed env files.
fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("gen-rules-{}-{name}", std::process::id()));
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(dir.join("envs")).unwrap();
    for e in ["dev", "prod", "bootstrap"] {
        fs::copy(
            repo().join(format!("envs/{e}.toml")),
            dir.join(format!("envs/{e}.toml")),
        )
        .unwrap();
    }
    dir
}

fn gen(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_gen"))
        .current_dir(dir)
        .args(args)
        .output()
        .unwrap()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// `text` with `key = <value>` set in `[table]` (`""`: the top level). `value` is TOML.
fn set(text: &str, table: &str, key: &str, value: &str) -> String {
    let mut current = String::new();
    let mut done = false;
    let mut out = Vec::new();
    for line in text.lines() {
        let t = line.trim();
        if t.starts_with('[') {
            current = t.trim_matches(|c| c == '[' || c == ']').to_string();
        }
        let is_key = t
            .split_once('=')
            .is_some_and(|(k, _)| k.trim() == key && !t.starts_with('#'));
        if !done && current == table && is_key {
            out.push(format!("{key} = {value}"));
            done = true;
        } else {
            out.push(line.to_string());
        }
    }
    assert!(done, "no `{key}` in [{table}]");
    out.join("\n") + "\n"
}

/// dev.toml with one change gives exit 2, a message with every needle, and writes nothing.
fn refused(dir: &Path, text: &str, needles: &[&str]) -> String {
    fs::write(dir.join("envs/dev.toml"), text).unwrap();
    let o = gen(dir, &["--env", "dev"]);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(2), "accepted: {needles:?}\n{err}");
    for n in needles {
        assert!(err.contains(n), "`{n}` not in: {err}");
    }
    assert!(
        !dir.join("generated").exists(),
        "an error must write nothing"
    );
    err
}

fn accepted(dir: &Path, text: &str) {
    fs::write(dir.join("envs/dev.toml"), text).unwrap();
    let o = gen(dir, &["--env", "dev", "--out", "ok"]);
    assert!(o.status.success(), "{}", stderr(&o));
}

fn dev() -> String {
    fs::read_to_string(repo().join("envs/dev.toml")).unwrap()
}

/// TOML basic string of `s` (JSON's string escapes are TOML's too).
fn toml_str(s: &str) -> String {
    serde_json::to_string(s).unwrap()
}

#[test]
fn moved_takes_managed_resource_addresses_only() {
    let dir = scratch("moved");
    let with = |from: &str, to: &str| {
        format!(
            "{}\n[[moved]]\nfrom = {}\nto = {}\n",
            dev(),
            toml_str(from),
            toml_str(to)
        )
    };
    let bad = [
        "data.aws_vpc",
        "data.aws_vpc.default",
        "module.x",
        "var.x",
        "local.x",
        "count.x",
        "each.x",
        "resource.x",
        "self.x",
        "path.x",
        "terraform.x",
        "ephemeral.x",
        "aws_s3_bucket.content[0]",
        "aws_s3_bucket.a.b",
        "aws_s3_bucket",
        "google_storage_bucket.x",
        "aws_.x",
        "AWS_S3_BUCKET.x",
        "aws_s3_bucket.1x",
    ];
    for b in bad {
        refused(
            &dir,
            &with(b, "aws_s3_bucket.content"),
            &["envs/dev.toml:", "key `moved.from`"],
        );
        refused(
            &dir,
            &with("aws_s3_bucket.media", b),
            &["envs/dev.toml:", "key `moved.to`"],
        );
    }
    accepted(&dir, &with("aws_s3_bucket.media", "aws_s3_bucket.content"));
    accepted(
        &dir,
        &with("aws_s3_bucket._old-name", "aws_s3_bucket.content"),
    );
    let _ = fs::remove_dir_all(&dir);
}

#[test]
fn asgi_app_is_module_path_colon_attribute() {
    let dir = scratch("asgi");
    for bad in [
        "app.main:app$(touch /tmp/pwned)",
        "app.main:app\nUser=root",
        "app.main:app `id`",
        "app main:app",
        "app.main",
        ":app",
        "app.:app",
        "app..main:app",
        "1app:app",
        "app:app:app",
        "app.main:app.router",
        "app.main:",
        "appé:app",
        "",
    ] {
        let text = set(&dev(), "app", "asgi_app", &toml_str(bad));
        refused(
            &dir,
            &text,
            &[
                "envs/dev.toml:",
                "key `app.asgi_app`",
                "module.path:attribute",
            ],
        );
    }
    for good in ["app.main:app", "pkg.sub_mod.api:create_app", "_x:_y"] {
        accepted(&dir, &set(&dev(), "app", "asgi_app", &toml_str(good)));
    }
    let _ = fs::remove_dir_all(&dir);
}

#[test]
fn health_path_has_url_path_characters_only() {
    let dir = scratch("health");
    for bad in [
        "/health$(id)",
        "/health\"; id; \"",
        "/health`id`",
        "/h ealth",
        "health",
        "",
        "/h%41",
        "/h?x=1",
        "/h#x",
        "/h\nExecStartPre=/bin/sh",
        "/h'x",
        "/h;x",
        "/h&x",
    ] {
        let text = set(&dev(), "app", "health_path", &toml_str(bad));
        refused(
            &dir,
            &text,
            &["envs/dev.toml:", "key `app.health_path`", "URL path"],
        );
    }
    for good in [
        "/",
        "/health",
        "/api/v1/health-check",
        "/_ready.json",
        "/~x",
    ] {
        accepted(&dir, &set(&dev(), "app", "health_path", &toml_str(good)));
    }
    let _ = fs::remove_dir_all(&dir);
}

#[test]
fn user_is_an_unprivileged_unix_name() {
    let dir = scratch("user");
    for bad in [
        "root",
        "ubuntu",
        "nobody",
        "www-data",
        "systemd-network",
        "daemon",
    ] {
        let text = set(&dev(), "app", "user", &toml_str(bad));
        refused(
            &dir,
            &text,
            &["envs/dev.toml:", "key `app.user`", "unprivileged"],
        );
    }
    for bad in [
        "Fastapi",
        "1app",
        "a b",
        "$(id)",
        "app\nroot",
        "-app",
        "",
        &"a".repeat(33),
    ] {
        let text = set(&dev(), "app", "user", &toml_str(bad));
        refused(&dir, &text, &["envs/dev.toml:", "key `app.user`"]);
    }
    for good in ["fastapi", "svc_app", "_app", "app-2"] {
        accepted(&dir, &set(&dev(), "app", "user", &toml_str(good)));
    }
    let _ = fs::remove_dir_all(&dir);
}

/// Every string value of an env file has a length limit: a value of the right shape but a
/// megabyte long is refused, the key is named, and the message does not echo the value.
#[test]
fn every_string_value_has_a_length_limit() {
    let dir = scratch("long");
    let long = "a".repeat(1 << 20);
    let digits = "0".repeat(1 << 20);
    let cases: Vec<(&str, &str, String)> = vec![
        ("", "project", long.clone()),
        ("", "region", format!("us-{long}-1")),
        ("app", "instance_type", format!("t3.{long}")),
        ("app", "ami", format!("ami-{digits}")),
        ("app", "user", long.clone()),
        ("app", "asgi_app", format!("{long}:app")),
        ("app", "health_path", format!("/{long}")),
        ("database", "instance_class", format!("db.t3.{long}")),
        ("database", "db_name", long.clone()),
        ("buckets", "logs", long.clone()),
        ("buckets", "artifacts", long.clone()),
        ("buckets", "content", long.clone()),
        ("state", "bucket", long.clone()),
        ("state", "region", format!("us-{long}-1")),
        ("state", "dynamodb_table", long.clone()),
    ];
    for (table, key, value) in &cases {
        let text = set(&dev(), table, key, &toml_str(value));
        let dotted = if table.is_empty() {
            key.to_string()
        } else {
            format!("{table}.{key}")
        };
        let err = refused(&dir, &text, &["envs/dev.toml:", &format!("key `{dotted}`")]);
        assert!(
            err.len() < 2000,
            "the error echoes the value: {} bytes",
            err.len()
        );
    }
    for (field, value) in [
        ("from", format!("aws_s3_bucket.{long}")),
        ("to", format!("aws_s3_bucket.{long}")),
    ] {
        let other = if field == "from" { "to" } else { "from" };
        let text = format!(
            "{}\n[[moved]]\n{field} = {}\n{other} = \"aws_s3_bucket.content\"\n",
            dev(),
            toml_str(&value)
        );
        let err = refused(&dir, &text, &[&format!("key `moved.{field}`"), "too long"]);
        assert!(
            err.len() < 2000,
            "the error echoes the value: {} bytes",
            err.len()
        );
    }
    let _ = fs::remove_dir_all(&dir);
}

/// The lines of an error that name a key of `file`, as `key`s.
fn keys_named(err: &str, file: &str) -> Vec<String> {
    let needle = format!("{file} key `");
    err.lines()
        .filter_map(|l| l.split_once(&needle))
        .map(|(_, rest)| rest.split('`').next().unwrap().to_string())
        .collect()
}

#[test]
fn a_copy_of_dev_is_told_exactly_which_keys_to_change() {
    let dir = scratch("copy");
    fs::copy(dir.join("envs/dev.toml"), dir.join("envs/staging.toml")).unwrap();
    let o = gen(&dir, &["--env", "staging"]);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(2), "{err}");
    let buckets = ["buckets.logs", "buckets.artifacts", "buckets.content"];
    assert_eq!(keys_named(&err, "envs/staging.toml"), buckets, "{err}");
    assert_eq!(keys_named(&err, "envs/dev.toml"), buckets, "{err}");
    assert!(
        err.contains("fix: give envs/staging.toml its own values for: buckets.logs, buckets.artifacts, buckets.content"),
        "{err}"
    );
    assert!(err.contains("S3 bucket `fastapi-infra-dev-logs`"), "{err}");
    // dev is refused too while the copy is there, and `--all` writes nothing.
    assert_eq!(gen(&dir, &["--env", "dev"]).status.code(), Some(2));
    assert_eq!(gen(&dir, &["--all"]).status.code(), Some(2));
    assert!(
        !dir.join("generated").exists(),
        "an error must write nothing"
    );
    // With its own bucket names the copy is a new environment.
    let text = fs::read_to_string(dir.join("envs/staging.toml"))
        .unwrap()
        .replace("-dev-", "-staging-");
    fs::write(dir.join("envs/staging.toml"), text).unwrap();
    let o = gen(&dir, &["--all"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let _ = fs::remove_dir_all(&dir);
}

#[test]
fn dev_cannot_name_a_bucket_of_prod() {
    let dir = scratch("dev-prod");
    let text = set(&dev(), "buckets", "logs", "\"fastapi-infra-prod-content\"");
    let err = refused(
        &dir,
        &text,
        &[
            "S3 bucket `fastapi-infra-prod-content`: envs/dev.toml key `buckets.logs` and envs/prod.toml key `buckets.content`",
            "fix: give envs/dev.toml its own values for: buckets.logs",
        ],
    );
    assert_eq!(keys_named(&err, "envs/dev.toml"), ["buckets.logs"], "{err}");
    let o = gen(&dir, &["--env", "prod"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o)
        .contains("envs/prod.toml key `buckets.content` and envs/dev.toml key `buckets.logs`"));
    let _ = fs::remove_dir_all(&dir);
}

#[test]
fn derived_names_cannot_collide_either() {
    // project `fastapi-infra-a` + env `dev` and project `fastapi-infra` + env `a-dev` both
    // name their database `fastapi-infra-a-dev-db` and their role `fastapi-infra-a-dev-app`.
    let dir = scratch("derived");
    let text = dev()
        .replace(
            "project = \"fastapi-infra\"",
            "project = \"fastapi-infra-a\"",
        )
        .replace("-dev-", "-one-");
    fs::write(dir.join("envs/dev.toml"), text).unwrap();
    let other = dev().replace("-dev-", "-two-");
    fs::write(dir.join("envs/a-dev.toml"), other).unwrap();
    let o = gen(&dir, &["--env", "a-dev"]);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(2), "{err}");
    for n in [
        "RDS identifier `fastapi-infra-a-dev-db`: envs/a-dev.toml key `project` and envs/dev.toml key `project`",
        "IAM role name `fastapi-infra-a-dev-app`",
        "fix: give envs/a-dev.toml its own values for: project",
    ] {
        assert!(err.contains(n), "`{n}` not in: {err}");
    }
    assert!(!err.contains("SSM prefix"), "{err}");
    let _ = fs::remove_dir_all(&dir);
}

/// How long logs and old state versions are kept: a whole number of days S3 accepts, within
/// ten years, that reaches the lifecycle rule as written.
#[test]
fn retention_days_are_bounded_and_reach_the_lifecycle_rules() {
    let dir = scratch("retention");
    for bad in ["0", "3651", "-1", "\"30\"", "1.5"] {
        let text = set(&dev(), "buckets", "logs_expiration_days", bad);
        refused(
            &dir,
            &text,
            &["envs/dev.toml:", "key `buckets.logs_expiration_days`"],
        );
    }
    accepted(&dir, &set(&dev(), "buckets", "logs_expiration_days", "30"));
    let main = fs::read_to_string(dir.join("ok/dev/main.tf.json"))
        .or_else(|_| fs::read_to_string(dir.join("ok/main.tf.json")))
        .unwrap();
    let doc: serde_json::Value = serde_json::from_str(&main).unwrap();
    let rules = &doc["resource"]["aws_s3_bucket_lifecycle_configuration"]["logs"]["rule"];
    let retention = rules
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["id"] == "retention")
        .expect("the logs bucket has a retention rule");
    assert_eq!(retention["expiration"]["days"], 30, "{retention}");
    assert!(retention["noncurrent_version_expiration"]["noncurrent_days"].is_u64());
    for role in ["content", "artifacts"] {
        let rules =
            doc["resource"]["aws_s3_bucket_lifecycle_configuration"][role]["rule"].to_string();
        assert!(
            !rules.contains("expiration\""),
            "{role} keeps its data: {rules}"
        );
    }

    let boot = fs::read_to_string(repo().join("envs/bootstrap.toml")).unwrap();
    for (value, ok) in [("0", false), ("3651", false), ("7", true)] {
        let text = set(&boot, "state", "noncurrent_version_expiration_days", value);
        fs::write(dir.join("envs/bootstrap.toml"), text).unwrap();
        let o = gen(&dir, &["--env", "bootstrap", "--out", "boot"]);
        if ok {
            assert!(o.status.success(), "{}", stderr(&o));
        } else {
            assert_eq!(o.status.code(), Some(2), "{value}: {}", stderr(&o));
            assert!(
                stderr(&o).contains("key `state.noncurrent_version_expiration_days`"),
                "{}",
                stderr(&o)
            );
        }
    }
    let main = fs::read_to_string(dir.join("boot/bootstrap/main.tf.json"))
        .or_else(|_| fs::read_to_string(dir.join("boot/main.tf.json")))
        .unwrap();
    let doc: serde_json::Value = serde_json::from_str(&main).unwrap();
    let rules = doc["resource"]["aws_s3_bucket_lifecycle_configuration"]["state"]["rule"]
        .as_array()
        .unwrap()
        .clone();
    let retention = rules.iter().find(|r| r["id"] == "retention").unwrap();
    assert_eq!(
        retention["noncurrent_version_expiration"]["noncurrent_days"], 7,
        "{retention}"
    );
    assert!(
        retention.get("expiration").is_none(),
        "the live state never expires: {retention}"
    );
    let _ = fs::remove_dir_all(&dir);
}

fn main_json(dir: &Path, out: &str) -> serde_json::Value {
    let text = fs::read_to_string(dir.join(out).join("dev/main.tf.json")).unwrap();
    serde_json::from_str(&text).unwrap()
}

fn output_value(dir: &Path, out: &str, name: &str) -> Option<serde_json::Value> {
    let text = fs::read_to_string(dir.join(out).join("dev/outputs.tf.json")).unwrap();
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    v["output"].get(name).map(|o| o["value"].clone())
}

/// The `ssh_user` output is the AMI's login user: Ubuntu's for the lookup, the env file's for a
/// pinned AMI (which must name it), and never the app's own user.
#[test]
fn the_ssh_user_is_the_amis_login_user() {
    let dir = scratch("ssh-user");
    accepted(&dir, &dev());
    assert_eq!(output_value(&dir, "ok", "ssh_user"), Some("ubuntu".into()));

    let pinned = set(&dev(), "app", "ami", "\"ami-0123456789abcdef0\"");
    refused(
        &dir,
        &pinned,
        &[
            "envs/dev.toml: key `app.ssh_user` is missing",
            "ami-0123456789abcdef0",
            "fix: add `ssh_user",
        ],
    );
    let debian = pinned.replace("[app]\n", "[app]\nssh_user = \"admin\"\n");
    accepted(&dir, &debian);
    assert_eq!(output_value(&dir, "ok", "ssh_user"), Some("admin".into()));

    let wrong = dev().replace("[app]\n", "[app]\nssh_user = \"admin\"\n");
    refused(
        &dir,
        &wrong,
        &["key `app.ssh_user` is `admin`", "login user is `ubuntu`"],
    );
    let same = set(&debian, "app", "user", "\"fastapi2\"")
        .replace("ssh_user = \"admin\"", "ssh_user = \"fastapi2\"");
    refused(
        &dir,
        &same,
        &["key `app.user` is `fastapi2`, the AMI's login user"],
    );
    let root = debian.replace("ssh_user = \"admin\"", "ssh_user = \"root\"");
    refused(&dir, &root, &["key `app.ssh_user`", "`root` cannot log in"]);
    let _ = fs::remove_dir_all(&dir);
}

/// `protection` is the env's: it decides the database's deletion protection and whether the
/// buckets are `force_destroy`; the key's old place says where it went.
#[test]
fn protection_covers_the_database_and_the_buckets() {
    let dir = scratch("protection");
    for (value, destroyable) in [("\"dev\"", true), ("\"prod\"", false)] {
        accepted(&dir, &set(&dev(), "", "protection", value));
        let main = main_json(&dir, "ok");
        for role in ["logs", "artifacts", "content"] {
            let b = &main["resource"]["aws_s3_bucket"][role];
            assert_eq!(b.get("force_destroy").is_some(), destroyable, "{role}: {b}");
        }
        let db = &main["resource"]["aws_db_instance"]["this"];
        assert_eq!(db["deletion_protection"], !destroyable, "{db}");
    }
    let old = set(&dev(), "", "protection", "\"dev\"")
        .replace("protection = \"dev\"\n", "")
        .replace("[database]\n", "[database]\nprotection = \"dev\"\n");
    refused(
        &dir,
        &old,
        &[
            "envs/dev.toml:",
            "key `database.protection` is now `protection`",
            "fix: move it to `protection` (top level",
        ],
    );
    let _ = fs::remove_dir_all(&dir);
}
