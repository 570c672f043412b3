//! Typed AWS resources and the fastapi-infra modules built from them.
//!
//! Each module is a struct with what it needs (typed references from other modules included)
//! and an `emit` that adds its blocks to a [`tf::Stack`] and returns typed outputs. Wiring one
//! module into another is a Rust type check, not a string.

pub mod alb;
pub mod buckets;
pub mod ci_access;
pub mod contract;
pub mod ec2_app;
pub mod env;
pub mod fleet;
pub mod iam;
pub mod knowledge;
pub mod network;
pub mod quote;
pub mod rds;
pub mod rules;
pub mod settings;
pub mod stacks;
pub mod state_backend;
pub mod topology;
pub mod user_data;
pub mod values;
pub mod vpc;

use tf::{Ref, Value};

macro_rules! typed_ref {
    ($($(#[$m:meta])* $name:ident;)*) => {$(
        $(#[$m])*
        #[derive(Clone, Debug, PartialEq)]
        pub struct $name(pub Ref);
        impl From<&$name> for Value {
            fn from(r: &$name) -> Value {
                Value::from(&r.0)
            }
        }
        impl From<$name> for Value {
            fn from(r: $name) -> Value {
                Value::from(r.0)
            }
        }
    )*};
}

typed_ref! {
    /// `data.aws_vpc.<name>.id`
    VpcId;
    /// The VPC's IPv4 CIDR block.
    VpcCidr;
    /// A list of subnet ids.
    SubnetIds;
    /// A security group id.
    SecurityGroupId;
    /// An IAM instance profile name.
    InstanceProfileName;
    /// An ARN.
    Arn;
    /// A bucket name, as Terraform knows it (`aws_s3_bucket.x.id`).
    BucketId;
    /// A DNS host name.
    Host;
    /// The AWS account id the provider works in (`data.aws_caller_identity`).
    AccountId;
}

/// The AWS provider this tool emits for (the only provider it needs).
pub const AWS_PROVIDER_SOURCE: &str = "hashicorp/aws";
/// At least 5.100 (the version tested here; the write-only `password_wo` and `value_wo` need a
/// recent 5.x), never 6.x (a major version changes arguments). Written as Terraform writes it
/// into `.terraform.lock.hcl`, which `gen --check` compares.
pub const AWS_PROVIDER_VERSION: &str = ">= 5.100.0, < 6.0.0";
pub const TERRAFORM_VERSION: &str = ">= 1.11";

/// Naming of an environment's resources: `<project>-<env>-<role>`.
#[derive(Clone, Debug)]
pub struct Naming {
    pub project: String,
    pub env: String,
}

impl Naming {
    pub fn name(&self, role: &str) -> String {
        format!("{}-{}-{}", self.project, self.env, role)
    }
    /// The RDS instance identifier (also the name of its security group and subnet group).
    pub fn db_identifier(&self) -> String {
        self.name("db")
    }
    /// The name of the app instance's IAM role.
    pub fn role_name(&self) -> String {
        self.name("app")
    }
    /// The SSM Parameter Store prefix of this environment: `/<project>/<env>`.
    pub fn ssm_prefix(&self) -> String {
        format!("/{}/{}", self.project, self.env)
    }
}
