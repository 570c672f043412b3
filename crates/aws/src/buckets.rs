//! buckets: S3 buckets with secure defaults (versioning, encryption, public access blocked,
//! owner-enforced ownership, incomplete multipart uploads aborted, TLS only), and server access
//! logging from one bucket into another.

use tf::{Address, Body, Expr, Piece, Stack, Value};

use crate::env::{BucketName, Buckets};
use crate::{AccountId, Arn, BucketId};

/// An app environment's buckets, by role: the one list of them (resources, outputs, the app's
/// environment variables, access logging, CI's grants, name claims).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum BucketRole {
    /// The target of the other buckets' server access logs (S3's log delivery writes there).
    Logs,
    Artifacts,
    Content,
}

impl BucketRole {
    pub const ALL: [BucketRole; 3] = [BucketRole::Logs, BucketRole::Artifacts, BucketRole::Content];

    /// The role's name: its resources (`aws_s3_bucket.<name>`) and its `[buckets]` key.
    pub fn name(self) -> &'static str {
        match self {
            BucketRole::Logs => "logs",
            BucketRole::Artifacts => "artifacts",
            BucketRole::Content => "content",
        }
    }

    /// The env-file key that names the bucket: `buckets.<name>`.
    pub fn key(self) -> &'static str {
        match self {
            BucketRole::Logs => "buckets.logs",
            BucketRole::Artifacts => "buckets.artifacts",
            BucketRole::Content => "buckets.content",
        }
    }

    /// The bucket's name in an env file's `[buckets]`.
    pub fn bucket(self, b: &Buckets) -> &BucketName {
        match self {
            BucketRole::Logs => &b.logs,
            BucketRole::Artifacts => &b.artifacts,
            BucketRole::Content => &b.content,
        }
    }

    /// The app's environment variable that names the bucket, with its meaning. `None`: the app
    /// is not told about it (the logs bucket belongs to S3's log delivery).
    pub fn env_var(self) -> Option<(&'static str, &'static str)> {
        match self {
            BucketRole::Logs => None,
            BucketRole::Artifacts => Some((
                "S3_BUCKET_ARTIFACTS",
                "name of the app's artifacts bucket (SSE-KMS, versioned)",
            )),
            BucketRole::Content => Some((
                "S3_BUCKET_CONTENT",
                "name of the app's content bucket (SSE-KMS, versioned)",
            )),
        }
    }

    /// Whether the app may use the bucket (its role's grants; the app's environment names it).
    pub fn for_app(self) -> bool {
        self.env_var().is_some()
    }

    /// Whether the bucket logs its access into the logs bucket (under `log_prefix(name)`).
    pub fn logs_access(self) -> bool {
        self != BucketRole::Logs
    }

    /// The bucket's default encryption: S3 delivers access logs only into SSE-S3 buckets.
    pub fn encryption(self) -> Encryption {
        match self {
            BucketRole::Logs => Encryption::S3Managed,
            _ => Encryption::KmsAwsManaged,
        }
    }

    /// The stack's output of the bucket's name.
    pub fn output(self) -> String {
        format!("bucket_{}_name", self.name())
    }
}

/// Default encryption of a bucket's objects.
#[derive(Clone, Debug, PartialEq)]
pub enum Encryption {
    /// SSE-S3 (`AES256`): the only default encryption S3 server access log delivery supports.
    S3Managed,
    /// SSE-KMS with the AWS-managed `aws/s3` key.
    KmsAwsManaged,
    /// SSE-KMS with a customer-managed key (its ARN).
    Kms(Arn),
}

/// The S3 service principal that delivers server access logs.
pub const LOGGING_SERVICE: &str = "logging.s3.amazonaws.com";

/// Where a source bucket's access logs go inside the target bucket: `<role>/`.
pub fn log_prefix(role: &str) -> String {
    format!("{role}/")
}

/// A bucket whose server access logs this bucket receives, under `log_prefix(role)`.
#[derive(Clone, Debug)]
pub struct LogSource {
    pub role: String,
    pub arn: Arn,
}

/// Who may deliver access logs into a bucket: the sources, all from this account.
#[derive(Clone, Debug)]
pub struct AcceptAccessLogs {
    pub account: AccountId,
    pub sources: Vec<LogSource>,
    /// Other log deliveries into the bucket (the load balancer's, VPC flow logs): policy
    /// statements made from the bucket's ARN.
    pub deliveries: Vec<Body>,
}

/// How long a versioned bucket keeps objects, applied by its lifecycle configuration. S3
/// deletes nothing by itself ("The system does not delete old log files"), and in a versioned
/// bucket an expiration only turns the current version noncurrent (behind a delete marker):
/// the noncurrent expiration is what frees the data.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Retention {
    /// Expire current versions this many days after creation (`None`: never).
    pub current_days: Option<u32>,
    /// Delete noncurrent versions this many days after they became noncurrent (`None`: never).
    pub noncurrent_days: Option<u32>,
}

impl Retention {
    /// The lifecycle rule that applies it to every object, if it expires anything.
    fn rule(&self) -> Option<Body> {
        if self.current_days.is_none() && self.noncurrent_days.is_none() {
            return None;
        }
        let mut rule = Body::new()
            .attr("id", "retention")
            .attr("status", "Enabled")
            .block("filter", Body::new().attr("prefix", ""));
        if let Some(days) = self.current_days {
            rule.push_block("expiration", Body::new().attr("days", days));
        }
        if let Some(days) = self.noncurrent_days {
            rule.push_block(
                "noncurrent_version_expiration",
                Body::new().attr("noncurrent_days", days),
            );
        }
        Some(rule)
    }
}

/// One secure bucket. `role` names its Terraform resources (`aws_s3_bucket.<role>`).
pub struct SecureBucket<'a> {
    pub role: &'a str,
    pub name: &'a str,
    pub encryption: Encryption,
    /// Let `terraform destroy` delete a bucket that still has objects (dev only).
    pub force_destroy: bool,
    /// `lifecycle { prevent_destroy = true }` on the bucket.
    pub prevent_destroy: bool,
    /// Buckets whose server access logs this bucket receives (the S3 logging service may write
    /// here on behalf of exactly these, each under its own prefix). Such a bucket must use
    /// `Encryption::S3Managed`: S3 does not deliver access logs into SSE-KMS buckets.
    pub accept_access_logs: Option<AcceptAccessLogs>,
    /// What the lifecycle configuration expires (besides incomplete multipart uploads).
    pub retention: Retention,
}

/// What a bucket gives other modules.
#[derive(Clone, Debug)]
pub struct BucketOutputs {
    pub id: BucketId,
    pub arn: Arn,
    /// `aws_s3_bucket_policy.<role>`.
    pub policy: Address,
}

impl SecureBucket<'_> {
    pub fn emit(&self, stack: &mut Stack) -> BucketOutputs {
        let mut body = Body::new().attr("bucket", self.name);
        if self.force_destroy {
            body.set("force_destroy", true);
        }
        if self.prevent_destroy {
            body.push_block("lifecycle", Body::new().attr("prevent_destroy", true));
        }
        let bucket = stack.resource("aws_s3_bucket", self.role, body);
        let id = bucket.attr("id");
        self.satellites(stack, &id);
        let arn = bucket.attr("arn");
        let policy = self.policy(stack, &id, &arn);
        BucketOutputs {
            id: BucketId(id),
            arn: Arn(arn),
            policy,
        }
    }

    /// Versioning, encryption, public access block, ownership, and the multipart-upload rule.
    fn satellites(&self, stack: &mut Stack, id: &tf::Ref) {
        stack.resource(
            "aws_s3_bucket_versioning",
            self.role,
            Body::new().attr("bucket", id).block(
                "versioning_configuration",
                Body::new().attr("status", "Enabled"),
            ),
        );
        stack.resource(
            "aws_s3_bucket_server_side_encryption_configuration",
            self.role,
            Body::new()
                .attr("bucket", id)
                .block("rule", self.encryption_rule()),
        );
        stack.resource(
            "aws_s3_bucket_public_access_block",
            self.role,
            Body::new()
                .attr("bucket", id)
                .attr("block_public_acls", true)
                .attr("block_public_policy", true)
                .attr("ignore_public_acls", true)
                .attr("restrict_public_buckets", true),
        );
        stack.resource(
            "aws_s3_bucket_ownership_controls",
            self.role,
            Body::new().attr("bucket", id).block(
                "rule",
                Body::new().attr("object_ownership", "BucketOwnerEnforced"),
            ),
        );
        // One lifecycle configuration per bucket: S3 keeps only one, and two resources on the
        // same bucket fight forever (the provider's documentation).
        let mut lifecycle = Body::new().attr("bucket", id).block(
            "rule",
            Body::new()
                .attr("id", "abort-incomplete-multipart-uploads")
                .attr("status", "Enabled")
                .block("filter", Body::new().attr("prefix", ""))
                .block(
                    "abort_incomplete_multipart_upload",
                    Body::new().attr("days_after_initiation", 7u32),
                ),
        );
        if let Some(rule) = self.retention.rule() {
            lifecycle.push_block("rule", rule);
        }
        stack.resource(
            "aws_s3_bucket_lifecycle_configuration",
            self.role,
            lifecycle,
        );
    }

    /// The bucket policy: TLS only, and the access-log delivery this bucket accepts.
    fn policy(&self, stack: &mut Stack, id: &tf::Ref, arn: &tf::Ref) -> Address {
        let mut doc = Body::new().block("statement", deny_insecure_transport(arn));
        if let Some(accept) = &self.accept_access_logs {
            for src in &accept.sources {
                doc.push_block("statement", access_log_statement(arn, accept, src));
            }
            for d in &accept.deliveries {
                doc.push_block("statement", d.clone());
            }
        }
        let doc = stack.data(
            "aws_iam_policy_document",
            &format!("{}_bucket_policy", self.role),
            doc,
        );
        stack.resource(
            "aws_s3_bucket_policy",
            self.role,
            Body::new()
                .attr("bucket", id)
                .attr("policy", doc.attr("json"))
                .depends_on([Address::resource(
                    "aws_s3_bucket_public_access_block",
                    self.role,
                )]),
        )
    }
}

/// Deny every request to the bucket and its objects not made over TLS.
fn deny_insecure_transport(arn: &tf::Ref) -> Body {
    let objects = Value::template([Piece::Expr(Expr::Ref(arn.clone())), Piece::Lit("/*".into())]);
    Body::new()
        .attr("sid", "DenyInsecureTransport")
        .attr("effect", "Deny")
        .attr("actions", Value::list(["s3:*"]))
        .attr("resources", Value::list([Value::from(arn), objects]))
        .block(
            "principals",
            Body::new()
                .attr("type", "AWS")
                .attr("identifiers", Value::list(["*"])),
        )
        .block(
            "condition",
            Body::new()
                .attr("test", "Bool")
                .attr("variable", "aws:SecureTransport")
                .attr("values", Value::list(["false"])),
        )
}

impl SecureBucket<'_> {
    fn encryption_rule(&self) -> Body {
        let by_default = match &self.encryption {
            Encryption::S3Managed => Body::new().attr("sse_algorithm", "AES256"),
            Encryption::KmsAwsManaged => Body::new().attr("sse_algorithm", "aws:kms"),
            Encryption::Kms(key) => Body::new()
                .attr("sse_algorithm", "aws:kms")
                .attr("kms_master_key_id", key),
        };
        let rule = Body::new().block("apply_server_side_encryption_by_default", by_default);
        match self.encryption {
            // An S3 Bucket Key only applies to SSE-KMS.
            Encryption::S3Managed => rule,
            _ => rule.attr("bucket_key_enabled", true),
        }
    }
}

/// AWS's policy for server access log delivery: the logging service may put objects under the
/// source's prefix, only for that source bucket (`aws:SourceArn`) in this account
/// (`aws:SourceAccount`).
fn access_log_statement(target: &tf::Ref, accept: &AcceptAccessLogs, src: &LogSource) -> Body {
    let objects = Value::template([
        Piece::Expr(Expr::Ref(target.clone())),
        Piece::Lit(format!("/{}*", log_prefix(&src.role))),
    ]);
    Body::new()
        .attr(
            "sid",
            format!("S3ServerAccessLogs{}", capitalize(&src.role)),
        )
        .attr("effect", "Allow")
        .attr("actions", Value::list(["s3:PutObject"]))
        .attr("resources", Value::list([objects]))
        .block(
            "principals",
            Body::new()
                .attr("type", "Service")
                .attr("identifiers", Value::list([LOGGING_SERVICE])),
        )
        .block(
            "condition",
            Body::new()
                .attr("test", "ArnLike")
                .attr("variable", "aws:SourceArn")
                .attr("values", Value::list([&src.arn])),
        )
        .block(
            "condition",
            Body::new()
                .attr("test", "StringEquals")
                .attr("variable", "aws:SourceAccount")
                .attr("values", Value::list([&accept.account])),
        )
}

fn capitalize(s: &str) -> String {
    let mut c = s.chars();
    c.next()
        .map(|f| f.to_ascii_uppercase().to_string() + c.as_str())
        .unwrap_or_default()
}

/// Server access logging of one bucket into another (`<target>/<role>/`).
pub struct AccessLogging<'a> {
    pub role: &'a str,
    pub source: &'a BucketOutputs,
    pub target: &'a BucketOutputs,
}

impl AccessLogging<'_> {
    pub fn emit(&self, stack: &mut Stack) {
        // The target's policy lets the logging service write; it must exist first.
        let body = Body::new()
            .attr("bucket", &self.source.id)
            .attr("target_bucket", &self.target.id)
            .attr("target_prefix", log_prefix(self.role))
            .depends_on([self.target.policy.clone()]);
        stack.resource("aws_s3_bucket_logging", self.role, body);
    }
}
