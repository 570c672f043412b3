//! cost: a monthly estimate, per resource, of a Terraform document, from a committed and dated
//! price table per region (`crates/aws/prices/<region>.toml`, compiled in: no network at run
//! time). It prices what has a base price (instances, EBS, RDS instances and storage, NAT
//! gateways, public IPv4 addresses, load balancers, interface endpoints, KMS keys, alarms) and
//! says what grows with use instead (S3 storage, requests, data transfer, LCUs).
//!
//! The estimate reads the document, not the env file, so it prices exactly what is emitted and
//! `gen diff` can price the committed output and the new one alike.

use std::collections::BTreeMap;
use std::fmt;

use serde::Deserialize;
use tf::document::Key;
use tf::{Address, Document, Value};

/// The committed price tables: (region, file contents).
pub const PRICE_TABLES: &[(&str, &str)] =
    &[("us-east-1", include_str!("../prices/us-east-1.toml"))];

/// Where the price tables live, as messages name them.
pub const PRICES_DIR: &str = "crates/aws/prices";

/// Money in millionths of a US dollar: sums are exact and render the same everywhere.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
pub struct Usd(pub i64);

impl Usd {
    fn from_f64(v: f64) -> Usd {
        Usd((v * 1_000_000.0).round() as i64)
    }
    fn times(self, n: f64) -> Usd {
        Usd((self.0 as f64 * n).round() as i64)
    }
    /// `+$1.23` / `-$1.23` / `$0.00`.
    pub fn signed(self) -> String {
        match self.0.signum() {
            1 => format!("+{self}"),
            -1 => format!("-{}", Usd(-self.0)),
            _ => self.to_string(),
        }
    }
}

impl fmt::Display for Usd {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let cents = (self.0 + 5_000).div_euclid(10_000);
        write!(f, "${}.{:02}", cents / 100, cents % 100)
    }
}

impl std::ops::Add for Usd {
    type Output = Usd;
    fn add(self, o: Usd) -> Usd {
        Usd(self.0 + o.0)
    }
}

impl std::iter::Sum for Usd {
    fn sum<I: Iterator<Item = Usd>>(it: I) -> Usd {
        it.fold(Usd(0), |a, b| a + b)
    }
}

/// One region's prices (the TOML file's shape; unknown keys are refused).
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Prices {
    pub region: String,
    /// When the prices were read (YYYY-MM-DD).
    pub date: String,
    pub source: String,
    pub hours_per_month: f64,
    pub ec2: Ec2Prices,
    pub rds: RdsPrices,
    pub vpc: VpcPrices,
    pub elb: ElbPrices,
    pub kms: KmsPrices,
    pub cloudwatch: CloudWatchPrices,
    pub s3: S3Prices,
}

#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Ec2Prices {
    pub public_ipv4_hourly: f64,
    pub ebs_gp3_gb_month: f64,
    pub ebs_gp2_gb_month: f64,
    pub instance_hourly: BTreeMap<String, f64>,
}

#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct RdsPrices {
    pub gp3_gb_month: f64,
    pub gp2_gb_month: f64,
    pub postgres_hourly: BTreeMap<String, f64>,
}

#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct VpcPrices {
    pub nat_gateway_hourly: f64,
    pub interface_endpoint_hourly: f64,
}

#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ElbPrices {
    pub alb_hourly: f64,
}

#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct KmsPrices {
    pub customer_managed_key_month: f64,
}

#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct CloudWatchPrices {
    pub alarm_month: f64,
}

#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct S3Prices {
    pub standard_gb_month: f64,
}

/// The file a region's prices are in.
pub fn price_file(region: &str) -> String {
    format!("{PRICES_DIR}/{region}.toml")
}

/// The prices of `region`, checked: the file parses, names its own region, has a date and no
/// negative price.
pub fn prices(region: &str) -> Result<Prices, String> {
    let file = price_file(region);
    let Some((_, text)) = PRICE_TABLES.iter().find(|(r, _)| *r == region) else {
        let known: Vec<&str> = PRICE_TABLES.iter().map(|(r, _)| *r).collect();
        return Err(format!(
            "no price table for region `{region}` ({file} does not exist; known: {}); fix: add {file} (copy {}) with that region's prices from the pages its `source` names, and list it in aws::cost::PRICE_TABLES",
            known.join(", "),
            price_file(known[0])
        ));
    };
    parse_prices(region, text)
}

/// A price table's text, checked (see [`prices`]).
pub fn parse_prices(region: &str, text: &str) -> Result<Prices, String> {
    let file = price_file(region);
    let p: Prices = toml::from_str(text).map_err(|e| format!("{file}: {}", e.message()))?;
    if p.region != region {
        return Err(format!(
            "{file}: `region` is `{}`, not `{region}`; fix: correct it",
            p.region
        ));
    }
    let date_ok = p.date.len() == 10
        && p.date.char_indices().all(|(i, c)| {
            if i == 4 || i == 7 {
                c == '-'
            } else {
                c.is_ascii_digit()
            }
        });
    if !date_ok {
        return Err(format!(
            "{file}: `date` `{}` is not YYYY-MM-DD; fix: the day the prices were read",
            p.date
        ));
    }
    let scalars = [
        ("hours_per_month", p.hours_per_month),
        ("ec2.public_ipv4_hourly", p.ec2.public_ipv4_hourly),
        ("ec2.ebs_gp3_gb_month", p.ec2.ebs_gp3_gb_month),
        ("ec2.ebs_gp2_gb_month", p.ec2.ebs_gp2_gb_month),
        ("rds.gp3_gb_month", p.rds.gp3_gb_month),
        ("rds.gp2_gb_month", p.rds.gp2_gb_month),
        ("vpc.nat_gateway_hourly", p.vpc.nat_gateway_hourly),
        (
            "vpc.interface_endpoint_hourly",
            p.vpc.interface_endpoint_hourly,
        ),
        ("elb.alb_hourly", p.elb.alb_hourly),
        (
            "kms.customer_managed_key_month",
            p.kms.customer_managed_key_month,
        ),
        ("cloudwatch.alarm_month", p.cloudwatch.alarm_month),
        ("s3.standard_gb_month", p.s3.standard_gb_month),
    ];
    let tables = [
        ("ec2.instance_hourly", &p.ec2.instance_hourly),
        ("rds.postgres_hourly", &p.rds.postgres_hourly),
    ];
    let rows = tables
        .iter()
        .flat_map(|(t, m)| m.iter().map(move |(k, v)| (format!("{t}.\"{k}\""), *v)));
    let all = scalars.iter().map(|(k, v)| (k.to_string(), *v)).chain(rows);
    for (k, v) in all {
        if !v.is_finite() || v < 0.0 {
            return Err(format!(
                "{file}: `{k}` = {v} is not a price; fix: USD, 0 or more"
            ));
        }
    }
    Ok(p)
}

/// One priced item of one resource.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Line {
    pub address: String,
    pub item: String,
    pub monthly: Usd,
}

/// An estimate: the lines, what grows with use, and the resources the model does not know.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Estimate {
    pub region: String,
    pub date: String,
    pub file: String,
    pub lines: Vec<Line>,
    /// Resources billed by use only, with what they are billed for.
    pub usage: Vec<(String, String)>,
    pub total: Usd,
}

/// Resource types without a base price: free, or billed by use only (said in `usage`).
const FREE: &[&str] = &[
    "aws_iam_role",
    "aws_iam_role_policy",
    "aws_iam_role_policy_attachment",
    "aws_iam_instance_profile",
    "aws_iam_openid_connect_provider",
    "aws_iam_policy",
    "aws_security_group",
    "aws_vpc_security_group_ingress_rule",
    "aws_vpc_security_group_egress_rule",
    "aws_db_subnet_group",
    "aws_db_parameter_group",
    "aws_s3_bucket_versioning",
    "aws_s3_bucket_server_side_encryption_configuration",
    "aws_s3_bucket_public_access_block",
    "aws_s3_bucket_ownership_controls",
    "aws_s3_bucket_lifecycle_configuration",
    "aws_s3_bucket_policy",
    "aws_s3_bucket_logging",
    "aws_ssm_parameter",
    "aws_kms_alias",
    "aws_sns_topic_policy",
    "aws_sns_topic_subscription",
    "aws_vpc",
    "aws_subnet",
    "aws_internet_gateway",
    "aws_route_table",
    "aws_route",
    "aws_route_table_association",
    "aws_default_security_group",
    "aws_default_network_acl",
    "aws_launch_template",
    "aws_lb_listener",
    "aws_lb_listener_rule",
    "aws_lb_target_group",
    "aws_acm_certificate",
    "aws_acm_certificate_validation",
    "aws_route53_record",
    "aws_autoscaling_policy",
];

/// Resource types billed by use only, and for what.
const USAGE: &[(&str, &str)] = &[
    ("aws_s3_bucket", "per GB stored and per request"),
    ("aws_dynamodb_table", "on-demand: per request and GB stored"),
    ("aws_sns_topic", "per notification past the free tier"),
    ("aws_cloudwatch_log_group", "per GB ingested and stored"),
    ("aws_flow_log", "per GB of logs delivered"),
];

/// The estimate of a document (its region from the `aws` provider block).
pub fn estimate(doc: &Document) -> Result<Estimate, String> {
    let region = match doc
        .items
        .get(&Key::Provider("aws".into()))
        .and_then(|p| p.get("region"))
    {
        Some(Value::Str(r)) => r.clone(),
        _ => return Err("the document has no literal `aws` provider region to price".into()),
    };
    let p = prices(&region)?;
    let mut lines = Vec::new();
    let mut usage = Vec::new();
    let mut unknown = Vec::new();
    for (addr, body) in doc.blocks() {
        let Address::Resource { kind, .. } = addr else {
            continue;
        };
        if let Some((_, what)) = USAGE.iter().find(|(k, _)| k == kind) {
            usage.push((addr.to_string(), what.to_string()));
        } else if !FREE.contains(&kind.as_str()) {
            match price(&p, doc, addr, body)? {
                Some(mut ls) => lines.append(&mut ls),
                None => unknown.push(addr.to_string()),
            }
        }
    }
    if !unknown.is_empty() {
        return Err(format!(
            "{}: the cost model does not know {}; fix: price the type in aws::cost (or list it as free or usage-billed there)",
            price_file(&region),
            unknown.join(", ")
        ));
    }
    let total = lines.iter().map(|l| l.monthly).sum();
    Ok(Estimate {
        region,
        date: p.date.clone(),
        file: price_file(&p.region),
        lines,
        usage,
        total,
    })
}

fn str_at<'a>(body: &'a Value, path: &[&str]) -> Option<&'a str> {
    match body.at(path) {
        Some(Value::Str(s)) => Some(s),
        _ => None,
    }
}

fn int_at(body: &Value, path: &[&str]) -> Option<i64> {
    match body.at(path) {
        Some(Value::Int(n)) => Some(*n),
        _ => None,
    }
}

/// How many objects a block makes: 1, or its literal `count` / `for_each`.
fn copies(addr: &Address, body: &Value) -> Result<i64, String> {
    match (body.get("count"), body.get("for_each")) {
        (None, None) => Ok(1),
        (Some(Value::Int(n)), None) => Ok(*n),
        (None, Some(Value::List(v))) => Ok(v.len() as i64),
        (None, Some(Value::Object(kv))) => Ok(kv.len() as i64),
        _ => Err(format!(
            "{addr}: its `count`/`for_each` is not a literal, so the cost model cannot count its copies; fix: emit a literal count or one block per copy"
        )),
    }
}

fn missing(file: &str, table: &str, key: &str, addr: &Address, page: &str) -> String {
    format!(
        "{file}: no price for `{key}` in [{table}] (needed by {addr}); fix: add `\"{key}\" = <USD per hour>` under [{table}] from {page}, or choose a priced one ({file} lists them)"
    )
}

/// The lines of one resource; `None` when the type is not in the model.
fn price(
    p: &Prices,
    doc: &Document,
    addr: &Address,
    body: &Value,
) -> Result<Option<Vec<Line>>, String> {
    let file = price_file(&p.region);
    let hours = p.hours_per_month;
    let n = copies(addr, body)? as f64;
    let line = |item: String, monthly: f64| Line {
        address: addr.to_string(),
        item,
        monthly: Usd::from_f64(monthly).times(n),
    };
    let kind = addr.kind().unwrap_or("");
    let lines = match kind {
        "aws_instance" => {
            let ty = str_at(body, &["instance_type"]).unwrap_or("");
            let mut ls = vec![instance_line(p, &file, addr, ty, hours, &line)?];
            ls.extend(volume_line(p, body.at(&["root_block_device"]), &line));
            if !matches!(
                body.get("associate_public_ip_address"),
                Some(Value::Bool(false))
            ) {
                ls.push(line(
                    "public IPv4 address".into(),
                    p.ec2.public_ipv4_hourly * hours,
                ));
            }
            ls
        }
        "aws_autoscaling_group" => autoscaling(p, &file, doc, addr, body, &line)?,
        "aws_db_instance" => database(p, &file, addr, body, &line)?,
        "aws_nat_gateway" => vec![line(
            "NAT gateway, 730 h (plus per GB processed)".into(),
            p.vpc.nat_gateway_hourly * hours,
        )],
        "aws_eip" => vec![line(
            "Elastic IP: public IPv4 address".into(),
            p.ec2.public_ipv4_hourly * hours,
        )],
        "aws_lb" => vec![line(
            "Application Load Balancer, 730 h (plus LCUs and its public IPv4 addresses)".into(),
            p.elb.alb_hourly * hours,
        )],
        "aws_vpc_endpoint" => match str_at(body, &["vpc_endpoint_type"]) {
            Some("Interface") => {
                let zones = match body.get("subnet_ids") {
                    Some(Value::List(v)) => v.len().max(1),
                    _ => 1,
                };
                vec![line(
                    format!("interface endpoint in {zones} zone(s)"),
                    p.vpc.interface_endpoint_hourly * hours * zones as f64,
                )]
            }
            _ => vec![line("gateway endpoint (free)".into(), 0.0)],
        },
        "aws_kms_key" => vec![line(
            "customer-managed KMS key (plus requests)".into(),
            p.kms.customer_managed_key_month,
        )],
        "aws_cloudwatch_metric_alarm" => {
            vec![line("metric alarm".into(), p.cloudwatch.alarm_month)]
        }
        _ => return Ok(None),
    };
    Ok(Some(lines))
}

fn instance_line(
    p: &Prices,
    file: &str,
    addr: &Address,
    ty: &str,
    hours: f64,
    line: &dyn Fn(String, f64) -> Line,
) -> Result<Line, String> {
    let hourly = p.ec2.instance_hourly.get(ty).ok_or_else(|| {
        missing(
            file,
            "ec2.instance_hourly",
            ty,
            addr,
            "https://aws.amazon.com/ec2/pricing/on-demand/",
        )
    })?;
    Ok(line(format!("{ty}, {hours} h"), hourly * hours))
}

fn volume_line(
    p: &Prices,
    dev: Option<&Value>,
    line: &dyn Fn(String, f64) -> Line,
) -> Option<Line> {
    let dev = match dev? {
        Value::List(v) => v.first()?,
        v => v,
    };
    let gb = int_at(dev, &["volume_size"])?;
    let (ty, per_gb) = match str_at(dev, &["volume_type"]) {
        Some("gp2") => ("gp2", p.ec2.ebs_gp2_gb_month),
        _ => ("gp3", p.ec2.ebs_gp3_gb_month),
    };
    Some(line(format!("EBS {ty} {gb} GB"), per_gb * gb as f64))
}

fn database(
    p: &Prices,
    file: &str,
    addr: &Address,
    body: &Value,
    line: &dyn Fn(String, f64) -> Line,
) -> Result<Vec<Line>, String> {
    let engine = str_at(body, &["engine"]).unwrap_or("");
    if engine != "postgres" {
        return Err(format!("{file}: {addr}: the cost model prices the `postgres` engine only, not `{engine}`; fix: add its prices to aws::cost"));
    }
    let class = str_at(body, &["instance_class"]).unwrap_or("");
    let hourly = p.rds.postgres_hourly.get(class).ok_or_else(|| {
        missing(
            file,
            "rds.postgres_hourly",
            class,
            addr,
            "https://aws.amazon.com/rds/postgresql/pricing/",
        )
    })?;
    let multi = matches!(body.get("multi_az"), Some(Value::Bool(true)));
    let (copies, how) = if multi {
        (2.0, "Multi-AZ")
    } else {
        (1.0, "Single-AZ")
    };
    let gb = int_at(body, &["allocated_storage"]).unwrap_or(0);
    let (st, per_gb) = match str_at(body, &["storage_type"]) {
        Some("gp2") => ("gp2", p.rds.gp2_gb_month),
        _ => ("gp3", p.rds.gp3_gb_month),
    };
    let hours = p.hours_per_month;
    Ok(vec![
        line(format!("{class} {how}, {hours} h"), hourly * hours * copies),
        line(
            format!("storage {st} {gb} GB {how}"),
            per_gb * gb as f64 * copies,
        ),
    ])
}

/// An Auto Scaling group: `desired_capacity` hosts of its launch template.
fn autoscaling(
    p: &Prices,
    file: &str,
    doc: &Document,
    addr: &Address,
    body: &Value,
    line: &dyn Fn(String, f64) -> Line,
) -> Result<Vec<Line>, String> {
    let hosts = int_at(body, &["desired_capacity"])
        .or_else(|| int_at(body, &["min_size"]))
        .ok_or_else(|| format!("{addr}: no literal desired_capacity or min_size to price"))?;
    let template = body
        .at(&["launch_template"])
        .map(|v| match v {
            Value::List(l) => l.first().cloned().unwrap_or(Value::Null),
            v => v.clone(),
        })
        .and_then(|lt| {
            lt.get("id")
                .or(lt.get("name"))
                .map(|v| v.blocks_named().into_iter().cloned().collect::<Vec<_>>())
        })
        .and_then(|a| a.into_iter().next())
        .ok_or_else(|| {
            format!("{addr}: its launch_template does not reference a launch template block")
        })?;
    let lt = doc
        .block(&template)
        .ok_or_else(|| format!("{addr}: {template} is not in the document"))?;
    let ty = str_at(lt, &["instance_type"]).unwrap_or("");
    let per_host = |l: Line| Line {
        item: format!("{hosts} x {}", l.item),
        monthly: l.monthly.times(hosts as f64),
        ..l
    };
    let hours = p.hours_per_month;
    let mut ls = vec![per_host(instance_line(p, file, addr, ty, hours, line)?)];
    let ebs = match lt.at(&["block_device_mappings"]) {
        Some(Value::List(v)) => v.first().and_then(|m| m.get("ebs")),
        Some(m) => m.get("ebs"),
        None => None,
    };
    ls.extend(volume_line(p, ebs, line).map(per_host));
    let public = match lt.at(&["network_interfaces"]) {
        Some(Value::List(v)) => v.first().and_then(|n| n.get("associate_public_ip_address")),
        Some(n) => n.get("associate_public_ip_address"),
        None => None,
    };
    if matches!(public, Some(Value::Bool(true))) {
        ls.push(per_host(line(
            "public IPv4 address".into(),
            p.ec2.public_ipv4_hourly * hours,
        )));
    }
    Ok(ls)
}

impl Estimate {
    /// The estimate as aligned text, one line per priced item, then the total and what grows
    /// with use.
    pub fn render_text(&self, env: &str) -> String {
        let w_addr = self
            .lines
            .iter()
            .map(|l| l.address.len())
            .max()
            .unwrap_or(0);
        let w_item = self.lines.iter().map(|l| l.item.len()).max().unwrap_or(0);
        let mut out = format!(
            "{env} ({}): monthly estimate, on-demand prices of {} ({})\n",
            self.region, self.date, self.file
        );
        for l in &self.lines {
            out.push_str(&format!(
                "  {:w_addr$}  {:w_item$}  {:>9}\n",
                l.address,
                l.item,
                l.monthly.to_string()
            ));
        }
        out.push_str(&format!(
            "  {:w$}  {:>9}\n",
            "total",
            self.total.to_string(),
            w = w_addr + w_item + 2
        ));
        if !self.usage.is_empty() {
            let mut by_what: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
            for (a, what) in &self.usage {
                by_what.entry(what).or_default().push(a);
            }
            out.push_str("  not included, billed by use:\n");
            for (what, addrs) in by_what {
                out.push_str(&format!("    {what}: {}\n", addrs.join(", ")));
            }
        }
        out.push_str(
            "  not included: data transfer, and request charges of KMS, SSM and CloudWatch\n",
        );
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tf::{Body, Stack};

    fn doc(build: impl FnOnce(&mut Stack)) -> Document {
        let mut s = Stack::default();
        s.provider("aws", Body::new().attr("region", "us-east-1"));
        build(&mut s);
        Document::from_stack(&s)
    }

    #[test]
    fn every_committed_price_table_parses_and_is_listed() {
        for (region, _) in PRICE_TABLES {
            let p = prices(region).unwrap();
            assert!(!p.ec2.instance_hourly.is_empty() && !p.rds.postgres_hourly.is_empty());
        }
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/prices");
        for e in std::fs::read_dir(dir).unwrap() {
            let name = e.unwrap().file_name().into_string().unwrap();
            let region = name
                .strip_suffix(".toml")
                .expect("only .toml files in prices/");
            assert!(
                PRICE_TABLES.iter().any(|(r, _)| *r == region),
                "{name} is not in PRICE_TABLES"
            );
        }
    }

    #[test]
    fn a_bad_price_table_is_refused() {
        let good = PRICE_TABLES[0].1;
        assert!(parse_prices("us-east-1", good).is_ok());
        for (bad, needle) in [
            (
                good.replace("\"t3.micro\" = 0.0104", "\"t3.micro\" = -0.0104"),
                "`ec2.instance_hourly.\"t3.micro\"` = -0.0104 is not a price",
            ),
            (
                good.replace("alb_hourly = 0.0225", "alb_hourly = -1.0"),
                "`elb.alb_hourly`",
            ),
            (good.replace("date = \"", "date = \"x"), "is not YYYY-MM-DD"),
            (good.replace("[kms]", "[kms]\nextra = 1"), "unknown field"),
            (good.replace("alarm_month = 0.10", ""), "missing field"),
        ] {
            let e = parse_prices("us-east-1", &bad).unwrap_err();
            assert!(
                e.starts_with("crates/aws/prices/us-east-1.toml: ") && e.contains(needle),
                "{needle}: {e}"
            );
        }
        assert!(parse_prices("eu-west-1", good)
            .unwrap_err()
            .contains("not `eu-west-1`"));
    }

    #[test]
    fn money_is_exact_and_rounds_to_cents() {
        assert_eq!(Usd::from_f64(0.0104 * 730.0).to_string(), "$7.59");
        assert_eq!(Usd(1_234_999).to_string(), "$1.23");
        assert_eq!(Usd(1_235_000).to_string(), "$1.24");
        assert_eq!(Usd(-7_300_000).signed(), "-$7.30");
        assert_eq!(Usd(7_300_000).signed(), "+$7.30");
        assert_eq!(Usd(0).signed(), "$0.00");
    }

    #[test]
    fn instances_databases_and_nat_are_priced() {
        let d = doc(|s| {
            s.resource(
                "aws_instance",
                "app",
                Body::new().attr("instance_type", "t3.micro").block(
                    "root_block_device",
                    Body::new()
                        .attr("volume_type", "gp3")
                        .attr("volume_size", 20u32),
                ),
            );
            s.resource(
                "aws_db_instance",
                "this",
                Body::new()
                    .attr("engine", "postgres")
                    .attr("instance_class", "db.t3.micro")
                    .attr("allocated_storage", 50u32)
                    .attr("storage_type", "gp3")
                    .attr("multi_az", true),
            );
            s.resource("aws_nat_gateway", "a", Body::new().attr("count", 2i64));
            s.resource("aws_s3_bucket", "content", Body::new());
        });
        let e = estimate(&d).unwrap();
        let get = |item: &str| {
            e.lines
                .iter()
                .find(|l| l.item.starts_with(item))
                .unwrap_or_else(|| panic!("{item}: {e:?}"))
                .monthly
        };
        assert_eq!(get("t3.micro"), Usd(7_592_000)); // 0.0104 x 730
        assert_eq!(get("EBS gp3 20 GB"), Usd(1_600_000));
        assert_eq!(get("public IPv4"), Usd(3_650_000));
        assert_eq!(get("db.t3.micro Multi-AZ"), Usd(26_280_000)); // 0.018 x 730 x 2
        assert_eq!(get("storage gp3 50 GB Multi-AZ"), Usd(11_500_000)); // 0.115 x 50 x 2
        assert_eq!(get("NAT gateway"), Usd(65_700_000)); // 2 x 0.045 x 730
        assert_eq!(e.total, e.lines.iter().map(|l| l.monthly).sum());
        assert_eq!(
            e.usage,
            vec![(
                "aws_s3_bucket.content".to_string(),
                "per GB stored and per request".to_string()
            )]
        );
    }

    #[test]
    fn an_unknown_class_names_the_file_the_key_and_the_fix() {
        let d = doc(|s| {
            s.resource(
                "aws_instance",
                "app",
                Body::new().attr("instance_type", "t3.mega"),
            );
        });
        let e = estimate(&d).unwrap_err();
        assert!(
            e.contains("crates/aws/prices/us-east-1.toml")
                && e.contains("`t3.mega`")
                && e.contains("[ec2.instance_hourly]")
                && e.contains("fix:"),
            "{e}"
        );
        let d = doc(|s| {
            s.resource(
                "aws_db_instance",
                "this",
                Body::new()
                    .attr("engine", "postgres")
                    .attr("instance_class", "db.x9.huge"),
            );
        });
        assert!(estimate(&d).unwrap_err().contains("[rds.postgres_hourly]"));
    }

    #[test]
    fn an_unknown_region_or_resource_type_is_an_error() {
        let mut s = Stack::default();
        s.provider("aws", Body::new().attr("region", "eu-west-3"));
        let e = estimate(&Document::from_stack(&s)).unwrap_err();
        assert!(
            e.contains("crates/aws/prices/eu-west-3.toml does not exist") && e.contains("fix:"),
            "{e}"
        );
        let d = doc(|s| {
            s.resource("aws_elasticache_cluster", "c", Body::new());
        });
        assert!(estimate(&d)
            .unwrap_err()
            .contains("does not know aws_elasticache_cluster.c"));
    }

    #[test]
    fn an_autoscaling_group_is_priced_per_desired_host() {
        let d = doc(|s| {
            let lt = s.resource(
                "aws_launch_template",
                "app",
                Body::new().attr("instance_type", "t3.small").block(
                    "block_device_mappings",
                    Body::new().attr("device_name", "/dev/sda1").block(
                        "ebs",
                        Body::new()
                            .attr("volume_size", 30u32)
                            .attr("volume_type", "gp3"),
                    ),
                ),
            );
            s.resource(
                "aws_autoscaling_group",
                "app",
                Body::new()
                    .attr("desired_capacity", 2u32)
                    .block("launch_template", Body::new().attr("id", lt.attr("id"))),
            );
        });
        let e = estimate(&d).unwrap();
        assert_eq!(e.lines.len(), 2, "{e:?}");
        assert_eq!(e.lines[0].item, "2 x t3.small, 730 h");
        assert_eq!(e.lines[0].monthly, Usd(30_368_000)); // 2 x 0.0208 x 730
        assert_eq!(e.lines[1].monthly, Usd(4_800_000)); // 2 x 30 x 0.08
    }
}
