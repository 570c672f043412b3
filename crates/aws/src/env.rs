//! Environments as data: the typed contents of `envs/<name>.toml`.
//!
//! Every struct rejects unknown keys, and every value that can be wrong on its own (a CIDR, a
//! name, a size) is a type whose deserializer checks it, so the error points at the key.

use std::fmt;
use std::net::Ipv4Addr;

use serde::de::{self, Deserializer};
use serde::Deserialize;

/// An IPv4 network in CIDR notation, with no host bits set (`203.0.113.0/24`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Cidr {
    pub addr: Ipv4Addr,
    pub prefix: u8,
}

impl Cidr {
    pub fn parse(s: &str) -> Result<Cidr, String> {
        let (a, p) = s
            .split_once('/')
            .ok_or_else(|| format!("`{s}` is not a CIDR: it has no `/prefix`; write it as a.b.c.d/n, e.g. 203.0.113.0/24"))?;
        let addr: Ipv4Addr = a.parse().map_err(|_| {
            format!("`{s}` is not a CIDR: `{a}` is not an IPv4 address; write it as a.b.c.d/n")
        })?;
        let prefix: u8 = p.parse().ok().filter(|p| *p <= 32).ok_or_else(|| {
            format!("`{s}` is not a CIDR: the prefix `{p}` must be a number from 0 to 32")
        })?;
        let mask = if prefix == 0 {
            0
        } else {
            u32::MAX << (32 - prefix)
        };
        let bits = u32::from(addr);
        if bits & !mask != 0 {
            let net = Ipv4Addr::from(bits & mask);
            return Err(format!(
                "`{s}` has host bits set; write the network address `{net}/{prefix}`"
            ));
        }
        Ok(Cidr { addr, prefix })
    }

    pub fn is_anywhere(&self) -> bool {
        self.prefix == 0
    }

    /// A name fragment for Terraform addresses: `203.0.113.0/24` gives `203_0_113_0_24`.
    pub fn slug(&self) -> String {
        self.to_string().replace(['.', '/'], "_")
    }
}

impl fmt::Display for Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.prefix)
    }
}

impl<'de> Deserialize<'de> for Cidr {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Cidr::parse(&s).map_err(de::Error::custom)
    }
}

/// A lowercase name usable in AWS resource names: `a-z`, `0-9` and `-`, starting with a letter.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Name(pub String);

impl Name {
    pub fn parse(s: &str, max: usize) -> Result<Name, String> {
        if s.is_empty() {
            return Err("the name is empty; give a lowercase name such as `fastapi-infra`".into());
        }
        if s.len() > max {
            return Err(format!(
                "`{s}` is {} characters long; at most {max} are allowed",
                s.len()
            ));
        }
        if !s.starts_with(|c: char| c.is_ascii_lowercase()) || s.ends_with('-') {
            return Err(format!(
                "`{s}` must start with a lowercase letter and not end with `-`"
            ));
        }
        if let Some(c) = s
            .chars()
            .find(|c| !(c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '-'))
        {
            return Err(format!(
                "`{s}` has `{c}`; use only lowercase letters, digits and `-`"
            ));
        }
        Ok(Name(s.to_string()))
    }
}

impl fmt::Display for Name {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for Name {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Name::parse(&s, 32).map_err(de::Error::custom)
    }
}

/// An S3 general purpose bucket name, by AWS's naming rules (S3 User Guide, "General purpose
/// bucket naming rules"): 3 to 63 characters of lowercase letters, digits, `.` and `-`; a letter
/// or digit at both ends; no `..`; not shaped like an IPv4 address; none of the reserved
/// prefixes or suffixes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BucketName(pub String);

/// Prefixes AWS reserves (`sthree-configurator` starts with `sthree-`).
pub const BUCKET_RESERVED_PREFIXES: &[&str] = &["xn--", "sthree-", "amzn-s3-demo-"];
/// Suffixes AWS reserves: access point aliases, Object Lambda aliases, Multi-Region Access
/// Points, directory buckets.
pub const BUCKET_RESERVED_SUFFIXES: &[&str] = &["-s3alias", "--ol-s3", ".mrap", "--x-s3"];

impl BucketName {
    pub fn parse(s: &str) -> Result<BucketName, String> {
        let bad = |why: String, fix: &str| {
            Err(format!(
                "`{s}` is not a valid S3 bucket name: {why}; fix: {fix}"
            ))
        };
        if !(3..=63).contains(&s.len()) {
            return bad(
                format!("it has {} characters, S3 needs 3 to 63", s.len()),
                "shorten or lengthen it",
            );
        }
        if let Some(c) = s
            .chars()
            .find(|c| !(c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '-' || *c == '.'))
        {
            return bad(
                format!("`{c}` is not allowed"),
                "use only lowercase letters, digits, `-` and `.`",
            );
        }
        let alnum = |c: Option<char>| c.is_some_and(|c| c.is_ascii_alphanumeric());
        if !alnum(s.chars().next()) || !alnum(s.chars().last()) {
            return bad(
                "it must start and end with a letter or digit".into(),
                "remove the leading or trailing `-`/`.`",
            );
        }
        if s.contains("..") {
            return bad(
                "it has two adjacent dots".into(),
                "use one `.` (or `-`) between labels",
            );
        }
        if s.parse::<Ipv4Addr>().is_ok() {
            return bad(
                "it is shaped like an IP address".into(),
                "use a name with letters",
            );
        }
        if let Some(p) = BUCKET_RESERVED_PREFIXES.iter().find(|p| s.starts_with(*p)) {
            return bad(
                format!("the prefix `{p}` is reserved by AWS"),
                "start the name differently",
            );
        }
        if let Some(x) = BUCKET_RESERVED_SUFFIXES.iter().find(|x| s.ends_with(*x)) {
            return bad(
                format!("the suffix `{x}` is reserved by AWS"),
                "end the name differently",
            );
        }
        Ok(BucketName(s.to_string()))
    }
}

impl<'de> Deserialize<'de> for BucketName {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        BucketName::parse(&s).map_err(de::Error::custom)
    }
}

impl fmt::Display for BucketName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// An AWS region such as `us-east-1`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Region(pub String);

impl<'de> Deserialize<'de> for Region {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        let parts: Vec<&str> = s.split('-').collect();
        let ok = parts.len() >= 3
            && parts[..parts.len() - 1]
                .iter()
                .all(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_lowercase()))
            && parts[parts.len() - 1].parse::<u8>().is_ok();
        if !ok {
            return Err(de::Error::custom(format!(
                "`{s}` is not an AWS region; write one such as `us-east-1` or `eu-west-3`"
            )));
        }
        Ok(Region(s))
    }
}

impl fmt::Display for Region {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

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
    pub app: AppHost,
    pub database: Database,
    pub buckets: Buckets,
    pub iam: Iam,
    pub state: State,
    /// Renamed resources: each becomes a `moved` block so Terraform keeps the resource.
    #[serde(default)]
    pub moved: Vec<Moved>,
}

/// `[[moved]]`: a resource that the generator now emits under another address.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Moved {
    pub from: ResourceAddress,
    pub to: ResourceAddress,
}

/// A resource address `type.name`, e.g. `aws_s3_bucket.content`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ResourceAddress {
    pub kind: String,
    pub name: String,
}

impl<'de> Deserialize<'de> for ResourceAddress {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        let ident = |p: &str| {
            p.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
                && p.chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        };
        match s.split_once('.') {
            Some((k, n)) if ident(k) && ident(n) => Ok(ResourceAddress { kind: k.into(), name: n.into() }),
            _ => Err(de::Error::custom(format!("`{s}` is not a resource address; write it as `type.name`, e.g. `aws_s3_bucket.content`"))),
        }
    }
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
    pub user: Name,
    /// The ASGI app uvicorn serves, as `module:attribute`.
    #[serde(default = "default_asgi_app")]
    pub asgi_app: String,
    /// The path of the health endpoint.
    #[serde(default = "default_health_path")]
    pub health_path: String,
}

fn default_asgi_app() -> String {
    "app.main:app".into()
}

fn default_health_path() -> String {
    "/health".into()
}

fn root_volume<'de, D: Deserializer<'de>>(d: D) -> Result<u32, D::Error> {
    bounded(d, 8, 1024, "root_volume_gb")
}

fn default_ami() -> Ami {
    Ami::Ubuntu2404
}

fn default_app_user() -> Name {
    Name("fastapi".into())
}

/// The AMI of the app host.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Ami {
    Ubuntu2404,
    Pinned(String),
}

impl<'de> Deserialize<'de> for Ami {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        if s == "ubuntu-24.04" {
            return Ok(Ami::Ubuntu2404);
        }
        let hex = s.strip_prefix("ami-").unwrap_or("");
        if (8..=17).contains(&hex.len()) && hex.chars().all(|c| c.is_ascii_hexdigit()) {
            return Ok(Ami::Pinned(s));
        }
        Err(de::Error::custom(format!("`{s}` is not an AMI: write `ubuntu-24.04` (lookup) or an id such as `ami-0123456789abcdef0`")))
    }
}

/// An EC2 instance type such as `t3.micro`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InstanceType(pub String);

impl<'de> Deserialize<'de> for InstanceType {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        let ok = matches!(s.split_once('.'), Some((fam, size)) if !fam.is_empty() && !size.is_empty()
            && fam.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
            && size.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit()));
        if !ok || s.starts_with("db.") {
            return Err(de::Error::custom(format!(
                "`{s}` is not an EC2 instance type; write one such as `t3.micro`"
            )));
        }
        Ok(InstanceType(s))
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
    /// `dev`: destroyable, no final snapshot. `prod`: deletion protection, final snapshot.
    pub protection: Protection,
    #[serde(deserialize_with = "retention")]
    pub backup_retention_days: u32,
    /// The database created inside the instance.
    pub db_name: DbName,
}

fn storage<'de, D: Deserializer<'de>>(d: D) -> Result<u32, D::Error> {
    bounded(d, 20, 65536, "allocated_storage_gb")
}

fn retention<'de, D: Deserializer<'de>>(d: D) -> Result<u32, D::Error> {
    bounded(d, 1, 35, "backup_retention_days")
}

/// An RDS instance class such as `db.t3.micro`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DbClass(pub String);

impl<'de> Deserialize<'de> for DbClass {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        let parts: Vec<&str> = s.split('.').collect();
        let ok = parts.len() == 3
            && parts[0] == "db"
            && parts[1..].iter().all(|p| {
                !p.is_empty()
                    && p.chars()
                        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
            });
        if !ok {
            return Err(de::Error::custom(format!(
                "`{s}` is not an RDS instance class; write one such as `db.t3.micro`"
            )));
        }
        Ok(DbClass(s))
    }
}

/// A Postgres database name: letters, digits and `_`, starting with a letter.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DbName(pub String);

impl<'de> Deserialize<'de> for DbName {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        let ok = (1..=63).contains(&s.len())
            && s.starts_with(|c: char| c.is_ascii_alphabetic())
            && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        if !ok {
            return Err(de::Error::custom(format!(
                "`{s}` is not a database name; use letters, digits and `_`, starting with a letter"
            )));
        }
        Ok(DbName(s))
    }
}

/// How much an environment protects its data.
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
    /// `AmazonS3FullAccess`, what the first release asked for.
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
    #[serde(default)]
    pub moved: Vec<Moved>,
}

/// `[state]` of the bootstrap environment.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct BootstrapState {
    pub bucket: BucketName,
    pub dynamodb_table: Name,
    /// `lifecycle.prevent_destroy` on the bucket and table; keep it `true` outside tests.
    #[serde(default = "yes")]
    pub prevent_destroy: bool,
}

fn yes() -> bool {
    true
}

/// Any environment.
#[derive(Clone, Debug, PartialEq)]
pub enum Env {
    App(Box<AppEnv>),
    Bootstrap(BootstrapEnv),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cidrs_are_checked() {
        assert_eq!(
            Cidr::parse("203.0.113.0/24").unwrap().to_string(),
            "203.0.113.0/24"
        );
        assert!(Cidr::parse("0.0.0.0/0").unwrap().is_anywhere());
        assert!(Cidr::parse("10.0.0.0/33").unwrap_err().contains("0 to 32"));
        assert!(Cidr::parse("10.0.0.1/24")
            .unwrap_err()
            .contains("10.0.0.0/24"));
        assert!(Cidr::parse("300.0.0.0/8")
            .unwrap_err()
            .contains("not an IPv4 address"));
        assert!(Cidr::parse("10.0.0.0")
            .unwrap_err()
            .contains("no `/prefix`"));
        assert_eq!(
            Cidr::parse("198.51.100.7/32").unwrap().slug(),
            "198_51_100_7_32"
        );
    }

    #[test]
    fn bucket_names_follow_the_s3_rules() {
        for ok in [
            "abc",
            "fastapi-infra-dev-logs",
            "my.bucket.name",
            "a1-b2",
            &"a".repeat(63),
            "1.2.3.4x",
            "xn-a",
            "sthree",
            "a-s3aliasx",
        ] {
            assert!(BucketName::parse(ok).is_ok(), "{ok} should be valid");
        }
        let bad = [
            ("ab", "3 to 63"),
            (&"a".repeat(64), "3 to 63"),
            ("My-bucket", "`M` is not allowed"),
            ("my_bucket", "`_` is not allowed"),
            ("my bucket", "` ` is not allowed"),
            ("-bucket", "start and end"),
            ("bucket-", "start and end"),
            (".bucket", "start and end"),
            ("bucket.", "start and end"),
            ("my..bucket", "adjacent dots"),
            ("192.168.5.4", "IP address"),
            ("xn--bucket", "prefix `xn--`"),
            ("sthree-bucket", "prefix `sthree-`"),
            ("sthree-configurator-x", "prefix `sthree-`"),
            ("amzn-s3-demo-bucket", "prefix `amzn-s3-demo-`"),
            ("bucket-s3alias", "suffix `-s3alias`"),
            ("bucket--ol-s3", "suffix `--ol-s3`"),
            ("bucket.mrap", "suffix `.mrap`"),
            ("bucket--x-s3", "suffix `--x-s3`"),
        ];
        for (name, why) in bad {
            let e = BucketName::parse(name).unwrap_err();
            assert!(e.contains(why) && e.contains("fix:"), "{name}: {e}");
        }
    }

    #[test]
    fn names_are_checked() {
        assert!(Name::parse("", 32).unwrap_err().contains("empty"));
        assert!(Name::parse("Prod", 32).is_err());
        assert!(Name::parse("a_b", 32).unwrap_err().contains("`_`"));
        assert!(Name::parse("fastapi-infra", 32).is_ok());
    }
}
