//! The `gen` command as a user runs it: exit codes, messages, and files left untouched on error.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .unwrap()
}

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("gen-cli-{}-{name}", std::process::id()));
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

/// The committed provider lock files, copied beside freshly generated output (`--check` wants
/// them; only `terraform providers lock` makes them).
fn lock(dir: &Path) {
    for e in ["dev", "prod", "bootstrap"] {
        let name = format!("generated/{e}/.terraform.lock.hcl");
        fs::copy(repo().join(&name), dir.join(&name)).unwrap();
    }
}

fn gen(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_gen"))
        .current_dir(dir)
        .args(args)
        .output()
        .unwrap()
}

fn snapshot(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in fs::read_dir(&d).into_iter().flatten().flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.insert(p.clone(), fs::read(&p).unwrap());
            }
        }
    }
    out
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Generate once, break the env file, run again: exit 2, the message contains every `needle`,
/// and every existing file is byte-identical.
fn rejects(name: &str, env: &str, from: &str, to: &str, needles: &[&str]) {
    let dir = scratch(name);
    assert!(gen(&dir, &["--all"]).status.success());
    let path = dir.join(format!("envs/{env}.toml"));
    let text = fs::read_to_string(&path).unwrap();
    assert!(text.contains(from), "{from} not in {env}.toml");
    fs::write(&path, text.replacen(from, to, 1)).unwrap();
    let before = snapshot(&dir.join("generated"));
    let o = gen(&dir, &["--env", env]);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(2), "{err}");
    for n in needles {
        assert!(err.contains(n), "`{n}` not in: {err}");
    }
    assert_eq!(
        before,
        snapshot(&dir.join("generated")),
        "files changed after an error"
    );
    let _ = fs::remove_dir_all(&dir);
}

#[test]
fn unknown_key_names_file_key_and_suggestion() {
    rejects(
        "unknown-key",
        "dev",
        "instance_type = \"t3.micro\"",
        "instnce_type = \"t3.micro\"",
        &[
            "envs/dev.toml:",
            "unknown key `app.instnce_type`",
            "did you mean `instance_type`?",
        ],
    );
}

#[test]
fn wrong_type_names_the_key() {
    rejects(
        "wrong-type",
        "dev",
        "root_volume_gb = 20",
        "root_volume_gb = \"big\"",
        &["envs/dev.toml:", "app.root_volume_gb", "invalid type"],
    );
}

#[test]
fn invalid_cidr_names_the_key_and_fix() {
    rejects(
        "bad-cidr",
        "prod",
        "\"198.51.100.10/32\"",
        "\"198.51.100.10/33\"",
        &["envs/prod.toml:", "app.ssh_ingress_cidrs", "0 to 32"],
    );
}

#[test]
fn bucket_names_follow_the_s3_rules() {
    rejects(
        "bucket-prefix",
        "dev",
        "\"fastapi-infra-dev-logs\"",
        "\"xn--fastapi-infra-dev-logs\"",
        &[
            "envs/dev.toml:",
            "buckets.logs",
            "prefix `xn--` is reserved",
            "fix:",
        ],
    );
    rejects(
        "bucket-suffix",
        "prod",
        "\"fastapi-infra-prod-content\"",
        "\"fastapi-infra-prod--x-s3\"",
        &[
            "envs/prod.toml:",
            "buckets.content",
            "suffix `--x-s3` is reserved",
            "fix:",
        ],
    );
}

#[test]
fn empty_name_is_rejected() {
    rejects(
        "empty-name",
        "dev",
        "project = \"fastapi-infra\"",
        "project = \"\"",
        &["envs/dev.toml:", "`project`", "empty"],
    );
}

#[test]
fn ssh_from_anywhere_needs_to_be_said_on_purpose() {
    rejects(
        "ssh-world",
        "dev",
        "ssh_ingress_cidrs = [\"203.0.113.0/24\"]",
        "ssh_ingress_cidrs = [\"0.0.0.0/0\"]",
        &["app.ssh_ingress_cidrs", "ssh_open_to_world = true"],
    );
    // Said on purpose, it is accepted.
    let dir = scratch("ssh-world-ok");
    let path = dir.join("envs/dev.toml");
    let text = fs::read_to_string(&path).unwrap().replace(
        "ssh_ingress_cidrs = [\"203.0.113.0/24\"]",
        "ssh_ingress_cidrs = [\"0.0.0.0/0\"]\nssh_open_to_world = true",
    );
    fs::write(&path, text).unwrap();
    let o = gen(&dir, &["--env", "dev"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let main = fs::read_to_string(dir.join("generated/dev/main.tf.json")).unwrap();
    assert!(main.contains("\"app_ssh_0_0_0_0_0\""));
}

#[test]
fn duplicate_address_from_a_module_is_rejected() {
    rejects(
        "dup",
        "dev",
        "http_ingress_cidrs = [\"0.0.0.0/0\"]",
        "http_ingress_cidrs = [\"0.0.0.0/0\", \"0.0.0.0/0\"]",
        &[
            "envs/dev.toml",
            "duplicate address `aws_vpc_security_group_ingress_rule.app_http_0_0_0_0_0`",
        ],
    );
}

#[test]
fn state_backend_must_match_bootstrap() {
    rejects(
        "state-mismatch",
        "dev",
        "bucket = \"fastapi-infra-tfstate\"",
        "bucket = \"someone-elses-state\"",
        &[
            "envs/dev.toml",
            "state.bucket",
            "envs/bootstrap.toml creates `fastapi-infra-tfstate`",
        ],
    );
    rejects(
        "state-key-alias",
        "prod",
        "alias/fastapi-infra-tfstate\"",
        "alias/someone-elses-key\"",
        &[
            "envs/prod.toml",
            "state.kms_key_id",
            "envs/bootstrap.toml creates `alias/fastapi-infra-tfstate`",
            "fix: use `alias/fastapi-infra-tfstate`",
        ],
    );
    rejects(
        "state-key-region",
        "dev",
        "\"alias/fastapi-infra-tfstate\"",
        "\"arn:aws:kms:eu-west-3:123456789012:alias/fastapi-infra-tfstate\"",
        &[
            "envs/dev.toml",
            "state.kms_key_id",
            "region `eu-west-3`",
            "fix:",
        ],
    );
    rejects(
        "state-key-name",
        "dev",
        "\"alias/fastapi-infra-tfstate\"",
        "\"1234abcd-12ab-34cd-56ef-1234567890ab\"",
        &[
            "envs/dev.toml:",
            "state.kms_key_id",
            "not a KMS alias name or a KMS key or alias ARN",
            "fix:",
        ],
    );
}

#[test]
fn unknown_env_is_rejected_with_a_suggestion() {
    let dir = scratch("unknown-env");
    let o = gen(&dir, &["--env", "prd"]);
    assert_eq!(o.status.code(), Some(2));
    let err = stderr(&o);
    assert!(
        err.contains("unknown environment `prd`") && err.contains("did you mean `prod`?"),
        "{err}"
    );
    assert!(
        !dir.join("generated").exists(),
        "an error must write nothing"
    );
}

#[test]
fn unwritable_output_folder_is_rejected() {
    let dir = scratch("unwritable");
    fs::write(dir.join("not-a-folder"), "x").unwrap();
    let o = gen(&dir, &["--env", "dev", "--out", "not-a-folder/generated"]);
    assert_eq!(o.status.code(), Some(2));
    let err = stderr(&o);
    assert!(
        err.contains("not-a-folder/generated") && err.contains("fix:"),
        "{err}"
    );
    assert_eq!(fs::read(dir.join("not-a-folder")).unwrap(), b"x");
}

#[test]
fn a_folder_in_the_way_leaves_every_file_as_it_was() {
    let dir = scratch("in-the-way");
    assert!(gen(&dir, &["--env", "dev"]).status.success());
    // A changed env and a folder where a generated file should go.
    let path = dir.join("envs/dev.toml");
    let text = fs::read_to_string(&path)
        .unwrap()
        .replace("root_volume_gb = 20", "root_volume_gb = 21");
    fs::write(&path, text).unwrap();
    fs::remove_file(dir.join("generated/dev/outputs.tf.json")).unwrap();
    fs::create_dir(dir.join("generated/dev/outputs.tf.json")).unwrap();
    let before = snapshot(&dir.join("generated"));
    let o = gen(&dir, &["--env", "dev"]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert_eq!(before, snapshot(&dir.join("generated")));
}

#[test]
fn check_reports_a_hand_edit_and_stale_files() {
    let dir = scratch("check");
    assert!(gen(&dir, &["--all"]).status.success());
    lock(&dir);
    let o = gen(&dir, &["--all", "--check"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));

    let main = dir.join("generated/prod/main.tf.json");
    let mut bytes = fs::read(&main).unwrap();
    let i = bytes.iter().position(|b| *b == b'7').unwrap();
    bytes[i] = b'8';
    fs::write(&main, &bytes).unwrap();
    let o = gen(&dir, &["--all", "--check"]);
    assert_eq!(o.status.code(), Some(1));
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(
        out.contains("generated/prod/main.tf.json: differs: +1 -1 lines"),
        "{out}"
    );
    assert_eq!(
        fs::read(&main).unwrap(),
        bytes,
        "--check must write nothing"
    );

    // Regenerating fixes it; a file the env no longer produces is removed (it carries our exact
    // header line), a user's file is not (even one that mentions the header).
    let header = serde_json::to_string(&gen::header("prod")).unwrap();
    fs::write(
        dir.join("generated/prod/old.tf.json"),
        format!("{{\n  \"//\": {header},\n  \"x\": 1\n}}\n"),
    )
    .unwrap();
    let mine = "{\n  \"//\": \"Generated by fastapi-infra from envs/prod.toml.\"\n}\n";
    fs::write(dir.join("generated/prod/mine.tf.json"), mine).unwrap();
    fs::write(dir.join("generated/prod/mine_override.tf.json"), "{}\n").unwrap();
    let o = gen(&dir, &["--all", "--check"]);
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(out.contains("old.tf.json: no longer generated"), "{out}");
    assert!(!out.contains("mine"), "{out}");
    assert!(gen(&dir, &["--all"]).status.success());
    assert!(!dir.join("generated/prod/old.tf.json").exists());
    assert!(dir.join("generated/prod/mine_override.tf.json").exists());
    assert_eq!(
        fs::read_to_string(dir.join("generated/prod/mine.tf.json")).unwrap(),
        mine
    );
    assert_eq!(gen(&dir, &["--all", "--check"]).status.code(), Some(0));
}

#[test]
fn check_wants_each_lock_file_in_agreement_with_versions() {
    let dir = scratch("lock");
    assert!(gen(&dir, &["--all"]).status.success());
    let o = gen(&dir, &["--all", "--check"]);
    assert_eq!(o.status.code(), Some(1));
    let out = String::from_utf8_lossy(&o.stdout);
    for e in ["dev", "prod", "bootstrap"] {
        assert!(
            out.contains(&format!(
                "generated/{e}/.terraform.lock.hcl: missing; fix: run `make lock ENV={e}`"
            )),
            "{out}"
        );
    }
    lock(&dir);
    assert_eq!(gen(&dir, &["--all", "--check"]).status.code(), Some(0));
    // A lock made under other constraints, or for a provider no longer required, is stale.
    let path = dir.join("generated/prod/.terraform.lock.hcl");
    let text = fs::read_to_string(&path).unwrap();
    let required = aws::AWS_PROVIDER_VERSION;
    assert!(text.contains(required), "{text}");
    fs::write(&path, text.replace(required, "~> 4.0")).unwrap();
    let o = gen(&dir, &["--all", "--check"]);
    assert_eq!(o.status.code(), Some(1));
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(out.contains(&format!("generated/prod/.terraform.lock.hcl: disagrees with versions.tf.json: `registry.terraform.io/hashicorp/aws` was locked under constraints `~> 4.0`, but versions.tf.json requires `{required}`")), "{out}");
    fs::write(&path, format!("{text}\nprovider \"registry.terraform.io/hashicorp/random\" {{\n  version = \"3.6.0\"\n  hashes = [\"h1:x\"]\n}}\n")).unwrap();
    let out = String::from_utf8_lossy(&gen(&dir, &["--all", "--check"]).stdout).into_owned();
    assert!(
        out.contains("`registry.terraform.io/hashicorp/random` is locked but no longer required"),
        "{out}"
    );
    // --check wrote nothing, and regenerating leaves the lock file alone.
    assert!(gen(&dir, &["--all"]).status.success());
    assert!(fs::read_to_string(&path)
        .unwrap()
        .contains("hashicorp/random"));
}

#[test]
fn two_runs_are_byte_identical_and_match_the_committed_output() {
    let dir = scratch("twice");
    assert!(gen(&dir, &["--all"]).status.success());
    let first = snapshot(&dir.join("generated"));
    fs::remove_dir_all(dir.join("generated")).unwrap();
    assert!(gen(&dir, &["--all"]).status.success());
    assert_eq!(first, snapshot(&dir.join("generated")));
    // The committed generated/ is current.
    let o = gen(&repo(), &["--all", "--check"]);
    assert_eq!(
        o.status.code(),
        Some(0),
        "generated/ is stale: {}",
        String::from_utf8_lossy(&o.stdout)
    );
}

#[test]
fn generated_files_hold_no_secret_timestamp_or_absolute_path() {
    let dir = scratch("clean");
    assert!(gen(&dir, &["--all"]).status.success());
    for (p, bytes) in snapshot(&dir.join("generated")) {
        let text = String::from_utf8(bytes).unwrap();
        let root = dir.to_string_lossy();
        assert!(
            !text.contains(root.as_ref()),
            "{} holds an absolute path",
            p.display()
        );
        assert!(
            !text.contains(env!("CARGO_PKG_VERSION")) || !text.contains("gen "),
            "{}",
            p.display()
        );
        assert!(!text.contains("2026-"), "{} holds a date", p.display());
    }
}

#[test]
fn list_and_usage_errors() {
    let dir = scratch("list");
    let o = gen(&dir, &["--list"]);
    assert_eq!(String::from_utf8_lossy(&o.stdout), "bootstrap\ndev\nprod\n");
    assert_eq!(gen(&dir, &[]).status.code(), Some(2));
    assert_eq!(gen(&dir, &["--bogus"]).status.code(), Some(2));
    // A new environment is one new file.
    fs::copy(dir.join("envs/dev.toml"), dir.join("envs/staging.toml")).unwrap();
    let text = fs::read_to_string(dir.join("envs/staging.toml"))
        .unwrap()
        .replace("-dev-", "-staging-");
    fs::write(dir.join("envs/staging.toml"), text).unwrap();
    let o = gen(&dir, &["--env", "staging"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let backend = fs::read_to_string(dir.join("generated/staging/backend.tf.json")).unwrap();
    assert!(backend.contains("fastapi-infra/staging/terraform.tfstate"));
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

#[test]
fn diff_summarizes_by_address_and_flags_data_loss() {
    let dir = scratch("diff");
    assert!(gen(&dir, &["--all"]).status.success());
    let o = gen(&dir, &["diff"]);
    assert_eq!(o.status.code(), Some(0), "{}", stdout(&o));
    assert!(stdout(&o).contains("dev: 0 to add, 0 to change, 0 to remove, 0 moved"));

    let path = dir.join("envs/dev.toml");
    let text = fs::read_to_string(&path).unwrap();
    let text = text
        .replace("allocated_storage_gb = 20", "allocated_storage_gb = 30")
        .replace("db_name = \"app\"", "db_name = \"app2\"")
        .replace(
            "\"fastapi-infra-dev-content\"",
            "\"fastapi-infra-dev-media\"",
        )
        .replace(
            "ami = \"ubuntu-24.04\"",
            "ami = \"ami-0123456789abcdef0\"\nssh_user = \"ubuntu\"",
        );
    fs::write(&path, text).unwrap();
    let o = gen(&dir, &["diff", "--env", "dev"]);
    assert_eq!(o.status.code(), Some(1));
    let out = stdout(&o);
    for needle in [
        "~ aws_db_instance.this",
        "allocated_storage: 20 -> 30",
        "!! replaces the database",
        "~ aws_s3_bucket.content",
        "!! replaces the bucket",
        "- data.aws_ami.ubuntu",
        "!! replaces the app host",
        "aws_instance.app (user_data.sh: +1 -1 lines)",
        "cloud-init does not run the new script",
    ] {
        assert!(out.contains(needle), "`{needle}` not in:\n{out}");
    }
    let o = gen(&dir, &["diff", "--env", "dev", "--json"]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let db = v["dev"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["address"] == "aws_db_instance.this")
        .unwrap();
    assert_eq!(db["kind"], "changed");
    assert!(db["danger"][0]
        .as_str()
        .unwrap()
        .contains("replaces the database"));
}

/// The committed contract of an older generator (a variable renamed, one it no longer gives,
/// one it did not give yet) and a new ASGI path in the env file: `gen diff` names each as a
/// change the app must follow.
#[test]
fn diff_flags_a_contract_change_the_app_must_follow() {
    let dir = scratch("diff-contract");
    assert!(gen(&dir, &["--all"]).status.success());
    let path = dir.join("generated/dev/app_contract.json");
    let mut old: serde_json::Value =
        serde_json::from_str(&fs::read_to_string(&path).unwrap()).unwrap();
    let vars = old["variables"].as_array_mut().unwrap();
    for v in vars.iter_mut() {
        if v["name"] == "S3_BUCKET_CONTENT" {
            v["name"] = "S3_BUCKET_MEDIA".into();
        }
    }
    vars.retain(|v| v["name"] != "PGSSLROOTCERT");
    vars.push(serde_json::json!({"name": "S3_BUCKET_LOGS", "meaning": "logs", "secret": false, "from": "fastapi-infra-dev-logs"}));
    fs::write(&path, serde_json::to_string_pretty(&old).unwrap()).unwrap();
    let env = dir.join("envs/dev.toml");
    let text = fs::read_to_string(&env).unwrap();
    fs::write(
        &env,
        text.replace(
            "asgi_app = \"app.main:app\"",
            "asgi_app = \"service.main:app\"",
        ),
    )
    .unwrap();

    let o = gen(&dir, &["diff", "--env", "dev"]);
    assert_eq!(o.status.code(), Some(1));
    let out = stdout(&o);
    for needle in [
        "~ app contract (app_contract.json)",
        "!! a change the app must follow: asgi_app \"app.main:app\" -> \"service.main:app\"",
        "!! a change the app must follow: the variable S3_BUCKET_MEDIA is renamed S3_BUCKET_CONTENT: read S3_BUCKET_CONTENT instead",
        "!! a change the app must follow: the variable S3_BUCKET_LOGS is removed: the app no longer gets it",
        "!! a change the app must follow: the variable PGSSLROOTCERT is added",
        "aws_instance.app (user_data.sh: +1 -1 lines)",
    ] {
        assert!(out.contains(needle), "`{needle}` not in:\n{out}");
    }
    let o = gen(&dir, &["diff", "--env", "dev", "--json"]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let c = v["dev"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["address"] == "app contract (app_contract.json)")
        .unwrap();
    assert_eq!(c["danger"].as_array().unwrap().len(), 4, "{c}");
    // A contract that only changes values (a bucket's name) is shown, not flagged.
    assert!(gen(&dir, &["--all"]).status.success());
    let text = fs::read_to_string(&env).unwrap();
    fs::write(
        &env,
        text.replace(
            "\"fastapi-infra-dev-content\"",
            "\"fastapi-infra-dev-media\"",
        ),
    )
    .unwrap();
    let out = stdout(&gen(&dir, &["diff", "--env", "dev"]));
    assert!(
        out.contains("~ app contract (app_contract.json)\n      variables.S3_BUCKET_CONTENT:"),
        "{out}"
    );
    assert!(!out.contains("a change the app must follow"), "{out}");
}

#[test]
fn diff_says_when_a_database_change_waits_for_the_maintenance_window() {
    let dir = scratch("diff-window");
    assert!(gen(&dir, &["--all"]).status.success());
    for env in ["dev", "prod"] {
        let path = dir.join(format!("envs/{env}.toml"));
        let text = fs::read_to_string(&path).unwrap();
        let text = text
            .replace(
                "instance_class = \"db.t3.micro\"",
                "instance_class = \"db.t3.small\"",
            )
            .replace("backup_retention_days = 7", "backup_retention_days = 8")
            .replace("root_volume_gb = 30", "root_volume_gb = 31");
        fs::write(&path, text).unwrap();
    }
    let note = "wait(s) for the maintenance window (apply_immediately = false)";
    let prod = stdout(&gen(&dir, &["diff", "--env", "prod"]));
    assert!(
        prod.contains(&format!("!! instance_class {note}")),
        "prod (apply_immediately = false):\n{prod}"
    );
    // Retention between two non-zero values applies as soon as possible either way.
    assert!(prod.contains("backup_retention_period: 7 -> 8"), "{prod}");
    assert!(!prod.contains("backup_retention_period wait"), "{prod}");
    let dev = stdout(&gen(&dir, &["diff", "--env", "dev"]));
    assert!(
        dev.contains("instance_class: \"db.t3.micro\" -> \"db.t3.small\""),
        "{dev}"
    );
    assert!(
        !dev.contains("maintenance window"),
        "dev applies immediately:\n{dev}"
    );
    let _ = fs::remove_dir_all(&dir);
}

#[test]
fn diff_against_a_git_revision() {
    let dir = scratch("diff-git");
    assert!(gen(&dir, &["--all"]).status.success());
    let git = |args: &[&str]| {
        let o = Command::new("git")
            .current_dir(&dir)
            .args(args)
            .output()
            .unwrap();
        assert!(
            o.status.success(),
            "git {args:?}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
    };
    git(&["init", "-q"]);
    git(&["add", "-A"]);
    git(&[
        "-c",
        "user.name=t",
        "-c",
        "user.email=t@example.invalid",
        "commit",
        "-q",
        "-m",
        "base",
    ]);
    let path = dir.join("envs/prod.toml");
    fs::write(
        &path,
        fs::read_to_string(&path)
            .unwrap()
            .replace("backup_retention_days = 7", "backup_retention_days = 14"),
    )
    .unwrap();
    assert!(gen(&dir, &["--env", "prod"]).status.success());
    // The folder is current, the revision is not.
    assert_eq!(gen(&dir, &["diff", "--env", "prod"]).status.code(), Some(0));
    let o = gen(&dir, &["diff", "--env", "prod", "--base", "HEAD"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stdout(&o).contains("backup_retention_period: 7 -> 14"),
        "{}",
        stdout(&o)
    );
    let o = gen(&dir, &["diff", "--base", "no-such-rev"]);
    assert_eq!(o.status.code(), Some(2));
}

#[test]
fn diff_between_two_environments() {
    let dir = scratch("diff-envs");
    let o = gen(&dir, &["diff", "--envs", "dev", "prod"]);
    assert_eq!(o.status.code(), Some(1));
    let out = stdout(&o);
    assert!(
        out.contains("< aws_vpc_security_group_ingress_rule.app_ssh_203_0_113_0_24"),
        "{out}"
    );
    assert!(out.contains("deletion_protection: false | true"), "{out}");
    assert!(out.contains("multi_az: false | true"), "{out}");
    // IAM statements compare one by one, attribute by attribute, never cut mid-JSON.
    assert!(
        out.contains("      statement[1].sid: \"ManageAppBuckets\" | \"ListAppBuckets\"\n"),
        "{out}"
    );
    assert!(!out.contains("      statement: "), "{out}");
    // Lists show what only one side has.
    assert!(
        out.contains(
            "statement[1].actions: -\"s3:*\" +\"s3:ListBucket\" +\"s3:GetBucketLocation\"\n"
        ),
        "{out}"
    );
    assert_eq!(
        gen(&dir, &["diff", "--envs", "dev", "dev"]).status.code(),
        Some(0)
    );
}

#[test]
fn errors_name_the_env_file_in_the_envs_dir() {
    let dir = scratch("envs-dir");
    fs::rename(dir.join("envs"), dir.join("elsewhere")).unwrap();
    let path = dir.join("elsewhere/dev.toml");
    let text = fs::read_to_string(&path).unwrap();
    let text = text.replacen(
        "bucket = \"fastapi-infra-tfstate\"",
        "bucket = \"other\"",
        1,
    );
    fs::write(&path, text).unwrap();
    let o = gen(&dir, &["--envs-dir", "elsewhere", "--env", "dev"]);
    assert_eq!(o.status.code(), Some(2));
    let err = stderr(&o);
    assert!(
        err.contains("elsewhere/dev.toml: key `state.bucket` is `other` but elsewhere/bootstrap.toml creates"),
        "{err}"
    );
    assert!(!err.contains("envs/"), "{err}");
    let _ = fs::remove_dir_all(&dir);
}

#[test]
fn a_rename_needs_a_moved_block() {
    let dir = scratch("rename");
    assert!(gen(&dir, &["--env", "dev"]).status.success());
    // What an older release generated: the content bucket under another address.
    let main = dir.join("generated/dev/main.tf.json");
    let text = fs::read_to_string(&main).unwrap();
    let old = text
        .replace(
            "\"content\": {\n        \"bucket\": \"fastapi-infra-dev-content\"",
            "\"media\": {\n        \"bucket\": \"fastapi-infra-dev-content\"",
        )
        .replace("aws_s3_bucket.content.", "aws_s3_bucket.media.");
    assert_ne!(old, text);
    fs::write(&main, &old).unwrap();

    let o = gen(&dir, &["diff", "--env", "dev"]);
    assert_eq!(o.status.code(), Some(1));
    let out = stdout(&o);
    assert!(out.contains("- aws_s3_bucket.media"), "{out}");
    assert!(out.contains("renamed to aws_s3_bucket.content (same bucket `fastapi-infra-dev-content`) without a moved block"), "{out}");

    let before = snapshot(&dir.join("generated"));
    let o = gen(&dir, &["--env", "dev"]);
    assert_eq!(o.status.code(), Some(2));
    let err = stderr(&o);
    let block = "[[moved]]\nfrom = \"aws_s3_bucket.media\"\nto = \"aws_s3_bucket.content\"";
    assert!(err.contains(block), "{err}");
    assert_eq!(before, snapshot(&dir.join("generated")));

    let path = dir.join("envs/dev.toml");
    fs::write(
        &path,
        format!("{}\n{block}\n", fs::read_to_string(&path).unwrap()),
    )
    .unwrap();
    let o = gen(&dir, &["--env", "dev"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let moved = fs::read_to_string(dir.join("generated/dev/moved.tf.json")).unwrap();
    assert!(
        moved.contains("\"from\": \"aws_s3_bucket.media\"")
            && moved.contains("\"to\": \"aws_s3_bucket.content\""),
        "{moved}"
    );
}

#[test]
fn graph_draws_resources_and_network_paths() {
    let dir = scratch("graph");
    let o = gen(&dir, &["graph", "--env", "dev"]);
    assert!(o.status.success());
    let m = stdout(&o);
    assert!(m.starts_with("flowchart LR\n"));
    assert!(
        m.contains("n_internet_0_0_0_0_0 -- \"tcp 8000\" --> n_aws_security_group_app"),
        "{m}"
    );
    assert!(
        m.contains("n_aws_security_group_app -- \"tcp 5432\" --> n_aws_security_group_db"),
        "{m}"
    );
    assert!(
        m.contains("n_aws_instance_app --> n_aws_iam_instance_profile_app"),
        "{m}"
    );
    let o = gen(&dir, &["graph", "--env", "prod", "--format", "dot"]);
    let d = stdout(&o);
    assert!(
        d.starts_with("digraph \"prod\" {") && d.contains("[label=\"tcp 22\"]"),
        "{d}"
    );
    assert!(
        d.contains("n_aws_iam_role_app -> n_aws_s3_bucket_content;"),
        "scoped IAM reaches the buckets: {d}"
    );
}

#[test]
fn the_readme_graph_is_kept_current() {
    let dir = scratch("readme");
    fs::write(
        dir.join("README.md"),
        "# x\n\n<!-- gen graph dev -->\n<!-- end gen graph -->\nend\n",
    )
    .unwrap();
    assert_eq!(gen(&dir, &["--all", "--check"]).status.code(), Some(1));
    assert!(gen(&dir, &["--all"]).status.success());
    lock(&dir);
    let readme = fs::read_to_string(dir.join("README.md")).unwrap();
    assert!(
        readme.contains("<!-- gen graph dev -->\n```mermaid\nflowchart LR\n"),
        "{readme}"
    );
    assert!(
        readme.ends_with("```\n<!-- end gen graph -->\nend\n"),
        "{readme}"
    );
    assert_eq!(gen(&dir, &["--all", "--check"]).status.code(), Some(0));
    // The app contract's block too: written, then a hand edit inside it is drift.
    fs::write(
        dir.join("README.md"),
        format!("{readme}\n## Your app\n\n<!-- gen contract prod -->\n<!-- end gen contract -->\n"),
    )
    .unwrap();
    assert_eq!(gen(&dir, &["--all", "--check"]).status.code(), Some(1));
    assert!(gen(&dir, &["--all"]).status.success());
    let readme = fs::read_to_string(dir.join("README.md")).unwrap();
    let prod = stdout(&gen(&dir, &["contract", "--env", "prod"]));
    let body = prod.split_once("\n\n").unwrap().1;
    assert!(
        readme.ends_with(&format!(
            "<!-- gen contract prod -->\n{body}<!-- end gen contract -->\n"
        )),
        "{readme}"
    );
    assert_eq!(gen(&dir, &["--all", "--check"]).status.code(), Some(0));
    fs::write(
        dir.join("README.md"),
        readme.replace("| `PGHOST` |", "| `DB_HOST` |"),
    )
    .unwrap();
    assert_eq!(gen(&dir, &["--all", "--check"]).status.code(), Some(1));
    // The committed README is current too, and has the contract of dev.
    assert!(fs::read_to_string(repo().join("README.md"))
        .unwrap()
        .contains("<!-- gen contract dev -->"));
    assert_eq!(gen(&repo(), &["--all", "--check"]).status.code(), Some(0));
}

/// The README's checkov block is generated from `tests/checkov/{skips,must_pass}.toml` next to
/// it: `--check` fails when either file changed, and a broken file stops the run (exit 2).
#[test]
fn the_readme_checkov_table_follows_the_files() {
    let dir = scratch("readme-checkov");
    fs::create_dir_all(dir.join("tests/checkov")).unwrap();
    for f in ["skips.toml", "must_pass.toml"] {
        let rel = format!("tests/checkov/{f}");
        fs::copy(repo().join(&rel), dir.join(&rel)).unwrap();
    }
    let readme = "# x\n<!-- gen graph dev -->\n<!-- end gen graph -->\n<!-- gen checkov -->\n<!-- end gen checkov -->\nend\n";
    fs::write(dir.join("README.md"), readme).unwrap();
    assert!(gen(&dir, &["--all"]).status.success());
    lock(&dir);
    let text = fs::read_to_string(dir.join("README.md")).unwrap();
    let committed = fs::read_to_string(repo().join("README.md")).unwrap();
    let block = |t: &str| {
        let start = t.find("<!-- gen checkov -->").unwrap();
        t[start..t.find("<!-- end gen checkov -->").unwrap()].to_string()
    };
    assert_eq!(block(&text), block(&committed));
    assert!(
        text.contains("| CKV_AWS_157 | dev | dev runs single-AZ"),
        "{text}"
    );
    assert!(text.contains("must pass CKV_AWS_79, CKV_AWS_16,"), "{text}");
    assert!(
        text.contains("; a single-host one also CKV_AWS_8; a load-balanced one also CKV_AWS_150. Every load-balanced env must pass CKV_AWS_2,"),
        "{text}"
    );
    assert_eq!(gen(&dir, &["--all", "--check"]).status.code(), Some(0));

    let skips = dir.join("tests/checkov/skips.toml");
    let old = fs::read_to_string(&skips).unwrap();
    fs::write(&skips, old.replace("halve its cost", "save money")).unwrap();
    let o = gen(&dir, &["--all", "--check"]);
    assert_eq!(o.status.code(), Some(1), "{}", stdout(&o));
    assert!(
        stdout(&o).contains("README.md: a generated block"),
        "{}",
        stdout(&o)
    );
    assert!(gen(&dir, &["--all"]).status.success());
    let text = fs::read_to_string(dir.join("README.md")).unwrap();
    assert!(
        text.contains("| CKV_AWS_157 | dev | dev runs single-AZ to save money"),
        "{text}"
    );

    fs::write(&skips, "[CKV_X]\nenvs = [\"dev\"]\n").unwrap();
    let o = gen(&dir, &["--all"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("skips.toml: missing field `reason`"),
        "{}",
        stderr(&o)
    );
    assert_eq!(fs::read_to_string(dir.join("README.md")).unwrap(), text);
    let _ = fs::remove_dir_all(&dir);
}

#[test]
fn review_writes_the_comment_and_refuses_a_bad_plan() {
    let o = gen(&repo(), &["review", "--env", "dev"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let md = String::from_utf8_lossy(&o.stdout);
    assert!(
        md.starts_with(
            "<!-- gen review: dev -->\n### `dev`: 0 to add, 0 to change, 0 to remove, 0 moved"
        ),
        "{md}"
    );
    assert!(md.contains("(working tree)"), "{md}");
    let dir = scratch("review-plan");
    let plan = dir.join("plan.json");
    fs::write(&plan, "{\"not\": \"a plan\"}").unwrap();
    let o = gen(
        &repo(),
        &["review", "--env", "dev", "--plan", plan.to_str().unwrap()],
    );
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("not a Terraform JSON plan"),
        "{}",
        stderr(&o)
    );
    // A plan that destroys what gen shows unchanged: a mismatch, exit 1, in the comment and JSON.
    fs::write(
        &plan,
        r#"{"format_version": "1.2", "resource_changes": [{"address": "aws_db_instance.this", "mode": "managed", "change": {"actions": ["delete"]}}]}"#,
    )
    .unwrap();
    let o = gen(
        &repo(),
        &["review", "--env", "dev", "--plan", plan.to_str().unwrap()],
    );
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stdout)
        .contains("| `aws_db_instance.this` | no change | **delete** |"));
    let o = gen(
        &repo(),
        &[
            "review",
            "--env",
            "dev",
            "--json",
            "--plan",
            plan.to_str().unwrap(),
        ],
    );
    let j: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(j["mismatches"][0]["address"], "aws_db_instance.this");
    let _ = fs::remove_dir_all(&dir);
}

/// `make help` shows the targets for the ENV it is given, not the text `$(ENV)`.
#[test]
fn make_help_names_the_env() {
    let o = Command::new("make")
        .args(["-s", "help", "ENV=prod"])
        .current_dir(repo())
        .output()
        .expect("make must be installed");
    let out = stdout(&o);
    assert!(o.status.success(), "{out}{}", stderr(&o));
    assert!(
        out.contains("Write generated/prod from envs/prod.toml"),
        "{out}"
    );
    assert!(!out.contains("$("), "{out}");
}
