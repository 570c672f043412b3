//! alarms: an encrypted SNS topic (an email subscription when the env names an address) and
//! CloudWatch alarms on the app hosts, the database and, for load-balanced envs, the load
//! balancer. Thresholds come from `[alarms]` (see `env::Alarms`).
//!
//! AWS rules this module relies on, each checked by [`check_alarm`] on every emitted alarm
//! (`rules::check_app` runs it before anything is written):
//! - Each metric exists in its namespace only with the dimension sets CloudWatch publishes, and
//!   only some statistics are meaningful ([`METRICS`]: CloudWatch metric pages of EC2, RDS and
//!   Elastic Load Balancing). An alarm whose dimensions are not one of those sets watches a
//!   metric that never has data.
//! - `period` is 10, 20, 30 or a multiple of 60 (the first three for high-resolution metrics
//!   only, which these are not); `period x evaluation_periods` is at most one day when the
//!   period is under an hour, else seven days; `datapoints_to_alarm` at most
//!   `evaluation_periods`; at most 5 alarm actions; an alarm name of 1 to 255 characters
//!   (CloudWatch API Reference, PutMetricAlarm).
//! - CloudWatch can publish to an encrypted topic only when the topic's KMS key lets
//!   `cloudwatch.amazonaws.com` use it (`kms:Decrypt`, `kms:GenerateDataKey*`); the key policy
//!   of the AWS-managed `alias/aws/sns` cannot be changed, so the topic has a customer-managed
//!   key of its own (SNS Developer Guide, "Key management": compatibility with AWS services).

use tf::{Address, Body, Expr, Piece, Stack, Value};

use crate::env::Alarms as Thresholds;
use crate::env::Email;
use crate::{
    AccountId, DbInstanceId, InstanceId, LoadBalancerArnSuffix, Naming, Partition,
    TargetGroupArnSuffix, TopicArn,
};

/// A CloudWatch metric as AWS publishes it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Metric {
    pub namespace: &'static str,
    pub name: &'static str,
    /// The dimension sets CloudWatch publishes this metric with.
    pub dimension_sets: &'static [&'static [&'static str]],
    /// The statistics AWS calls meaningful for it.
    pub statistics: &'static [&'static str],
    /// Whether percentiles (`extended_statistic = "pNN"`) are meaningful.
    pub percentiles: bool,
}

const ALB_ALL: &[&[&str]] = &[
    &["LoadBalancer"],
    &["AvailabilityZone", "LoadBalancer"],
    &["LoadBalancer", "TargetGroup"],
    &["AvailabilityZone", "LoadBalancer", "TargetGroup"],
];
const MIN_MAX_AVG: &[&str] = &["Average", "Minimum", "Maximum"];

/// EC2: `StatusCheckFailed` (instance or system check failed: 0 or 1 each minute, reported at
/// one-minute frequency for every instance, no detailed monitoring needed).
pub const EC2_STATUS_CHECK_FAILED: Metric = Metric {
    namespace: "AWS/EC2",
    name: "StatusCheckFailed",
    dimension_sets: &[&["InstanceId"], &["AutoScalingGroupName"]],
    statistics: &["Maximum", "Minimum", "Average", "Sum"],
    percentiles: false,
};
/// RDS: `CPUUtilization`, percent.
pub const RDS_CPU: Metric = Metric {
    namespace: "AWS/RDS",
    name: "CPUUtilization",
    dimension_sets: &[&["DBInstanceIdentifier"]],
    statistics: MIN_MAX_AVG,
    percentiles: false,
};
/// RDS: `FreeStorageSpace`, bytes.
pub const RDS_FREE_STORAGE: Metric = Metric {
    namespace: "AWS/RDS",
    name: "FreeStorageSpace",
    dimension_sets: &[&["DBInstanceIdentifier"]],
    statistics: MIN_MAX_AVG,
    percentiles: false,
};
/// ALB: 5xx responses the load balancer itself generates (reported only when non-zero; Sum).
pub const ALB_ELB_5XX: Metric = Metric {
    namespace: "AWS/ApplicationELB",
    name: "HTTPCode_ELB_5XX_Count",
    dimension_sets: &[&["LoadBalancer"], &["AvailabilityZone", "LoadBalancer"]],
    statistics: &["Sum"],
    percentiles: false,
};
/// ALB: 5xx responses of the targets (reported only when non-zero; Sum).
pub const ALB_TARGET_5XX: Metric = Metric {
    namespace: "AWS/ApplicationELB",
    name: "HTTPCode_Target_5XX_Count",
    dimension_sets: ALB_ALL,
    statistics: &["Sum"],
    percentiles: false,
};
/// ALB: targets failing their health check (per target group).
pub const ALB_UNHEALTHY_HOSTS: Metric = Metric {
    namespace: "AWS/ApplicationELB",
    name: "UnHealthyHostCount",
    dimension_sets: &[
        &["LoadBalancer", "TargetGroup"],
        &["AvailabilityZone", "LoadBalancer", "TargetGroup"],
    ],
    statistics: MIN_MAX_AVG,
    percentiles: false,
};
/// ALB: seconds from the request leaving the load balancer to the target's response.
pub const ALB_TARGET_RESPONSE_TIME: Metric = Metric {
    namespace: "AWS/ApplicationELB",
    name: "TargetResponseTime",
    dimension_sets: ALB_ALL,
    statistics: &["Average"],
    percentiles: true,
};

/// Every metric this tool alarms on.
pub const METRICS: &[Metric] = &[
    EC2_STATUS_CHECK_FAILED,
    RDS_CPU,
    RDS_FREE_STORAGE,
    ALB_ELB_5XX,
    ALB_TARGET_5XX,
    ALB_UNHEALTHY_HOSTS,
    ALB_TARGET_RESPONSE_TIME,
];

/// CloudWatch's comparison operators for static thresholds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Comparison {
    Above,
    AtLeast,
    Below,
}

impl Comparison {
    pub fn as_str(self) -> &'static str {
        match self {
            Comparison::Above => "GreaterThanThreshold",
            Comparison::AtLeast => "GreaterThanOrEqualToThreshold",
            Comparison::Below => "LessThanThreshold",
        }
    }
}

const COMPARISONS: &[&str] = &[
    "GreaterThanOrEqualToThreshold",
    "GreaterThanThreshold",
    "LessThanThreshold",
    "LessThanOrEqualToThreshold",
];
const MISSING_DATA: &[&str] = &["missing", "ignore", "breaching", "notBreaching"];

/// How a statistic is asked for: a plain one or a percentile.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stat {
    Plain(&'static str),
    Percentile(u8),
}

/// What the load-balanced alarms watch: the ALB and its target group, by their `arn_suffix`.
#[derive(Clone, Debug, PartialEq)]
pub struct LoadBalancerRefs {
    pub load_balancer: LoadBalancerArnSuffix,
    pub target_group: TargetGroupArnSuffix,
}

/// What serves the app.
#[derive(Clone, Debug, PartialEq)]
pub enum Hosts {
    /// One instance: its status checks.
    Single(InstanceId),
    /// Hosts behind an ALB: its 5xx, unhealthy hosts and response time.
    LoadBalanced(LoadBalancerRefs),
}

/// The alarm topic and its key.
pub struct AlarmTopic<'a> {
    pub naming: &'a Naming,
    pub region: &'a str,
    pub email: Option<&'a Email>,
    pub account: AccountId,
    pub partition: Partition,
}

/// The SNS topic's name, and the prefix of every alarm name (`<project>-<env>-`).
impl AlarmTopic<'_> {
    pub fn emit(&self, stack: &mut Stack) -> TopicArn {
        let name = self.naming.name("alarms");
        let alarms_arn = Value::template([
            Piece::Lit("arn:".into()),
            Piece::Expr(Expr::Ref(self.partition.0.clone())),
            Piece::Lit(format!(":cloudwatch:{}:", self.region)),
            Piece::Expr(Expr::Ref(self.account.0.clone())),
            Piece::Lit(format!(":alarm:{}", self.naming.name("*"))),
        ]);
        let key = self.key(stack, &alarms_arn);
        let topic = stack.resource(
            "aws_sns_topic",
            "alarms",
            Body::new()
                .attr("name", name.as_str())
                .attr("kms_master_key_id", key.attr("arn")),
        );
        let arn = topic.attr("arn");
        let policy = policy(Value::object([
            ("Sid", Value::from("CloudWatchAlarmsOfThisEnvPublish")),
            ("Effect", "Allow".into()),
            (
                "Principal",
                Value::object([("Service", "cloudwatch.amazonaws.com")]),
            ),
            ("Action", "sns:Publish".into()),
            ("Resource", (&arn).into()),
            ("Condition", self.only_these_alarms(&alarms_arn)),
        ]));
        stack.resource(
            "aws_sns_topic_policy",
            "alarms",
            Body::new().attr("arn", &arn).attr("policy", policy),
        );
        if let Some(email) = self.email {
            stack.resource(
                "aws_sns_topic_subscription",
                "alarms_email",
                Body::new()
                    .attr("topic_arn", &arn)
                    .attr("protocol", "email")
                    .attr("endpoint", email.as_str()),
            );
        }
        TopicArn(arn)
    }

    /// `aws:SourceAccount` is this account and `aws:SourceArn` one of this env's alarms.
    fn only_these_alarms(&self, alarms_arn: &Value) -> Value {
        Value::object([
            (
                "StringEquals",
                Value::object([("aws:SourceAccount", Value::from(&self.account))]),
            ),
            (
                "ArnLike",
                Value::object([("aws:SourceArn", alarms_arn.clone())]),
            ),
        ])
    }

    /// A customer-managed key: the account manages it through IAM (KMS's default key policy),
    /// and CloudWatch may use it for this env's alarms only, so it can publish to the topic.
    fn key(&self, stack: &mut Stack, alarms_arn: &Value) -> Address {
        let root = Value::template([
            Piece::Lit("arn:".into()),
            Piece::Expr(Expr::Ref(self.partition.0.clone())),
            Piece::Lit(":iam::".into()),
            Piece::Expr(Expr::Ref(self.account.0.clone())),
            Piece::Lit(":root".into()),
        ]);
        // In a key policy `Resource: "*"` means this key, the only form KMS accepts.
        let policy = policy_of([
            Value::object([
                ("Sid", Value::from("AccountManagesKeyThroughIam")),
                ("Effect", "Allow".into()),
                ("Principal", Value::object([("AWS", root)])),
                ("Action", "kms:*".into()),
                ("Resource", "*".into()),
            ]),
            Value::object([
                ("Sid", Value::from("CloudWatchAlarmsOfThisEnvEncrypt")),
                ("Effect", "Allow".into()),
                (
                    "Principal",
                    Value::object([("Service", "cloudwatch.amazonaws.com")]),
                ),
                (
                    "Action",
                    Value::list(["kms:Decrypt", "kms:GenerateDataKey*"]),
                ),
                ("Resource", "*".into()),
                ("Condition", self.only_these_alarms(alarms_arn)),
            ]),
        ]);
        stack.resource(
            "aws_kms_key",
            "alarms",
            Body::new()
                .attr(
                    "description",
                    format!("Encrypts the SNS topic {}", self.naming.name("alarms")),
                )
                .attr("enable_key_rotation", true)
                .attr("deletion_window_in_days", 30u32)
                .attr("policy", policy),
        )
    }
}

fn policy(statement: Value) -> Value {
    policy_of([statement])
}

fn policy_of(statements: impl IntoIterator<Item = Value>) -> Value {
    Expr::call(
        "jsonencode",
        [Value::object([
            ("Version", Value::from("2012-10-17")),
            ("Statement", Value::list(statements)),
        ])],
    )
    .into()
}

/// The alarms of one environment.
pub struct Alarms<'a> {
    pub naming: &'a Naming,
    pub thresholds: &'a Thresholds,
    pub topic: TopicArn,
    pub database: DbInstanceId,
    /// `database.allocated_storage_gb`: the free-storage threshold is a share of it.
    pub allocated_storage_gb: u32,
    pub hosts: Hosts,
}

/// One alarm, before it becomes a block.
struct Alarm {
    role: &'static str,
    description: String,
    metric: Metric,
    dimensions: Vec<(&'static str, Value)>,
    stat: Stat,
    comparison: Comparison,
    threshold: Value,
    missing: &'static str,
}

const GIB: i64 = 1 << 30;

impl Alarms<'_> {
    /// Emits the alarms; returns their addresses.
    pub fn emit(&self, stack: &mut Stack) -> Vec<Address> {
        self.alarms()
            .into_iter()
            .map(|a| self.emit_one(stack, a))
            .collect()
    }

    fn alarms(&self) -> Vec<Alarm> {
        let t = self.thresholds;
        let db = || vec![("DBInstanceIdentifier", Value::from(&self.database))];
        let free_bytes =
            i64::from(self.allocated_storage_gb) * GIB * i64::from(t.rds_free_storage_percent)
                / 100;
        let mut out = vec![
            Alarm {
                role: "rds-cpu",
                description: format!("The database's average CPU is above {}%", t.rds_cpu_percent),
                metric: RDS_CPU,
                dimensions: db(),
                stat: Stat::Plain("Average"),
                comparison: Comparison::Above,
                threshold: t.rds_cpu_percent.into(),
                missing: "missing",
            },
            Alarm {
                role: "rds-free-storage",
                description: format!(
                    "The database has less than {}% of its {} GiB free ({free_bytes} bytes)",
                    t.rds_free_storage_percent, self.allocated_storage_gb
                ),
                metric: RDS_FREE_STORAGE,
                dimensions: db(),
                stat: Stat::Plain("Minimum"),
                comparison: Comparison::Below,
                threshold: free_bytes.into(),
                missing: "missing",
            },
        ];
        match &self.hosts {
            Hosts::Single(id) => out.push(Alarm {
                role: "host-status-check",
                description: "The app host fails its EC2 instance or system status check".into(),
                metric: EC2_STATUS_CHECK_FAILED,
                dimensions: vec![("InstanceId", id.into())],
                stat: Stat::Plain("Maximum"),
                comparison: Comparison::AtLeast,
                threshold: 1i64.into(),
                missing: "missing",
            }),
            Hosts::LoadBalanced(lb) => out.extend(load_balanced(t, lb)),
        }
        out
    }

    fn emit_one(&self, stack: &mut Stack, a: Alarm) -> Address {
        let t = self.thresholds;
        let topic = Value::list([Value::from(&self.topic)]);
        let mut body = Body::new()
            .attr("alarm_name", self.naming.name(a.role))
            .attr("alarm_description", a.description)
            .attr("namespace", a.metric.namespace)
            .attr("metric_name", a.metric.name)
            .attr("dimensions", Value::object(a.dimensions));
        body = match a.stat {
            Stat::Plain(s) => body.attr("statistic", s),
            Stat::Percentile(p) => body.attr("extended_statistic", format!("p{p}")),
        };
        body = body
            .attr("period", t.period_seconds.0)
            .attr("evaluation_periods", t.evaluation_periods.0)
            .attr("comparison_operator", a.comparison.as_str())
            .attr("threshold", a.threshold)
            .attr("treat_missing_data", a.missing)
            .attr("alarm_actions", topic.clone())
            .attr("ok_actions", topic);
        stack.resource(
            "aws_cloudwatch_metric_alarm",
            &a.role.replace('-', "_"),
            body,
        )
    }
}

/// The load balancer's alarms. Its count metrics are reported only when non-zero, so missing
/// data is not breaching.
fn load_balanced(t: &Thresholds, lb: &LoadBalancerRefs) -> Vec<Alarm> {
    let alb = || vec![("LoadBalancer", Value::from(&lb.load_balancer))];
    let group = || {
        vec![
            ("LoadBalancer", Value::from(&lb.load_balancer)),
            ("TargetGroup", Value::from(&lb.target_group)),
        ]
    };
    vec![
        Alarm {
            role: "alb-5xx",
            description: format!(
                "The load balancer answered more than {} 5xx responses in a period",
                t.alb_5xx_count
            ),
            metric: ALB_ELB_5XX,
            dimensions: alb(),
            stat: Stat::Plain("Sum"),
            comparison: Comparison::Above,
            threshold: t.alb_5xx_count.into(),
            missing: "notBreaching",
        },
        Alarm {
            role: "target-5xx",
            description: format!(
                "The app hosts answered more than {} 5xx responses in a period",
                t.alb_5xx_count
            ),
            metric: ALB_TARGET_5XX,
            dimensions: group(),
            stat: Stat::Plain("Sum"),
            comparison: Comparison::Above,
            threshold: t.alb_5xx_count.into(),
            missing: "notBreaching",
        },
        Alarm {
            role: "unhealthy-hosts",
            description: format!(
                "More than {} app hosts fail their health check",
                t.unhealthy_hosts
            ),
            metric: ALB_UNHEALTHY_HOSTS,
            dimensions: group(),
            stat: Stat::Plain("Maximum"),
            comparison: Comparison::Above,
            threshold: t.unhealthy_hosts.into(),
            missing: "missing",
        },
        Alarm {
            role: "target-response-time",
            description: format!(
                "The app hosts' 95th percentile response time is above {} ms",
                t.target_response_ms
            ),
            metric: ALB_TARGET_RESPONSE_TIME,
            dimensions: group(),
            stat: Stat::Percentile(95),
            comparison: Comparison::Above,
            // The metric is in seconds.
            threshold: (f64::from(t.target_response_ms) / 1000.0).into(),
            missing: "notBreaching",
        },
    ]
}

fn int(body: &Body, key: &str) -> Option<i64> {
    match body.get(key) {
        Some(Value::Int(n)) => Some(*n),
        _ => None,
    }
}

fn text<'a>(body: &'a Body, key: &str) -> Option<&'a str> {
    match body.get(key) {
        Some(Value::Str(s)) => Some(s),
        _ => None,
    }
}

/// CloudWatch's rules for one `aws_cloudwatch_metric_alarm` body (see the module doc).
pub fn check_alarm(body: &Body) -> Result<(), String> {
    let name = text(body, "alarm_name").unwrap_or("");
    if !(1..=255).contains(&name.chars().count()) {
        return Err(format!(
            "the alarm name `{name}` must have 1 to 255 characters"
        ));
    }
    let (ns, metric) = (
        text(body, "namespace").unwrap_or(""),
        text(body, "metric_name").unwrap_or(""),
    );
    let Some(m) = METRICS
        .iter()
        .find(|m| m.namespace == ns && m.name == metric)
    else {
        return Err(format!(
            "alarm `{name}`: `{metric}` is not a metric of `{ns}` this tool knows (add it to alarms::METRICS with its dimension sets)"
        ));
    };
    check_dimensions(name, m, body.get("dimensions"))?;
    check_statistic(name, m, body)?;
    check_window(name, body)?;
    let op = text(body, "comparison_operator").unwrap_or("");
    if !COMPARISONS.contains(&op) {
        return Err(format!(
            "alarm `{name}`: `{op}` is not a comparison operator for a static threshold"
        ));
    }
    let missing = text(body, "treat_missing_data").unwrap_or("missing");
    if !MISSING_DATA.contains(&missing) {
        return Err(format!(
            "alarm `{name}`: treat_missing_data `{missing}` is not one of {MISSING_DATA:?}"
        ));
    }
    for key in ["alarm_actions", "ok_actions", "insufficient_data_actions"] {
        if let Some(Value::List(actions)) = body.get(key) {
            if actions.len() > 5 {
                return Err(format!(
                    "alarm `{name}`: {key} has {} actions; CloudWatch allows 5",
                    actions.len()
                ));
            }
        }
    }
    Ok(())
}

fn check_dimensions(name: &str, m: &Metric, dims: Option<&Value>) -> Result<(), String> {
    let mut keys: Vec<&str> = match dims {
        Some(Value::Object(kv)) => kv.iter().map(|(k, _)| k.as_str()).collect(),
        _ => Vec::new(),
    };
    keys.sort_unstable();
    let ok = m.dimension_sets.iter().any(|set| {
        let mut s = set.to_vec();
        s.sort_unstable();
        s == keys
    });
    if !ok {
        return Err(format!(
            "alarm `{name}`: {}/{} has no data for the dimensions {keys:?}; CloudWatch publishes it with {:?}",
            m.namespace, m.name, m.dimension_sets
        ));
    }
    Ok(())
}

fn check_statistic(name: &str, m: &Metric, body: &Body) -> Result<(), String> {
    match (text(body, "statistic"), text(body, "extended_statistic")) {
        (Some(s), None) if m.statistics.contains(&s) => Ok(()),
        (Some(s), None) => Err(format!(
            "alarm `{name}`: `{s}` is not a meaningful statistic of {}/{} (use one of {:?})",
            m.namespace, m.name, m.statistics
        )),
        (None, Some(p)) if m.percentiles && is_percentile(p) => Ok(()),
        (None, Some(p)) => Err(format!(
            "alarm `{name}`: `{p}` is not a percentile {}/{} supports",
            m.namespace, m.name
        )),
        _ => Err(format!(
            "alarm `{name}`: give exactly one of statistic and extended_statistic"
        )),
    }
}

/// `p0` to `p100`, with at most two decimals (`p99.9`).
fn is_percentile(p: &str) -> bool {
    let Some(n) = p.strip_prefix('p') else {
        return false;
    };
    let (whole, frac) = n.split_once('.').unwrap_or((n, ""));
    let digits = |s: &str| s.chars().all(|c| c.is_ascii_digit());
    !whole.is_empty()
        && digits(whole)
        && digits(frac)
        && frac.len() <= 2
        && (n.parse::<f64>().is_ok_and(|v| (0.0..=100.0).contains(&v)))
}

fn check_window(name: &str, body: &Body) -> Result<(), String> {
    let period = int(body, "period").unwrap_or(0);
    let n = int(body, "evaluation_periods").unwrap_or(0);
    if !(matches!(period, 10 | 20 | 30) || (period > 0 && period % 60 == 0)) {
        return Err(format!(
            "alarm `{name}`: period {period} must be 10, 20, 30 or a multiple of 60"
        ));
    }
    if matches!(period, 10 | 20 | 30) {
        return Err(format!("alarm `{name}`: period {period} is for high-resolution metrics only; AWS's EC2, RDS and ALB metrics need a multiple of 60"));
    }
    if n < 1 {
        return Err(format!(
            "alarm `{name}`: evaluation_periods must be at least 1"
        ));
    }
    let limit = i64::from(crate::env::evaluation_window_limit(period as u32));
    if period * n > limit {
        return Err(format!(
            "alarm `{name}`: {n} periods of {period} s exceed CloudWatch's {limit} s"
        ));
    }
    if let Some(m) = int(body, "datapoints_to_alarm") {
        if !(1..=n).contains(&m) {
            return Err(format!("alarm `{name}`: datapoints_to_alarm {m} must be from 1 to evaluation_periods ({n})"));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn naming() -> Naming {
        Naming {
            project: "fastapi-infra".into(),
            env: "dev".into(),
        }
    }

    fn stack_with(hosts: Hosts) -> Stack {
        let mut s = Stack::default();
        let topic = TopicArn(Address::resource("aws_sns_topic", "alarms").attr("arn"));
        Alarms {
            naming: &naming(),
            thresholds: &Thresholds::default(),
            topic,
            database: DbInstanceId(Address::resource("aws_db_instance", "this").attr("identifier")),
            allocated_storage_gb: 20,
            hosts,
        }
        .emit(&mut s);
        s
    }

    fn lb() -> Hosts {
        Hosts::LoadBalanced(LoadBalancerRefs {
            load_balancer: LoadBalancerArnSuffix(
                Address::resource("aws_lb", "app").attr("arn_suffix"),
            ),
            target_group: TargetGroupArnSuffix(
                Address::resource("aws_lb_target_group", "app").attr("arn_suffix"),
            ),
        })
    }

    fn alarm<'a>(s: &'a Stack, name: &str) -> &'a Body {
        &s.block(&Address::resource("aws_cloudwatch_metric_alarm", name))
            .unwrap_or_else(|| panic!("no alarm {name}"))
            .body
    }

    #[test]
    fn every_emitted_alarm_follows_cloudwatch_rules() {
        for hosts in [
            Hosts::Single(InstanceId(
                Address::resource("aws_instance", "app").attr("id"),
            )),
            lb(),
        ] {
            let s = stack_with(hosts);
            assert!(!s.resources.is_empty());
            for b in &s.resources {
                check_alarm(&b.body).unwrap_or_else(|e| panic!("{}: {e}", b.addr));
            }
        }
    }

    #[test]
    fn single_host_watches_status_checks_and_load_balanced_the_alb() {
        let single = stack_with(Hosts::Single(InstanceId(
            Address::resource("aws_instance", "app").attr("id"),
        )));
        let names: Vec<String> = single
            .resources
            .iter()
            .map(|b| b.addr.to_string())
            .collect();
        assert!(
            names.iter().any(|n| n.ends_with("host_status_check")),
            "{names:?}"
        );
        assert!(!names.iter().any(|n| n.contains("5xx")), "{names:?}");
        let balanced = stack_with(lb());
        let names: Vec<String> = balanced
            .resources
            .iter()
            .map(|b| b.addr.to_string())
            .collect();
        for want in [
            "alb_5xx",
            "target_5xx",
            "unhealthy_hosts",
            "target_response_time",
            "rds_cpu",
            "rds_free_storage",
        ] {
            assert!(names.iter().any(|n| n.ends_with(want)), "{want}: {names:?}");
        }
        assert!(
            !names.iter().any(|n| n.contains("status_check")),
            "{names:?}"
        );
        // 1000 ms is 1 second, the metric's unit; 10% of 20 GiB in bytes.
        assert_eq!(
            alarm(&balanced, "target_response_time").get("threshold"),
            Some(&Value::Float(1.0))
        );
        assert_eq!(
            alarm(&balanced, "rds_free_storage").get("threshold"),
            Some(&Value::Int(2 * GIB))
        );
    }

    #[test]
    fn broken_alarms_are_refused() {
        let s = stack_with(lb());
        let good = alarm(&s, "unhealthy_hosts").clone();
        let with = |key: &str, v: Value| {
            let mut b = good.clone();
            b.set(key, v);
            check_alarm(&b).unwrap_err()
        };
        // UnHealthyHostCount has no data per load balancer alone: it needs the target group.
        let lb_only = Value::object([("LoadBalancer", Value::from("app/x/1"))]);
        assert!(with("dimensions", lb_only).contains("no data for the dimensions"));
        assert!(with(
            "dimensions",
            Value::object([("InstanceId", Value::from("i-1"))])
        )
        .contains("no data"));
        assert!(with("period", 90i64.into()).contains("multiple of 60"));
        assert!(with("period", 30i64.into()).contains("high-resolution"));
        assert!(with("evaluation_periods", 289i64.into()).contains("86400"));
        assert!(with("statistic", "Sum".into()).contains("not a meaningful statistic"));
        assert!(with("metric_name", "UnhealthyHostCount".into()).contains("not a metric"));
        assert!(with("namespace", "AWS/ELB".into()).contains("not a metric"));
        assert!(with("comparison_operator", "Above".into()).contains("comparison operator"));
        assert!(with("treat_missing_data", "NotBreaching".into()).contains("treat_missing_data"));
        assert!(with("datapoints_to_alarm", 3i64.into()).contains("datapoints_to_alarm"));
        assert!(with("alarm_actions", Value::list(vec![Value::from("a"); 6])).contains("5"));
        assert!(with("alarm_name", "x".repeat(256).into()).contains("255"));
        let mut both = good.clone();
        both.set("extended_statistic", "p95");
        assert!(check_alarm(&both).unwrap_err().contains("exactly one"));
        let rt = alarm(&s, "target_response_time").clone();
        let mut b = rt.clone();
        b.set("extended_statistic", "p101");
        assert!(check_alarm(&b).unwrap_err().contains("percentile"));
    }

    #[test]
    fn percentiles_are_parsed() {
        for ok in ["p0", "p95", "p99.9", "p99.99", "p100"] {
            assert!(is_percentile(ok), "{ok}");
        }
        for bad in ["95", "p", "p100.1", "p99.999", "p-1", "pX", "tm99"] {
            assert!(!is_percentile(bad), "{bad}");
        }
    }
}
