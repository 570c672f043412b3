//! Environments as data: the typed contents of `envs/<name>.toml`.
//!
//! Every struct rejects unknown keys, and every value that can be wrong on its own (a CIDR, a
//! name, a size) is a type whose deserializer checks it, so the error points at the key.

use serde::de::{self, Deserializer};
use serde::Deserialize;

pub use crate::values::*;

/// A whole number within bounds, checked when read.
fn bounded<'de, D: Deserializer<'de>>(d: D, lo: u32, hi: u32, what: &str) -> Result<u32, D::Error> {
    let n = u32::deserialize(d)?;
    if !(lo..=hi).contains(&n) {
        return Err(de::Error::custom(format!(
            "{n} is out of range: {what} must be from {lo} to {hi}"
        )));
    }
    Ok(n)
}

/// Keys that moved: an env file that still has one is told where it went (old key, new key,
/// why).
pub const MOVED_KEYS: &[(&str, &str, &str)] = &[(
    "database.protection",
    "protection",
    "it protects the buckets as well as the database",
)];

/// Which stack an environment file describes.
#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq, Default)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// The FastAPI deployment (network, IAM, RDS, EC2 app, buckets).
    #[default]
    App,
    /// The remote state backend: state bucket and lock table, with local state.
    Bootstrap,
}

/// `envs/<name>.toml` of kind `app`.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct AppEnv {
    #[serde(default)]
    pub kind: Kind,
    pub project: Name,
    pub region: Region,
    /// `dev`: destroyable (no deletion protection, no final snapshot, buckets emptied on
    /// destroy). `prod`: deletion protection, final snapshot, buckets never emptied.
    pub protection: Protection,
    pub app: AppHost,
    pub database: Database,
    pub buckets: Buckets,
    pub iam: Iam,
    pub state: State,
    /// `[network]`: `default-vpc` (default) or `private`.
    #[serde(default)]
    pub network: crate::topology::Network,
    /// `[serving]`: `single-host` (default) or `load-balanced`.
    #[serde(default)]
    pub serving: crate::topology::Serving,
    /// Renamed resources: each becomes a `moved` block so Terraform keeps the resource.
    #[serde(default)]
    pub moved: Vec<Moved>,
}

impl AppEnv {
    /// `[network]` and `[serving]` checked together (the rules that span keys).
    pub fn topology(&self) -> Result<crate::topology::Topology, crate::topology::KeyError> {
        crate::topology::check(
            &self.network,
            &self.serving,
            &crate::topology::Context {
                region: self.region.as_str(),
                health_path_set: self.app.health_path.is_some(),
                ssh_ingress: !self.app.ssh_ingress_cidrs.is_empty(),
            },
        )
    }
}

/// `[[moved]]`: a resource that the generator now emits under another address.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Moved {
    #[serde(deserialize_with = "managed_resource")]
    pub from: tf::Address,
    #[serde(deserialize_with = "managed_resource")]
    pub to: tf::Address,
}

fn managed_resource<'de, D: Deserializer<'de>>(d: D) -> Result<tf::Address, D::Error> {
    resource_address(&String::deserialize(d)?).map_err(de::Error::custom)
}

/// `[app]`: the EC2 host running FastAPI.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct AppHost {
    /// EC2 instance type, e.g. `t3.micro`.
    pub instance_type: InstanceType,
    /// `ubuntu-24.04` looks up the newest Canonical Ubuntu 24.04 LTS AMI; `ami-...` pins one.
    #[serde(default = "default_ami")]
    pub ami: Ami,
    /// The AMI's login user (the `ssh_user` output). Known for `ubuntu-24.04` (`ubuntu`);
    /// required with a pinned AMI.
    #[serde(default)]
    pub ssh_user: Option<LoginUser>,
    #[serde(deserialize_with = "root_volume")]
    pub root_volume_gb: u32,
    /// Who may reach the API on port 8000.
    pub http_ingress_cidrs: Vec<Cidr>,
    /// Who may reach SSH on port 22. `0.0.0.0/0` needs `ssh_open_to_world = true` as well.
    pub ssh_ingress_cidrs: Vec<Cidr>,
    /// Say `true` here, on purpose, to allow SSH from anywhere.
    #[serde(default)]
    pub ssh_open_to_world: bool,
    /// The Unix user the service runs as.
    #[serde(default = "default_app_user")]
    pub user: UnixUser,
    /// The ASGI app uvicorn serves, as `module.path:attribute`.
    #[serde(default = "default_asgi_app")]
    pub asgi_app: AsgiApp,
    /// The path of the health endpoint (`/health` when not given; `load-balanced` envs must
    /// name it: the load balancer's health check uses it).
    pub health_path: Option<HealthPath>,
}

impl AppHost {
    /// The health path, `/health` when the env file gives none.
    pub fn health_path(&self) -> &str {
        self.health_path.as_ref().map_or("/health", |h| h.as_str())
    }
}

fn default_asgi_app() -> AsgiApp {
    AsgiApp::parse("app.main:app").expect("a valid default")
}

fn root_volume<'de, D: Deserializer<'de>>(d: D) -> Result<u32, D::Error> {
    bounded(d, 8, 1024, "root_volume_gb")
}

fn default_ami() -> Ami {
    Ami::Ubuntu2404
}

fn default_app_user() -> UnixUser {
    UnixUser::parse("fastapi").expect("a valid default")
}

/// The login user of Canonical's Ubuntu AMIs.
pub const UBUNTU_LOGIN_USER: &str = "ubuntu";

impl AppHost {
    /// The AMI's login user: the configured one, else Ubuntu's for the Ubuntu lookup; `None`
    /// for a pinned AMI without `ssh_user` (refused when the env file is read).
    pub fn ssh_user(&self) -> Option<&str> {
        match (&self.ssh_user, &self.ami) {
            (Some(u), _) => Some(u.as_str()),
            (None, Ami::Ubuntu2404) => Some(UBUNTU_LOGIN_USER),
            (None, Ami::Pinned(_)) => None,
        }
    }
}

/// `[database]`: RDS Postgres.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Database {
    pub instance_class: DbClass,
    #[serde(deserialize_with = "storage")]
    pub allocated_storage_gb: u32,
    #[serde(default)]
    pub multi_az: bool,
    #[serde(deserialize_with = "retention")]
    pub backup_retention_days: u32,
    /// The database created inside the instance.
    pub db_name: DbName,
    /// `true`: changes are applied as soon as `terraform apply` runs (a change of instance
    /// class or engine version restarts the database then). `false`: RDS queues most changes
    /// for the weekly maintenance window, and plans show them again until it has passed.
    /// Required: say which, on purpose.
    pub apply_immediately: bool,
}

fn storage<'de, D: Deserializer<'de>>(d: D) -> Result<u32, D::Error> {
    bounded(d, 20, 65536, "allocated_storage_gb")
}

fn retention<'de, D: Deserializer<'de>>(d: D) -> Result<u32, D::Error> {
    bounded(d, 1, 35, "backup_retention_days")
}

/// How much an environment protects its data (the database and the buckets).
#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Protection {
    /// Destroyable: no deletion protection, no final snapshot, buckets emptied on destroy.
    Dev,
    /// Deletion protection on, final snapshot kept, buckets never emptied by Terraform.
    Prod,
}

/// `[buckets]`: the app's S3 buckets.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Buckets {
    pub logs: BucketName,
    pub artifacts: BucketName,
    pub content: BucketName,
    /// Days S3 keeps a server access log in the logs bucket before it expires it (S3 deletes
    /// no log by itself). Default 365.
    #[serde(
        default = "default_logs_expiration_days",
        deserialize_with = "logs_expiration_days"
    )]
    pub logs_expiration_days: u32,
}

/// A year of access logs, what audits usually ask for.
pub const DEFAULT_LOGS_EXPIRATION_DAYS: u32 = 365;

fn default_logs_expiration_days() -> u32 {
    DEFAULT_LOGS_EXPIRATION_DAYS
}

fn logs_expiration_days<'de, D: Deserializer<'de>>(d: D) -> Result<u32, D::Error> {
    bounded(d, 1, 3650, "logs_expiration_days")
}

/// `[iam]`: what the instance role may do in S3.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Iam {
    pub s3_access: S3Access,
}

/// The instance role's S3 access.
#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum S3Access {
    /// Every S3 action (`s3:*`), on this environment's own buckets only. The first release
    /// asked for `AmazonS3FullAccess`, which reaches every bucket of the account, other
    /// environments' included.
    Full,
    /// Read, write and list on this environment's own buckets only.
    Scoped,
}

/// `[state]`: where this environment's state lives (must match `envs/bootstrap.toml`).
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct State {
    pub bucket: BucketName,
    pub region: Region,
    pub lock: Lock,
    /// Required when `lock` uses DynamoDB.
    pub dynamodb_table: Option<Name>,
    /// The KMS key that encrypts the state objects (the S3 backend's `kms_key_id`): the alias
    /// bootstrap creates, by name or ARN, or the key's ARN.
    pub kms_key_id: StateKey,
}

/// How state is locked.
#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Lock {
    /// A DynamoDB table (`dynamodb_table`), what this release promised.
    Dynamodb,
    /// Terraform 1.11 native S3 locking (`use_lockfile`).
    Lockfile,
    /// Both, during a migration from DynamoDB to S3 locking.
    Both,
}

impl Lock {
    pub fn dynamodb(self) -> bool {
        matches!(self, Lock::Dynamodb | Lock::Both)
    }
    pub fn lockfile(self) -> bool {
        matches!(self, Lock::Lockfile | Lock::Both)
    }
}

/// `envs/bootstrap.toml`: the state backend itself.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct BootstrapEnv {
    pub kind: Kind,
    pub project: Name,
    pub region: Region,
    pub state: BootstrapState,
    /// `[ci]`: keyless access for GitHub Actions (optional).
    #[serde(default)]
    pub ci: Option<Ci>,
    #[serde(default)]
    pub moved: Vec<Moved>,
}

/// `[ci]` of the bootstrap environment: GitHub's OIDC provider and, per app env, a plan role
/// and an apply role that only this repository's workflows may assume.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Ci {
    pub github_repository: GithubRepo,
}

/// `[state]` of the bootstrap environment.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct BootstrapState {
    pub bucket: BucketName,
    pub dynamodb_table: Name,
    /// The alias of the customer-managed KMS key that encrypts the state (`alias/...`).
    pub kms_key_alias: KmsAlias,
    /// `lifecycle.prevent_destroy` on the bucket, table and key; keep it `true` outside tests.
    #[serde(default = "yes")]
    pub prevent_destroy: bool,
    /// Days S3 keeps a state object's old (noncurrent) versions before it deletes them: the
    /// window in which an earlier state can be restored, and the bound on how long an old
    /// version (one written before secrets became write-only, say) survives. Default 90.
    #[serde(
        default = "default_state_noncurrent_days",
        deserialize_with = "state_noncurrent_days"
    )]
    pub noncurrent_version_expiration_days: u32,
}

fn yes() -> bool {
    true
}

/// Three months of state history.
pub const DEFAULT_STATE_NONCURRENT_DAYS: u32 = 90;

fn default_state_noncurrent_days() -> u32 {
    DEFAULT_STATE_NONCURRENT_DAYS
}

fn state_noncurrent_days<'de, D: Deserializer<'de>>(d: D) -> Result<u32, D::Error> {
    bounded(d, 1, 3650, "noncurrent_version_expiration_days")
}

/// Any environment.
#[derive(Clone, Debug, PartialEq)]
pub enum Env {
    App(Box<AppEnv>),
    Bootstrap(BootstrapEnv),
}
