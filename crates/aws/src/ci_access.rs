//! ci_access: keyless access to AWS for GitHub Actions, made by the bootstrap environment.
//!
//! GitHub's OIDC identity provider, and per app env two roles that only web identities from it
//! may assume (AWS IAM, "Configuring a role for GitHub OIDC identity provider"): the token's
//! audience must be `sts.amazonaws.com` and its subject must name this repository exactly.
//! - `<project>-<env>-ci-plan`: pull requests of the repository and its main branch (the drift
//!   check); read-only on the env's resources, read on its state, write on its lock.
//! - `<project>-<env>-ci-apply`: the main branch or the env's GitHub environment only; what
//!   the env's apply needs, on the env's own buckets, database, role, parameters and state.
//!
//! Every condition is `StringEquals`: no wildcard can widen a subject to another repository or
//! branch (`GithubRepo` refuses `*` and `:` in the repository name).

use tf::{Address, Body, Expr, Piece, Ref, Stack, Value};

use crate::env::GithubRepo;
use crate::Naming;

/// The issuer of GitHub Actions' OIDC tokens.
pub const GITHUB_OIDC_URL: &str = "https://token.actions.githubusercontent.com";
/// The host part of the issuer: the prefix of the token's condition keys in IAM.
pub const GITHUB_OIDC_HOST: &str = "token.actions.githubusercontent.com";
/// The audience `aws-actions/configure-aws-credentials` asks for.
pub const AUDIENCE: &str = "sts.amazonaws.com";
/// GitHub's published certificate thumbprints. IAM no longer uses them for GitHub (it trusts
/// its CA library) but the provider's API still takes the list.
pub const THUMBPRINTS: [&str; 2] = [
    "6938fd4d98bab03faadb97b34396831e3780aea1",
    "1c58a3a8518e8759bf075b76b750d4f2df264fcd",
];

/// What the roles of one app env may touch.
pub struct CiEnv {
    pub naming: Naming,
    pub region: String,
    pub buckets: Vec<String>,
    pub state_bucket: String,
    pub state_key: String,
    /// The DynamoDB lock table, when the env locks with DynamoDB.
    pub lock_table: Option<String>,
    /// Whether the env locks with S3 lock files (`<key>.tflock`).
    pub lockfile: bool,
}

/// The OIDC provider and every env's roles.
pub struct GithubCi<'a> {
    pub repository: &'a GithubRepo,
    pub envs: Vec<CiEnv>,
    /// The account id (`data.aws_caller_identity`), read once by the bootstrap stack.
    pub account: Ref,
    /// The KMS key that encrypts the state objects and the lock table.
    pub state_key_arn: Ref,
}

/// Which role.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum CiRole {
    Plan,
    Apply,
}

impl CiRole {
    pub fn suffix(self) -> &'static str {
        match self {
            CiRole::Plan => "ci-plan",
            CiRole::Apply => "ci-apply",
        }
    }
}

/// The token subjects a role accepts (`sub` claim). A job that names a GitHub environment gets
/// `repo:<repo>:environment:<name>` as its subject, whatever triggered it (GitHub, "OpenID
/// Connect reference"), so an environment's protection rules gate every role that trusts it:
/// - plan: the `<env>-plan` environment (pull-request plans: a plan reads the env's state and
///   decrypts its SecureString parameters, so prod's should require reviewers), or the main
///   branch with no environment (the scheduled drift check);
/// - apply: the `<env>` environment only, so its reviewers can never be skipped.
pub fn subjects(repo: &GithubRepo, env: &str, role: CiRole) -> Vec<String> {
    match role {
        CiRole::Plan => vec![
            format!("repo:{}:environment:{}", repo, plan_environment(env)),
            format!("repo:{}:ref:refs/heads/main", repo),
        ],
        CiRole::Apply => vec![format!("repo:{}:environment:{env}", repo)],
    }
}

/// The GitHub environment pull-request plans of `env` run in.
pub fn plan_environment(env: &str) -> String {
    format!("{env}-plan")
}

/// How long a role's session may last: the provider waits up to 40 minutes for an RDS
/// instance to be created and 80 for it to be modified (aws_db_instance timeouts), and the
/// state is written after that, with the same credentials.
pub const MAX_SESSION_SECONDS: u32 = 3 * 3600;

fn allow(sid: &str, actions: &[&str], resources: Vec<String>) -> Body {
    Body::new()
        .attr("sid", sid)
        .attr("effect", "Allow")
        .attr("actions", Value::list(actions.iter().copied()))
        .attr("resources", Value::list(resources))
}

/// Reading the state, writing it and its lock (an S3 lock file or a DynamoDB item) all go
/// through the state key: S3 SSE-KMS needs `kms:Decrypt` to read and `kms:GenerateDataKey` to
/// write (S3 User Guide, "Permissions for SSE-KMS"); DynamoDB tables encrypted with a
/// customer-managed key need the caller's `kms:Decrypt` and `kms:DescribeKey`.
fn use_state_key(key_arn: &Ref) -> Body {
    Body::new()
        .attr("sid", "UseStateKey")
        .attr("effect", "Allow")
        .attr(
            "actions",
            Value::list([
                "kms:Decrypt",
                "kms:DescribeKey",
                "kms:Encrypt",
                "kms:GenerateDataKey",
            ]),
        )
        .attr("resources", Value::list([key_arn.clone()]))
}

fn condition(test: &str, variable: &str, values: Vec<String>) -> Body {
    Body::new()
        .attr("test", test)
        .attr("variable", variable)
        .attr("values", Value::list(values))
}

/// The provider's ARN written out (`arn:aws:iam::<account>:oidc-provider/<host>`), not as a
/// reference: scanners (checkov's GitHub OIDC checks) recognise GitHub's provider only by it.
fn provider_arn(account: &Ref) -> Value {
    Value::template([
        Piece::Lit("arn:aws:iam::".into()),
        Piece::Expr(Expr::Ref(account.clone())),
        Piece::Lit(format!(":oidc-provider/{GITHUB_OIDC_HOST}")),
    ])
}

fn trust(provider_arn: Value, subjects: Vec<String>) -> Body {
    let statement = Body::new()
        .attr("sid", "GithubActionsOfThisRepository")
        .attr("effect", "Allow")
        .attr("actions", Value::list(["sts:AssumeRoleWithWebIdentity"]))
        .block(
            "principals",
            Body::new()
                .attr("type", "Federated")
                .attr("identifiers", Value::list([provider_arn])),
        )
        .block(
            "condition",
            condition(
                "StringEquals",
                &format!("{GITHUB_OIDC_HOST}:aud"),
                vec![AUDIENCE.into()],
            ),
        )
        .block(
            "condition",
            condition("StringEquals", &format!("{GITHUB_OIDC_HOST}:sub"), subjects),
        );
    Body::new().block("statement", statement)
}

impl CiEnv {
    fn state_object(&self) -> String {
        format!("arn:aws:s3:::{}/{}", self.state_bucket, self.state_key)
    }
    fn lock_id(&self) -> String {
        format!("{}/{}", self.state_bucket, self.state_key)
    }
    fn role_arn(&self) -> String {
        format!("arn:aws:iam::*:role/{}", self.naming.role_name())
    }
    fn profile_arn(&self) -> String {
        format!(
            "arn:aws:iam::*:instance-profile/{}",
            self.naming.name("app")
        )
    }
    fn parameters(&self) -> String {
        format!(
            "arn:aws:ssm:{}:*:parameter{}/*",
            self.region,
            self.naming.ssm_prefix()
        )
    }
    fn rds(&self, kind: &str, suffix: &str) -> String {
        format!(
            "arn:aws:rds:{}:*:{kind}:{}{suffix}",
            self.region,
            self.naming.db_identifier()
        )
    }
    fn bucket_arns(&self) -> Vec<String> {
        self.buckets
            .iter()
            .map(|b| format!("arn:aws:s3:::{b}"))
            .collect()
    }

    /// Read on the state, write on the lock, read-only on the env's resources.
    fn plan_statements(&self) -> Vec<Body> {
        let mut s = vec![
            allow(
                "ListStateBucket",
                &["s3:ListBucket"],
                vec![format!("arn:aws:s3:::{}", self.state_bucket)],
            ),
            allow("ReadState", &["s3:GetObject"], vec![self.state_object()]),
        ];
        if let Some(table) = &self.lock_table {
            s.push(
                allow(
                    "WriteLockTable",
                    &[
                        "dynamodb:DescribeTable",
                        "dynamodb:GetItem",
                        "dynamodb:PutItem",
                        "dynamodb:DeleteItem",
                    ],
                    vec![format!("arn:aws:dynamodb:{}:*:table/{table}", self.region)],
                )
                // The table is shared by every env: this role's items only, the lock and the
                // state digest (LockID `<bucket>/<key>` and `<bucket>/<key>-md5`).
                .block(
                    "condition",
                    condition(
                        "ForAllValues:StringEquals",
                        "dynamodb:LeadingKeys",
                        vec![self.lock_id(), format!("{}-md5", self.lock_id())],
                    ),
                ),
            );
        }
        if self.lockfile {
            s.push(allow(
                "WriteLockFile",
                &["s3:GetObject", "s3:PutObject", "s3:DeleteObject"],
                vec![format!("{}.tflock", self.state_object())],
            ));
        }
        s.extend([
            allow(
                "ReadEnvBuckets",
                &[
                    "s3:ListBucket",
                    "s3:GetBucket*",
                    "s3:GetEncryptionConfiguration",
                    "s3:GetLifecycleConfiguration",
                    "s3:GetAccelerateConfiguration",
                    "s3:GetReplicationConfiguration",
                ],
                self.bucket_arns(),
            ),
            allow(
                "ReadEnvRole",
                &[
                    "iam:GetRole",
                    "iam:GetRolePolicy",
                    "iam:ListRolePolicies",
                    "iam:ListAttachedRolePolicies",
                    "iam:ListInstanceProfilesForRole",
                    "iam:GetInstanceProfile",
                ],
                vec![self.role_arn(), self.profile_arn()],
            ),
            allow(
                "ReadEnvParameters",
                &[
                    "ssm:GetParameter",
                    "ssm:GetParameters",
                    "ssm:ListTagsForResource",
                ],
                vec![self.parameters()],
            ),
            allow(
                "ReadEnvDatabase",
                &[
                    "rds:DescribeDBInstances",
                    "rds:DescribeDBSubnetGroups",
                    "rds:ListTagsForResource",
                ],
                vec![self.rds("db", ""), self.rds("subgrp", "")],
            ),
            // The provider reads the instance by its resource id (a `dbi-resource-id` filter,
            // no identifier), which RDS authorizes against `db:*`.
            allow(
                "DescribeDbInstancesByResourceId",
                &["rds:DescribeDBInstances"],
                vec![format!("arn:aws:rds:{}:*:db:*", self.region)],
            ),
            // These actions have no resource-level permissions in IAM.
            allow(
                "DescribeWithoutResourceLevel",
                &["ec2:Describe*", "ssm:DescribeParameters"],
                vec!["*".into()],
            )
            .block(
                "condition",
                condition(
                    "StringEquals",
                    "aws:RequestedRegion",
                    vec![self.region.clone()],
                ),
            ),
        ]);
        s
    }

    /// What the env's apply changes, on the env's own resources.
    fn apply_statements(&self) -> Vec<Body> {
        let mut s = self.plan_statements();
        let mut objects = self.bucket_arns();
        objects.extend(self.buckets.iter().map(|b| format!("arn:aws:s3:::{b}/*")));
        s.extend([
            allow("WriteState", &["s3:PutObject"], vec![self.state_object()]),
            allow("ManageEnvBuckets", &["s3:*"], objects),
            allow(
                "ManageEnvDatabase",
                &["rds:*"],
                vec![
                    self.rds("db", ""),
                    self.rds("subgrp", ""),
                    // `-final-<time>`, and `-final` for instances created before names had it.
                    self.rds("snapshot", "-final*"),
                ],
            ),
            // Creating or modifying an instance is authorized against its parameter and
            // option groups too: the default ones (RDS User Guide, identity-based policy
            // examples: "must use an option group and a DB parameter group that starts with
            // default").
            allow(
                "UseDefaultDbGroups",
                &["rds:CreateDBInstance", "rds:ModifyDBInstance"],
                vec![
                    format!("arn:aws:rds:{}:*:pg:default*", self.region),
                    format!("arn:aws:rds:{}:*:og:default*", self.region),
                ],
            ),
            // The first RDS instance of an account creates RDS's service-linked role.
            allow(
                "CreateRdsServiceLinkedRole",
                &["iam:CreateServiceLinkedRole"],
                vec![
                    "arn:aws:iam::*:role/aws-service-role/rds.amazonaws.com/AWSServiceRoleForRDS"
                        .into(),
                ],
            )
            .block(
                "condition",
                condition(
                    "StringEquals",
                    "iam:AWSServiceName",
                    vec!["rds.amazonaws.com".into()],
                ),
            ),
            allow(
                "ManageEnvRole",
                &[
                    "iam:CreateRole",
                    "iam:DeleteRole",
                    "iam:UpdateRole",
                    "iam:UpdateAssumeRolePolicy",
                    "iam:TagRole",
                    "iam:UntagRole",
                    "iam:PutRolePolicy",
                    "iam:DeleteRolePolicy",
                    "iam:CreateInstanceProfile",
                    "iam:DeleteInstanceProfile",
                    "iam:TagInstanceProfile",
                    "iam:UntagInstanceProfile",
                    "iam:AddRoleToInstanceProfile",
                    "iam:RemoveRoleFromInstanceProfile",
                ],
                vec![self.role_arn(), self.profile_arn()],
            ),
            // No managed policy is attached any more; a host role made before `full` was
            // scoped to the env's buckets still has AmazonS3FullAccess, which the next apply
            // detaches.
            allow(
                "DetachOnlyS3FullAccess",
                &["iam:DetachRolePolicy"],
                vec![self.role_arn()],
            )
            .block(
                "condition",
                condition(
                    "ArnEquals",
                    "iam:PolicyARN",
                    vec!["arn:aws:iam::aws:policy/AmazonS3FullAccess".into()],
                ),
            ),
            allow("PassEnvRoleToEc2", &["iam:PassRole"], vec![self.role_arn()]).block(
                "condition",
                condition(
                    "StringEquals",
                    "iam:PassedToService",
                    vec!["ec2.amazonaws.com".into()],
                ),
            ),
            allow(
                "ManageEnvParameters",
                &[
                    "ssm:PutParameter",
                    "ssm:DeleteParameter",
                    "ssm:DeleteParameters",
                    "ssm:AddTagsToResource",
                    "ssm:RemoveTagsFromResource",
                ],
                vec![self.parameters()],
            ),
            allow("ManageEc2InRegion", EC2_WRITES, vec!["*".into()]).block(
                "condition",
                condition(
                    "StringEquals",
                    "aws:RequestedRegion",
                    vec![self.region.clone()],
                ),
            ),
        ]);
        s
    }
}

/// What an app env's apply does in EC2: its instance and security groups.
const EC2_WRITES: &[&str] = &[
    "ec2:RunInstances",
    "ec2:TerminateInstances",
    "ec2:StartInstances",
    "ec2:StopInstances",
    "ec2:ModifyInstanceAttribute",
    "ec2:ModifyInstanceMetadataOptions",
    "ec2:CreateSecurityGroup",
    "ec2:DeleteSecurityGroup",
    "ec2:AuthorizeSecurityGroupIngress",
    "ec2:AuthorizeSecurityGroupEgress",
    "ec2:RevokeSecurityGroupIngress",
    "ec2:RevokeSecurityGroupEgress",
    "ec2:ModifySecurityGroupRules",
    "ec2:UpdateSecurityGroupRuleDescriptionsIngress",
    "ec2:UpdateSecurityGroupRuleDescriptionsEgress",
    "ec2:CreateTags",
    "ec2:DeleteTags",
];

impl GithubCi<'_> {
    pub fn emit(&self, stack: &mut Stack) {
        let provider = stack.resource(
            "aws_iam_openid_connect_provider",
            "github",
            Body::new()
                .attr("url", GITHUB_OIDC_URL)
                .attr("client_id_list", Value::list([AUDIENCE]))
                .attr("thumbprint_list", Value::list(THUMBPRINTS)),
        );
        stack.output(
            "github_oidc_provider_arn",
            "ARN of GitHub Actions' OIDC identity provider",
            provider.attr("arn"),
        );
        for env in &self.envs {
            for role in [CiRole::Plan, CiRole::Apply] {
                self.emit_role(stack, &provider, env, role);
            }
        }
    }

    fn emit_role(&self, stack: &mut Stack, provider: &Address, env: &CiEnv, role: CiRole) {
        let id = format!("{}_{}", env.naming.env, role.suffix().replace('-', "_"));
        let trust_doc = stack.data(
            "aws_iam_policy_document",
            &format!("{id}_trust"),
            trust(
                provider_arn(&self.account),
                subjects(self.repository, &env.naming.env, role),
            ),
        );
        let name = env.naming.name(role.suffix());
        let what = match role {
            CiRole::Plan => "plans and drift checks (read-only)",
            CiRole::Apply => "applies",
        };
        let r = stack.resource(
            "aws_iam_role",
            &id,
            Body::new()
                .attr("name", name.as_str())
                .attr(
                    "description",
                    format!("GitHub Actions {what} of {}", env.naming.env),
                )
                .attr("max_session_duration", MAX_SESSION_SECONDS)
                .attr("assume_role_policy", trust_doc.attr("json"))
                // The trust names the provider by its ARN: create the provider first.
                .depends_on([provider.clone()]),
        );
        let statements = match role {
            CiRole::Plan => env.plan_statements(),
            CiRole::Apply => env.apply_statements(),
        };
        let mut doc = Body::new().block("statement", use_state_key(&self.state_key_arn));
        for s in statements {
            doc.push_block("statement", s);
        }
        let policy = stack.data("aws_iam_policy_document", &id, doc);
        stack.resource(
            "aws_iam_role_policy",
            &id,
            Body::new()
                .attr("name", name.as_str())
                .attr("role", r.attr("name"))
                .attr("policy", policy.attr("json")),
        );
        stack.output(
            &format!("{id}_role_arn"),
            &format!(
                "ARN of the role GitHub Actions assume for {what} of {}",
                env.naming.env
            ),
            r.attr("arn"),
        );
    }
}
