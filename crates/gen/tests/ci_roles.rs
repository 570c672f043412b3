//! The CI roles that bootstrap makes: every trust policy accepts only GitHub's OIDC tokens for
//! `sts.amazonaws.com`, from exactly this repository, and for apply only the main branch or the
//! env's GitHub environment; the plan role writes nothing but its lock.

use std::path::{Path, PathBuf};

use serde_json::Value as J;

const REPO: &str = "example-org/fastapi-infra";

fn envs_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../envs")
}

fn bootstrap_main(envs: &Path) -> J {
    let files = gen::build(envs, "bootstrap", gen::Format::Json).unwrap();
    let main = files.iter().find(|f| f.name == "main.tf.json").unwrap();
    serde_json::from_str(&main.contents).unwrap()
}

fn as_list(v: &J) -> Vec<J> {
    match v {
        J::Array(a) => a.clone(),
        J::Null => Vec::new(),
        other => vec![other.clone()],
    }
}

fn strings(v: &J) -> Vec<String> {
    as_list(v)
        .iter()
        .map(|s| s.as_str().unwrap().to_string())
        .collect()
}

/// Trust documents: (data name, its statements).
fn trust_documents(main: &J) -> Vec<(String, Vec<J>)> {
    main["data"]["aws_iam_policy_document"]
        .as_object()
        .unwrap()
        .iter()
        .filter(|(_, d)| {
            as_list(&d["statement"])
                .iter()
                .any(|s| s["principals"]["type"] == "Federated")
        })
        .map(|(n, d)| (n.clone(), as_list(&d["statement"])))
        .collect()
}

/// The values a statement's conditions allow for `variable`, by test.
fn condition(statement: &J, variable: &str) -> Vec<(String, Vec<String>)> {
    as_list(&statement["condition"])
        .iter()
        .filter(|c| c["variable"] == variable)
        .map(|c| {
            (
                c["test"].as_str().unwrap().to_string(),
                strings(&c["values"]),
            )
        })
        .collect()
}

#[test]
fn no_trust_policy_accepts_every_repository_or_every_branch() {
    let main = bootstrap_main(&envs_dir());
    let docs = trust_documents(&main);
    // A plan and an apply role per app env.
    let apps = std::fs::read_dir(envs_dir())
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|n| n.ends_with(".toml") && n != "bootstrap.toml")
        .count();
    assert_eq!(docs.len(), 2 * apps, "{docs:?}");
    for (name, statements) in &docs {
        for s in statements {
            assert_eq!(s["effect"], "Allow");
            assert_eq!(
                strings(&s["actions"]),
                ["sts:AssumeRoleWithWebIdentity"],
                "{name}"
            );
            assert_eq!(
                strings(&s["principals"]["identifiers"]),
                ["arn:aws:iam::${data.aws_caller_identity.current.account_id}:oidc-provider/token.actions.githubusercontent.com"],
                "{name}"
            );
            assert_eq!(
                condition(s, "token.actions.githubusercontent.com:aud"),
                [(
                    "StringEquals".to_string(),
                    vec!["sts.amazonaws.com".to_string()]
                )],
                "{name}"
            );
            let sub = condition(s, "token.actions.githubusercontent.com:sub");
            assert_eq!(sub.len(), 1, "{name}: exactly one subject condition");
            let (test, values) = &sub[0];
            assert_eq!(
                test, "StringEquals",
                "{name}: no pattern matching on the subject"
            );
            assert!(!values.is_empty());
            for v in values {
                assert!(!v.contains(['*', '?']), "{name}: wildcard in {v}");
                let rest = v
                    .strip_prefix(&format!("repo:{REPO}:"))
                    .unwrap_or_else(|| panic!("{name}: {v} does not name the repository {REPO}"));
                let env = name.split("_ci_").next().unwrap();
                // Apply: the env's GitHub environment only (its reviewers cannot be skipped).
                // Plan: the env's `-plan` environment, or main (the drift check); never a bare
                // pull request, which no environment gates.
                let allowed: Vec<String> = if name.contains("_ci_apply") {
                    vec![format!("environment:{env}")]
                } else {
                    vec![
                        format!("environment:{env}-plan"),
                        "ref:refs/heads/main".into(),
                    ]
                };
                assert!(allowed.contains(&rest.to_string()), "{name}: subject {v}");
            }
            // Every condition key of the statement is one of the two above.
            for c in as_list(&s["condition"]) {
                let var = c["variable"].as_str().unwrap();
                assert!(
                    var.ends_with(":aud") || var.ends_with(":sub"),
                    "{name}: {var}"
                );
            }
        }
    }
}

#[test]
fn the_provider_is_githubs_for_sts() {
    let main = bootstrap_main(&envs_dir());
    let p = &main["resource"]["aws_iam_openid_connect_provider"]["github"];
    assert_eq!(p["url"], "https://token.actions.githubusercontent.com");
    assert_eq!(strings(&p["client_id_list"]), ["sts.amazonaws.com"]);
}

#[test]
fn the_plan_role_writes_only_its_lock() {
    let main = bootstrap_main(&envs_dir());
    for env in ["dev", "prod"] {
        let doc = &main["data"]["aws_iam_policy_document"][format!("{env}_ci_plan")];
        for s in as_list(&doc["statement"]) {
            let actions = strings(&s["actions"]);
            let read = |a: &String| {
                let verb = a.split(':').nth(1).unwrap();
                ["Get", "List", "Describe"]
                    .iter()
                    .any(|p| verb.starts_with(p))
            };
            let sid = s["sid"].as_str().unwrap();
            if sid == "UseStateKey" {
                // Reading the state and writing the lock go through the state key, and only it.
                assert_eq!(
                    strings(&s["resources"]),
                    ["${aws_kms_key.state.arn}"],
                    "{env}"
                );
                assert!(actions.iter().all(|a| a.starts_with("kms:")), "{actions:?}");
            } else if sid == "WriteLockTable" {
                // The shared lock table: only this env's lock and digest items.
                let keys = condition(&s, "dynamodb:LeadingKeys");
                let own = format!("fastapi-infra-tfstate/fastapi-infra/{env}/terraform.tfstate");
                assert_eq!(
                    keys,
                    [(
                        "ForAllValues:StringEquals".to_string(),
                        vec![own.clone(), format!("{own}-md5")]
                    )],
                    "{env}"
                );
            } else if sid.starts_with("WriteLock") {
                for r in strings(&s["resources"]) {
                    assert!(
                        r.ends_with(".tflock") || r.contains(":table/fastapi-infra-tflock"),
                        "{env}: {sid} on {r}"
                    );
                }
            } else {
                assert!(actions.iter().all(read), "{env}: {sid} writes: {actions:?}");
            }
            // Its env's resources only: no other env's names.
            let other = if env == "dev" { "prod" } else { "dev" };
            for r in strings(&s["resources"]) {
                assert!(
                    !r.contains(&format!("-{other}-")) && !r.contains(&format!("/{other}/")),
                    "{env}: {r}"
                );
            }
        }
    }
}

#[test]
fn a_repository_with_a_wildcard_is_refused() {
    let dir = std::env::temp_dir().join(format!("gen-ci-roles-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    for e in ["dev", "prod", "bootstrap"] {
        std::fs::copy(
            envs_dir().join(format!("{e}.toml")),
            dir.join(format!("{e}.toml")),
        )
        .unwrap();
    }
    for bad in [
        "example-org/*",
        "*/*",
        "example-org/fastapi-infra:*",
        "example-org",
    ] {
        let text = std::fs::read_to_string(envs_dir().join("bootstrap.toml")).unwrap();
        std::fs::write(
            dir.join("bootstrap.toml"),
            text.replace(&format!("\"{REPO}\""), &format!("\"{bad}\"")),
        )
        .unwrap();
        let err = gen::build(&dir, "bootstrap", gen::Format::Json)
            .unwrap_err()
            .0;
        assert!(
            err.contains("bootstrap.toml:")
                && err.contains("ci.github_repository")
                && err.contains("is not a GitHub repository"),
            "{bad}: {err}"
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn the_roles_can_read_the_database_the_way_the_provider_does() {
    // Provider 5.100 reads an instance by a `dbi-resource-id` filter with no identifier; RDS
    // authorizes that call against `db:*`.
    let main = bootstrap_main(&envs_dir());
    for id in ["dev_ci_plan", "prod_ci_apply"] {
        let doc = &main["data"]["aws_iam_policy_document"][id];
        let found = as_list(&doc["statement"]).into_iter().any(|s| {
            strings(&s["actions"]) == ["rds:DescribeDBInstances"]
                && strings(&s["resources"]) == ["arn:aws:rds:us-east-1:*:db:*"]
        });
        assert!(found, "{id}");
    }
}
