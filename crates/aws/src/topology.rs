//! `[network]` and `[serving]`: where an environment lives and how its app is served.
//!
//! Both tables are optional: without them an env is the MVP (`default-vpc`, `single-host`).
//! Values that can be wrong on their own are checked when read; rules that span keys (a
//! private network needs two zones, a load balancer needs a health path...) are checked by
//! [`check`], which names the key.

use std::fmt;

use serde::de::{self, Deserializer};
use serde::Deserialize;

use crate::env::{shown, Cidr};

/// `network.mode`.
#[derive(Clone, Copy, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum NetworkMode {
    /// The region's default VPC, looked up (the MVP).
    #[default]
    DefaultVpc,
    /// A VPC of the env's own across two or more zones: public subnets (load balancer, NAT)
    /// and private subnets (hosts, database), NAT, an S3 gateway endpoint, flow logs.
    Private,
}

/// `network.nat_gateways`: one NAT gateway for the VPC (cheaper; the zones' private subnets
/// lose the internet when its zone fails) or one per zone.
#[derive(Clone, Copy, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum NatGateways {
    #[default]
    One,
    PerZone,
}

/// `[network]`.
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Network {
    #[serde(default)]
    pub mode: NetworkMode,
    /// The VPC's IPv4 range (`private` only), a /16 to a /24.
    pub vpc_cidr: Option<Cidr>,
    /// The Availability Zones, in order (`private` only): at least two.
    #[serde(default)]
    pub zones: Vec<Zone>,
    #[serde(default)]
    pub nat_gateways: NatGateways,
}

/// `serving.mode`.
#[derive(Clone, Copy, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum ServingMode {
    /// One EC2 instance reached on its port (the MVP).
    #[default]
    SingleHost,
    /// An HTTPS Application Load Balancer in front of an Auto Scaling group.
    LoadBalanced,
}

/// `[serving]`.
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Serving {
    #[serde(default)]
    pub mode: ServingMode,
    /// The Auto Scaling group's sizes (`load-balanced` only).
    pub min_hosts: Option<u32>,
    pub max_hosts: Option<u32>,
    pub desired_hosts: Option<u32>,
    /// The name clients use; the ACM certificate is for it (`load-balanced`: required).
    pub domain: Option<DomainName>,
    /// The Route 53 public hosted zone that holds `domain`: the certificate's validation
    /// record and the domain's alias record go there.
    pub hosted_zone: Option<DomainName>,
    /// `true` (default): validate the certificate through `hosted_zone`. `false`: you add the
    /// validation record yourself (output `certificate_validation_records`); apply waits for it.
    #[serde(default = "yes")]
    pub dns_validation: bool,
}

fn yes() -> bool {
    true
}

/// The most hosts an Auto Scaling group of this tool may have.
pub const MAX_HOSTS: u32 = 20;

/// An Availability Zone name of the env's region: the region and one letter (`us-east-1a`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Zone(pub String);

impl Zone {
    pub fn parse(s: &str) -> Result<Zone, String> {
        let ok = s.len() <= 32
            && s.ends_with(|c: char| c.is_ascii_lowercase())
            && s[..s.len() - 1].ends_with(|c: char| c.is_ascii_digit())
            && s.split('-').count() >= 3
            && s.chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
        if !ok {
            return Err(format!(
                "{} is not an Availability Zone name; write the region and a letter, e.g. `us-east-1a`",
                shown(s)
            ));
        }
        Ok(Zone(s.to_string()))
    }

    /// The region the zone belongs to.
    pub fn region(&self) -> &str {
        &self.0[..self.0.len() - 1]
    }

    /// The zone's letter, for resource names (`us-east-1a` gives `a`).
    pub fn letter(&self) -> &str {
        &self.0[self.0.len() - 1..]
    }
}

impl<'de> Deserialize<'de> for Zone {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Zone::parse(&String::deserialize(d)?).map_err(de::Error::custom)
    }
}

impl fmt::Display for Zone {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A DNS name ACM and Route 53 accept: two or more labels of 1 to 63 lowercase letters, digits
/// and hyphens (no hyphen at either end), 253 characters at most, no trailing dot, no wildcard
/// (ACM User Guide, "Request a public certificate": fully qualified domain name, up to 253
/// characters, labels up to 63).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DomainName(pub String);

impl DomainName {
    pub fn parse(s: &str) -> Result<DomainName, String> {
        let fix =
            "write a fully qualified name such as `api.example.com` (lowercase, no trailing dot)";
        if s.is_empty() || s.len() > 253 {
            return Err(format!(
                "{} has {} characters; a domain name has 1 to 253; {fix}",
                shown(s),
                s.len()
            ));
        }
        let labels: Vec<&str> = s.split('.').collect();
        let label_ok = |l: &&str| {
            (1..=63).contains(&l.len())
                && !l.starts_with('-')
                && !l.ends_with('-')
                && l.chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        };
        if labels.len() < 2 || !labels.iter().all(label_ok) {
            return Err(format!("{} is not a domain name; {fix}", shown(s)));
        }
        Ok(DomainName(s.to_string()))
    }

    /// `self` is `zone` or a name under it.
    pub fn is_in(&self, zone: &DomainName) -> bool {
        self.0 == zone.0 || self.0.ends_with(&format!(".{}", zone.0))
    }
}

impl<'de> Deserialize<'de> for DomainName {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        DomainName::parse(&String::deserialize(d)?).map_err(de::Error::custom)
    }
}

impl fmt::Display for DomainName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Regions whose load balancers deliver access logs as the regional Elastic Load Balancing
/// account (`data.aws_elb_service_account`): the Regions available before August 2022. Newer
/// Regions need the `logdelivery.elasticloadbalancing.amazonaws.com` principal instead
/// (ELB User Guide, "Enable access logs for your Application Load Balancer").
pub const ELB_ACCOUNT_REGIONS: &[&str] = &[
    "us-east-1",
    "us-east-2",
    "us-west-1",
    "us-west-2",
    "af-south-1",
    "ap-east-1",
    "ap-southeast-3",
    "ap-south-1",
    "ap-northeast-3",
    "ap-northeast-2",
    "ap-southeast-1",
    "ap-southeast-2",
    "ap-northeast-1",
    "ca-central-1",
    "eu-central-1",
    "eu-west-1",
    "eu-west-2",
    "eu-south-1",
    "eu-west-3",
    "eu-north-1",
    "me-south-1",
    "sa-east-1",
];

/// The whole of a load-balanced env's settings, checked: what the modules read.
#[derive(Clone, Debug, PartialEq)]
pub struct Fleet {
    pub min: u32,
    pub max: u32,
    pub desired: u32,
    pub domain: DomainName,
    /// `None`: the user validates the certificate (and points the name) by hand.
    pub hosted_zone: Option<DomainName>,
}

/// A private network's settings, checked.
#[derive(Clone, Debug, PartialEq)]
pub struct PrivateNet {
    pub vpc_cidr: Cidr,
    pub zones: Vec<Zone>,
    pub nat_gateways: NatGateways,
}

/// A broken rule between keys: the key and what to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyError {
    pub key: &'static str,
    pub message: String,
}

fn bad<T>(key: &'static str, message: impl Into<String>) -> Result<T, KeyError> {
    Err(KeyError {
        key,
        message: message.into(),
    })
}

/// The checked settings of an env whose `[network]`/`[serving]` are not the MVP's.
#[derive(Clone, Debug, PartialEq)]
pub enum Topology {
    /// `default-vpc` + `single-host`.
    Mvp,
    /// `private` + `load-balanced`.
    HighlyAvailable { net: PrivateNet, fleet: Fleet },
}

/// What the env says it needs, besides these tables, for the cross-key rules.
pub struct Context<'a> {
    pub region: &'a str,
    pub health_path_set: bool,
    pub ssh_ingress: bool,
}

/// Check `[network]` and `[serving]` together.
pub fn check(net: &Network, serving: &Serving, cx: &Context) -> Result<Topology, KeyError> {
    match (net.mode, serving.mode) {
        (NetworkMode::DefaultVpc, ServingMode::SingleHost) => {
            mvp_has_no_extras(net, serving)?;
            Ok(Topology::Mvp)
        }
        (NetworkMode::Private, ServingMode::SingleHost) => bad(
            "serving.mode",
            "a `private` network puts the host in a private subnet, where no client reaches a single host; fix: set `serving.mode = \"load-balanced\"` (the load balancer sits in the public subnets), or `network.mode = \"default-vpc\"`",
        ),
        (NetworkMode::DefaultVpc, ServingMode::LoadBalanced) => bad(
            "network.mode",
            "`load-balanced` hosts have no public IP and reach the internet (packages, AWS APIs) through NAT, which the default VPC lacks; fix: set `network.mode = \"private\"`",
        ),
        (NetworkMode::Private, ServingMode::LoadBalanced) => Ok(Topology::HighlyAvailable {
            net: private_net(net, cx)?,
            fleet: fleet(serving, cx)?,
        }),
    }
}

fn mvp_has_no_extras(net: &Network, serving: &Serving) -> Result<(), KeyError> {
    let unused = |key: &'static str, set: bool, mode: &str| {
        if set {
            bad(
                key,
                format!("it applies to `{mode}` only; fix: remove it, or set that mode"),
            )
        } else {
            Ok(())
        }
    };
    unused(
        "network.vpc_cidr",
        net.vpc_cidr.is_some(),
        "network.mode = \"private\"",
    )?;
    unused(
        "network.zones",
        !net.zones.is_empty(),
        "network.mode = \"private\"",
    )?;
    let lb = "serving.mode = \"load-balanced\"";
    unused("serving.min_hosts", serving.min_hosts.is_some(), lb)?;
    unused("serving.max_hosts", serving.max_hosts.is_some(), lb)?;
    unused("serving.desired_hosts", serving.desired_hosts.is_some(), lb)?;
    unused("serving.domain", serving.domain.is_some(), lb)?;
    unused("serving.hosted_zone", serving.hosted_zone.is_some(), lb)
}

fn private_net(net: &Network, cx: &Context) -> Result<PrivateNet, KeyError> {
    let Some(cidr) = net.vpc_cidr.clone() else {
        return bad(
            "network.vpc_cidr",
            "a `private` network needs its range; fix: add e.g. `vpc_cidr = \"10.20.0.0/16\"`",
        );
    };
    if !(16..=24).contains(&cidr.prefix()) || !is_private_range(&cidr) {
        return bad(
            "network.vpc_cidr",
            format!("`{cidr}` must be a /16 to /24 (VPC's limits) inside 10.0.0.0/8, 172.16.0.0/12 or 192.168.0.0/16 (RFC 1918); fix: e.g. `10.20.0.0/16`"),
        );
    }
    if net.zones.len() < 2 {
        return bad(
            "network.zones",
            format!(
                "a `private` network needs at least two Availability Zones (it has {}): the load balancer and the database's subnet group both need two; fix: e.g. `zones = [\"{r}a\", \"{r}b\"]`",
                net.zones.len(),
                r = cx.region
            ),
        );
    }
    // Each zone takes two subnets of a sixteenth of the VPC.
    if net.zones.len() > 8 {
        return bad("network.zones", "at most 8 zones; fix: name fewer");
    }
    for (i, z) in net.zones.iter().enumerate() {
        if z.region() != cx.region {
            return bad(
                "network.zones",
                format!(
                    "`{z}` is not a zone of the env's region `{}`; fix: use zones of `{}`",
                    cx.region, cx.region
                ),
            );
        }
        if net.zones[..i].contains(z) {
            return bad(
                "network.zones",
                format!("`{z}` is named twice; fix: name each zone once"),
            );
        }
    }
    Ok(PrivateNet {
        vpc_cidr: cidr,
        zones: net.zones.clone(),
        nat_gateways: net.nat_gateways,
    })
}

fn is_private_range(c: &Cidr) -> bool {
    let o = c.addr().octets();
    o[0] == 10
        || (o[0] == 172 && (16..32).contains(&o[1]) && c.prefix() >= 12)
        || (o[0] == 192 && o[1] == 168)
}

fn fleet(s: &Serving, cx: &Context) -> Result<Fleet, KeyError> {
    if !cx.health_path_set {
        return bad(
            "app.health_path",
            "`load-balanced` needs the path the load balancer health-checks (it decides which hosts get traffic and gates instance refresh); fix: add e.g. `health_path = \"/health\"` to [app]",
        );
    }
    if cx.ssh_ingress {
        return bad(
            "app.ssh_ingress_cidrs",
            "`load-balanced` hosts take no SSH at all: they are reached with SSM Session Manager (scripts/ssh.sh does it); fix: set `ssh_ingress_cidrs = []`",
        );
    }
    if !ELB_ACCOUNT_REGIONS.contains(&cx.region) {
        return bad(
            "region",
            format!("`{}` is not a Region whose load balancers log as the regional Elastic Load Balancing account, which the logs bucket's policy names; fix: use one of {}", cx.region, ELB_ACCOUNT_REGIONS.join(", ")),
        );
    }
    let (min, max) = (s.min_hosts.unwrap_or(2), s.max_hosts.unwrap_or(4));
    let desired = s.desired_hosts.unwrap_or(min);
    if min < 1 || max > MAX_HOSTS || min > max {
        return bad(
            "serving.max_hosts",
            format!("min_hosts {min} and max_hosts {max}: need 1 <= min_hosts <= max_hosts <= {MAX_HOSTS}; fix: change them"),
        );
    }
    if !(min..=max).contains(&desired) {
        return bad(
            "serving.desired_hosts",
            format!("{desired} is outside min_hosts..max_hosts ({min}..{max}); fix: pick a number between them"),
        );
    }
    let Some(domain) = s.domain.clone() else {
        return bad(
            "serving.domain",
            "`load-balanced` serves HTTPS, and ACM issues certificates only for your own names (not the load balancer's amazonaws.com name); fix: add e.g. `domain = \"api.example.com\"`",
        );
    };
    let hosted_zone = match (&s.hosted_zone, s.dns_validation) {
        (None, true) => {
            return bad(
                "serving.hosted_zone",
                format!("`serving.dns_validation` is on but no hosted zone is named to validate `{domain}` in; fix: add `hosted_zone = \"<your Route 53 zone>\"`, or set `dns_validation = false` and add the validation record yourself"),
            )
        }
        (Some(z), true) if !domain.is_in(z) => {
            return bad(
                "serving.hosted_zone",
                format!("`{domain}` is not in the zone `{z}`; fix: name the zone that holds the domain"),
            )
        }
        (Some(_), false) => {
            return bad(
                "serving.hosted_zone",
                "`dns_validation = false` validates by hand, so the zone would be unused; fix: remove `hosted_zone` or set `dns_validation = true`",
            )
        }
        (z, _) => z.clone(),
    };
    Ok(Fleet {
        min,
        max,
        desired,
        domain,
        hosted_zone,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zones_and_domains_are_checked() {
        assert_eq!(Zone::parse("us-east-1a").unwrap().region(), "us-east-1");
        assert_eq!(Zone::parse("eu-west-3c").unwrap().letter(), "c");
        for bad in ["us-east-1", "useast1a", "us-east-1A", "us-east-1a;rm", ""] {
            assert!(Zone::parse(bad).is_err(), "{bad}");
        }
        assert!(DomainName::parse("api.example.com").is_ok());
        for bad in [
            "example",
            "api.example.com.",
            "-a.example.com",
            "*.example.com",
            "A.example.com",
            "a..b",
        ] {
            assert!(DomainName::parse(bad).is_err(), "{bad}");
        }
        let d = DomainName::parse("api.example.com").unwrap();
        assert!(d.is_in(&DomainName::parse("example.com").unwrap()));
        assert!(!d.is_in(&DomainName::parse("ample.com").unwrap()));
    }
}
