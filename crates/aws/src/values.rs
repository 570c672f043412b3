//! The checked values of an env file. Every one has the same shape (rust-analyzer: "if there is
//! an invariant, make the field private"): a private field, `parse` (the only way in, which
//! checks the invariant), `as_str`, `Display`, `FromStr`, `TryFrom<&str>` and `TryFrom<String>`,
//! and serde through `try_from = "String"`, so the deserializer checks it and the error points
//! at the key. A refused value is an [`Invalid`]: the problem and the fix, apart.

use std::fmt;
use std::net::Ipv4Addr;

use serde::Deserialize;

/// A value refused by its grammar: what is wrong with it, and how to fix it. The env file and
/// the key are added by whoever read it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Invalid {
    pub problem: String,
    pub fix: String,
}

impl Invalid {
    pub fn new(problem: impl Into<String>, fix: impl Into<String>) -> Invalid {
        Invalid {
            problem: problem.into(),
            fix: fix.into(),
        }
    }

    /// The same, with `context` before the problem.
    fn within(self, context: &str) -> Invalid {
        Invalid::new(format!("{context}: {}", self.problem), self.fix)
    }
}

impl fmt::Display for Invalid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}; fix: {}", self.problem, self.fix)
    }
}

impl std::error::Error for Invalid {}

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
fn at_most(s: &str, max: usize, what: &str) -> Result<(), Invalid> {
    if s.chars().count() > max {
        return Err(Invalid::new(
            format!("{} is too long for {what}", shown(s)),
            format!("use at most {max} characters"),
        ));
    }
    Ok(())
}

/// `FromStr`, `TryFrom<&str>` and `TryFrom<String>` (serde's `try_from`) through `$t::parse`.
macro_rules! parsed {
    ($t:ident) => {
        impl std::str::FromStr for $t {
            type Err = Invalid;
            fn from_str(s: &str) -> Result<$t, Invalid> {
                $t::parse(s)
            }
        }

        impl TryFrom<&str> for $t {
            type Error = Invalid;
            fn try_from(s: &str) -> Result<$t, Invalid> {
                $t::parse(s)
            }
        }

        impl TryFrom<String> for $t {
            type Error = Invalid;
            fn try_from(s: String) -> Result<$t, Invalid> {
                $t::parse(&s)
            }
        }
    };
}

/// The shape of a checked string value (see the module's doc): `parsed!`, `as_str`, `Display`.
macro_rules! checked_string {
    ($t:ident) => {
        parsed!($t);

        impl $t {
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $t {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

/// An IPv4 network in CIDR notation, with no host bits set (`203.0.113.0/24`).
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(try_from = "String")]
pub struct Cidr {
    addr: Ipv4Addr,
    prefix: u8,
}

impl Cidr {
    pub fn parse(s: &str) -> Result<Cidr, Invalid> {
        let not = |why: String, fix: &str| Invalid::new(format!("`{s}` is not a CIDR: {why}"), fix);
        let (a, p) = s.split_once('/').ok_or_else(|| {
            not(
                "it has no `/prefix`".into(),
                "write it as a.b.c.d/n, e.g. 203.0.113.0/24",
            )
        })?;
        let addr: Ipv4Addr = a.parse().map_err(|_| {
            not(
                format!("`{a}` is not an IPv4 address"),
                "write it as a.b.c.d/n",
            )
        })?;
        let prefix: u8 = p.parse().ok().filter(|p| *p <= 32).ok_or_else(|| {
            not(
                format!("the prefix `{p}` must be a number from 0 to 32"),
                "use a prefix from 0 (everything) to 32 (one address)",
            )
        })?;
        let mask = if prefix == 0 {
            0
        } else {
            u32::MAX << (32 - prefix)
        };
        let bits = u32::from(addr);
        if bits & !mask != 0 {
            let net = Ipv4Addr::from(bits & mask);
            return Err(Invalid::new(
                format!("`{s}` has host bits set"),
                format!("write the network address `{net}/{prefix}`"),
            ));
        }
        Ok(Cidr { addr, prefix })
    }

    pub fn addr(&self) -> Ipv4Addr {
        self.addr
    }

    pub fn prefix(&self) -> u8 {
        self.prefix
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

parsed!(Cidr);

/// A lowercase name usable in AWS resource names: `a-z`, `0-9` and `-`, starting with a letter,
/// at most 32 characters.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(try_from = "String")]
pub struct Name(pub(crate) String);

impl Name {
    pub fn parse(s: &str) -> Result<Name, Invalid> {
        let fix =
            "use lowercase letters, digits and `-`, starting with a letter, e.g. `fastapi-infra`";
        if s.is_empty() {
            return Err(Invalid::new("the name is empty", fix));
        }
        at_most(s, 32, "a name")?;
        if !s.starts_with(|c: char| c.is_ascii_lowercase()) || s.ends_with('-') {
            return Err(Invalid::new(
                format!(
                    "{} must start with a lowercase letter and not end with `-`",
                    shown(s)
                ),
                fix,
            ));
        }
        if let Some(c) = s
            .chars()
            .find(|c| !(c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '-'))
        {
            return Err(Invalid::new(
                format!("{} has `{}`", shown(s), c.escape_debug()),
                fix,
            ));
        }
        Ok(Name(s.to_string()))
    }
}

checked_string!(Name);

/// An S3 general purpose bucket name, by AWS's naming rules (S3 User Guide, "General purpose
/// bucket naming rules"): 3 to 63 characters of lowercase letters, digits, `.` and `-`; a letter
/// or digit at both ends; no `..`; not shaped like an IPv4 address; none of the reserved
/// prefixes or suffixes.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(try_from = "String")]
pub struct BucketName(pub(crate) String);

/// Prefixes AWS reserves (`sthree-configurator` starts with `sthree-`).
pub const BUCKET_RESERVED_PREFIXES: &[&str] = &["xn--", "sthree-", "amzn-s3-demo-"];
/// Suffixes AWS reserves: access point aliases, Object Lambda aliases, Multi-Region Access
/// Points, directory buckets.
pub const BUCKET_RESERVED_SUFFIXES: &[&str] = &["-s3alias", "--ol-s3", ".mrap", "--x-s3"];

impl BucketName {
    pub fn parse(s: &str) -> Result<BucketName, Invalid> {
        bucket_rule(s).map_err(|(why, fix)| {
            Invalid::new(
                format!("{} is not a valid S3 bucket name: {why}", shown(s)),
                fix,
            )
        })?;
        Ok(BucketName(s.to_string()))
    }
}

checked_string!(BucketName);

/// S3's rule for bucket names: `Err((why, fix))` when `s` breaks it.
fn bucket_rule(s: &str) -> Result<(), (String, &'static str)> {
    if !(3..=63).contains(&s.len()) {
        let why = format!("it has {} characters, S3 needs 3 to 63", s.len());
        return Err((why, "shorten or lengthen it"));
    }
    let allowed = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '.';
    if let Some(c) = s.chars().find(|c| !allowed(*c)) {
        let why = format!("`{}` is not allowed", c.escape_debug());
        return Err((why, "use only lowercase letters, digits, `-` and `.`"));
    }
    let alnum = |c: Option<char>| c.is_some_and(|c| c.is_ascii_alphanumeric());
    if !alnum(s.chars().next()) || !alnum(s.chars().last()) {
        let why = "it must start and end with a letter or digit".to_string();
        return Err((why, "remove the leading or trailing `-`/`.`"));
    }
    if s.contains("..") {
        let why = "it has two adjacent dots".to_string();
        return Err((why, "use one `.` (or `-`) between labels"));
    }
    if s.parse::<Ipv4Addr>().is_ok() {
        let why = "it is shaped like an IP address".to_string();
        return Err((why, "use a name with letters"));
    }
    if let Some(p) = BUCKET_RESERVED_PREFIXES.iter().find(|p| s.starts_with(*p)) {
        let why = format!("the prefix `{p}` is reserved by AWS");
        return Err((why, "start the name differently"));
    }
    if let Some(x) = BUCKET_RESERVED_SUFFIXES.iter().find(|x| s.ends_with(*x)) {
        let why = format!("the suffix `{x}` is reserved by AWS");
        return Err((why, "end the name differently"));
    }
    Ok(())
}

/// A KMS alias name for a customer-managed key: `alias/` then 1 or more of letters, digits,
/// `/`, `_` and `-`, 256 characters at most, never under `alias/aws/` (reserved for
/// AWS-managed keys) (KMS Developer Guide, "Create aliases").
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(try_from = "String")]
pub struct KmsAlias(pub(crate) String);

impl KmsAlias {
    pub fn parse(s: &str) -> Result<KmsAlias, Invalid> {
        let fix = "write it as `alias/<name>`, e.g. `alias/fastapi-infra-tfstate`";
        at_most(s, 256, "a KMS alias (KMS allows 256 characters)")
            .map_err(|e| Invalid::new(e.problem, fix))?;
        let shown = shown(s);
        let Some(rest) = s.strip_prefix("alias/").filter(|r| !r.is_empty()) else {
            return Err(Invalid::new(
                format!("{shown} is not a KMS alias name"),
                fix,
            ));
        };
        if let Some(c) = rest
            .chars()
            .find(|c| !(c.is_ascii_alphanumeric() || "/_-".contains(*c)))
        {
            return Err(Invalid::new(
                format!(
                    "{shown} has `{}`; KMS alias names allow letters, digits, `/`, `_` and `-`",
                    c.escape_debug()
                ),
                fix,
            ));
        }
        if s.starts_with("alias/aws/") {
            return Err(Invalid::new(
                format!("{shown}: the prefix `alias/aws/` is reserved for AWS-managed keys"),
                fix,
            ));
        }
        Ok(KmsAlias(s.to_string()))
    }
}

checked_string!(KmsAlias);

/// A fully qualified KMS key ARN (`arn:aws:kms:<region>:<account>:key/<id>`) or alias ARN
/// (`arn:aws:kms:<region>:<account>:alias/<name>`). The S3 backend accepts bare key ids and
/// alias names too, but S3 resolves those in the requester's account; the ARN names the key of
/// the state bucket's own account (S3 API Reference, `SSEKMSKeyId`).
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(try_from = "String")]
pub struct KmsKeyArn {
    arn: String,
    region: String,
    account: String,
    target: KmsTarget,
}

/// What a KMS ARN points at.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum KmsTarget {
    Key(String),
    Alias(KmsAlias),
}

impl KmsKeyArn {
    pub fn parse(s: &str) -> Result<KmsKeyArn, Invalid> {
        let fix = "use the alias name bootstrap creates (e.g. `alias/fastapi-infra-tfstate`) or the ARN it prints (`terraform -chdir=generated/bootstrap output state_kms_alias_arn`)";
        let bad = |why: &str| Invalid::new(format!("{}{why}", shown(s)), fix);
        at_most(s, 2048, "a KMS ARN").map_err(|e| Invalid::new(e.problem, fix))?;
        let parts: Vec<&str> = s.splitn(6, ':').collect();
        let [arn, partition, "kms", region, account, resource] = parts.as_slice() else {
            return Err(bad(" is not a KMS alias name or a KMS key or alias ARN"));
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
            return Err(bad(" is not a KMS ARN"));
        }
        if account.len() != 12 || !account.chars().all(|c| c.is_ascii_digit()) {
            return Err(bad(": the account is not 12 digits"));
        }
        let target = match resource.strip_prefix("key/") {
            Some(id) if is_key_id(id) => KmsTarget::Key(id.to_string()),
            Some(_) => {
                return Err(bad(
                    ": the key id is not a UUID or `mrk-` and 32 hex digits",
                ))
            }
            None => KmsTarget::Alias(KmsAlias::parse(resource).map_err(|e| e.within(&shown(s)))?),
        };
        Ok(KmsKeyArn {
            arn: s.to_string(),
            region: region.to_string(),
            account: account.to_string(),
            target,
        })
    }

    pub fn as_str(&self) -> &str {
        &self.arn
    }

    pub fn region(&self) -> &str {
        &self.region
    }

    pub fn account(&self) -> &str {
        &self.account
    }

    pub fn target(&self) -> &KmsTarget {
        &self.target
    }
}

parsed!(KmsKeyArn);

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
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(try_from = "String")]
pub enum StateKey {
    AliasName(KmsAlias),
    Arn(KmsKeyArn),
}

impl StateKey {
    pub fn parse(s: &str) -> Result<StateKey, Invalid> {
        if s.starts_with("alias/") {
            return KmsAlias::parse(s).map(StateKey::AliasName);
        }
        KmsKeyArn::parse(s).map(StateKey::Arn)
    }

    /// The value the backend block carries.
    pub fn as_str(&self) -> &str {
        match self {
            StateKey::AliasName(a) => a.as_str(),
            StateKey::Arn(k) => k.as_str(),
        }
    }

    /// The alias this names, when it names one.
    pub fn alias(&self) -> Option<&KmsAlias> {
        match self {
            StateKey::AliasName(a) => Some(a),
            StateKey::Arn(k) => match k.target() {
                KmsTarget::Alias(a) => Some(a),
                KmsTarget::Key(_) => None,
            },
        }
    }
}

parsed!(StateKey);

/// An AWS region such as `us-east-1`.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(try_from = "String")]
pub struct Region(pub(crate) String);

impl Region {
    pub fn parse(s: &str) -> Result<Region, Invalid> {
        at_most(s, 32, "a region")?;
        let parts: Vec<&str> = s.split('-').collect();
        let ok = parts.len() >= 3
            && parts[..parts.len() - 1]
                .iter()
                .all(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_lowercase()))
            && parts[parts.len() - 1].parse::<u8>().is_ok();
        if !ok {
            return Err(Invalid::new(
                format!("{} is not an AWS region", shown(s)),
                "write one such as `us-east-1` or `eu-west-3`",
            ));
        }
        Ok(Region(s.to_string()))
    }
}

checked_string!(Region);

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

/// `type.name` of a managed AWS resource, as a Terraform address: the type is `aws_` and
/// lowercase letters, digits and `_` (the stack's only provider is `aws`); the name is a
/// Terraform identifier.
pub fn resource_address(s: &str) -> Result<tf::Address, Invalid> {
    let fix = "write it as `type.name`, e.g. `aws_s3_bucket.content`";
    at_most(s, 128, "a resource address")?;
    let Some((kind, name)) = s.split_once('.') else {
        return Err(Invalid::new(
            format!("{} is not a resource address", shown(s)),
            fix,
        ));
    };
    if NOT_MANAGED_RESOURCES.contains(&kind) {
        return Err(Invalid::new(
            format!("{} is not a managed resource address (`{kind}.` is not a resource type); `[[moved]]` moves resources only", shown(s)),
            fix,
        ));
    }
    let rest = kind.strip_prefix("aws_").unwrap_or("");
    let type_ok = !rest.is_empty()
        && rest
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    if !type_ok {
        return Err(Invalid::new(
            format!("{} does not start with an AWS resource type (`aws_` and lowercase letters, digits or `_`; this stack's only provider is `aws`)", shown(s)),
            fix,
        ));
    }
    let ident = name.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    if !ident {
        return Err(Invalid::new(
            format!("{}: the name must be one identifier (letters, digits, `_` and `-`, starting with a letter or `_`; no index, no further `.`)", shown(s)),
            fix,
        ));
    }
    Ok(tf::Address::resource(kind, name))
}

/// The ASGI app uvicorn serves: `module.path:attribute`, Python identifiers (ASCII) only. It is
/// written into the systemd unit and the boot script, so nothing else may pass.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(try_from = "String")]
pub struct AsgiApp(pub(crate) String);

impl AsgiApp {
    pub fn parse(s: &str) -> Result<AsgiApp, Invalid> {
        at_most(s, 200, "`module.path:attribute`")?;
        let ident = |p: &str| {
            p.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
                && p.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        };
        let ok = matches!(s.split_once(':'), Some((module, attr))
            if module.split('.').all(ident) && ident(attr));
        if !ok {
            return Err(Invalid::new(
                format!("{} is not `module.path:attribute`", shown(s)),
                "write Python identifiers (letters, digits and `_`) joined by `.`, then `:` and the attribute, e.g. `app.main:app`",
            ));
        }
        Ok(AsgiApp(s.into()))
    }
}

checked_string!(AsgiApp);

/// The path of the health endpoint: `/` then URL path characters only (RFC 3986 unreserved
/// characters and `/`). It is written into the boot script's health check.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(try_from = "String")]
pub struct HealthPath(pub(crate) String);

impl HealthPath {
    pub fn parse(s: &str) -> Result<HealthPath, Invalid> {
        at_most(s, 200, "a URL path")?;
        let ok = s.starts_with('/')
            && s.chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '/' | '-' | '.' | '_' | '~'));
        if !ok {
            return Err(Invalid::new(
                format!("{} is not a URL path", shown(s)),
                "start with `/` and use only letters, digits and `/ - . _ ~`, e.g. `/health`",
            ));
        }
        Ok(HealthPath(s.into()))
    }
}

checked_string!(HealthPath);

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

/// useradd's grammar: lowercase letters, digits, `_` and `-`, starting with a letter or `_`,
/// at most 32 characters.
fn unix_name(s: &str, example: &str) -> Result<(), Invalid> {
    at_most(s, 32, "a Unix user name")?;
    let ok = s.starts_with(|c: char| c.is_ascii_lowercase() || c == '_')
        && s.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-');
    if !ok {
        return Err(Invalid::new(
            format!("{} is not a Unix user name", shown(s)),
            format!("use lowercase letters, digits, `_` and `-`, starting with a letter, e.g. `{example}`"),
        ));
    }
    Ok(())
}

/// The Unix user the service runs as: a new, unprivileged account. Lowercase letters, digits,
/// `_` and `-`, starting with a letter or `_`, at most 32 characters (useradd's limit), and not
/// root or a system account.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(try_from = "String")]
pub struct UnixUser(pub(crate) String);

impl UnixUser {
    pub fn parse(s: &str) -> Result<UnixUser, Invalid> {
        unix_name(s, "fastapi")?;
        if RESERVED_USERS.contains(&s) || s.starts_with("systemd-") {
            return Err(Invalid::new(
                format!("`{s}` is root or a system account"),
                "use a user of the service's own (created unprivileged at boot), e.g. `fastapi`",
            ));
        }
        Ok(UnixUser(s.into()))
    }
}

checked_string!(UnixUser);

/// The login user of the host's AMI (`ubuntu` on Ubuntu, `admin` on Debian): a Unix user name,
/// never root (AWS's AMIs refuse root logins).
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(try_from = "String")]
pub struct LoginUser(pub(crate) String);

impl LoginUser {
    pub fn parse(s: &str) -> Result<LoginUser, Invalid> {
        unix_name(s, "ubuntu")?;
        if s == "root" {
            return Err(Invalid::new(
                "`root` cannot log in on AWS's AMIs",
                "name the AMI's login user, e.g. `ubuntu`",
            ));
        }
        Ok(LoginUser(s.into()))
    }
}

checked_string!(LoginUser);

/// The AMI of the app host: the newest Canonical Ubuntu 24.04 LTS (`ubuntu-24.04`), or a pinned
/// id (`ami-` and 8 to 17 hex digits).
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(try_from = "String")]
pub enum Ami {
    Ubuntu2404,
    Pinned(String),
}

impl Ami {
    pub fn parse(s: &str) -> Result<Ami, Invalid> {
        if s == "ubuntu-24.04" {
            return Ok(Ami::Ubuntu2404);
        }
        let hex = s.strip_prefix("ami-").unwrap_or("");
        if (8..=17).contains(&hex.len()) && hex.chars().all(|c| c.is_ascii_hexdigit()) {
            return Ok(Ami::Pinned(s.to_string()));
        }
        Err(Invalid::new(
            format!("{} is not an AMI", shown(s)),
            "write `ubuntu-24.04` (lookup) or an id such as `ami-0123456789abcdef0`",
        ))
    }
}

parsed!(Ami);

/// An EC2 instance type such as `t3.micro`.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(try_from = "String")]
pub struct InstanceType(pub(crate) String);

impl InstanceType {
    pub fn parse(s: &str) -> Result<InstanceType, Invalid> {
        at_most(s, 32, "an instance type")?;
        let ok = matches!(s.split_once('.'), Some((fam, size)) if !fam.is_empty() && !size.is_empty()
            && fam.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
            && size.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit()));
        if !ok || s.starts_with("db.") {
            return Err(Invalid::new(
                format!("{} is not an EC2 instance type", shown(s)),
                "write one such as `t3.micro`",
            ));
        }
        Ok(InstanceType(s.to_string()))
    }
}

checked_string!(InstanceType);

/// An RDS instance class such as `db.t3.micro`.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(try_from = "String")]
pub struct DbClass(pub(crate) String);

impl DbClass {
    pub fn parse(s: &str) -> Result<DbClass, Invalid> {
        at_most(s, 32, "an instance class")?;
        let parts: Vec<&str> = s.split('.').collect();
        let ok = parts.len() == 3
            && parts[0] == "db"
            && parts[1..].iter().all(|p| {
                !p.is_empty()
                    && p.chars()
                        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
            });
        if !ok {
            return Err(Invalid::new(
                format!("{} is not an RDS instance class", shown(s)),
                "write one such as `db.t3.micro`",
            ));
        }
        Ok(DbClass(s.to_string()))
    }
}

checked_string!(DbClass);

/// A Postgres database name: letters, digits and `_`, starting with a letter.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(try_from = "String")]
pub struct DbName(pub(crate) String);

impl DbName {
    pub fn parse(s: &str) -> Result<DbName, Invalid> {
        let ok = (1..=63).contains(&s.len())
            && s.starts_with(|c: char| c.is_ascii_alphabetic())
            && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        if !ok {
            return Err(Invalid::new(
                format!("{} is not a database name", shown(s)),
                "use letters, digits and `_`, starting with a letter (at most 63)",
            ));
        }
        Ok(DbName(s.to_string()))
    }
}

checked_string!(DbName);

/// A GitHub repository `owner/name`: it lands in the roles' trust policies (`repo:owner/name:...`),
/// so no wildcard, separator or other character of IAM's condition grammar can be in it.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(try_from = "String")]
pub struct GithubRepo(pub(crate) String);

impl GithubRepo {
    pub fn parse(s: &str) -> Result<GithubRepo, Invalid> {
        let bad = |why: &str| {
            Err(Invalid::new(
                format!("{} is not a GitHub repository: {why}", shown(s)),
                "write it as `owner/name`, e.g. `example-org/fastapi-infra`",
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

checked_string!(GithubRepo);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_value_has_one_shape() {
        let b: BucketName = "fastapi-infra-dev-logs".parse().unwrap();
        assert_eq!(b.as_str(), "fastapi-infra-dev-logs");
        assert_eq!(b.to_string(), "fastapi-infra-dev-logs");
        assert_eq!(
            BucketName::try_from(String::from("fastapi-infra-dev-logs")),
            Ok(b)
        );
        let e = BucketName::try_from("ab").unwrap_err();
        assert_eq!(
            (e.problem.as_str(), e.fix.as_str()),
            (
                "`ab` is not a valid S3 bucket name: it has 2 characters, S3 needs 3 to 63",
                "shorten or lengthen it"
            )
        );
        assert_eq!(e.to_string(), format!("{}; fix: {}", e.problem, e.fix));
        let e = Cidr::parse("10.0.0.1/24").unwrap_err();
        assert_eq!(e.fix, "write the network address `10.0.0.0/24`");
        let c: Cidr = "10.0.0.0/8".parse().unwrap();
        assert_eq!((c.addr(), c.prefix()), (Ipv4Addr::new(10, 0, 0, 0), 8));
        let u: UnixUser = serde_json::from_str("\"fastapi\"").unwrap();
        assert_eq!(u.as_str(), "fastapi");
        let e = serde_json::from_str::<UnixUser>("\"root\"")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("is root or a system account; fix: use a user"),
            "{e}"
        );
        assert_eq!(
            resource_address("aws_s3_bucket.content"),
            Ok(tf::Address::resource("aws_s3_bucket", "content"))
        );
        assert!(resource_address("data.aws_vpc.default").is_err());
    }

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
        assert!(Cidr::parse("10.0.0.0/33")
            .unwrap_err()
            .to_string()
            .contains("0 to 32"));
        assert!(Cidr::parse("10.0.0.1/24")
            .unwrap_err()
            .to_string()
            .contains("10.0.0.0/24"));
        assert!(Cidr::parse("300.0.0.0/8")
            .unwrap_err()
            .to_string()
            .contains("not an IPv4 address"));
        assert!(Cidr::parse("10.0.0.0")
            .unwrap_err()
            .to_string()
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
            let e = BucketName::parse(name).unwrap_err().to_string();
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
            let e = KmsAlias::parse(bad).unwrap_err().to_string();
            assert!(e.contains(why) && e.contains("fix:"), "{bad}: {e}");
        }
        assert!(KmsAlias::parse(&format!("alias/{}", "a".repeat(251))).is_err());

        let alias =
            KmsKeyArn::parse("arn:aws:kms:us-east-1:123456789012:alias/fastapi-infra-tfstate")
                .unwrap();
        assert_eq!(alias.region(), "us-east-1");
        assert_eq!(
            alias.target(),
            &KmsTarget::Alias(KmsAlias::parse("alias/fastapi-infra-tfstate").unwrap())
        );
        let key = KmsKeyArn::parse(
            "arn:aws:kms:eu-west-3:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab",
        )
        .unwrap();
        assert_eq!(
            key.target(),
            &KmsTarget::Key("1234abcd-12ab-34cd-56ef-1234567890ab".into())
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
            let e = KmsKeyArn::parse(bad).unwrap_err().to_string();
            assert!(e.contains(why) && e.contains("fix:"), "{bad}: {e}");
        }
    }

    #[test]
    fn the_state_key_is_an_alias_name_or_an_arn() {
        let name = StateKey::parse("alias/fastapi-infra-tfstate").unwrap();
        assert_eq!(name.as_str(), "alias/fastapi-infra-tfstate");
        assert_eq!(
            name.alias().unwrap().as_str(),
            "alias/fastapi-infra-tfstate"
        );
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
            let e = StateKey::parse(bad).unwrap_err().to_string();
            assert!(e.contains("fix:"), "{bad}: {e}");
        }
    }

    #[test]
    fn names_are_checked() {
        assert!(Name::parse("").unwrap_err().to_string().contains("empty"));
        assert!(Name::parse("Prod").is_err());
        assert!(Name::parse("a_b").unwrap_err().to_string().contains("`_`"));
        assert!(Name::parse("fastapi-infra").is_ok());
    }
}
