//! state_backend: the remote state of every other environment. A versioned, encrypted,
//! TLS-only state bucket and a DynamoDB lock table (hash key `LockID`, on-demand, point-in-time
//! recovery, encrypted). Made by the `bootstrap` environment, which keeps local state.

use tf::{Body, Ref, Stack};

use crate::buckets::{Encryption, SecureBucket};

/// The state bucket and lock table.
pub struct StateBackend<'a> {
    pub bucket: &'a str,
    pub table: &'a str,
    pub prevent_destroy: bool,
}

pub struct StateBackendOutputs {
    pub bucket: Ref,
    pub table: Ref,
}

impl StateBackend<'_> {
    pub fn emit(&self, stack: &mut Stack) -> StateBackendOutputs {
        let bucket = SecureBucket {
            role: "state",
            name: self.bucket,
            encryption: Encryption::KmsAwsManaged,
            force_destroy: false,
            prevent_destroy: self.prevent_destroy,
            deny_insecure_transport: true,
            accept_access_logs: None,
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
            .block("server_side_encryption", Body::new().attr("enabled", true));
        if self.prevent_destroy {
            table.push_block("lifecycle", Body::new().attr("prevent_destroy", true));
        }
        let table = stack.resource("aws_dynamodb_table", "lock", table);
        StateBackendOutputs {
            bucket: bucket.id.0,
            table: table.attr("name"),
        }
    }
}
