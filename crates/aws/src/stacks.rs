//! Whole environments: the app stack and the bootstrap stack, wired from an env file.

use tf::{Address, Body, Expr, Op, Stack, Value, Variable};

use crate::alarms::{AlarmTopic, Alarms, Hosts, LoadBalancerRefs};
use crate::alb::{access_log_delivery, LoadBalancer};
use crate::buckets::{
    AcceptAccessLogs, AccessLogging, Encryption, LogSource, Retention, SecureBucket,
};
use crate::ci_access::{CiEnv, GithubCi};
use crate::contract::{self, Contract};
use crate::ec2_app::{AppFirewall, AppInstance, APP_PORT};
use crate::env::{AppEnv, BootstrapEnv, BucketName, Ci, Moved, Protection};
use crate::fleet::AppFleet;
use crate::iam::InstanceRole;
use crate::network::DefaultNetwork;
use crate::rds::Postgres;
use crate::settings::{AppSettings, Parameter, Setting};
use crate::state_backend::StateBackend;
use crate::topology::Topology;
use crate::user_data::{UserData, FILE_NAME};
use crate::vpc::{flow_log_delivery, FlowLogs, PrivateNetwork};
use crate::{
    AccountId, DbInstanceId, InstanceId, LoadBalancerArnSuffix, Naming, Partition, SubnetIds,
    TargetGroupArnSuffix, VpcCidr, VpcId,
};

/// The network an env's modules are placed in.
struct Net {
    vpc_id: VpcId,
    vpc_cidr: VpcCidr,
    /// The database's subnet group.
    db_subnets: SubnetIds,
    /// The app hosts' subnets (load-balanced).
    host_subnets: SubnetIds,
    /// The load balancer's subnets (private network only).
    public_subnets: Option<SubnetIds>,
    /// What hosts need before they boot to reach the internet (NAT routes, S3 endpoint).
    egress: Vec<Address>,
}

fn network(stack: &mut Stack, naming: &Naming, cfg: &AppEnv, topology: &Topology) -> Net {
    match topology {
        Topology::Mvp => {
            let n = DefaultNetwork.emit(stack);
            Net {
                vpc_id: n.vpc_id,
                vpc_cidr: n.vpc_cidr,
                db_subnets: n.subnet_ids.clone(),
                host_subnets: n.subnet_ids,
                public_subnets: None,
                egress: Vec::new(),
            }
        }
        Topology::HighlyAvailable { net, .. } => {
            let n = PrivateNetwork {
                naming,
                net,
                region: &cfg.region.0,
            }
            .emit(stack);
            Net {
                vpc_id: n.vpc_id,
                vpc_cidr: n.vpc_cidr,
                db_subnets: n.private_subnets.clone(),
                host_subnets: n.private_subnets,
                public_subnets: Some(n.public_subnets),
                egress: n.egress,
            }
        }
    }
}

fn base(project: &str, env: &str, region: &str) -> Stack {
    let mut stack = Stack::new(crate::TERRAFORM_VERSION);
    stack.require_provider(
        "aws",
        crate::AWS_PROVIDER_SOURCE,
        crate::AWS_PROVIDER_VERSION,
    );
    stack.provider(
        "aws",
        Body::new().attr("region", region).block(
            "default_tags",
            Body::new().attr(
                "tags",
                Value::object([
                    ("Project", project),
                    ("Environment", env),
                    ("ManagedBy", "fastapi-infra"),
                ]),
            ),
        ),
    );
    stack
}

fn moved(stack: &mut Stack, moves: &[Moved]) {
    for m in moves {
        stack.moved.push((m.from.clone(), m.to.clone()));
    }
}

/// The backend key of an environment's state: `<project>/<env>/terraform.tfstate`.
pub fn state_key(project: &str, env: &str) -> String {
    format!("{project}/{env}/terraform.tfstate")
}

/// A name an app environment takes in the AWS account, and the env-file key that decides it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Claim {
    pub key: &'static str,
    pub what: &'static str,
    pub value: String,
}

/// Every name of an app environment that no other environment may take: its buckets, its RDS
/// identifier, its IAM role, its SSM prefix and its state object. The derived ones are decided
/// by `project` together with the file name.
pub fn claims(env_name: &str, cfg: &AppEnv) -> Vec<Claim> {
    let naming = Naming {
        project: cfg.project.0.clone(),
        env: env_name.to_string(),
    };
    let b = &cfg.buckets;
    let claim = |key, what, value: String| Claim { key, what, value };
    vec![
        claim("buckets.logs", "S3 bucket", b.logs.0.clone()),
        claim("buckets.artifacts", "S3 bucket", b.artifacts.0.clone()),
        claim("buckets.content", "S3 bucket", b.content.0.clone()),
        claim("project", "RDS identifier", naming.db_identifier()),
        claim("project", "IAM role name", naming.role_name()),
        claim("project", "SSM prefix", naming.ssm_prefix()),
        claim(
            "project",
            "state key",
            format!(
                "s3://{}/{}",
                cfg.state.bucket,
                state_key(&cfg.project.0, env_name)
            ),
        ),
    ]
}

/// Days an expired (or deleted) access log stays as a noncurrent version before S3 deletes it:
/// a month to undo a mistaken deletion.
pub const LOGS_NONCURRENT_DAYS: u32 = 30;

fn var(name: &Address) -> Value {
    name.whole().into()
}

/// RDS's rule for a Postgres master password: 8 to 128 printable ASCII characters except `/`,
/// `"`, `@` and space (0x21-0x7E without 0x22, 0x2F, 0x40).
pub const DB_PASSWORD_PATTERN: &str = "^[!#-.0-?A-~]{8,128}$";

/// `can(regex(pattern, var.<name>))`.
fn regex_matches(pattern: &str, name: &str) -> Value {
    let v: Value = Address::Var(name.into()).whole().into();
    Expr::call("can", [Expr::call("regex", [pattern.into(), v]).into()]).into()
}

fn stored(setting: Setting, value: Value) -> Parameter {
    Parameter {
        setting,
        value,
        write_only_version: None,
    }
}

fn write_only(setting: Setting, secret: &Secret) -> Parameter {
    Parameter {
        setting,
        value: (&secret.value).into(),
        write_only_version: Some((&secret.version).into()),
    }
}

/// A secret: an ephemeral, sensitive variable (never in plan or state; it reaches AWS through
/// write-only arguments only), and its version variable, the rotation path: write-only values
/// are invisible to Terraform, so a new value goes out when the version is bumped.
struct Secret {
    value: tf::Ref,
    version: tf::Ref,
}

fn secret(
    stack: &mut Stack,
    name: &str,
    description: &str,
    validation: Option<(Value, &str)>,
) -> Secret {
    let mut v = Variable::new(name, "string", description)
        .sensitive()
        .ephemeral();
    if let Some((condition, message)) = validation {
        v = v.validation(condition, message);
    }
    let value = stack.variable(v);
    let vname = format!("{name}_version");
    let n: Value = Address::Var(vname.clone()).whole().into();
    let whole_from_1 = Expr::binary(
        Expr::binary(n.clone(), Op::GreaterEq, 1i64),
        Op::And,
        Expr::binary(Expr::call("floor", [n.clone()]), Op::Eq, n),
    );
    let version = stack.variable(
        Variable::new(
            &vname,
            "number",
            &format!("Version of {name}: after changing {name}, bump this to send the new value (it is write-only: Terraform cannot see it change)"),
        )
        .default(1i64)
        .validation(whole_from_1, &format!("{vname} must be a whole number from 1.")),
    );
    Secret { value, version }
}

/// The FastAPI deployment of one environment. `regenerate` is the command that regenerates its
/// files, for the header of `user_data.sh`.
pub fn app_stack(env_name: &str, cfg: &AppEnv, regenerate: &str) -> Stack {
    let naming = Naming {
        project: cfg.project.0.clone(),
        env: env_name.to_string(),
    };
    let mut stack = base(&cfg.project.0, env_name, &cfg.region.0);

    let mut backend = Body::new()
        .attr("bucket", cfg.state.bucket.0.as_str())
        .attr("key", state_key(&cfg.project.0, env_name))
        .attr("region", cfg.state.region.0.as_str())
        .attr("encrypt", true)
        // Without a key id the backend sends an AES256 header with every write, whatever the
        // bucket's default encryption says.
        .attr("kms_key_id", cfg.state.kms_key_id.as_str());
    if cfg.state.lock.dynamodb() {
        if let Some(t) = &cfg.state.dynamodb_table {
            backend.set("dynamodb_table", t.0.as_str());
        }
    }
    if cfg.state.lock.lockfile() {
        backend.set("use_lockfile", true);
    }
    stack.backend = Some(("s3".into(), backend));

    // Variables: secrets and per-deploy values. Secrets are ephemeral and sensitive, have no
    // default, and reach AWS through write-only arguments only (never plan or state).
    let db_username = stack.variable(
        Variable::new("db_username", "string", "Master user name of the Postgres database").sensitive().validation(
            Expr::call("can", [Expr::call("regex", ["^[a-zA-Z][a-zA-Z0-9_]{0,15}$".into(), Address::Var("db_username".into()).whole().into()]).into()]),
            "db_username must start with a letter and have at most 16 letters, digits or underscores.",
        ),
    );
    let db_password = secret(
        &mut stack,
        "db_password",
        "Master password of the Postgres database (8 to 128 printable ASCII characters, no / @ \" or space)",
        Some((
            regex_matches(DB_PASSWORD_PATTERN, "db_password"),
            "db_password must have 8 to 128 printable ASCII characters other than / \" @ and space (the RDS rule for Postgres).",
        )),
    );
    let tavily = secret(
        &mut stack,
        "tavily_api_key",
        "Tavily API key, stored as an SSM SecureString",
        None,
    );
    let gemini = secret(
        &mut stack,
        "gemini_api_key",
        "Gemini API key, stored as an SSM SecureString",
        None,
    );
    // The URL may carry a token (https://user:token@host/...): a secret like the others.
    let repo_url = secret(
        &mut stack,
        "app_repo_url",
        "Git URL of the FastAPI app the instance clones (may carry a token), stored as an SSM SecureString",
        None,
    );
    let repo_branch = stack.variable(
        Variable::new(
            "app_repo_branch",
            "string",
            "Branch of the app repository to deploy",
        )
        .default("main"),
    );
    let ami_id = stack.variable(
        Variable::new(
            "ami_id",
            "string",
            "AMI id that overrides the env's AMI choice (null: use the env's)",
        )
        .default(Value::Null),
    );

    let topology = cfg
        .topology()
        .expect("[network] and [serving] are checked when the env file is read");
    let net = network(&mut stack, &naming, cfg, &topology);
    let alb_sg = match &topology {
        Topology::Mvp => None,
        Topology::HighlyAvailable { .. } => Some(LoadBalancer::security_group(
            &naming,
            &net.vpc_id,
            &mut stack,
        )),
    };
    let app_sg = AppFirewall {
        naming: &naming,
        host: &cfg.app,
        vpc_id: net.vpc_id.clone(),
        vpc_cidr: net.vpc_cidr.clone(),
        load_balancer: alb_sg.clone(),
    }
    .emit(&mut stack);

    let force_destroy = cfg.protection == Protection::Dev;
    let account = AccountId(
        stack
            .data("aws_caller_identity", "current", Body::new())
            .attr("account_id"),
    );
    let b = &cfg.buckets;
    let bucket = |stack: &mut Stack, role, name: &BucketName, encryption, accept| {
        // The logs bucket expires what S3 delivers into it; the app's buckets keep their data.
        let retention = match &accept {
            Some(_) => Retention {
                current_days: Some(b.logs_expiration_days),
                noncurrent_days: Some(LOGS_NONCURRENT_DAYS),
            },
            None => Retention::default(),
        };
        SecureBucket {
            role,
            name: &name.0,
            encryption,
            force_destroy,
            prevent_destroy: false,
            accept_access_logs: accept,
            retention,
        }
        .emit(stack)
    };
    let artifacts = bucket(
        &mut stack,
        "artifacts",
        &b.artifacts,
        Encryption::KmsAwsManaged,
        None,
    );
    let content = bucket(
        &mut stack,
        "content",
        &b.content,
        Encryption::KmsAwsManaged,
        None,
    );
    // The content and artifacts buckets log their access into the logs bucket, which S3 can
    // deliver to only with SSE-S3 default encryption.
    let sources = [("artifacts", &artifacts), ("content", &content)];
    let logs_arn = Address::resource("aws_s3_bucket", "logs").attr("arn");
    let deliveries = match &topology {
        Topology::Mvp => Vec::new(),
        Topology::HighlyAvailable { .. } => {
            let mut d = vec![access_log_delivery(&mut stack, &logs_arn, &account)];
            d.extend(flow_log_delivery(&logs_arn, &account, &cfg.region.0));
            d
        }
    };
    let accept = AcceptAccessLogs {
        account: account.clone(),
        deliveries,
        sources: sources
            .iter()
            .map(|(role, out)| LogSource {
                role: role.to_string(),
                arn: out.arn.clone(),
            })
            .collect(),
    };
    let logs = bucket(
        &mut stack,
        "logs",
        &b.logs,
        Encryption::S3Managed,
        Some(accept),
    );
    for (role, source) in sources {
        AccessLogging {
            role,
            source,
            target: &logs,
        }
        .emit(&mut stack);
    }
    if let Topology::HighlyAvailable { .. } = &topology {
        FlowLogs {
            naming: &naming,
            vpc_id: net.vpc_id.clone(),
            logs_bucket: logs.arn.clone(),
            bucket_policy: Some(logs.policy.clone()),
        }
        .emit(&mut stack);
    }
    let logs_id = logs.id.clone();
    let logs_policy = Some(logs.policy.clone());
    let buckets = vec![
        ("logs", &b.logs, logs),
        ("artifacts", &b.artifacts, artifacts),
        ("content", &b.content, content),
    ];
    // The app's own buckets. The logs bucket belongs to S3's log delivery: the app is not told
    // about it, and a scoped role may neither write nor delete access logs.
    let app_buckets: Vec<_> = buckets
        .iter()
        .filter(|(role, _, _)| *role != "logs")
        .collect();

    let db = Postgres {
        naming: &naming,
        db: &cfg.database,
        protection: cfg.protection,
        vpc_id: net.vpc_id.clone(),
        subnets: net.db_subnets.clone(),
        allow_from: app_sg.id.clone(),
        username: db_username.clone(),
        password: db_password.value.clone(),
        password_version: db_password.version.clone(),
    }
    .emit(&mut stack);

    // Every SSM parameter of the app, by its setting.
    let parameters = Setting::ALL
        .into_iter()
        .map(|s| match s {
            Setting::DbHost => stored(s, (&db.host).into()),
            Setting::DbPort => stored(s, Expr::call("tostring", [db.port.clone().into()]).into()),
            Setting::DbName => stored(s, cfg.database.db_name.0.as_str().into()),
            Setting::DbUsername => stored(s, var(&db_username.addr)),
            Setting::DbPassword => write_only(s, &db_password),
            Setting::TavilyApiKey => write_only(s, &tavily),
            Setting::GeminiApiKey => write_only(s, &gemini),
            Setting::RepoUrl => write_only(s, &repo_url),
            Setting::RepoBranch => stored(s, var(&repo_branch.addr)),
        })
        .collect();
    let settings = AppSettings {
        naming: &naming,
        parameters,
    };
    let params = settings.emit(&mut stack);

    let role = InstanceRole {
        naming: &naming,
        s3_access: cfg.iam.s3_access,
        buckets: app_buckets.iter().map(|(_, _, o)| o.arn.clone()).collect(),
        parameters: params.arns.clone(),
        state: &cfg.state,
    }
    .emit(&mut stack);

    let contract = Contract::new(env_name, cfg);
    let user_data = UserData {
        project: &cfg.project.0,
        env: env_name,
        app_name: &cfg.project.0,
        app_user: &cfg.app.user.0,
        region: &cfg.region.0,
        ssm_prefix: naming.ssm_prefix(),
        settings_spec: contract.settings_spec(),
        app_port: APP_PORT,
        asgi_app: &cfg.app.asgi_app.0,
        health_path: cfg.app.health_path(),
        regenerate,
    };
    stack.file(FILE_NAME, user_data.render());
    stack.file(contract::FILE_NAME, contract.file(regenerate));

    let mut boot_after = params.addresses.clone();
    boot_after.extend(role.grants.iter().cloned());
    boot_after.push(db.address.clone());
    boot_after.extend(net.egress.iter().cloned());
    boot_after.push(db.ingress_from_app.clone());
    boot_after.extend(app_sg.egress_rules.iter().cloned());
    let watched = match &topology {
        Topology::Mvp => {
            let key_name = stack.variable(
                Variable::new(
                    "ssh_key_name",
                    "string",
                    "EC2 key pair for SSH (null: no key pair)",
                )
                .default(Value::Null),
            );
            let app = AppInstance {
                naming: &naming,
                host: &cfg.app,
                vpc_id: net.vpc_id.clone(),
                security_group: app_sg.id,
                profile: role.profile.clone(),
                ami_override: ami_id,
                key_name,
                user_data_file: FILE_NAME,
                boot_after,
            }
            .emit(&mut stack);
            stack.output(
                "app_url",
                "URL of the FastAPI service: http://<public ip>:8000",
                app.url,
            );
            stack.output(
                "instance_id",
                "EC2 instance id of the app host",
                app.id.clone(),
            );
            stack.output(
                "instance_public_ip",
                "Public IPv4 address of the app host",
                app.public_ip,
            );
            if let Some(user) = cfg.app.ssh_user() {
                stack.output("ssh_user", "Login user of the app host's AMI", user);
            }
            Hosts::Single(InstanceId(app.id))
        }
        Topology::HighlyAvailable { fleet, .. } => {
            let lb = LoadBalancer {
                naming: &naming,
                fleet,
                vpc_id: net.vpc_id.clone(),
                public_subnets: net
                    .public_subnets
                    .clone()
                    .expect("a private network has public subnets"),
                ingress_cidrs: &cfg.app.http_ingress_cidrs,
                app_port: APP_PORT,
                health_path: cfg.app.health_path(),
                deletion_protection: cfg.protection == Protection::Prod,
                logs_bucket: logs_id,
                logs_policy,
                security_group: alb_sg.expect("made above for load-balanced envs"),
            }
            .emit(&mut stack, &app_sg.id);
            let hosts = AppFleet {
                naming: &naming,
                host: &cfg.app,
                fleet,
                subnets: net.host_subnets.clone(),
                security_group: app_sg.id,
                profile: role.profile.clone(),
                role_name: role.role_name.clone(),
                target_group: lb.target_group_arn.clone(),
                ami_override: ami_id,
                user_data_file: FILE_NAME,
                boot_after,
            }
            .emit(&mut stack);
            stack.output(
                "app_url",
                "URL of the FastAPI service: https://<serving.domain>, through the load balancer",
                lb.url,
            );
            stack.output(
                "alb_dns_name",
                "DNS name of the load balancer (point serving.domain at it when Route 53 does not)",
                lb.dns_name,
            );
            stack.output(
                "autoscaling_group_name",
                "Name of the app hosts' Auto Scaling group (aws autoscaling start-instance-refresh rolls them)",
                hosts.group_name,
            );
            if let Some(records) = lb.validation_records {
                stack.output(
                    "certificate_validation_records",
                    "The DNS record that validates the certificate: add it to serving.domain's zone (apply waits for it)",
                    records,
                );
            }
            // The load balancer and target group crate::alb emits, by their metric dimension.
            Hosts::LoadBalanced(LoadBalancerRefs {
                load_balancer: LoadBalancerArnSuffix(
                    Address::resource("aws_lb", "this").attr("arn_suffix"),
                ),
                target_group: TargetGroupArnSuffix(
                    Address::resource("aws_lb_target_group", "app").attr("arn_suffix"),
                ),
            })
        }
    };
    let partition = Partition(
        stack
            .data("aws_partition", "current", Body::new())
            .attr("partition"),
    );
    let topic = AlarmTopic {
        naming: &naming,
        region: cfg.region.as_str(),
        email: cfg.alarms.email.as_ref(),
        account,
        partition,
    }
    .emit(&mut stack);
    Alarms {
        naming: &naming,
        thresholds: &cfg.alarms,
        topic: topic.clone(),
        database: DbInstanceId(db.address.attr("identifier")),
        allocated_storage_gb: cfg.database.allocated_storage_gb,
        hosts: watched,
    }
    .emit(&mut stack);
    stack.output(
        "alarm_topic_arn",
        "ARN of the SNS topic the alarms notify (subscribe more endpoints to it)",
        &topic,
    );
    stack.output(
        "rds_endpoint",
        "Postgres endpoint as <host>:5432",
        db.endpoint,
    );
    stack.output("db_host", "Postgres host name", db.host);
    stack.output(
        "region",
        "AWS region of this environment",
        cfg.region.0.as_str(),
    );
    stack.output(
        "ssm_prefix",
        "SSM Parameter Store prefix of the app's settings",
        naming.ssm_prefix(),
    );
    stack.output(
        "instance_role_arn",
        "ARN of the app instance's IAM role",
        role.role_arn,
    );
    for (role, _, out) in &buckets {
        stack.output(
            &format!("bucket_{role}_name"),
            &format!("Name of the {role} bucket"),
            &out.id,
        );
    }
    moved(&mut stack, &cfg.moved);
    stack
}

/// The bootstrap environment: state bucket and lock table, local state.
///
/// With `[ci]`, also GitHub's OIDC provider and a plan and an apply role per app env in `apps`.
pub fn bootstrap_stack(env_name: &str, cfg: &BootstrapEnv, apps: &[(String, AppEnv)]) -> Stack {
    let mut stack = base(&cfg.project.0, env_name, &cfg.region.0);
    let account = stack
        .data("aws_caller_identity", "current", Body::new())
        .attr("account_id");
    let out = StateBackend {
        bucket: &cfg.state.bucket.0,
        table: &cfg.state.dynamodb_table.0,
        key_alias: &cfg.state.kms_key_alias.0,
        prevent_destroy: cfg.state.prevent_destroy,
        noncurrent_days: cfg.state.noncurrent_version_expiration_days,
        account: account.clone(),
    }
    .emit(&mut stack);
    stack.output(
        "state_bucket_name",
        "Name of the S3 bucket that holds every environment's state",
        out.bucket,
    );
    stack.output(
        "lock_table_name",
        "Name of the DynamoDB table that locks state",
        out.table,
    );
    stack.output(
        "state_kms_key_arn",
        "ARN of the KMS key that encrypts the state and the lock table",
        out.key_arn.clone(),
    );
    stack.output(
        "state_kms_alias_arn",
        "ARN of the key's alias (app envs name it by its alias name, [state].kms_key_id)",
        out.alias_arn,
    );
    stack.output(
        "region",
        "AWS region of the state backend",
        cfg.region.0.as_str(),
    );
    if let Some(ci) = &cfg.ci {
        ci_access(ci, apps, account, out.key_arn).emit(&mut stack);
    }
    moved(&mut stack, &cfg.moved);
    stack
}

fn ci_access<'a>(
    ci: &'a Ci,
    apps: &[(String, AppEnv)],
    account: tf::Ref,
    state_key_arn: tf::Ref,
) -> GithubCi<'a> {
    let envs = apps
        .iter()
        .map(|(name, app)| CiEnv {
            naming: Naming {
                project: app.project.0.clone(),
                env: name.clone(),
            },
            region: app.region.0.clone(),
            buckets: [
                &app.buckets.logs,
                &app.buckets.artifacts,
                &app.buckets.content,
            ]
            .map(|b| b.0.clone())
            .to_vec(),
            state_bucket: app.state.bucket.0.clone(),
            state_key: state_key(&app.project.0, name),
            lock_table: app
                .state
                .dynamodb_table
                .as_ref()
                .filter(|_| app.state.lock.dynamodb())
                .map(|t| t.0.clone()),
            lockfile: app.state.lock.lockfile(),
        })
        .collect();
    GithubCi {
        repository: &ci.github_repository,
        envs,
        account,
        state_key_arn,
    }
}
