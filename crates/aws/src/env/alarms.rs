//! `[alarms]`: where alarms go and when they fire. Optional: without the table every app env
//! still gets its topic and alarms, with the defaults below.

use std::fmt;

use serde::de::{self, Deserializer};
use serde::Deserialize;

use crate::values::{shown, Invalid};

/// `[alarms]` of an app env.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Alarms {
    /// Subscribed to the alarm topic by email (AWS sends a confirmation mail first). None: the
    /// topic has no subscriber until you add one.
    #[serde(default)]
    pub email: Option<Email>,
    /// The length of one evaluation period, in seconds: a multiple of 60.
    #[serde(default = "default_period")]
    pub period_seconds: Period,
    /// How many periods in a row must breach before an alarm fires.
    #[serde(default = "default_evaluation_periods")]
    pub evaluation_periods: EvaluationPeriods,
    /// The database's average CPU above this percentage fires `rds_cpu`.
    #[serde(default = "default_rds_cpu", deserialize_with = "percent")]
    pub rds_cpu_percent: u32,
    /// The database's free storage below this percentage of `database.allocated_storage_gb`
    /// fires `rds_free_storage`.
    #[serde(default = "default_rds_free", deserialize_with = "percent")]
    pub rds_free_storage_percent: u32,
    /// More 5xx responses than this in one period (from the load balancer, or from the hosts
    /// behind it) fires `alb_5xx` / `target_5xx` (load-balanced envs).
    #[serde(default = "default_5xx", deserialize_with = "count")]
    pub alb_5xx_count: u32,
    /// More unhealthy hosts than this fires `unhealthy_hosts` (load-balanced envs).
    #[serde(default, deserialize_with = "count")]
    pub unhealthy_hosts: u32,
    /// The 95th percentile of the hosts' response time above this many milliseconds fires
    /// `target_response_time` (load-balanced envs).
    #[serde(default = "default_response_ms", deserialize_with = "response_ms")]
    pub target_response_ms: u32,
}

impl Default for Alarms {
    fn default() -> Self {
        Alarms {
            email: None,
            period_seconds: default_period(),
            evaluation_periods: default_evaluation_periods(),
            rds_cpu_percent: default_rds_cpu(),
            rds_free_storage_percent: default_rds_free(),
            alb_5xx_count: default_5xx(),
            unhealthy_hosts: 0,
            target_response_ms: default_response_ms(),
        }
    }
}

fn default_period() -> Period {
    Period(300)
}
fn default_evaluation_periods() -> EvaluationPeriods {
    EvaluationPeriods(2)
}
fn default_rds_cpu() -> u32 {
    80
}
fn default_rds_free() -> u32 {
    10
}
fn default_5xx() -> u32 {
    10
}
fn default_response_ms() -> u32 {
    1000
}

fn within<'de, D: Deserializer<'de>>(d: D, lo: u32, hi: u32, what: &str) -> Result<u32, D::Error> {
    let n = u32::deserialize(d)?;
    if !(lo..=hi).contains(&n) {
        return Err(de::Error::custom(format!(
            "{n} is out of range: {what} must be from {lo} to {hi}"
        )));
    }
    Ok(n)
}

fn percent<'de, D: Deserializer<'de>>(d: D) -> Result<u32, D::Error> {
    within(d, 1, 99, "a percentage")
}

fn count<'de, D: Deserializer<'de>>(d: D) -> Result<u32, D::Error> {
    within(d, 0, 1_000_000, "a count")
}

fn response_ms<'de, D: Deserializer<'de>>(d: D) -> Result<u32, D::Error> {
    within(d, 1, 600_000, "a response time in milliseconds")
}

/// An alarm period in seconds. CloudWatch accepts 10, 20, 30 or a multiple of 60, but 10, 20
/// and 30 only for high-resolution metrics (stored with `StorageResolution` 1); the EC2, RDS
/// and ALB metrics we alarm on are standard resolution, so only multiples of 60 are periods
/// here (CloudWatch API Reference, PutMetricAlarm `Period`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Period(pub u32);

/// CloudWatch's limits on a whole evaluation window: `Period x EvaluationPeriods` at most
/// 86,400 s (one day) when the period is under an hour, else at most 604,800 s (seven days)
/// (CloudWatch API Reference, PutMetricAlarm `Period`).
pub fn evaluation_window_limit(period: u32) -> u32 {
    if period < 3600 {
        86_400
    } else {
        604_800
    }
}

impl Period {
    pub fn parse(n: u32) -> Result<Period, String> {
        if n == 0 || !n.is_multiple_of(60) || n > 86_400 {
            return Err(format!(
                "{n} is not an alarm period for these metrics: use a multiple of 60 seconds from 60 to 86400 (10, 20 and 30 are for high-resolution custom metrics only)"
            ));
        }
        Ok(Period(n))
    }
}

impl<'de> Deserialize<'de> for Period {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Period::parse(u32::deserialize(d)?).map_err(de::Error::custom)
    }
}

/// How many periods an alarm evaluates: 1 or more.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EvaluationPeriods(pub u32);

impl<'de> Deserialize<'de> for EvaluationPeriods {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        within(d, 1, 10_080, "evaluation_periods").map(EvaluationPeriods)
    }
}

impl Alarms {
    /// The window rule, which involves two keys: checked after both are read.
    pub fn check(&self) -> Result<(), String> {
        let (p, n) = (self.period_seconds.0, self.evaluation_periods.0);
        let limit = evaluation_window_limit(p);
        if u64::from(p) * u64::from(n) > u64::from(limit) {
            return Err(format!(
                "key `alarms.evaluation_periods`: {n} periods of {p} s is {} s, but CloudWatch allows at most {limit} s for a {p} s period; fix: lower `alarms.evaluation_periods` to at most {} or change `alarms.period_seconds`",
                u64::from(p) * u64::from(n),
                limit / p
            ));
        }
        Ok(())
    }
}

/// An email address for the alarm subscription: `local@domain`, where the local part is
/// letters, digits and `. _ % + -` and the domain is dot-separated labels of letters, digits
/// and inner `-`, with a top-level label of letters; 254 characters at most (RFC 5321).
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(try_from = "String")]
pub struct Email(String);

impl Email {
    pub fn parse(s: &str) -> Result<Email, Invalid> {
        let bad = |why: &str| {
            Err(Invalid::new(
                format!("{} is not an email address: {why}", shown(s)),
                "write one such as `ops@example.com`",
            ))
        };
        if s.len() > 254 {
            return bad("it is longer than 254 characters");
        }
        let Some((local, domain)) = s.split_once('@') else {
            return bad("it has no `@`");
        };
        let local_ok = (1..=64).contains(&local.len())
            && local
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "._%+-".contains(c))
            && !local.starts_with('.')
            && !local.ends_with('.')
            && !local.contains("..");
        if !local_ok {
            return bad("the part before `@` must be 1 to 64 letters, digits or `. _ % + -`, with no leading, trailing or doubled `.`");
        }
        let labels: Vec<&str> = domain.split('.').collect();
        let label_ok = |l: &&str| {
            (1..=63).contains(&l.len())
                && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
                && !l.starts_with('-')
                && !l.ends_with('-')
        };
        let tld_ok = labels
            .last()
            .is_some_and(|t| t.len() >= 2 && t.chars().all(|c| c.is_ascii_alphabetic()));
        if labels.len() < 2 || !labels.iter().all(label_ok) || !tld_ok {
            return bad("the domain must be labels of letters, digits and inner `-` joined by `.`, ending in a top-level domain such as `.com`");
        }
        Ok(Email(s.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::str::FromStr for Email {
    type Err = Invalid;
    fn from_str(s: &str) -> Result<Email, Invalid> {
        Email::parse(s)
    }
}

impl TryFrom<String> for Email {
    type Error = Invalid;
    fn try_from(s: String) -> Result<Email, Invalid> {
        Email::parse(&s)
    }
}

impl fmt::Display for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_are_checked() {
        for ok in [
            "ops@example.com",
            "a.b+alerts@sub.example.org",
            "x_1%y@a-b.io",
        ] {
            assert!(Email::parse(ok).is_ok(), "{ok}");
        }
        for bad in [
            "ops",
            "@example.com",
            "ops@",
            "ops@example",
            "ops@example.c0m",
            "ops@-example.com",
            "o ps@example.com",
            "ops@exa_mple.com",
            ".ops@example.com",
            "o..ps@example.com",
            "ops@example.com\n",
            "\"ops\"@example.com",
            "ops@example..com",
        ] {
            let e = Email::parse(bad).unwrap_err().to_string();
            assert!(e.contains("fix:"), "{bad}: {e}");
        }
        assert!(Email::parse(&format!("{}@example.com", "a".repeat(65))).is_err());
    }

    #[test]
    fn periods_are_multiples_of_a_minute() {
        for ok in [60, 300, 3600, 86_400] {
            assert_eq!(Period::parse(ok), Ok(Period(ok)));
        }
        for bad in [0, 10, 20, 30, 90, 301, 86_460] {
            assert!(
                Period::parse(bad).unwrap_err().contains("multiple of 60"),
                "{bad}"
            );
        }
    }

    #[test]
    fn the_evaluation_window_has_cloudwatch_limits() {
        let with = |p: u32, n: u32| Alarms {
            period_seconds: Period(p),
            evaluation_periods: EvaluationPeriods(n),
            ..Alarms::default()
        };
        assert!(with(300, 288).check().is_ok()); // exactly one day
        let e = with(300, 289).check().unwrap_err();
        assert!(
            e.contains("at most 288") && e.contains("alarms.evaluation_periods"),
            "{e}"
        );
        assert!(with(3600, 168).check().is_ok()); // exactly seven days
        assert!(with(3600, 169).check().is_err());
        assert!(with(60, 1440).check().is_ok());
        assert!(with(60, 1441).check().is_err());
    }

    #[test]
    fn the_table_is_optional_and_every_key_has_a_default() {
        let a: Alarms = toml::from_str("").unwrap();
        assert_eq!(a, Alarms::default());
        assert_eq!(a.period_seconds, Period(300));
        let e = toml::from_str::<Alarms>("period_seconds = 30").unwrap_err();
        assert!(e.to_string().contains("multiple of 60"), "{e}");
        let e = toml::from_str::<Alarms>("rds_cpu_percent = 100").unwrap_err();
        assert!(e.to_string().contains("1 to 99"), "{e}");
        assert!(toml::from_str::<Alarms>("emial = \"a@b.co\"").is_err());
    }
}
