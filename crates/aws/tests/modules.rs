//! One insta snapshot per module: the JSON each module emits on its own, for the dev settings.
//! Review changes with `cargo insta review`.

use aws::env::{AppEnv, S3Access};
use aws::{Arn, Naming, SecurityGroupId, SubnetIds, VpcCidr, VpcId};
use tf::{Address, Stack};

fn dev() -> AppEnv {
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../envs/dev.toml"))
        .unwrap();
    toml::from_str(&text).unwrap()
}

fn naming() -> Naming {
    Naming {
        project: "fastapi-infra".into(),
        env: "dev".into(),
    }
}

fn main_json(stack: &Stack) -> serde_json::Value {
    let files = tf::json::render(stack, "snapshot");
    let main = files
        .iter()
        .find(|f| f.name == "main.tf.json")
        .expect("main.tf.json");
    serde_json::from_str(&main.contents).unwrap()
}

fn r(kind: &str, name: &str, attr: &str) -> tf::Ref {
    Address::resource(kind, name).attr(attr)
}

#[test]
fn network() {
    let mut s = Stack::default();
    aws::network::DefaultNetwork.emit(&mut s);
    s.check(&aws::knowledge::AWS).unwrap();
    insta::assert_json_snapshot!(main_json(&s));
}

#[test]
fn buckets() {
    // A content bucket that logs its access into a logs bucket (SSE-S3, as log delivery needs).
    let mut s = Stack::default();
    let account = aws::AccountId(
        s.data("aws_caller_identity", "current", tf::Body::new())
            .attr("account_id"),
    );
    let content = aws::buckets::SecureBucket {
        role: "content",
        name: "fastapi-infra-dev-content",
        encryption: aws::buckets::Encryption::KmsAwsManaged,
        force_destroy: true,
        prevent_destroy: false,
        accept_access_logs: None,
        retention: aws::buckets::Retention::default(),
    }
    .emit(&mut s);
    let logs = aws::buckets::SecureBucket {
        role: "logs",
        name: "fastapi-infra-dev-logs",
        encryption: aws::buckets::Encryption::S3Managed,
        force_destroy: true,
        prevent_destroy: false,
        accept_access_logs: Some(aws::buckets::AcceptAccessLogs {
            account,
            sources: vec![aws::buckets::LogSource {
                role: "content".into(),
                arn: content.arn.clone(),
            }],
            deliveries: Vec::new(),
        }),
        retention: aws::buckets::Retention {
            current_days: Some(365),
            noncurrent_days: Some(30),
        },
    }
    .emit(&mut s);
    aws::buckets::AccessLogging {
        role: "content",
        source: &content,
        target: &logs,
    }
    .emit(&mut s);
    s.check(&aws::knowledge::AWS).unwrap();
    aws::rules::check_app(&s).unwrap();
    insta::assert_json_snapshot!(main_json(&s));
}

#[test]
fn iam_scoped_and_full() {
    for access in [S3Access::Scoped, S3Access::Full] {
        let mut s = Stack::default();
        aws::iam::InstanceRole {
            naming: &naming(),
            s3_access: access,
            buckets: vec![Arn(r("aws_s3_bucket", "content", "arn"))],
            parameters: vec![Arn(r("aws_ssm_parameter", "db_password", "arn"))],
            state: &dev().state,
        }
        .emit(&mut s);
        insta::assert_json_snapshot!(format!("iam_{access:?}").to_lowercase(), main_json(&s));
    }
}

/// The statements of the role's inline policy document.
fn role_statements(access: S3Access, state: &aws::env::State) -> Vec<serde_json::Value> {
    let mut s = Stack::default();
    aws::iam::InstanceRole {
        naming: &naming(),
        s3_access: access,
        buckets: vec![Arn(r("aws_s3_bucket", "content", "arn"))],
        parameters: vec![Arn(r("aws_ssm_parameter", "db_password", "arn"))],
        state,
    }
    .emit(&mut s);
    let doc = &main_json(&s)["data"]["aws_iam_policy_document"]["app"]["statement"];
    doc.as_array().expect("a list of statements").clone()
}

#[test]
fn every_instance_role_denies_the_state_backend() {
    let state = dev().state;
    for access in [S3Access::Scoped, S3Access::Full] {
        let denies: Vec<_> = role_statements(access, &state)
            .into_iter()
            .filter(|st| st["effect"] == "Deny")
            .collect();
        assert_eq!(
            denies,
            vec![
                serde_json::json!({
                    "sid": "DenyTerraformStateBucket", "effect": "Deny", "actions": ["s3:*"],
                    "resources": ["arn:aws:s3:::fastapi-infra-tfstate", "arn:aws:s3:::fastapi-infra-tfstate/*"],
                }),
                serde_json::json!({
                    "sid": "DenyTerraformLockTable", "effect": "Deny", "actions": ["dynamodb:*"],
                    "resources": [
                        "arn:aws:dynamodb:us-east-1:*:table/fastapi-infra-tflock",
                        "arn:aws:dynamodb:us-east-1:*:table/fastapi-infra-tflock/*",
                    ],
                }),
            ],
            "{access:?}"
        );
    }
    // S3 native locking only: the lock file is an object in the denied bucket; no table named.
    let lockfile = aws::env::State {
        lock: aws::env::Lock::Lockfile,
        dynamodb_table: None,
        ..state
    };
    let sids: Vec<_> = role_statements(S3Access::Full, &lockfile)
        .into_iter()
        .filter(|st| st["effect"] == "Deny")
        .map(|st| st["sid"].clone())
        .collect();
    assert_eq!(sids, vec!["DenyTerraformStateBucket"]);
}

#[test]
fn rds() {
    let cfg = dev();
    let mut s = Stack::default();
    aws::rds::Postgres {
        naming: &naming(),
        db: &cfg.database,
        protection: cfg.protection,
        vpc_id: VpcId(Address::data("aws_vpc", "default").attr("id")),
        subnets: SubnetIds(Address::data("aws_subnets", "default").attr("ids")),
        allow_from: SecurityGroupId(r("aws_security_group", "app", "id")),
        username: Address::Var("db_username".into()).whole(),
        password: Address::Var("db_password".into()).whole(),
        password_version: Address::Var("db_password_version".into()).whole(),
    }
    .emit(&mut s);
    insta::assert_json_snapshot!(main_json(&s));
}

#[test]
fn ec2_app() {
    let cfg = dev();
    let mut s = Stack::default();
    let sg = aws::ec2_app::AppFirewall {
        naming: &naming(),
        host: &cfg.app,
        vpc_id: VpcId(Address::data("aws_vpc", "default").attr("id")),
        vpc_cidr: VpcCidr(Address::data("aws_vpc", "default").attr("cidr_block")),
        load_balancer: None,
    }
    .emit(&mut s);
    aws::ec2_app::AppInstance {
        naming: &naming(),
        host: &cfg.app,
        vpc_id: VpcId(Address::data("aws_vpc", "default").attr("id")),
        security_group: sg.id,
        profile: aws::InstanceProfileName(r("aws_iam_instance_profile", "app", "name")),
        ami_override: Address::Var("ami_id".into()).whole(),
        key_name: Address::Var("ssh_key_name".into()).whole(),
        user_data_file: "user_data.sh",
        boot_after: vec![Address::resource("aws_db_instance", "this")],
    }
    .emit(&mut s);
    insta::assert_json_snapshot!(main_json(&s));
}

#[test]
fn state_backend() {
    let mut s = Stack::default();
    let account = s
        .data("aws_caller_identity", "current", tf::Body::new())
        .attr("account_id");
    aws::state_backend::StateBackend {
        bucket: "fastapi-infra-tfstate",
        table: "fastapi-infra-tflock",
        key_alias: "alias/fastapi-infra-tfstate",
        prevent_destroy: true,
        noncurrent_days: 90,
        account,
    }
    .emit(&mut s);
    s.check(&aws::knowledge::AWS).unwrap();
    insta::assert_json_snapshot!(main_json(&s));
}

#[test]
fn user_data_keeps_bash_expansions() {
    let cfg = dev();
    let stack = aws::stacks::app_stack("dev", &cfg, "cargo run -p gen -- --env dev");
    let (_, script) = stack
        .files
        .iter()
        .find(|(n, _)| n == "user_data.sh")
        .unwrap();
    assert!(script.contains("\"${APP_USER}\""));
    assert!(script.starts_with("#!/usr/bin/env bash\n"));
    assert!(
        !script.contains("{{") && !script.contains("{%"),
        "unrendered template syntax"
    );
    insta::assert_snapshot!(script);
}

fn prod() -> AppEnv {
    let text =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../envs/prod.toml"))
            .unwrap();
    toml::from_str(&text).unwrap()
}

/// prod's scoped role may read and write the app's buckets but neither write nor delete the
/// access logs S3 delivers into the logs bucket; no managed S3 policy widens that.
#[test]
fn prod_role_cannot_write_or_delete_access_logs() {
    let cfg = prod();
    assert_eq!(cfg.iam.s3_access, S3Access::Scoped);
    let doc = main_json(&aws::stacks::app_stack(
        "prod",
        &cfg,
        "cargo run -p gen -- --env prod",
    ));
    let statements = &doc["data"]["aws_iam_policy_document"]["app"]["statement"];
    let statements: Vec<&serde_json::Value> = match statements {
        serde_json::Value::Array(a) => a.iter().collect(),
        one => vec![one],
    };
    let writes = |resource: &str| {
        statements.iter().any(|st| {
            let acts = st["actions"].as_array().unwrap();
            let writes = acts.iter().any(|a| {
                ["s3:PutObject", "s3:DeleteObject", "s3:*"].contains(&a.as_str().unwrap())
            });
            writes
                && st["resources"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|r| r.as_str().unwrap().contains(resource))
        })
    };
    assert!(!writes("aws_s3_bucket.logs."), "{statements:#?}");
    assert!(writes("aws_s3_bucket.artifacts.arn"), "{statements:#?}");
    assert!(writes("aws_s3_bucket.content.arn"), "{statements:#?}");
    assert!(
        doc["resource"]["aws_iam_role_policy_attachment"].is_null(),
        "prod attaches a managed policy: {}",
        doc["resource"]["aws_iam_role_policy_attachment"]
    );
}

/// Every wait of user_data has a bound with a default, set before the optional hook file
/// (/etc/default/<app>) so that the hook can change it; apt waits for the dpkg lock; the app
/// verifies the database's certificate.
#[test]
fn user_data_waits_within_bounds() {
    let cfg = dev();
    let stack = aws::stacks::app_stack("dev", &cfg, "cargo run -p gen -- --env dev");
    let (_, script) = stack
        .files
        .iter()
        .find(|(n, _)| n == "user_data.sh")
        .unwrap();
    let hook = script
        .find(". \"/etc/default/${APP_NAME}\"")
        .expect("the hook file is sourced");
    for (setting, default) in [
        ("SETTINGS_WAIT_SECONDS", "600"),
        ("DB_WAIT_SECONDS", "900"),
        ("APT_LOCK_WAIT_SECONDS", "600"),
        ("APT_TRIES", "3"),
        ("HEALTH_WAIT_SECONDS", "120"),
    ] {
        let at = script
            .find(&format!("\n{setting}={default}\n"))
            .unwrap_or_else(|| panic!("{setting} has no default {default}"));
        assert!(
            at < hook,
            "{setting} is set after the hook file, which cannot change it then"
        );
        assert!(
            script[hook..].contains(&format!("${{{setting}}}")),
            "{setting} is not used"
        );
    }
    assert!(script.contains("-o DPkg::Lock::Timeout=\"${APT_LOCK_WAIT_SECONDS}\""));
    assert!(script.contains(
        "\nRDS_CA_BUNDLE_URL=https://truststore.pki.rds.amazonaws.com/global/global-bundle.pem\n"
    ));
    // The settings spec read_settings.py follows: the URL and libpq both verify the server.
    let spec = script
        .lines()
        .find_map(|l| l.strip_prefix("SETTINGS_SPEC='")?.strip_suffix("' \\"))
        .expect("user_data hands read_settings.py its spec");
    let spec: serde_json::Value = serde_json::from_str(spec).unwrap();
    assert_eq!(spec["db"]["sslmode"], "verify-full");
    let env = spec["env"].as_array().unwrap();
    assert!(env.contains(&serde_json::json!(["PGSSLMODE", "value", "verify-full"])));
    assert!(env.contains(&serde_json::json!(["PGSSLROOTCERT", "boot", "DB_CA_FILE"])));
    assert!(env.contains(&serde_json::json!(["DATABASE_URL", "url", ""])));
}

/// The Python inside user_data is read_settings.py without its comment lines, every other line
/// kept in order, and it still compiles.
#[test]
fn user_data_python_drops_only_comment_lines() {
    let src = include_str!("../templates/read_settings.py");
    let py = aws::user_data::read_settings_py();
    let code: Vec<&str> = src
        .trim_end()
        .lines()
        .filter(|l| !l.trim_start().starts_with('#'))
        .collect();
    assert_eq!(py.lines().collect::<Vec<_>>(), code);
    assert!(py.len() < src.len() && !py.lines().any(|l| l.trim_start().starts_with('#')));
    let dir = std::env::temp_dir().join(format!("fastapi-infra-py-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("read_settings.py");
    std::fs::write(&file, &py).unwrap();
    let out = std::process::Command::new("python3")
        .args(["-m", "py_compile"])
        .arg(&file)
        .output()
        .expect("python3 runs");
    std::fs::remove_dir_all(&dir).unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
