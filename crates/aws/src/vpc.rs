//! vpc: the env's own VPC (`network.mode = "private"`). Per Availability Zone a public subnet
//! (load balancer, NAT gateway) and a private one (hosts, database); an internet gateway; NAT
//! gateways (one, or one per zone); an S3 gateway endpoint on the private route tables; the
//! default security group emptied; flow logs into the logs bucket.
//!
//! AWS rules relied on (VPC User Guide): a VPC's IPv4 block is a /16 to a /28; a subnet lies in
//! one zone; a NAT gateway lives in a public subnet with an Elastic IP and routes for the
//! private subnets of its zone (or all zones, with one); a gateway endpoint for S3 is added to
//! route tables and costs nothing; subnets here never assign public IPs on launch.

use tf::{Address, Body, Expr, Piece, Stack, Value};

use crate::env::Cidr;
use crate::topology::{NatGateways, PrivateNet, Zone};
use crate::{Arn, Naming, SubnetIds, VpcCidr, VpcId};

/// The prefix under which flow logs land in the logs bucket.
pub const FLOW_LOG_PREFIX: &str = "vpc-flow-logs/";

/// The private network of an env.
pub struct PrivateNetwork<'a> {
    pub naming: &'a Naming,
    pub net: &'a PrivateNet,
    pub region: &'a str,
}

/// What the private network gives other modules.
pub struct PrivateNetworkOutputs {
    pub vpc_id: VpcId,
    pub vpc_cidr: VpcCidr,
    pub public_subnets: SubnetIds,
    pub private_subnets: SubnetIds,
    /// Everything the hosts need to reach the internet (NAT routes): hosts boot after them.
    pub egress: Vec<Address>,
}

/// Subnet `index` of a VPC block: the block cut in sixteen (4 more prefix bits). Zone `i` takes
/// public subnet `i` and private subnet `8 + i`.
pub fn subnet_cidr(vpc: &Cidr, index: u32) -> Cidr {
    let prefix = vpc.prefix() + 4;
    let size = 1u32 << (32 - prefix);
    let addr = std::net::Ipv4Addr::from(u32::from(vpc.addr()) + index * size);
    Cidr::parse(&format!("{addr}/{prefix}")).expect("a sixteenth of a network is a network")
}

fn name_tag(naming: &Naming, role: &str) -> Value {
    Value::object([("Name", naming.name(role))])
}

impl PrivateNetwork<'_> {
    pub fn emit(&self, stack: &mut Stack) -> PrivateNetworkOutputs {
        let n = self.naming;
        let vpc = stack.resource(
            "aws_vpc",
            "this",
            Body::new()
                .attr("cidr_block", self.net.vpc_cidr.to_string())
                .attr("enable_dns_support", true)
                .attr("enable_dns_hostnames", true)
                .attr("tags", name_tag(n, "vpc")),
        );
        let vpc_id = vpc.attr("id");
        // Adopted and emptied: no rule at all, so nothing that falls back to it is reachable.
        stack.resource(
            "aws_default_security_group",
            "this",
            Body::new()
                .attr("vpc_id", &vpc_id)
                .attr("tags", name_tag(n, "default-unused")),
        );
        let igw = stack.resource(
            "aws_internet_gateway",
            "this",
            Body::new()
                .attr("vpc_id", &vpc_id)
                .attr("tags", name_tag(n, "igw")),
        );
        let public_rt = stack.resource(
            "aws_route_table",
            "public",
            Body::new()
                .attr("vpc_id", &vpc_id)
                .attr("tags", name_tag(n, "public")),
        );
        stack.resource(
            "aws_route",
            "public_internet",
            Body::new()
                .attr("route_table_id", public_rt.attr("id"))
                .attr("destination_cidr_block", "0.0.0.0/0")
                .attr("gateway_id", igw.attr("id")),
        );
        let mut public = Vec::new();
        let mut private = Vec::new();
        let mut private_rts = Vec::new();
        let mut egress = Vec::new();
        let mut nat_of_first_zone = None;
        for (i, zone) in self.net.zones.iter().enumerate() {
            let l = zone.letter();
            let pub_sn = self.subnet(stack, &vpc_id, zone, "public", i as u32);
            stack.resource(
                "aws_route_table_association",
                &format!("public_{l}"),
                Body::new()
                    .attr("subnet_id", pub_sn.attr("id"))
                    .attr("route_table_id", public_rt.attr("id")),
            );
            let nat = match (self.net.nat_gateways, &nat_of_first_zone) {
                (NatGateways::One, Some(first)) => Address::clone(first),
                _ => {
                    let eip = stack.resource(
                        "aws_eip",
                        &format!("nat_{l}"),
                        Body::new()
                            .attr("domain", "vpc")
                            .attr("tags", name_tag(n, &format!("nat-{l}")))
                            .depends_on([igw.clone()]),
                    );
                    let nat = stack.resource(
                        "aws_nat_gateway",
                        &format!("nat_{l}"),
                        Body::new()
                            .attr("allocation_id", eip.attr("id"))
                            .attr("subnet_id", pub_sn.attr("id"))
                            .attr("tags", name_tag(n, &format!("nat-{l}")))
                            .depends_on([igw.clone()]),
                    );
                    nat_of_first_zone.get_or_insert(nat.clone());
                    nat
                }
            };
            let priv_sn = self.subnet(stack, &vpc_id, zone, "private", 8 + i as u32);
            let rt = stack.resource(
                "aws_route_table",
                &format!("private_{l}"),
                Body::new()
                    .attr("vpc_id", &vpc_id)
                    .attr("tags", name_tag(n, &format!("private-{l}"))),
            );
            egress.push(
                stack.resource(
                    "aws_route",
                    &format!("private_{l}_nat"),
                    Body::new()
                        .attr("route_table_id", rt.attr("id"))
                        .attr("destination_cidr_block", "0.0.0.0/0")
                        .attr("nat_gateway_id", nat.attr("id")),
                ),
            );
            egress.push(
                stack.resource(
                    "aws_route_table_association",
                    &format!("private_{l}"),
                    Body::new()
                        .attr("subnet_id", priv_sn.attr("id"))
                        .attr("route_table_id", rt.attr("id")),
                ),
            );
            public.push(Value::from(pub_sn.attr("id")));
            private.push(Value::from(priv_sn.attr("id")));
            private_rts.push(Value::from(rt.attr("id")));
        }
        egress.push(
            stack.resource(
                "aws_vpc_endpoint",
                "s3",
                Body::new()
                    .attr("vpc_id", &vpc_id)
                    .attr("service_name", format!("com.amazonaws.{}.s3", self.region))
                    .attr("vpc_endpoint_type", "Gateway")
                    .attr("route_table_ids", Value::List(private_rts))
                    .attr("tags", name_tag(n, "s3")),
            ),
        );
        let public_ids = stack.local("public_subnet_ids", Value::List(public));
        let private_ids = stack.local("private_subnet_ids", Value::List(private));
        PrivateNetworkOutputs {
            vpc_id: VpcId(vpc_id),
            vpc_cidr: VpcCidr(vpc.attr("cidr_block")),
            public_subnets: SubnetIds(public_ids),
            private_subnets: SubnetIds(private_ids),
            egress,
        }
    }

    fn subnet(
        &self,
        stack: &mut Stack,
        vpc_id: &tf::Ref,
        zone: &Zone,
        tier: &str,
        index: u32,
    ) -> Address {
        let l = zone.letter();
        stack.resource(
            "aws_subnet",
            &format!("{tier}_{l}"),
            Body::new()
                .attr("vpc_id", vpc_id)
                .attr(
                    "cidr_block",
                    subnet_cidr(&self.net.vpc_cidr, index).to_string(),
                )
                .attr("availability_zone", zone.0.as_str())
                .attr("map_public_ip_on_launch", false)
                .attr("tags", name_tag(self.naming, &format!("{tier}-{l}"))),
        )
    }
}

/// VPC flow logs (all traffic) into the logs bucket under [`FLOW_LOG_PREFIX`]. The bucket's
/// policy must let the log delivery service write first ([`flow_log_delivery`]).
pub struct FlowLogs<'a> {
    pub naming: &'a Naming,
    pub vpc_id: VpcId,
    pub logs_bucket: Arn,
    pub bucket_policy: Option<Address>,
}

impl FlowLogs<'_> {
    pub fn emit(&self, stack: &mut Stack) {
        let dest = Value::template([
            Piece::Expr(Expr::Ref(self.logs_bucket.0.clone())),
            Piece::Lit(format!("/{FLOW_LOG_PREFIX}")),
        ]);
        stack.resource(
            "aws_flow_log",
            "this",
            Body::new()
                .attr("vpc_id", &self.vpc_id)
                .attr("traffic_type", "ALL")
                .attr("log_destination_type", "s3")
                .attr("log_destination", dest)
                .attr("max_aggregation_interval", 600u32)
                .attr("tags", name_tag(self.naming, "flow-logs"))
                .depends_on(self.bucket_policy.iter().cloned()),
        );
    }
}

/// The logs bucket's statements for VPC flow log delivery (VPC User Guide, "Amazon S3 bucket
/// permissions for flow logs"): `delivery.logs.amazonaws.com` may check the bucket's ACL and
/// put objects under `<prefix>AWSLogs/<account>/` with `bucket-owner-full-control`, only for
/// this account (`aws:SourceAccount`) and its log sources (`aws:SourceArn`).
pub fn flow_log_delivery(
    logs_arn: &tf::Ref,
    account: &crate::AccountId,
    region: &str,
) -> Vec<Body> {
    let source_arn = Value::template([
        Piece::Lit(format!("arn:aws:logs:{region}:")),
        Piece::Expr(Expr::Ref(account.0.clone())),
        Piece::Lit(":*".into()),
    ]);
    let objects = Value::template([
        Piece::Expr(Expr::Ref(logs_arn.clone())),
        Piece::Lit(format!("/{FLOW_LOG_PREFIX}AWSLogs/")),
        Piece::Expr(Expr::Ref(account.0.clone())),
        Piece::Lit("/*".into()),
    ]);
    let principal = Body::new()
        .attr("type", "Service")
        .attr("identifiers", Value::list(["delivery.logs.amazonaws.com"]));
    let conditions = |b: Body| {
        b.block(
            "condition",
            Body::new()
                .attr("test", "StringEquals")
                .attr("variable", "aws:SourceAccount")
                .attr("values", Value::list([account])),
        )
        .block(
            "condition",
            Body::new()
                .attr("test", "ArnLike")
                .attr("variable", "aws:SourceArn")
                .attr("values", Value::list([source_arn.clone()])),
        )
    };
    vec![
        conditions(
            Body::new()
                .attr("sid", "FlowLogsAclCheck")
                .attr("effect", "Allow")
                .attr("actions", Value::list(["s3:GetBucketAcl", "s3:ListBucket"]))
                .attr("resources", Value::list([logs_arn]))
                .block("principals", principal.clone()),
        ),
        conditions(
            Body::new()
                .attr("sid", "FlowLogsWrite")
                .attr("effect", "Allow")
                .attr("actions", Value::list(["s3:PutObject"]))
                .attr("resources", Value::list([objects]))
                .block("principals", principal)
                .block(
                    "condition",
                    Body::new()
                        .attr("test", "StringEquals")
                        .attr("variable", "s3:x-amz-acl")
                        .attr("values", Value::list(["bucket-owner-full-control"])),
                ),
        ),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subnets_cut_the_vpc_in_sixteen() {
        let vpc = Cidr::parse("10.20.0.0/16").unwrap();
        assert_eq!(subnet_cidr(&vpc, 0).to_string(), "10.20.0.0/20");
        assert_eq!(subnet_cidr(&vpc, 1).to_string(), "10.20.16.0/20");
        assert_eq!(subnet_cidr(&vpc, 8).to_string(), "10.20.128.0/20");
        assert_eq!(subnet_cidr(&vpc, 15).to_string(), "10.20.240.0/20");
        let small = Cidr::parse("192.168.1.0/24").unwrap();
        assert_eq!(subnet_cidr(&small, 9).to_string(), "192.168.1.144/28");
    }
}
