//! alb: the HTTPS Application Load Balancer of a `load-balanced` env. Its security group (443
//! and 80 from the env's `app.http_ingress_cidrs`; out only to the app's port on the app's
//! security group), the load balancer in the public subnets (invalid headers dropped, access
//! logs into the logs bucket, deletion protection in prod), the target group health-checked at
//! the env's health path, the ACM certificate for the env's domain (DNS-validated in Route 53
//! when the env names a zone), the HTTPS listener (TLS 1.2+ policy) and HTTP redirected to it.
//!
//! AWS rules relied on, each checked by `rules::check_load_balancer` or a test:
//! - a load balancer's and a target group's names have at most 32 characters: letters, digits
//!   and hyphens, no hyphen at either end (ELB API, CreateLoadBalancer / CreateTargetGroup);
//! - an ALB needs subnets in at least two Availability Zones;
//! - access logs go to a bucket in the same Region with SSE-S3 (never SSE-KMS), whose policy lets
//!   the Region's Elastic Load Balancing account put objects under `<prefix>/AWSLogs/<account>/`
//!   (ELB User Guide, "Enable access logs for your Application Load Balancer"); the prefix must
//!   not contain `AWSLogs`;
//! - an HTTPS listener needs an ISSUED certificate (`aws_acm_certificate_validation` waits).

use tf::{Address, Body, Expr, Piece, Ref, Stack, Value};

use crate::env::Cidr;
use crate::topology::Fleet;
use crate::{AccountId, Arn, BucketId, Naming, SecurityGroupId, SubnetIds, VpcId};

/// TLS 1.3 and 1.2 only (ELB User Guide, "Security policies for your Application Load
/// Balancer": the recommended policy).
pub const TLS_POLICY: &str = "ELBSecurityPolicy-TLS13-1-2-2021-06";
/// Where the load balancer's access logs land in the logs bucket.
pub const ACCESS_LOG_PREFIX: &str = "alb";
pub const HTTPS_PORT: u16 = 443;
pub const HTTP_PORT: u16 = 80;

/// The load balancer of an env.
pub struct LoadBalancer<'a> {
    pub naming: &'a Naming,
    pub fleet: &'a Fleet,
    pub vpc_id: VpcId,
    pub public_subnets: SubnetIds,
    pub ingress_cidrs: &'a [Cidr],
    pub app_port: u16,
    pub health_path: &'a str,
    /// `protection = "prod"`: deletion protection on.
    pub deletion_protection: bool,
    pub logs_bucket: BucketId,
    /// The logs bucket's policy, which lets the ELB account write: ELB checks it at creation.
    pub logs_policy: Option<Address>,
    /// The security group of the load balancer, made by [`LoadBalancer::security_group`].
    pub security_group: SecurityGroupId,
}

/// What the load balancer gives other modules.
pub struct LoadBalancerOutputs {
    pub target_group_arn: Arn,
    pub dns_name: Ref,
    pub url: Value,
    /// The validation records, when the user adds them by hand.
    pub validation_records: Option<Value>,
}

impl LoadBalancer<'_> {
    /// The load balancer's security group (its rules come with [`LoadBalancer::emit`]): the app's
    /// security group needs its id first.
    pub fn security_group(naming: &Naming, vpc_id: &VpcId, stack: &mut Stack) -> SecurityGroupId {
        let sg = stack.resource(
            "aws_security_group",
            "alb",
            Body::new()
                .attr("name", naming.name("alb"))
                .attr(
                    "description",
                    "Load balancer: HTTPS and HTTP from the env's CIDRs, out to the app port only",
                )
                .attr("vpc_id", vpc_id),
        );
        SecurityGroupId(sg.attr("id"))
    }

    fn rules(&self, stack: &mut Stack, app_sg: &SecurityGroupId) {
        for c in self.ingress_cidrs {
            for (what, port) in [("https", HTTPS_PORT), ("http", HTTP_PORT)] {
                stack.resource(
                    "aws_vpc_security_group_ingress_rule",
                    &format!("alb_{what}_{}", c.slug()),
                    Body::new()
                        .attr("security_group_id", &self.security_group)
                        .attr(
                            "description",
                            format!("{} on {port} from {c}", what.to_uppercase()),
                        )
                        .attr("cidr_ipv4", c.to_string())
                        .attr("ip_protocol", "tcp")
                        .attr("from_port", port)
                        .attr("to_port", port),
                );
            }
        }
        stack.resource(
            "aws_vpc_security_group_egress_rule",
            "alb_to_app",
            Body::new()
                .attr("security_group_id", &self.security_group)
                .attr(
                    "description",
                    format!("To the app hosts on {}", self.app_port),
                )
                .attr("referenced_security_group_id", app_sg)
                .attr("ip_protocol", "tcp")
                .attr("from_port", self.app_port)
                .attr("to_port", self.app_port),
        );
    }

    pub fn emit(&self, stack: &mut Stack, app_sg: &SecurityGroupId) -> LoadBalancerOutputs {
        self.rules(stack, app_sg);
        let lb = stack.resource(
            "aws_lb",
            "this",
            Body::new()
                .attr("name", self.naming.name("alb"))
                .attr("internal", false)
                .attr("load_balancer_type", "application")
                .attr("security_groups", Value::list([&self.security_group]))
                .attr("subnets", &self.public_subnets)
                .attr("drop_invalid_header_fields", true)
                .attr("enable_deletion_protection", self.deletion_protection)
                .block(
                    "access_logs",
                    Body::new()
                        .attr("bucket", &self.logs_bucket)
                        .attr("prefix", ACCESS_LOG_PREFIX)
                        .attr("enabled", true),
                )
                .depends_on(self.logs_policy.iter().cloned()),
        );
        let tg = stack.resource(
            "aws_lb_target_group",
            "app",
            Body::new()
                .attr("name", self.naming.name("app"))
                .attr("port", self.app_port)
                .attr("protocol", "HTTP")
                .attr("target_type", "instance")
                .attr("vpc_id", &self.vpc_id)
                .attr("deregistration_delay", 30u32)
                .block(
                    "health_check",
                    Body::new()
                        .attr("enabled", true)
                        .attr("path", self.health_path)
                        .attr("protocol", "HTTP")
                        .attr("port", "traffic-port")
                        .attr("matcher", "200")
                        .attr("interval", 15u32)
                        .attr("timeout", 5u32)
                        .attr("healthy_threshold", 2u32)
                        .attr("unhealthy_threshold", 3u32),
                ),
        );
        let (certificate, validation_records) = self.certificate(stack, &lb);
        stack.resource(
            "aws_lb_listener",
            "https",
            Body::new()
                .attr("load_balancer_arn", lb.attr("arn"))
                .attr("port", HTTPS_PORT)
                .attr("protocol", "HTTPS")
                .attr("ssl_policy", TLS_POLICY)
                .attr("certificate_arn", certificate)
                .block(
                    "default_action",
                    Body::new()
                        .attr("type", "forward")
                        .attr("target_group_arn", tg.attr("arn")),
                ),
        );
        stack.resource(
            "aws_lb_listener",
            "http",
            Body::new()
                .attr("load_balancer_arn", lb.attr("arn"))
                .attr("port", HTTP_PORT)
                .attr("protocol", "HTTP")
                .block(
                    "default_action",
                    Body::new().attr("type", "redirect").block(
                        "redirect",
                        Body::new()
                            .attr("port", HTTPS_PORT.to_string())
                            .attr("protocol", "HTTPS")
                            .attr("status_code", "HTTP_301"),
                    ),
                ),
        );
        LoadBalancerOutputs {
            target_group_arn: Arn(tg.attr("arn")),
            dns_name: lb.attr("dns_name"),
            url: format!("https://{}", self.fleet.domain).into(),
            validation_records,
        }
    }

    /// The ACM certificate, validated (the listener takes the validated ARN, so it waits for
    /// ISSUED). With a hosted zone: the validation record and the domain's alias record.
    fn certificate(&self, stack: &mut Stack, lb: &Address) -> (Ref, Option<Value>) {
        let cert = stack.resource(
            "aws_acm_certificate",
            "this",
            Body::new()
                .attr("domain_name", self.fleet.domain.0.as_str())
                .attr("validation_method", "DNS")
                // A replaced certificate is issued before the listener lets go of the old one.
                .block("lifecycle", Body::new().attr("create_before_destroy", true)),
        );
        // One domain, no alternative names: exactly one validation option.
        let option = stack.local(
            "certificate_validation",
            Expr::call("one", [cert.attr("domain_validation_options").into()]),
        );
        let Some(zone_name) = &self.fleet.hosted_zone else {
            let v = stack.resource(
                "aws_acm_certificate_validation",
                "this",
                Body::new().attr("certificate_arn", cert.attr("arn")),
            );
            let records = Value::object([
                (
                    "name",
                    Value::from(option.clone().then("resource_record_name")),
                ),
                (
                    "type",
                    Value::from(option.clone().then("resource_record_type")),
                ),
                ("value", Value::from(option.then("resource_record_value"))),
            ]);
            return (v.attr("certificate_arn"), Some(records));
        };
        let zone = stack.data(
            "aws_route53_zone",
            "this",
            Body::new()
                .attr("name", zone_name.0.as_str())
                .attr("private_zone", false),
        );
        let record = stack.resource(
            "aws_route53_record",
            "certificate_validation",
            Body::new()
                .attr("zone_id", zone.attr("zone_id"))
                .attr("name", option.clone().then("resource_record_name"))
                .attr("type", option.clone().then("resource_record_type"))
                .attr(
                    "records",
                    Value::list([option.then("resource_record_value")]),
                )
                .attr("ttl", 60u32)
                .attr("allow_overwrite", true),
        );
        let v = stack.resource(
            "aws_acm_certificate_validation",
            "this",
            Body::new().attr("certificate_arn", cert.attr("arn")).attr(
                "validation_record_fqdns",
                Value::list([record.attr("fqdn")]),
            ),
        );
        stack.resource(
            "aws_route53_record",
            "app",
            Body::new()
                .attr("zone_id", zone.attr("zone_id"))
                .attr("name", self.fleet.domain.0.as_str())
                .attr("type", "A")
                .block(
                    "alias",
                    Body::new()
                        .attr("name", lb.attr("dns_name"))
                        .attr("zone_id", lb.attr("zone_id"))
                        .attr("evaluate_target_health", true),
                ),
        );
        (v.attr("certificate_arn"), None)
    }
}

/// The logs bucket's statement for the load balancer's access logs (ELB User Guide, "Enable
/// access logs for your Application Load Balancer", Regions available before August 2022):
/// the Region's Elastic Load Balancing account may put objects under
/// `<bucket>/alb/AWSLogs/<account>/` only.
pub fn access_log_delivery(stack: &mut Stack, logs_arn: &Ref, account: &AccountId) -> Body {
    let elb = stack.data("aws_elb_service_account", "this", Body::new());
    let objects = Value::template([
        Piece::Expr(Expr::Ref(logs_arn.clone())),
        Piece::Lit(format!("/{ACCESS_LOG_PREFIX}/AWSLogs/")),
        Piece::Expr(Expr::Ref(account.0.clone())),
        Piece::Lit("/*".into()),
    ]);
    Body::new()
        .attr("sid", "LoadBalancerAccessLogs")
        .attr("effect", "Allow")
        .attr("actions", Value::list(["s3:PutObject"]))
        .attr("resources", Value::list([objects]))
        .block(
            "principals",
            Body::new()
                .attr("type", "AWS")
                .attr("identifiers", Value::list([elb.attr("arn")])),
        )
}
