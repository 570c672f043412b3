//! Secrets stay out of plan and state: they are ephemeral variables that reach AWS through
//! write-only arguments only, each with a version variable (the rotation path); and the RDS
//! password rule is checked by Terraform itself, exactly as RDS states it for Postgres.
//!
//! Needs `terraform` on PATH (no provider: the variable checks run on a config without
//! resources).

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

const SECRETS: &[(&str, &str)] = &[
    ("db_password", "db_password"),
    ("tavily_api_key", "tavily_api_key"),
    ("gemini_api_key", "gemini_api_key"),
    ("app_repo_url", "repo_url"),
];

fn envs() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../envs")
}

fn doc(env: &str, file: &str) -> Value {
    let files = gen::build(&envs(), env, gen::Format::Json).unwrap();
    let f = files.iter().find(|f| f.name == file).unwrap();
    serde_json::from_str(&f.contents).unwrap()
}

#[test]
fn secrets_are_ephemeral_and_written_through_write_only_arguments() {
    for env in ["dev", "prod"] {
        let vars = doc(env, "variables.tf.json");
        let main = doc(env, "main.tf.json");
        for (var, param) in SECRETS {
            let v = &vars["variable"][var];
            assert_eq!(v["ephemeral"], true, "{env}: var.{var} is not ephemeral");
            assert_eq!(v["sensitive"], true, "{env}: var.{var} is not sensitive");
            let version = &vars["variable"][format!("{var}_version")];
            assert_eq!(version["type"], "number", "{env}: no {var}_version");
            assert_eq!(version["default"], 1);
            let p = &main["resource"]["aws_ssm_parameter"][param];
            assert!(p.get("value").is_none(), "{env}: {param} stores its value");
            assert_eq!(p["value_wo"], format!("${{var.{var}}}"));
            assert_eq!(p["value_wo_version"], format!("${{var.{var}_version}}"));
        }
        let db = &main["resource"]["aws_db_instance"]["this"];
        assert!(
            db.get("password").is_none(),
            "{env}: the database stores its password"
        );
        assert_eq!(db["password_wo"], "${var.db_password}");
        assert_eq!(db["password_wo_version"], "${var.db_password_version}");
        // Nothing else refers to a secret (Terraform would refuse, tf's check refuses first).
        let text = main.to_string();
        for (var, _) in SECRETS {
            assert_eq!(
                text.matches(&format!("${{var.{var}}}")).count(),
                if *var == "db_password" { 2 } else { 1 },
                "{env}: var.{var} used elsewhere"
            );
        }
    }
}

fn terraform(dir: &Path, args: &[&str], vars: &[(&str, &str)]) -> (bool, String) {
    let mut c = Command::new("timeout");
    c.arg("120")
        .arg("terraform")
        .args(args)
        .arg("-no-color")
        .current_dir(dir)
        .env("TF_IN_AUTOMATION", "1")
        .env("CHECKPOINT_DISABLE", "1");
    for (k, v) in vars {
        c.env(format!("TF_VAR_{k}"), v);
    }
    let o = c.output().expect("terraform must be installed");
    let out = format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    (o.status.success(), out)
}

/// The generated `db_password` and `db_password_version` variables alone, planned by Terraform.
fn password_checker() -> PathBuf {
    let dir = std::env::temp_dir().join(format!("gen-secrets-{}", std::process::id()));
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir).unwrap();
    let vars = doc("dev", "variables.tf.json");
    let only = serde_json::json!({"variable": {
        "db_password": vars["variable"]["db_password"],
        "db_password_version": vars["variable"]["db_password_version"],
    }});
    fs::write(dir.join("variables.tf.json"), only.to_string()).unwrap();
    let (ok, out) = terraform(&dir, &["init", "-input=false", "-backend=false"], &[]);
    assert!(ok, "{out}");
    dir
}

fn accepted(dir: &Path, password: &str, version: &str) -> (bool, String) {
    terraform(
        dir,
        &["plan", "-input=false", "-lock=false"],
        &[("db_password", password), ("db_password_version", version)],
    )
}

#[test]
fn db_password_follows_the_rds_rule_for_postgres() {
    let dir = password_checker();
    // Every printable ASCII character but / " @ and space, from 8 to 128 of them.
    let allowed: String = (0x21u8..=0x7e)
        .map(char::from)
        .filter(|c| !matches!(c, '/' | '"' | '@'))
        .collect();
    assert_eq!(allowed.len(), 91);
    let good = [
        "abcdefgh".to_string(),
        "a".repeat(128),
        allowed[..64].to_string(),
        allowed[64..].to_string() + "0123",
        "${x}%{y}$$!".to_string(),
    ];
    for p in &good {
        let (ok, out) = accepted(&dir, p, "1");
        assert!(ok, "refused {p:?}:\n{out}");
    }
    let bad = [
        "abcdefg".to_string(),
        "a".repeat(129),
        "abcd/efgh".into(),
        "abcd\"efgh".into(),
        "abcd@efgh".into(),
        "abcd efgh".into(),
        "abcd\tefgh".into(),
        "abcd\nefgh".into(),
        "abcdéfgh".into(),
        "abcd\u{7f}efgh".into(),
        "abcd\u{a0}efgh".into(),
    ];
    for p in &bad {
        let (ok, out) = accepted(&dir, p, "1");
        assert!(!ok, "accepted {p:?}");
        assert!(
            out.contains("db_password must have 8 to 128 printable ASCII characters"),
            "{out}"
        );
    }
    for v in ["0", "1.5", "-1"] {
        let (ok, out) = accepted(&dir, "abcdefgh", v);
        assert!(
            !ok && out.contains("db_password_version must be a whole number"),
            "{v}: {out}"
        );
    }
    let (ok, out) = accepted(&dir, "abcdefgh", "7");
    assert!(ok, "{out}");
    let _ = fs::remove_dir_all(&dir);
}

/// The committed tfvars examples set every variable without a default, the version variables
/// included, and pass Terraform's checks, secrets and all.
#[test]
fn tfvars_examples_pass_the_variable_checks() {
    for env in ["dev", "prod"] {
        let dir = std::env::temp_dir().join(format!("gen-secrets-{}-{env}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        let vars = doc(env, "variables.tf.json");
        fs::write(dir.join("variables.tf.json"), vars.to_string()).unwrap();
        let example = envs().join(format!("{env}.tfvars.example"));
        let text = fs::read_to_string(&example).unwrap();
        for (var, _) in SECRETS {
            assert!(
                text.contains(&format!("{var}_version")),
                "{env}: no {var}_version"
            );
        }
        let (ok, out) = terraform(&dir, &["init", "-input=false", "-backend=false"], &[]);
        assert!(ok, "{out}");
        let var_file = format!("-var-file={}", example.display());
        let (ok, out) = terraform(&dir, &["plan", "-input=false", &var_file], &[]);
        assert!(ok && !out.contains("undeclared variable"), "{env}: {out}");
        let _ = fs::remove_dir_all(&dir);
    }
}
