//! Environments as data: the typed contents of `envs/<name>.toml`.
//!
//! Every struct rejects unknown keys, and every value that can be wrong on its own (a CIDR, a
//! name, a size) is a type whose deserializer checks it, so the error points at the key.

use std::fmt;
use std::net::Ipv4Addr;

use serde::de::{self, Deserializer};
use serde::Deserialize;

/// A value as an error message shows it: whole when short, its start and its length when long
/// (an error must not echo a megabyte back).
pub fn shown(s: &str) -> String {
    const MAX: usize = 64;
    if s.chars().count() <= MAX {
        return format!("`{}`", s.escape_debug());
    }
    let head: String = s.chars().take(MAX).collect();
    format!(
        "`{}...` ({} characters)",
        head.escape_debug(),
        s.chars().count()
    )
}

/// Refuse a value longer than `max` characters before any other check reads it.
fn at_most(s: &str, max: usize, what: &str) -> Result<(), String> {
    if s.chars().count() > max {
        return Err(format!(
            "{} is too long for {what}; use at most {max} characters",
            shown(s)
        ));
    }
    Ok(())
}

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
        at_most(s, max, "a name")?;
        if !s.starts_with(|c: char| c.is_ascii_lowercase()) || s.ends_with('-') {
            return Err(format!(
                "{} must start with a lowercase letter and not end with `-`",
                shown(s)
            ));
        }
        if let Some(c) = s
            .chars()
            .find(|c| !(c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '-'))
        {
            return Err(format!(
                "{} has `{}`; use only lowercase letters, digits and `-`",
                shown(s),
                c.escape_debug()
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
                "{} is not a valid S3 bucket name: {why}; fix: {fix}",
                shown(s)
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
                format!("`{}` is not allowed", c.escape_debug()),
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

/// A KMS alias name for a customer-managed key: `alias/` then 1 or more of letters, digits,
/// `/`, `_` and `-`, 256 characters at most, never under `alias/aws/` (reserved for
/// AWS-managed keys) (KMS Developer Guide, "Create aliases").
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KmsAlias(pub String);

impl KmsAlias {
    pub fn parse(s: &str) -> Result<KmsAlias, String> {
        let fix = "fix: write it as `alias/<name>`, e.g. `alias/fastapi-infra-tfstate`";
        at_most(s, 256, "a KMS alias (KMS allows 256 characters)")
            .map_err(|e| format!("{e}; {fix}"))?;
        let shown = shown(s);
        let Some(rest) = s.strip_prefix("alias/").filter(|r| !r.is_empty()) else {
            return Err(format!("{shown} is not a KMS alias name; {fix}"));
        };
        if let Some(c) = rest
            .chars()
            .find(|c| !(c.is_ascii_alphanumeric() || "/_-".contains(*c)))
        {
            return Err(format!(
                "{shown} has `{}`; KMS alias names allow letters, digits, `/`, `_` and `-`; {fix}",
                c.escape_debug()
            ));
        }
        if s.starts_with("alias/aws/") {
            return Err(format!(
                "{shown}: the prefix `alias/aws/` is reserved for AWS-managed keys; {fix}"
            ));
        }
        Ok(KmsAlias(s.to_string()))
    }
}

impl<'de> Deserialize<'de> for KmsAlias {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        KmsAlias::parse(&String::deserialize(d)?).map_err(de::Error::custom)
    }
}

impl fmt::Display for KmsAlias {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A fully qualified KMS key ARN (`arn:aws:kms:<region>:<account>:key/<id>`) or alias ARN
/// (`arn:aws:kms:<region>:<account>:alias/<name>`). The S3 backend accepts bare key ids and
/// alias names too, but S3 resolves those in the requester's account; the ARN names the key of
/// the state bucket's own account (S3 API Reference, `SSEKMSKeyId`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KmsKeyArn {
    pub arn: String,
    pub partition: String,
    pub region: String,
    pub account: String,
    pub target: KmsTarget,
}

/// What a KMS ARN points at.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum KmsTarget {
    Key(String),
    Alias(KmsAlias),
}

impl KmsKeyArn {
    pub fn parse(s: &str) -> Result<KmsKeyArn, String> {
        let fix = "fix: use the alias name bootstrap creates (e.g. `alias/fastapi-infra-tfstate`) or the ARN it prints (`terraform -chdir=generated/bootstrap output state_kms_alias_arn`)";
        at_most(s, 2048, "a KMS ARN").map_err(|e| format!("{e}; {fix}"))?;
        let shown = shown(s);
        let parts: Vec<&str> = s.splitn(6, ':').collect();
        let [arn, partition, "kms", region, account, resource] = parts.as_slice() else {
            return Err(format!(
                "{shown} is not a KMS alias name or a KMS key or alias ARN; {fix}"
            ));
        };
        let is_partition = partition.starts_with("aws")
            && partition
                .chars()
                .all(|c| c.is_ascii_lowercase() || c == '-');
        let is_region = !region.is_empty()
            && region
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
        if *arn != "arn" || !is_partition || !is_region {
            return Err(format!("{shown} is not a KMS ARN; {fix}"));
        }
        if account.len() != 12 || !account.chars().all(|c| c.is_ascii_digit()) {
            return Err(format!("{shown}: the account is not 12 digits; {fix}"));
        }
        let target = if let Some(id) = resource.strip_prefix("key/") {
            if !is_key_id(id) {
                return Err(format!(
                    "{shown}: the key id is not a UUID or `mrk-` and 32 hex digits; {fix}"
                ));
            }
            KmsTarget::Key(id.to_string())
        } else {
            KmsTarget::Alias(KmsAlias::parse(resource).map_err(|e| format!("{shown}: {e}"))?)
        };
        Ok(KmsKeyArn {
            arn: s.to_string(),
            partition: partition.to_string(),
            region: region.to_string(),
            account: account.to_string(),
            target,
        })
    }
}

/// A KMS key id: a UUID, or a multi-Region key id `mrk-` and 32 hex digits.
fn is_key_id(id: &str) -> bool {
    let hex = |p: &str, n: usize| {
        p.len() == n
            && p.chars()
                .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase())
    };
    if let Some(m) = id.strip_prefix("mrk-") {
        return hex(m, 32);
    }
    let groups: Vec<&str> = id.split('-').collect();
    groups.len() == 5 && groups.iter().zip([8, 4, 4, 4, 12]).all(|(g, n)| hex(g, n))
}

/// How an app env names the state key (the S3 backend's `kms_key_id`): the alias name
/// bootstrap creates, or a key or alias ARN. S3 resolves an alias name in the requester's
/// account (S3 API Reference, `ServerSideEncryptionByDefault.KMSMasterKeyID`); bootstrap
/// creates the bucket and the key in the account the envs deploy to, so the name needs no
/// account id. An ARN pins the key when the state is written from another account.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StateKey {
    AliasName(KmsAlias),
    Arn(KmsKeyArn),
}

impl StateKey {
    pub fn parse(s: &str) -> Result<StateKey, String> {
        if s.starts_with("alias/") {
            return KmsAlias::parse(s).map(StateKey::AliasName);
        }
        KmsKeyArn::parse(s).map(StateKey::Arn)
    }

    /// The value the backend block carries.
    pub fn as_str(&self) -> &str {
        match self {
            StateKey::AliasName(a) => &a.0,
            StateKey::Arn(k) => &k.arn,
        }
    }

    /// The alias this names, when it names one.
    pub fn alias(&self) -> Option<&KmsAlias> {
        match self {
            StateKey::AliasName(a) => Some(a),
            StateKey::Arn(KmsKeyArn {
                target: KmsTarget::Alias(a),
                ..
            }) => Some(a),
            StateKey::Arn(_) => None,
        }
    }
}

impl<'de> Deserialize<'de> for StateKey {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        StateKey::parse(&String::deserialize(d)?).map_err(de::Error::custom)
    }
}

/// An AWS region such as `us-east-1`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Region(pub String);

impl<'de> Deserialize<'de> for Region {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        at_most(&s, 32, "a region").map_err(de::Error::custom)?;
        let parts: Vec<&str> = s.split('-').collect();
        let ok = parts.len() >= 3
            && parts[..parts.len() - 1]
                .iter()
                .all(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_lowercase()))
            && parts[parts.len() - 1].parse::<u8>().is_ok();
        if !ok {
            return Err(de::Error::custom(format!(
                "{} is not an AWS region; write one such as `us-east-1` or `eu-west-3`",
                shown(&s)
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

/// Address prefixes of things that are not managed resources (data sources, modules, values,
/// meta-arguments): Terraform rejects them, or reads them as something else, in a `moved` block
/// that moves a resource.
const NOT_MANAGED_RESOURCES: &[&str] = &[
    "data",
    "module",
    "var",
    "local",
    "count",
    "each",
    "resource",
    "self",
    "path",
    "terraform",
    "ephemeral",
    "output",
    "provider",
];

impl ResourceAddress {
    /// `type.name` of a managed AWS resource: the type is `aws_` and lowercase letters, digits
    /// and `_` (the stack's only provider is `aws`); the name is a Terraform identifier.
    pub fn parse(s: &str) -> Result<ResourceAddress, String> {
        let fix = "write it as `type.name`, e.g. `aws_s3_bucket.content`";
        at_most(s, 128, "a resource address")?;
        let Some((kind, name)) = s.split_once('.') else {
            return Err(format!("{} is not a resource address; {fix}", shown(s)));
        };
        if NOT_MANAGED_RESOURCES.contains(&kind) {
            return Err(format!(
                "{} is not a managed resource address (`{kind}.` is not a resource type); `[[moved]]` moves resources only; {fix}",
                shown(s)
            ));
        }
        let rest = kind.strip_prefix("aws_").unwrap_or("");
        if rest.is_empty()
            || !rest
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        {
            return Err(format!(
                "{} does not start with an AWS resource type (`aws_` and lowercase letters, digits or `_`; this stack's only provider is `aws`); {fix}",
                shown(s)
            ));
        }
        let ident = name.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
        if !ident {
            return Err(format!(
                "{}: the name must be one identifier (letters, digits, `_` and `-`, starting with a letter or `_`; no index, no further `.`); {fix}",
                shown(s)
            ));
        }
        Ok(ResourceAddress {
            kind: kind.into(),
            name: name.into(),
        })
    }
}

impl<'de> Deserialize<'de> for ResourceAddress {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        ResourceAddress::parse(&s).map_err(de::Error::custom)
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
    /// The path of the health endpoint.
    #[serde(default = "default_health_path")]
    pub health_path: HealthPath,
}

fn default_asgi_app() -> AsgiApp {
    AsgiApp("app.main:app".into())
}

fn default_health_path() -> HealthPath {
    HealthPath("/health".into())
}

/// The ASGI app uvicorn serves: `module.path:attribute`, Python identifiers (ASCII) only. It is
/// written into the systemd unit and the boot script, so nothing else may pass.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AsgiApp(pub String);

impl AsgiApp {
    pub fn parse(s: &str) -> Result<AsgiApp, String> {
        at_most(s, 200, "`module.path:attribute`")?;
        let ident = |p: &str| {
            p.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
                && p.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        };
        let ok = matches!(s.split_once(':'), Some((module, attr))
            if module.split('.').all(ident) && ident(attr));
        if !ok {
            return Err(format!(
                "{} is not `module.path:attribute`; write Python identifiers (letters, digits and `_`) joined by `.`, then `:` and the attribute, e.g. `app.main:app`",
                shown(s)
            ));
        }
        Ok(AsgiApp(s.into()))
    }
}

impl<'de> Deserialize<'de> for AsgiApp {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        AsgiApp::parse(&String::deserialize(d)?).map_err(de::Error::custom)
    }
}

/// The path of the health endpoint: `/` then URL path characters only (RFC 3986 unreserved
/// characters and `/`). It is written into the boot script's health check.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HealthPath(pub String);

impl HealthPath {
    pub fn parse(s: &str) -> Result<HealthPath, String> {
        at_most(s, 200, "a URL path")?;
        let ok = s.starts_with('/')
            && s.chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '/' | '-' | '.' | '_' | '~'));
        if !ok {
            return Err(format!(
                "{} is not a URL path; start with `/` and use only letters, digits and `/ - . _ ~`, e.g. `/health`",
                shown(s)
            ));
        }
        Ok(HealthPath(s.into()))
    }
}

impl<'de> Deserialize<'de> for HealthPath {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        HealthPath::parse(&String::deserialize(d)?).map_err(de::Error::custom)
    }
}

/// Accounts an app must not run as: root, the AMI's login user (it has sudo) and the system
/// accounts of Debian and Ubuntu.
const RESERVED_USERS: &[&str] = &[
    "root",
    "ubuntu",
    "admin",
    "daemon",
    "bin",
    "sys",
    "sync",
    "games",
    "man",
    "lp",
    "mail",
    "news",
    "uucp",
    "proxy",
    "www-data",
    "backup",
    "list",
    "irc",
    "gnats",
    "nobody",
    "messagebus",
    "syslog",
    "sshd",
    "polkitd",
    "postgres",
    "_apt",
];

/// The Unix user the service runs as: a new, unprivileged account. Lowercase letters, digits,
/// `_` and `-`, starting with a letter or `_`, at most 32 characters (useradd's limit), and not
/// root or a system account.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UnixUser(pub String);

/// useradd's grammar: lowercase letters, digits, `_` and `-`, starting with a letter or `_`,
/// at most 32 characters.
fn unix_name(s: &str, example: &str) -> Result<(), String> {
    at_most(s, 32, "a Unix user name")?;
    let ok = s.starts_with(|c: char| c.is_ascii_lowercase() || c == '_')
        && s.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-');
    if !ok {
        return Err(format!(
            "{} is not a Unix user name; use lowercase letters, digits, `_` and `-`, starting with a letter, e.g. `{example}`",
            shown(s)
        ));
    }
    Ok(())
}

impl UnixUser {
    pub fn parse(s: &str) -> Result<UnixUser, String> {
        unix_name(s, "fastapi")?;
        if RESERVED_USERS.contains(&s) || s.starts_with("systemd-") {
            return Err(format!(
                "`{s}` is root or a system account; use a user of the service's own (created unprivileged at boot), e.g. `fastapi`"
            ));
        }
        Ok(UnixUser(s.into()))
    }
}

impl<'de> Deserialize<'de> for UnixUser {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        UnixUser::parse(&String::deserialize(d)?).map_err(de::Error::custom)
    }
}

/// The login user of the host's AMI (`ubuntu` on Ubuntu, `admin` on Debian): a Unix user name,
/// never root (AWS's AMIs refuse root logins).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LoginUser(pub String);

impl LoginUser {
    pub fn parse(s: &str) -> Result<LoginUser, String> {
        unix_name(s, "ubuntu")?;
        if s == "root" {
            return Err(
                "`root` cannot log in on AWS's AMIs; name the AMI's login user, e.g. `ubuntu`"
                    .into(),
            );
        }
        Ok(LoginUser(s.into()))
    }
}

impl<'de> Deserialize<'de> for LoginUser {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        LoginUser::parse(&String::deserialize(d)?).map_err(de::Error::custom)
    }
}

/// The login user of Canonical's Ubuntu AMIs.
pub const UBUNTU_LOGIN_USER: &str = "ubuntu";

impl AppHost {
    /// The AMI's login user: the configured one, else Ubuntu's for the Ubuntu lookup; `None`
    /// for a pinned AMI without `ssh_user` (refused when the env file is read).
    pub fn ssh_user(&self) -> Option<&str> {
        match (&self.ssh_user, &self.ami) {
            (Some(u), _) => Some(&u.0),
            (None, Ami::Ubuntu2404) => Some(UBUNTU_LOGIN_USER),
            (None, Ami::Pinned(_)) => None,
        }
    }
}

fn root_volume<'de, D: Deserializer<'de>>(d: D) -> Result<u32, D::Error> {
    bounded(d, 8, 1024, "root_volume_gb")
}

fn default_ami() -> Ami {
    Ami::Ubuntu2404
}

fn default_app_user() -> UnixUser {
    UnixUser("fastapi".into())
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
        Err(de::Error::custom(format!("{} is not an AMI: write `ubuntu-24.04` (lookup) or an id such as `ami-0123456789abcdef0`", shown(&s))))
    }
}

/// An EC2 instance type such as `t3.micro`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InstanceType(pub String);

impl<'de> Deserialize<'de> for InstanceType {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        at_most(&s, 32, "an instance type").map_err(de::Error::custom)?;
        let ok = matches!(s.split_once('.'), Some((fam, size)) if !fam.is_empty() && !size.is_empty()
            && fam.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
            && size.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit()));
        if !ok || s.starts_with("db.") {
            return Err(de::Error::custom(format!(
                "{} is not an EC2 instance type; write one such as `t3.micro`",
                shown(&s)
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

/// An RDS instance class such as `db.t3.micro`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DbClass(pub String);

impl<'de> Deserialize<'de> for DbClass {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        at_most(&s, 32, "an instance class").map_err(de::Error::custom)?;
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
                "{} is not an RDS instance class; write one such as `db.t3.micro`",
                shown(&s)
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
                "{} is not a database name; use letters, digits and `_`, starting with a letter (at most 63)",
                shown(&s)
            )));
        }
        Ok(DbName(s))
    }
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

/// A GitHub repository `owner/name`: it lands in the roles' trust policies (`repo:owner/name:...`),
/// so no wildcard, separator or other character of IAM's condition grammar can be in it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GithubRepo(pub String);

impl GithubRepo {
    pub fn parse(s: &str) -> Result<GithubRepo, String> {
        let bad = |why: &str| {
            Err(format!(
                "{} is not a GitHub repository: {why}; fix: write it as `owner/name`, e.g. `example-org/fastapi-infra`",
                shown(s)
            ))
        };
        let Some((owner, name)) = s.split_once('/') else {
            return bad("it has no `/`");
        };
        let owner_ok = (1..=39).contains(&owner.len())
            && owner.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
            && !owner.starts_with('-')
            && !owner.ends_with('-');
        if !owner_ok {
            return bad("the owner must be 1 to 39 letters, digits or inner `-`");
        }
        let name_ok = (1..=100).contains(&name.len())
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
            && name != "."
            && name != "..";
        if !name_ok {
            return bad("the name must be 1 to 100 letters, digits, `-`, `_` or `.`");
        }
        Ok(GithubRepo(s.to_string()))
    }
}

impl<'de> Deserialize<'de> for GithubRepo {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        GithubRepo::parse(&s).map_err(de::Error::custom)
    }
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
    fn github_repositories_are_checked() {
        assert!(GithubRepo::parse("example-org/fastapi-infra").is_ok());
        assert!(GithubRepo::parse("a/b.c_d-e").is_ok());
        for bad in [
            "*/*",
            "org/*",
            "org",
            "org/",
            "/repo",
            "org/repo/x",
            "-org/repo",
            "org/..",
            "org/repo:ref:refs/heads/main",
            "org/re po",
            "org/re\"po",
            &format!("{}/r", "o".repeat(40)),
        ] {
            assert!(GithubRepo::parse(bad).is_err(), "{bad}");
        }
    }

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
    fn kms_aliases_and_arns_are_checked() {
        assert!(KmsAlias::parse("alias/fastapi-infra-tfstate").is_ok());
        for (bad, why) in [
            ("fastapi-infra-tfstate", "not a KMS alias"),
            ("alias/", "not a KMS alias"),
            ("alias/aws/s3", "reserved"),
            ("alias/a b", "`"),
        ] {
            let e = KmsAlias::parse(bad).unwrap_err();
            assert!(e.contains(why) && e.contains("fix:"), "{bad}: {e}");
        }
        assert!(KmsAlias::parse(&format!("alias/{}", "a".repeat(251))).is_err());

        let alias =
            KmsKeyArn::parse("arn:aws:kms:us-east-1:123456789012:alias/fastapi-infra-tfstate")
                .unwrap();
        assert_eq!(alias.region, "us-east-1");
        assert_eq!(
            alias.target,
            KmsTarget::Alias(KmsAlias("alias/fastapi-infra-tfstate".into()))
        );
        let key = KmsKeyArn::parse(
            "arn:aws:kms:eu-west-3:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab",
        )
        .unwrap();
        assert_eq!(
            key.target,
            KmsTarget::Key("1234abcd-12ab-34cd-56ef-1234567890ab".into())
        );
        assert!(KmsKeyArn::parse(
            "arn:aws:kms:us-east-1:123456789012:key/mrk-1234abcd12ab34cd56ef1234567890ab"
        )
        .is_ok());
        for (bad, why) in [
            (
                "1234abcd-12ab-34cd-56ef-1234567890ab",
                "not a KMS alias name or a KMS key or alias ARN",
            ),
            (
                "arn:aws:s3:us-east-1:123456789012:alias/x",
                "not a KMS alias name or a KMS key or alias ARN",
            ),
            ("arn:aws:kms:us-east-1:1234:alias/x", "12 digits"),
            ("arn:aws:kms:us-east-1:123456789012:key/nope", "not a UUID"),
            (
                "arn:aws:kms:us-east-1:123456789012:alias/aws/s3",
                "reserved",
            ),
        ] {
            let e = KmsKeyArn::parse(bad).unwrap_err();
            assert!(e.contains(why) && e.contains("fix:"), "{bad}: {e}");
        }
    }

    #[test]
    fn the_state_key_is_an_alias_name_or_an_arn() {
        let name = StateKey::parse("alias/fastapi-infra-tfstate").unwrap();
        assert_eq!(name.as_str(), "alias/fastapi-infra-tfstate");
        assert_eq!(name.alias().unwrap().0, "alias/fastapi-infra-tfstate");
        let arn = "arn:aws:kms:us-east-1:123456789012:alias/fastapi-infra-tfstate";
        let by_arn = StateKey::parse(arn).unwrap();
        assert_eq!((by_arn.as_str(), by_arn.alias()), (arn, name.alias()));
        let key = "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab";
        assert_eq!(StateKey::parse(key).unwrap().alias(), None);
        for bad in [
            "alias/aws/s3",
            "alias/",
            "alias/a b",
            "1234abcd-12ab-34cd-56ef-1234567890ab",
        ] {
            let e = StateKey::parse(bad).unwrap_err();
            assert!(e.contains("fix:"), "{bad}: {e}");
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
