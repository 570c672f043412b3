//! state_backend: the remote state of every other environment. A versioned, TLS-only state
//! bucket and a DynamoDB lock table (hash key `LockID`, on-demand, point-in-time recovery), both
//! encrypted with a customer-managed KMS key (yearly rotation, a key policy that leaves its
//! management to the account's IAM, an alias the app envs' backends name). Made by the
//! `bootstrap` environment, which keeps local state.

use tf::{Body, Expr, Piece, Ref, Stack, Value};

use crate::buckets::{Encryption, Retention, SecureBucket};
use crate::Arn;

/// The state bucket, lock table and their key.
pub struct StateBackend<'a> {
    pub bucket: &'a str,
    pub table: &'a str,
    /// `alias/...` of the key.
    pub key_alias: &'a str,
    pub prevent_destroy: bool,
    /// Days old state versions are kept (the bucket's noncurrent version expiration).
    pub noncurrent_days: u32,
    /// The account id (`data.aws_caller_identity`), read once by the bootstrap stack.
    pub account: Ref,
}

pub struct StateBackendOutputs {
    pub bucket: Ref,
    pub table: Ref,
    pub key_arn: Ref,
    pub alias_arn: Ref,
}

/// KMS waits this many days before it deletes a key scheduled for deletion: the most it allows,
/// since losing the key loses every state version.
pub const KEY_DELETION_WINDOW_DAYS: u32 = 30;

impl StateBackend<'_> {
    pub fn emit(&self, stack: &mut Stack) -> StateBackendOutputs {
        let key = self.key(stack);
        let key_arn = key.attr("arn");
        let alias = stack.resource(
            "aws_kms_alias",
            "state",
            Body::new()
                .attr("name", self.key_alias)
                .attr("target_key_id", key.attr("key_id")),
        );
        let bucket = SecureBucket {
            role: "state",
            name: self.bucket,
            encryption: Encryption::Kms(Arn(key_arn.clone())),
            force_destroy: false,
            prevent_destroy: self.prevent_destroy,
            accept_access_logs: None,
            // Current versions never expire: they are every env's live state.
            retention: Retention {
                current_days: None,
                noncurrent_days: Some(self.noncurrent_days),
            },
        }
        .emit(stack);
        let mut table = Body::new()
            .attr("name", self.table)
            .attr("billing_mode", "PAY_PER_REQUEST")
            .attr("hash_key", "LockID")
            .block(
                "attribute",
                Body::new().attr("name", "LockID").attr("type", "S"),
            )
            .block("point_in_time_recovery", Body::new().attr("enabled", true))
            .block(
                "server_side_encryption",
                Body::new()
                    .attr("enabled", true)
                    .attr("kms_key_arn", &key_arn),
            );
        if self.prevent_destroy {
            table.push_block("lifecycle", Body::new().attr("prevent_destroy", true));
        }
        let table = stack.resource("aws_dynamodb_table", "lock", table);
        StateBackendOutputs {
            bucket: bucket.id.0,
            table: table.attr("name"),
            key_arn,
            alias_arn: alias.attr("arn"),
        }
    }

    /// The key and its policy: the account (its root principal) holds every permission, so the
    /// key can never become unmanageable and who may use it is decided by IAM policies, as in
    /// KMS's default key policy; nobody outside the account is named.
    fn key(&self, stack: &mut Stack) -> tf::Address {
        let account = self.account.clone();
        let partition = stack
            .data("aws_partition", "current", Body::new())
            .attr("partition");
        let root = Value::template([
            Piece::Lit("arn:".into()),
            Piece::Expr(Expr::Ref(partition)),
            Piece::Lit(":iam::".into()),
            Piece::Expr(Expr::Ref(account)),
            Piece::Lit(":root".into()),
        ]);
        // The key policy as the key's own JSON: in a key policy `Resource: "*"` means "this
        // key" (the only form KMS accepts), not "everything" as in an IAM policy document.
        let policy = Expr::call(
            "jsonencode",
            [Value::object([
                ("Version", Value::from("2012-10-17")),
                (
                    "Statement",
                    Value::list([Value::object([
                        ("Sid", Value::from("AccountManagesKeyThroughIam")),
                        ("Effect", "Allow".into()),
                        ("Principal", Value::object([("AWS", root)])),
                        ("Action", "kms:*".into()),
                        ("Resource", "*".into()),
                    ])]),
                ),
            ])],
        );
        let mut body = Body::new()
            .attr(
                "description",
                format!(
                    "Encrypts the Terraform state in {} and its lock table",
                    self.bucket
                ),
            )
            .attr("enable_key_rotation", true)
            .attr("deletion_window_in_days", KEY_DELETION_WINDOW_DAYS)
            .attr("policy", policy);
        if self.prevent_destroy {
            body.push_block("lifecycle", Body::new().attr("prevent_destroy", true));
        }
        stack.resource("aws_kms_key", "state", body)
    }
}
