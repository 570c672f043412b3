//! iam: the app instance's role (EC2 may assume it), its S3 access, read access to exactly the
//! app's SSM parameters, an explicit Deny on Terraform's state backend, and the instance profile.

use tf::{Address, Body, Expr, Piece, Stack, Value};

use crate::env::{S3Access, State};
use crate::{Arn, InstanceProfileName, Naming};

/// The instance role of the app host.
pub struct InstanceRole<'a> {
    pub naming: &'a Naming,
    pub s3_access: S3Access,
    /// The environment's own buckets: the only ones either access level reaches.
    pub buckets: Vec<Arn>,
    /// SSM parameters the instance reads at boot.
    pub parameters: Vec<Arn>,
    /// Terraform's state backend (the env file's `[state]`): explicitly denied, whatever else
    /// the role is granted (state holds every environment's resources and secrets).
    pub state: &'a State,
}

/// What the role gives other modules.
pub struct InstanceRoleOutputs {
    pub profile: InstanceProfileName,
    pub role_arn: Arn,
    /// The role's name (`aws_iam_role.app.name`).
    pub role_name: tf::Ref,
    /// Every policy and policy attachment of the role: the instance boots only after all of
    /// them exist, or its first calls are refused.
    pub grants: Vec<Address>,
}

fn statement(sid: &str, actions: &[&str], resources: Value) -> Body {
    Body::new()
        .attr("sid", sid)
        .attr("effect", "Allow")
        .attr("actions", Value::list(actions.iter().copied()))
        .attr("resources", resources)
}

fn deny(sid: &str, action: &str, resources: Vec<String>) -> Body {
    Body::new()
        .attr("sid", sid)
        .attr("effect", "Deny")
        .attr("actions", Value::list([action]))
        .attr("resources", Value::list(resources))
}

/// Deny statements on the state bucket (the bucket and every object: state files, S3 lock
/// files) and on the DynamoDB lock table (and its indexes and streams). An explicit Deny wins
/// over any Allow, so this holds with `s3:*` or any grant added later. The
/// table's account is `*`: the env file does not know it, and a Deny may be broader.
fn deny_state(state: &State) -> Vec<Body> {
    let bucket = format!("arn:aws:s3:::{}", state.bucket);
    let mut denies = vec![deny(
        "DenyTerraformStateBucket",
        "s3:*",
        vec![bucket.clone(), format!("{bucket}/*")],
    )];
    if let Some(table) = &state.dynamodb_table {
        let table = format!("arn:aws:dynamodb:{}:*:table/{}", state.region, table);
        denies.push(deny(
            "DenyTerraformLockTable",
            "dynamodb:*",
            vec![table.clone(), format!("{table}/*")],
        ));
    }
    denies
}

impl InstanceRole<'_> {
    pub fn emit(&self, stack: &mut Stack) -> InstanceRoleOutputs {
        let assume = stack.data(
            "aws_iam_policy_document",
            "app_assume_role",
            Body::new().block(
                "statement",
                Body::new()
                    .attr("sid", "Ec2AssumeRole")
                    .attr("effect", "Allow")
                    .attr("actions", Value::list(["sts:AssumeRole"]))
                    .block(
                        "principals",
                        Body::new()
                            .attr("type", "Service")
                            .attr("identifiers", Value::list(["ec2.amazonaws.com"])),
                    ),
            ),
        );
        let role = stack.resource(
            "aws_iam_role",
            "app",
            Body::new()
                .attr("name", self.naming.role_name())
                .attr("description", "Role of the FastAPI app instance")
                .attr("assume_role_policy", assume.attr("json")),
        );
        let role_name = role.attr("name");
        let mut grants = Vec::new();

        let mut statements = vec![statement(
            "ReadAppParameters",
            &["ssm:GetParameter", "ssm:GetParameters"],
            Value::list(self.parameters.iter()),
        )];
        let objects: Vec<Value> = self
            .buckets
            .iter()
            .map(|b| {
                Value::template([Piece::Expr(Expr::Ref(b.0.clone())), Piece::Lit("/*".into())])
            })
            .collect();
        match self.s3_access {
            // Every S3 action, on this env's own buckets and their objects only: never another
            // env's buckets (AmazonS3FullAccess would open every bucket of the account).
            S3Access::Full => {
                let buckets = self.buckets.iter().map(Value::from);
                statements.push(statement(
                    "ManageAppBuckets",
                    &["s3:*"],
                    Value::List(buckets.chain(objects).collect()),
                ));
            }
            S3Access::Scoped => {
                statements.push(statement(
                    "ListAppBuckets",
                    &["s3:ListBucket", "s3:GetBucketLocation"],
                    Value::list(self.buckets.iter()),
                ));
                statements.push(statement(
                    "ReadWriteAppObjects",
                    &["s3:GetObject", "s3:PutObject", "s3:DeleteObject"],
                    Value::List(objects),
                ));
            }
        }
        statements.extend(deny_state(self.state));
        let mut doc = Body::new();
        for s in statements {
            doc.push_block("statement", s);
        }
        let policy = stack.data("aws_iam_policy_document", "app", doc);
        grants.push(
            stack.resource(
                "aws_iam_role_policy",
                "app",
                Body::new()
                    .attr("name", self.naming.name("app"))
                    .attr("role", &role_name)
                    .attr("policy", policy.attr("json")),
            ),
        );
        let profile = stack.resource(
            "aws_iam_instance_profile",
            "app",
            Body::new()
                .attr("name", self.naming.name("app"))
                .attr("role", &role_name),
        );
        InstanceRoleOutputs {
            profile: InstanceProfileName(profile.attr("name")),
            role_arn: Arn(role.attr("arn")),
            role_name,
            grants,
        }
    }
}
