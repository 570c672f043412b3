//! AWS rules that `terraform validate` and the emulator do not enforce, checked on the finished
//! document before anything is written. Each names the env-file key it concerns and the fix.
//!
//! - EC2 user data is at most 16 KB, in raw form, before base64 (EC2 User Guide, "Work with
//!   instance user data").
//! - S3 delivers server access logs only into a target bucket whose default encryption is
//!   SSE-S3 (AES256), never SSE-KMS; the target's bucket policy lets `logging.s3.amazonaws.com`
//!   put objects under the source's prefix with `aws:SourceArn` (the source bucket) and
//!   `aws:SourceAccount` conditions (S3 User Guide, "Enabling Amazon S3 server access logging").
//! - A load balancer's and a target group's names have 1 to 32 letters, digits or hyphens and
//!   no hyphen at either end (ELB API, CreateLoadBalancer, CreateTargetGroup).
//! - A load balancer's access logs go to a bucket with SSE-S3 (AES256) default encryption whose
//!   policy lets the Region's Elastic Load Balancing account (`data.aws_elb_service_account`)
//!   put objects (ELB User Guide, "Enable access logs for your Application Load Balancer").
//! - S3 never deletes access logs by itself: the target bucket's lifecycle configuration
//!   expires them (S3 User Guide, "Managing log retention"); our targets are versioned, where an
//!   expiration only hides the current version behind a delete marker, so the rule also expires
//!   noncurrent versions (S3 User Guide, "Lifecycle configuration elements").
//! - An RDS DB instance identifier has 1 to 63 letters, digits or hyphens, starts with a letter,
//!   and neither ends with a hyphen nor holds two in a row (RDS API, CreateDBInstance).

use std::fmt;

use tf::{Address, Block, Body, Stack, Value};

use crate::buckets::LOGGING_SERVICE;
use crate::user_data::FILE_NAME;

/// EC2's limit on user data, in bytes, before base64.
pub const USER_DATA_MAX_BYTES: usize = 16 * 1024;

/// A broken AWS rule: the env-file key it concerns and what is wrong, fix included.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleError {
    pub key: String,
    pub message: String,
}

impl fmt::Display for RuleError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "key `{}`: {}", self.key, self.message)
    }
}

fn broken<T>(key: impl Into<String>, message: impl Into<String>) -> Result<T, RuleError> {
    Err(RuleError {
        key: key.into(),
        message: message.into(),
    })
}

/// Every rule, on an app environment's document.
pub fn check_app(stack: &Stack) -> Result<(), RuleError> {
    for (name, text) in &stack.files {
        if name == FILE_NAME {
            check_user_data(text)?;
        }
    }
    for logging in stack
        .resources
        .iter()
        .filter(|b| kind(&b.addr) == "aws_s3_bucket_logging")
    {
        check_access_log_target(stack, logging)?;
    }
    for lb in stack
        .resources
        .iter()
        .filter(|b| matches!(kind(&b.addr), "aws_lb" | "aws_lb_target_group"))
    {
        if let Some(Value::Str(n)) = lb.body.get("name") {
            check_elb_name(n)?;
        }
        if kind(&lb.addr) == "aws_lb" {
            check_lb_log_target(stack, lb)?;
        }
    }
    for db in stack
        .resources
        .iter()
        .filter(|b| kind(&b.addr) == "aws_db_instance")
    {
        if let Some(Value::Str(id)) = db.body.get("identifier") {
            crate::rds::check_identifier(id).map_err(|e| RuleError {
                key: "project".into(),
                message: format!("{e}; fix: shorten `project` or the env file's name (the identifier is `<project>-<env>-db`), and use no `--` in either"),
            })?;
        }
    }
    Ok(())
}

/// user_data.sh must fit EC2's 16 KB.
pub fn check_user_data(text: &str) -> Result<(), RuleError> {
    if text.len() > USER_DATA_MAX_BYTES {
        return broken(
            "app",
            format!(
                "the rendered {FILE_NAME} is {} bytes, but EC2 accepts at most {USER_DATA_MAX_BYTES} bytes of user data (16 KB before base64); fix: shorten the values that land in it (app.asgi_app, app.health_path, bucket names) or move setup steps from user_data into the app repository",
                text.len()
            ),
        );
    }
    Ok(())
}

/// ELB's rule for load balancer and target group names.
pub fn check_elb_name(n: &str) -> Result<(), RuleError> {
    let ok = (1..=32).contains(&n.len())
        && !n.starts_with('-')
        && !n.ends_with('-')
        && n.chars().all(|c| c.is_ascii_alphanumeric() || c == '-');
    if ok {
        return Ok(());
    }
    broken(
        "project",
        format!("the load balancer or target group name `{n}` must have 1 to 32 letters, digits or hyphens (ELB's limit); fix: shorten `project` or the env file's name (the names are `<project>-<env>-alb` and `<project>-<env>-app`)"),
    )
}

fn check_lb_log_target(stack: &Stack, lb: &Block) -> Result<(), RuleError> {
    let Some(logs) = lb.body.blocks("access_logs").first() else {
        return Ok(());
    };
    let Some(target) = referenced(logs.get("bucket")).into_iter().next() else {
        return Ok(());
    };
    let key = format!("buckets.{}", name(&target));
    let sse = attached(
        stack,
        "aws_s3_bucket_server_side_encryption_configuration",
        &target,
    )
    .and_then(|b| b.body.blocks("rule").first())
    .and_then(|r| r.blocks("apply_server_side_encryption_by_default").first())
    .and_then(|d| d.get("sse_algorithm"));
    if sse != Some(&Value::from("AES256")) {
        return broken(
            key,
            format!("{} writes its access logs into {target}, whose default encryption is not SSE-S3 (AES256), the only one ELB access logs support; fix: give the log target `Encryption::S3Managed` (a generator bug)", lb.addr),
        );
    }
    let elb = Address::data("aws_elb_service_account", "this");
    let allowed = attached(stack, "aws_s3_bucket_policy", &target)
        .and_then(|p| referenced(p.body.get("policy")).into_iter().next())
        .and_then(|doc| stack.block(&doc))
        .is_some_and(|doc| {
            doc.body.blocks("statement").iter().any(|st| {
                st.get("effect") == Some(&Value::from("Allow"))
                    && st.get("actions") == Some(&Value::list(["s3:PutObject"]))
                    && st.blocks("principals").iter().any(|p| {
                        p.get("type") == Some(&Value::from("AWS"))
                            && referenced(p.get("identifiers")).contains(&elb)
                    })
            })
        });
    if !allowed {
        return broken(
            key,
            format!("the policy of {target} does not let the Region's Elastic Load Balancing account put {}'s access logs; ELB would refuse to enable them; fix: add `alb::access_log_delivery` to the bucket's deliveries (a generator bug)", lb.addr),
        );
    }
    Ok(())
}

fn kind(a: &Address) -> &str {
    match a {
        Address::Resource { kind, .. } | Address::Data { kind, .. } => kind,
        _ => "",
    }
}

fn name(a: &Address) -> &str {
    match a {
        Address::Resource { name, .. } | Address::Data { name, .. } => name,
        _ => "",
    }
}

/// The blocks a value refers to.
fn referenced(v: Option<&Value>) -> Vec<Address> {
    let mut refs = Vec::new();
    if let Some(v) = v {
        v.refs(&mut refs);
    }
    refs.into_iter().map(|r| r.addr.clone()).collect()
}

/// The resource of `kind` whose `bucket` refers to `bucket`.
fn attached<'a>(stack: &'a Stack, kind_: &str, bucket: &Address) -> Option<&'a Block> {
    stack
        .resources
        .iter()
        .find(|b| kind(&b.addr) == kind_ && referenced(b.body.get("bucket")).contains(bucket))
}

fn check_access_log_target(stack: &Stack, logging: &Block) -> Result<(), RuleError> {
    let (Some(target), Some(source)) = (
        referenced(logging.body.get("target_bucket"))
            .into_iter()
            .next(),
        referenced(logging.body.get("bucket")).into_iter().next(),
    ) else {
        return Ok(());
    };
    let key = format!("buckets.{}", name(&target));
    let sse = attached(
        stack,
        "aws_s3_bucket_server_side_encryption_configuration",
        &target,
    )
    .and_then(|b| b.body.blocks("rule").first())
    .and_then(|r| r.blocks("apply_server_side_encryption_by_default").first())
    .and_then(|d| d.get("sse_algorithm"));
    if sse != Some(&Value::from("AES256")) {
        return broken(
            key,
            format!("{target} receives the server access logs of {source}, but its default encryption is not SSE-S3 (AES256); S3 delivers access logs only into SSE-S3 buckets, so none would arrive; fix: give the log target `Encryption::S3Managed` (a generator bug, not an env-file one)"),
        );
    }
    let statement = attached(stack, "aws_s3_bucket_policy", &target)
        .and_then(|p| referenced(p.body.get("policy")).into_iter().next())
        .and_then(|doc| stack.block(&doc))
        .and_then(|doc| {
            doc.body
                .blocks("statement")
                .iter()
                .find(|s| lets_logging_write_for(s, &source))
        });
    if statement.is_none() {
        return broken(
            key,
            format!("the bucket policy of {target} has no statement that lets {LOGGING_SERVICE} put {source}'s logs with both `aws:SourceArn` ({source}) and `aws:SourceAccount` conditions (AWS's policy for access log delivery); fix: accept the source's logs in the target's `accept_access_logs` (a generator bug, not an env-file one)"),
        );
    }
    if !expires_logs(stack, &target) {
        return broken(
            "buckets.logs_expiration_days",
            format!("{target} receives access logs but its lifecycle configuration has no enabled rule that expires every object (`expiration` days) and deletes noncurrent versions (`noncurrent_version_expiration`); S3 deletes no log by itself, so they would pile up forever; fix: give the log target a `Retention` (a generator bug, not an env-file one)"),
        );
    }
    Ok(())
}

/// The bucket's lifecycle configuration has an enabled rule over every object that expires
/// current versions after some days and deletes noncurrent ones.
fn expires_logs(stack: &Stack, bucket: &Address) -> bool {
    let Some(lifecycle) = attached(stack, "aws_s3_bucket_lifecycle_configuration", bucket) else {
        return false;
    };
    lifecycle.body.blocks("rule").iter().any(|r| {
        let every_object = r
            .blocks("filter")
            .first()
            .is_some_and(|f| f.get("prefix") == Some(&Value::from("")));
        let has = |block: &str, attr: &str| {
            r.blocks(block)
                .first()
                .and_then(|b| b.get(attr))
                .is_some_and(|d| matches!(d, Value::Int(n) if *n > 0))
        };
        r.get("status") == Some(&Value::from("Enabled"))
            && every_object
            && has("expiration", "days")
            && has("noncurrent_version_expiration", "noncurrent_days")
    })
}

/// An Allow of `s3:PutObject` to the logging service, conditioned on the source bucket's ARN
/// and on the account.
fn lets_logging_write_for(statement: &Body, source: &Address) -> bool {
    let service = statement.blocks("principals").iter().any(|p| {
        p.get("type") == Some(&Value::from("Service"))
            && p.get("identifiers") == Some(&Value::list([LOGGING_SERVICE]))
    });
    let condition = |var: &str| {
        statement
            .blocks("condition")
            .iter()
            .find(|c| c.get("variable") == Some(&Value::from(var)))
    };
    let source_arn = condition("aws:SourceArn").is_some_and(|c| {
        let mut refs = Vec::new();
        if let Some(v) = c.get("values") {
            v.refs(&mut refs);
        }
        refs.iter().any(|r| &r.addr == source && r.path == ["arn"])
    });
    let account = condition("aws:SourceAccount")
        .is_some_and(|c| c.get("test") == Some(&Value::from("StringEquals")));
    statement.get("effect") == Some(&Value::from("Allow"))
        && statement.get("actions") == Some(&Value::list(["s3:PutObject"]))
        && service
        && source_arn
        && account
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::buckets::{
        AcceptAccessLogs, AccessLogging, Encryption, LogSource, Retention, SecureBucket,
    };
    use crate::AccountId;
    use tf::Entry;

    const LOG_RETENTION: Retention = Retention {
        current_days: Some(365),
        noncurrent_days: Some(30),
    };

    fn logged(target_encryption: Encryption) -> Stack {
        logged_with(target_encryption, LOG_RETENTION)
    }

    fn logged_with(target_encryption: Encryption, log_retention: Retention) -> Stack {
        let mut s = Stack::default();
        let account = AccountId(
            s.data("aws_caller_identity", "current", Body::new())
                .attr("account_id"),
        );
        let bucket = |s: &mut Stack, role, encryption, accept, retention| {
            SecureBucket {
                role,
                name: "fastapi-infra-test-x",
                encryption,
                force_destroy: false,
                prevent_destroy: false,
                accept_access_logs: accept,
                retention,
            }
            .emit(s)
        };
        let content = bucket(
            &mut s,
            "content",
            Encryption::KmsAwsManaged,
            None,
            Retention::default(),
        );
        let accept = AcceptAccessLogs {
            account,
            sources: vec![LogSource {
                role: "content".into(),
                arn: content.arn.clone(),
            }],
            deliveries: Vec::new(),
        };
        let logs = bucket(
            &mut s,
            "logs",
            target_encryption,
            Some(accept),
            log_retention,
        );
        AccessLogging {
            role: "content",
            source: &content,
            target: &logs,
        }
        .emit(&mut s);
        s.check(&crate::knowledge::AWS).unwrap();
        s
    }

    #[test]
    fn a_log_target_with_sse_s3_and_aws_policy_passes() {
        assert_eq!(check_app(&logged(Encryption::S3Managed)), Ok(()));
    }

    #[test]
    fn a_log_target_with_sse_kms_is_refused() {
        let e = check_app(&logged(Encryption::KmsAwsManaged)).unwrap_err();
        assert_eq!(e.key, "buckets.logs");
        assert!(
            e.message.contains("SSE-S3 (AES256)") && e.message.contains("fix:"),
            "{e}"
        );
    }

    #[test]
    fn a_log_target_that_never_expires_logs_is_refused() {
        for retention in [
            Retention::default(),
            // Versioned: expiring current versions alone keeps every log as a noncurrent one.
            Retention {
                current_days: Some(365),
                noncurrent_days: None,
            },
            Retention {
                current_days: None,
                noncurrent_days: Some(30),
            },
        ] {
            let e = check_app(&logged_with(Encryption::S3Managed, retention)).unwrap_err();
            assert_eq!(e.key, "buckets.logs_expiration_days", "{retention:?}");
            assert!(e.message.contains("fix:"), "{e}");
        }
    }

    #[test]
    fn a_log_policy_without_source_account_is_refused() {
        let mut s = logged(Encryption::S3Managed);
        let doc = s
            .data
            .iter_mut()
            .find(|b| name(&b.addr) == "logs_bucket_policy")
            .unwrap();
        for (_, e) in doc.body.entries.iter_mut() {
            if let Entry::Blocks(statements) = e {
                for st in statements {
                    for (k, inner) in st.entries.iter_mut() {
                        if let (true, Entry::Blocks(cs)) = (k == "condition", inner) {
                            cs.retain(|c| {
                                c.get("variable") != Some(&Value::from("aws:SourceAccount"))
                            });
                        }
                    }
                }
            }
        }
        let e = check_app(&s).unwrap_err();
        assert!(e.message.contains("aws:SourceAccount"), "{e}");
    }

    #[test]
    fn an_rds_identifier_too_long_is_refused() {
        let mut s = Stack::default();
        s.resource(
            "aws_db_instance",
            "this",
            Body::new().attr("identifier", format!("{}-dev-db", "a".repeat(60))),
        );
        let e = check_app(&s).unwrap_err();
        assert_eq!(e.key, "project");
        assert!(
            e.message.contains("63") && e.message.contains("fix:"),
            "{e}"
        );
    }

    #[test]
    fn elb_names_follow_the_elb_rule() {
        assert_eq!(check_elb_name("fastapi-infra-prod-ha-alb"), Ok(()));
        assert_eq!(check_elb_name(&"a".repeat(33)).unwrap_err().key, "project");
        assert!(check_elb_name("a_b").is_err());
        assert!(check_elb_name("-ab").is_err());
    }

    #[test]
    fn a_load_balancer_logging_into_sse_kms_or_without_the_elb_grant_is_refused() {
        let lb = |s: &mut Stack| {
            s.resource(
                "aws_lb",
                "this",
                Body::new().attr("name", "x").block(
                    "access_logs",
                    Body::new()
                        .attr(
                            "bucket",
                            Address::resource("aws_s3_bucket", "logs").attr("id"),
                        )
                        .attr("enabled", true),
                ),
            );
        };
        let mut s = logged(Encryption::S3Managed);
        lb(&mut s);
        let e = check_app(&s).unwrap_err();
        assert!(e.message.contains("Elastic Load Balancing account"), "{e}");
        let mut s = logged(Encryption::KmsAwsManaged);
        s.resources
            .retain(|b| kind(&b.addr) != "aws_s3_bucket_logging");
        lb(&mut s);
        let e = check_app(&s).unwrap_err();
        assert!(e.message.contains("SSE-S3"), "{e}");
    }

    #[test]
    fn user_data_fits_16_kb() {
        assert_eq!(check_user_data(&"x".repeat(USER_DATA_MAX_BYTES)), Ok(()));
        let e = check_user_data(&"x".repeat(USER_DATA_MAX_BYTES + 1)).unwrap_err();
        assert_eq!(e.key, "app");
        assert!(
            e.message.contains("16385 bytes") && e.message.contains("fix:"),
            "{e}"
        );
        // Counted in bytes, as EC2 counts: 6000 three-byte characters are 18000 bytes.
        assert!(check_user_data(&"€".repeat(6000)).is_err());
    }

    #[test]
    fn an_oversized_user_data_in_a_document_is_refused() {
        let mut s = Stack::default();
        s.file(FILE_NAME, "#!/bin/bash\n".repeat(2000));
        assert_eq!(check_app(&s).unwrap_err().key, "app");
    }
}
