//! network: the default VPC and its default subnets, one per Availability Zone (looked up, not
//! created).

use tf::{Body, Stack, Value};

use crate::{SubnetIds, VpcCidr, VpcId};

/// The default VPC of the region, found by lookup.
pub struct DefaultNetwork;

/// What the network gives other modules.
pub struct NetworkOutputs {
    pub vpc_id: VpcId,
    pub vpc_cidr: VpcCidr,
    pub subnet_ids: SubnetIds,
}

impl DefaultNetwork {
    pub fn emit(&self, stack: &mut Stack) -> NetworkOutputs {
        let vpc = stack.data("aws_vpc", "default", Body::new().attr("default", true));
        let subnets = stack.data(
            "aws_subnets",
            "default",
            Body::new()
                .block(
                    "filter",
                    Body::new()
                        .attr("name", "vpc-id")
                        .attr("values", Value::list([vpc.attr("id")])),
                )
                // A default subnet is the one default subnet of its zone: counting them counts
                // zones (the DB subnet group needs two).
                .block(
                    "filter",
                    Body::new()
                        .attr("name", "default-for-az")
                        .attr("values", Value::list(["true"])),
                ),
        );
        NetworkOutputs {
            vpc_id: VpcId(vpc.attr("id")),
            vpc_cidr: VpcCidr(vpc.attr("cidr_block")),
            subnet_ids: SubnetIds(subnets.attr("ids")),
        }
    }
}
