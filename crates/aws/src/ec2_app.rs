//! ec2_app: the FastAPI host. Its security group (8000 and 22 each open only to the CIDRs the env
//! file names; egress limited to 443/80 out and 5432 to the VPC) and the instance itself (IMDSv2,
//! encrypted root volume, the instance profile, cloud-init user_data).

use tf::{Address, Body, Expr, Op, Piece, Ref, Stack, Value};

use crate::env::{Ami, AppHost, Cidr};
use crate::rds::POSTGRES_PORT;
use crate::{InstanceProfileName, Naming, SecurityGroupId, SubnetIds, VpcCidr, VpcId};

/// The port uvicorn listens on.
pub const APP_PORT: u16 = 8000;
pub const SSH_PORT: u16 = 22;
/// Canonical's AWS account, owner of the official Ubuntu AMIs.
pub const CANONICAL_OWNER: &str = "099720109477";
pub const UBUNTU_2404_NAME: &str = "ubuntu/images/hvm-ssd-gp3/ubuntu-noble-24.04-amd64-server-*";

/// The app's security group.
pub struct AppFirewall<'a> {
    pub naming: &'a Naming,
    pub host: &'a AppHost,
    pub vpc_id: VpcId,
    pub vpc_cidr: VpcCidr,
    /// `load-balanced`: the app port is open to this security group only (the load
    /// balancer's), and SSH to nobody.
    pub load_balancer: Option<SecurityGroupId>,
}

struct Rule<'a> {
    name: String,
    description: String,
    port: u16,
    cidr: CidrValue<'a>,
}

enum CidrValue<'a> {
    Literal(&'a Cidr),
    Anywhere,
    Vpc(&'a VpcCidr),
    Group(&'a SecurityGroupId),
}

/// What the app's security group gives other modules.
pub struct AppFirewallOutputs {
    pub id: SecurityGroupId,
    /// Every egress rule. The provider deletes the default allow-all egress rule of a security
    /// group it creates, so until these exist the host reaches nothing (no SSM, no apt, no
    /// database): the instance boots only after them.
    pub egress_rules: Vec<Address>,
}

impl AppFirewall<'_> {
    pub fn emit(&self, stack: &mut Stack) -> AppFirewallOutputs {
        let sg = stack.resource(
            "aws_security_group",
            "app",
            Body::new()
                .attr("name", self.naming.name("app"))
                .attr(
                    "description",
                    if self.load_balancer.is_some() {
                        "FastAPI app: its port from the load balancer only"
                    } else {
                        "FastAPI app: API and SSH from the env's CIDRs"
                    },
                )
                .attr("vpc_id", &self.vpc_id),
        );
        let sg_id = sg.attr("id");
        let mut ingress = Vec::new();
        if let Some(lb) = &self.load_balancer {
            ingress.push(Rule {
                name: "app_http_from_alb".into(),
                description: format!("FastAPI on {APP_PORT} from the load balancer"),
                port: APP_PORT,
                cidr: CidrValue::Group(lb),
            });
        }
        let direct = if self.load_balancer.is_some() {
            (&[][..], &[][..])
        } else {
            (
                &self.host.http_ingress_cidrs[..],
                &self.host.ssh_ingress_cidrs[..],
            )
        };
        for c in direct.0 {
            ingress.push(Rule {
                name: format!("app_http_{}", c.slug()),
                description: format!("FastAPI on {APP_PORT} from {c}"),
                port: APP_PORT,
                cidr: CidrValue::Literal(c),
            });
        }
        for c in direct.1 {
            ingress.push(Rule {
                name: format!("app_ssh_{}", c.slug()),
                description: format!("SSH from {c}"),
                port: SSH_PORT,
                cidr: CidrValue::Literal(c),
            });
        }
        let egress = vec![
            Rule {
                name: "app_https_out".into(),
                description: "HTTPS out: Tavily, Gemini, AWS APIs, PyPI".into(),
                port: 443,
                cidr: CidrValue::Anywhere,
            },
            Rule {
                name: "app_http_out".into(),
                description: "HTTP out: Ubuntu package mirrors".into(),
                port: 80,
                cidr: CidrValue::Anywhere,
            },
            Rule {
                name: "app_postgres_out".into(),
                description: "Postgres in the VPC".into(),
                port: POSTGRES_PORT,
                cidr: CidrValue::Vpc(&self.vpc_cidr),
            },
        ];
        let mut egress_rules = Vec::new();
        for (kind, rules) in [
            ("aws_vpc_security_group_ingress_rule", ingress),
            ("aws_vpc_security_group_egress_rule", egress),
        ] {
            for r in rules {
                let (key, peer): (&str, Value) = match r.cidr {
                    CidrValue::Literal(c) => ("cidr_ipv4", c.to_string().into()),
                    CidrValue::Anywhere => ("cidr_ipv4", "0.0.0.0/0".into()),
                    CidrValue::Vpc(v) => ("cidr_ipv4", v.into()),
                    CidrValue::Group(g) => ("referenced_security_group_id", g.into()),
                };
                let rule = stack.resource(
                    kind,
                    &r.name,
                    Body::new()
                        .attr("security_group_id", &sg_id)
                        .attr("description", r.description)
                        .attr(key, peer)
                        .attr("ip_protocol", "tcp")
                        .attr("from_port", r.port)
                        .attr("to_port", r.port),
                );
                if kind.ends_with("egress_rule") {
                    egress_rules.push(rule);
                }
            }
        }
        AppFirewallOutputs {
            id: SecurityGroupId(sg_id),
            egress_rules,
        }
    }
}

/// The AMI: the newest Canonical Ubuntu 24.04 (looked up) or the pinned one, unless
/// `var.ami_id` overrides it.
pub fn ami_value(stack: &mut Stack, host: &AppHost, ami_override: &Ref) -> Value {
    match &host.ami {
        Ami::Ubuntu2404 => {
            let lookup = stack.data(
                "aws_ami",
                "ubuntu",
                Body::new()
                    .attr("most_recent", true)
                    .attr("owners", Value::list([CANONICAL_OWNER]))
                    .block(
                        "filter",
                        Body::new()
                            .attr("name", "name")
                            .attr("values", Value::list([UBUNTU_2404_NAME])),
                    )
                    .block(
                        "filter",
                        Body::new()
                            .attr("name", "virtualization-type")
                            .attr("values", Value::list(["hvm"])),
                    ),
            );
            Expr::call(
                "coalesce",
                [ami_override.clone().into(), lookup.attr("id").into()],
            )
            .into()
        }
        Ami::Pinned(id) => Expr::call(
            "coalesce",
            [ami_override.clone().into(), id.as_str().into()],
        )
        .into(),
    }
}

/// The EC2 instance that runs the app.
pub struct AppInstance<'a> {
    pub naming: &'a Naming,
    pub host: &'a AppHost,
    /// The VPC whose default subnets the instance may go into.
    pub vpc_id: VpcId,
    pub security_group: SecurityGroupId,
    pub profile: InstanceProfileName,
    /// `var.ami_id`: when set, it wins over the env's AMI choice.
    pub ami_override: Ref,
    /// `var.ssh_key_name` (null: no key pair).
    pub key_name: Ref,
    /// The name of the user_data file beside the Terraform files.
    pub user_data_file: &'a str,
    /// What user_data and the app need at boot (parameters, the role's policies, the
    /// database, the security-group rules that let the host reach them): Terraform starts a resource as soon as what it references exists, so the
    /// instance `depends_on` these explicitly.
    pub boot_after: Vec<Address>,
}

/// What the instance gives outputs.
pub struct AppInstanceOutputs {
    pub id: Ref,
    pub public_ip: Ref,
    pub url: Value,
}

impl AppInstance<'_> {
    /// The VPC's default subnets in the Availability Zones that offer the instance type: not
    /// every zone offers every type (in us-east-1, us-east-1e has no t3), and RunInstances in
    /// such a zone fails with "Unsupported".
    fn subnets_offering_the_type(&self, stack: &mut Stack) -> SubnetIds {
        let t = self.host.instance_type.as_str();
        let offerings = stack.data(
            "aws_ec2_instance_type_offerings",
            "app",
            Body::new()
                .attr("location_type", "availability-zone")
                .block(
                    "filter",
                    Body::new()
                        .attr("name", "instance-type")
                        .attr("values", Value::list([t])),
                ),
        );
        let zones = offerings.attr("locations");
        let subnets = stack.data(
            "aws_subnets",
            "app",
            Body::new()
                .block(
                    "filter",
                    Body::new()
                        .attr("name", "vpc-id")
                        .attr("values", Value::list([&self.vpc_id])),
                )
                .block(
                    "filter",
                    Body::new()
                        .attr("name", "default-for-az")
                        .attr("values", Value::list(["true"])),
                )
                .block(
                    "filter",
                    Body::new()
                        .attr("name", "availability-zone")
                        .attr("values", &zones),
                )
                .block(
                    "lifecycle",
                    Body::new().block(
                        "precondition",
                        Body::new()
                            .attr(
                                "condition",
                                Expr::binary(Expr::call("length", [zones.clone().into()]), Op::Greater, 0i64),
                            )
                            .attr(
                                "error_message",
                                format!("EC2 offers {t} in no Availability Zone of this region. Fix: choose another app.instance_type."),
                            ),
                    ),
                ),
        );
        SubnetIds(subnets.attr("ids"))
    }

    pub fn emit(&self, stack: &mut Stack) -> AppInstanceOutputs {
        let ami = ami_value(stack, self.host, &self.ami_override);
        let subnets = self.subnets_offering_the_type(stack);
        let subnet = Expr::call(
            "element",
            [
                Expr::call("sort", [(&subnets).into()]).into(),
                Value::Int(0),
            ],
        );
        let user_data = Expr::call(
            "file",
            [Value::template([
                Piece::Expr(Expr::PathModule),
                Piece::Lit(format!("/{}", self.user_data_file)),
            ])],
        );
        let mut body = Body::new()
            .attr("ami", ami)
            .attr("instance_type", self.host.instance_type.as_str())
            .attr("subnet_id", subnet)
            .attr(
                "vpc_security_group_ids",
                Value::list([&self.security_group]),
            )
            .attr("iam_instance_profile", &self.profile)
            .attr("key_name", &self.key_name)
            .attr("user_data", user_data)
            .attr("ebs_optimized", true)
            .block(
                "metadata_options",
                Body::new()
                    .attr("http_endpoint", "enabled")
                    .attr("http_tokens", "required")
                    .attr("http_put_response_hop_limit", 1u32),
            )
            .block(
                "root_block_device",
                Body::new()
                    .attr("volume_type", "gp3")
                    .attr("volume_size", self.host.root_volume_gb)
                    .attr("encrypted", true)
                    .attr("delete_on_termination", true),
            )
            .attr("tags", Value::object([("Name", self.naming.name("app"))]));
        let mut lifecycle = Body::new();
        if self.host.ami == Ami::Ubuntu2404 {
            // The lookup finds a newer AMI whenever Canonical publishes one; without this every
            // such release would replace the instance on the next apply. Move to a new AMI on
            // purpose with `terraform apply -replace=aws_instance.app`.
            lifecycle.set(
                "ignore_changes",
                Value::list([Value::Keyword("ami".into())]),
            );
        }
        lifecycle.push_block(
            "precondition",
            Body::new()
                .attr(
                    "condition",
                    Expr::binary(Expr::call("length", [(&subnets).into()]), Op::Greater, 0i64),
                )
                .attr(
                    "error_message",
                    format!(
                        "No default subnet lies in an Availability Zone that offers {t}. Fix: choose another app.instance_type, or add a default subnet (aws ec2 create-default-subnet) in a zone that offers {t}.",
                        t = self.host.instance_type
                    ),
                ),
        );
        body.push_block("lifecycle", lifecycle);
        let body = body.depends_on(self.boot_after.iter().cloned());
        let instance = stack.resource("aws_instance", "app", body);
        let public_ip = instance.attr("public_ip");
        let url = Value::template([
            Piece::Lit("http://".into()),
            Piece::Expr(Expr::Ref(public_ip.clone())),
            Piece::Lit(format!(":{APP_PORT}")),
        ]);
        AppInstanceOutputs {
            id: instance.attr("id"),
            public_ip,
            url,
        }
    }
}
