//! fleet: the app hosts of a `load-balanced` env. A launch template carrying the same user_data
//! as the single host (IMDSv2 required, encrypted gp3 root, no public IP, the instance
//! profile), an Auto Scaling group in the private subnets registered with the load balancer's
//! target group and health-checked by it, rolled by instance refresh when the template changes;
//! the role gets `AmazonSSMManagedInstanceCore` (no SSH: Session Manager).
//!
//! AWS rules relied on (EC2 Auto Scaling User Guide; provider docs for
//! `aws_autoscaling_group`): `min_size <= desired_capacity <= max_size`; with a load balancer,
//! `health_check_type = "ELB"` lets the target group's health check replace hosts; an
//! `instance_refresh` block starts a refresh when `launch_template` changes (its version);
//! launch template user_data is base64.

use tf::{Address, Body, Expr, Piece, Ref, Stack, Value};

use crate::ec2_app::ami_value;
use crate::env::{Ami, AppHost};
use crate::topology::Fleet;
use crate::{Arn, InstanceProfileName, Naming, SecurityGroupId, SubnetIds};

/// The AWS managed policy Session Manager needs on the instance role.
pub const SSM_CORE_POLICY: &str = "arn:aws:iam::aws:policy/AmazonSSMManagedInstanceCore";
/// Seconds a new host has to boot (packages, the app) before its health counts.
pub const HEALTH_CHECK_GRACE_SECONDS: u32 = 600;
/// How long `terraform apply` waits for the group's hosts to be InService: the bound of that
/// wait (provider argument `wait_for_capacity_timeout`).
pub const WAIT_FOR_CAPACITY: &str = "15m";

/// The Auto Scaling group and its launch template.
pub struct AppFleet<'a> {
    pub naming: &'a Naming,
    pub host: &'a AppHost,
    pub fleet: &'a Fleet,
    pub subnets: SubnetIds,
    pub security_group: SecurityGroupId,
    pub profile: InstanceProfileName,
    /// The instance role's name, for the Session Manager policy.
    pub role_name: Ref,
    pub target_group: Arn,
    pub ami_override: Ref,
    pub user_data_file: &'a str,
    /// What the hosts need at boot (parameters, the role's policies, the database, NAT).
    pub boot_after: Vec<Address>,
}

/// What the fleet gives outputs.
pub struct AppFleetOutputs {
    pub group_name: Ref,
    pub launch_template_id: Ref,
}

impl AppFleet<'_> {
    pub fn emit(&self, stack: &mut Stack) -> AppFleetOutputs {
        let ssm = stack.resource(
            "aws_iam_role_policy_attachment",
            "ssm_core",
            Body::new()
                .attr("role", &self.role_name)
                .attr("policy_arn", SSM_CORE_POLICY),
        );
        let lt = self.launch_template(stack);
        let mut boot_after = self.boot_after.clone();
        boot_after.push(ssm);
        let asg = stack.resource(
            "aws_autoscaling_group",
            "app",
            Body::new()
                .attr("name", self.naming.name("app"))
                .attr("min_size", self.fleet.min)
                .attr("max_size", self.fleet.max)
                .attr("desired_capacity", self.fleet.desired)
                .attr("vpc_zone_identifier", &self.subnets)
                .attr("target_group_arns", Value::list([&self.target_group]))
                .attr("health_check_type", "ELB")
                .attr("health_check_grace_period", HEALTH_CHECK_GRACE_SECONDS)
                .attr("wait_for_capacity_timeout", WAIT_FOR_CAPACITY)
                .block(
                    "launch_template",
                    Body::new()
                        .attr("id", lt.attr("id"))
                        .attr("version", lt.attr("latest_version")),
                )
                .block(
                    "instance_refresh",
                    Body::new().attr("strategy", "Rolling").block(
                        "preferences",
                        Body::new()
                            // Replace one host at a time: the rest keep serving.
                            .attr("min_healthy_percentage", 50u32)
                            .attr("instance_warmup", HEALTH_CHECK_GRACE_SECONDS),
                    ),
                )
                .block(
                    "tag",
                    Body::new()
                        .attr("key", "Name")
                        .attr("value", self.naming.name("app"))
                        .attr("propagate_at_launch", true),
                )
                .depends_on(boot_after),
        );
        AppFleetOutputs {
            group_name: asg.attr("name"),
            launch_template_id: lt.attr("id"),
        }
    }

    fn launch_template(&self, stack: &mut Stack) -> Address {
        let ami = ami_value(stack, self.host, &self.ami_override);
        let user_data = Expr::call(
            "filebase64",
            [Value::template([
                Piece::Expr(Expr::PathModule),
                Piece::Lit(format!("/{}", self.user_data_file)),
            ])],
        );
        let tags = Value::object([("Name", self.naming.name("app"))]);
        let mut body = Body::new()
            .attr("name", self.naming.name("app"))
            .attr("image_id", ami)
            .attr("instance_type", self.host.instance_type.0.as_str())
            .attr("user_data", user_data)
            .attr("ebs_optimized", true)
            .attr("update_default_version", true)
            .block(
                "iam_instance_profile",
                Body::new().attr("name", &self.profile),
            )
            .block(
                "network_interfaces",
                Body::new()
                    .attr("device_index", 0u32)
                    .attr("associate_public_ip_address", false)
                    .attr("delete_on_termination", true)
                    .attr("security_groups", Value::list([&self.security_group])),
            )
            .block(
                "metadata_options",
                Body::new()
                    .attr("http_endpoint", "enabled")
                    .attr("http_tokens", "required")
                    .attr("http_put_response_hop_limit", 1u32),
            )
            .block(
                "block_device_mappings",
                Body::new().attr("device_name", "/dev/sda1").block(
                    "ebs",
                    Body::new()
                        .attr("volume_type", "gp3")
                        .attr("volume_size", self.host.root_volume_gb)
                        .attr("encrypted", true)
                        .attr("delete_on_termination", true),
                ),
            )
            .block(
                "tag_specifications",
                Body::new()
                    .attr("resource_type", "instance")
                    .attr("tags", tags.clone()),
            )
            .block(
                "tag_specifications",
                Body::new()
                    .attr("resource_type", "volume")
                    .attr("tags", tags.clone()),
            )
            .attr("tags", tags);
        if self.host.ami == Ami::Ubuntu2404 {
            // As for the single host: a newer Ubuntu release alone does not roll the fleet.
            // Move to it on purpose with `terraform apply -replace=aws_launch_template.app`.
            body.push_block(
                "lifecycle",
                Body::new().attr(
                    "ignore_changes",
                    Value::list([Value::Keyword("image_id".into())]),
                ),
            );
        }
        stack.resource("aws_launch_template", "app", body)
    }
}
