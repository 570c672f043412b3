//! What `tf` and `gen` need to know about AWS resource types, written once, as data: which
//! attributes the provider marks sensitive, which changes replace a data-bearing resource or
//! restart the host, what a destroy loses, which attribute names the real object, and how the
//! architecture diagram draws each type. `tf` checks documents with it, `gen diff` and
//! `gen graph` explain them with it; neither names an AWS type.

use tf::schema::{Change, Direction, Drawn, Identity, ResourceType, Rule, Schema};

const NAME: Option<Identity> = Some(Identity {
    path: &["name"],
    label: "name",
});

const PART: ResourceType = ResourceType {
    drawn: Drawn::PartOfReferenced,
    ..ResourceType::new("")
};

/// A security group rule (`aws_vpc_security_group_{ingress,egress}_rule`).
const fn rule(kind: &'static str, direction: Direction) -> ResourceType {
    ResourceType {
        drawn: Drawn::Rule(Rule {
            direction,
            port: "from_port",
            cidr: "cidr_ipv4",
            peer: "referenced_security_group_id",
        }),
        ..ResourceType::new(kind)
    }
}

/// Everything this tool knows about the AWS provider (hashicorp/aws 5.x).
pub const AWS: Schema = Schema {
    types: &[
        ResourceType {
            sensitive: &["password"],
            write_only: &[("password_wo", "password_wo_version")],
            changes: &[Change {
                // ForceNew in the provider's schema.
                attrs: &[
                    "identifier",
                    "engine",
                    "db_name",
                    "storage_encrypted",
                    "kms_key_id",
                    "availability_zone",
                    "character_set_name",
                    "snapshot_identifier",
                ],
                note: "replaces the database: its data is lost unless restored from a snapshot",
                applies_on_replace: false,
            }],
            destroy: Some("destroys the database and its data"),
            identity: Some(Identity {
                path: &["identifier"],
                label: "identifier",
            }),
            ..ResourceType::new("aws_db_instance")
        },
        ResourceType {
            changes: &[Change {
                attrs: &["bucket"],
                note: "replaces the bucket: a new empty bucket, the old one destroyed with its objects",
                applies_on_replace: false,
            }],
            destroy: Some("destroys the bucket and its objects"),
            identity: Some(Identity {
                path: &["bucket"],
                label: "bucket",
            }),
            ..ResourceType::new("aws_s3_bucket")
        },
        ResourceType {
            changes: &[Change {
                attrs: &["name", "hash_key"],
                note: "replaces the table and its items",
                applies_on_replace: false,
            }],
            destroy: Some("destroys the table and its items"),
            identity: NAME,
            ..ResourceType::new("aws_dynamodb_table")
        },
        ResourceType {
            changes: &[
                Change {
                    attrs: &["ami", "subnet_id", "availability_zone", "root_block_device"],
                    note: "replaces the app host (a new instance, new public IP)",
                    applies_on_replace: false,
                },
                Change {
                    attrs: &["user_data"],
                    note: "user_data changes stop and start the app host, and cloud-init does not run the new script on an existing instance: replace the instance to run it",
                    applies_on_replace: true,
                },
            ],
            destroy: Some("terminates the app host"),
            identity: Some(Identity {
                path: &["tags", "Name"],
                label: "Name tag",
            }),
            ..ResourceType::new("aws_instance")
        },
        ResourceType {
            sensitive: &["value", "insecure_value"],
            write_only: &[("value_wo", "value_wo_version")],
            destroy: Some("deletes an app setting"),
            identity: NAME,
            ..ResourceType::new("aws_ssm_parameter")
        },
        ResourceType {
            sensitive: &["secret"],
            ..ResourceType::new("aws_iam_access_key")
        },
        ResourceType {
            identity: NAME,
            ..ResourceType::new("aws_iam_role")
        },
        ResourceType {
            identity: NAME,
            ..ResourceType::new("aws_iam_instance_profile")
        },
        ResourceType {
            changes: &[Change {
                // RDS moves an instance only within its VPC: a subnet group in use cannot take
                // subnets of another VPC (RDS User Guide, "Working with a DB instance in a VPC").
                attrs: &["subnet_ids"],
                note: "moves the database to other subnets: across VPCs (default-vpc <-> private) RDS cannot move it in place, so the database is recreated and its data is lost unless you snapshot it first and restore the snapshot into the new subnets",
                applies_on_replace: false,
            }],
            identity: NAME,
            ..ResourceType::new("aws_db_subnet_group")
        },
        ResourceType {
            changes: &[Change {
                attrs: &["vpc_id", "name"],
                note: "replaces the security group (and every rule on it)",
                applies_on_replace: false,
            }],
            identity: NAME,
            ..ResourceType::new("aws_security_group")
        },
        ResourceType {
            changes: &[Change {
                attrs: &["cidr_block"],
                note: "replaces the VPC and everything in it (subnets, NAT, hosts, database)",
                applies_on_replace: false,
            }],
            destroy: Some("destroys the network: hosts, load balancer and database must leave it first"),
            ..ResourceType::new("aws_vpc")
        },
        ResourceType {
            changes: &[Change {
                attrs: &["cidr_block", "availability_zone"],
                note: "replaces the subnet: the hosts and database in it must move",
                applies_on_replace: false,
            }],
            ..ResourceType::new("aws_subnet")
        },
        ResourceType {
            changes: &[Change {
                attrs: &["name", "internal", "load_balancer_type"],
                note: "replaces the load balancer: its DNS name changes",
                applies_on_replace: false,
            }],
            destroy: Some("deletes the load balancer: the service is unreachable"),
            identity: NAME,
            ..ResourceType::new("aws_lb")
        },
        ResourceType {
            changes: &[Change {
                attrs: &["user_data", "image_id", "instance_type", "block_device_mappings", "metadata_options"],
                note: "a new launch template version: the Auto Scaling group replaces the hosts one at a time (instance refresh, gated by the health check)",
                applies_on_replace: false,
            }],
            identity: NAME,
            ..ResourceType::new("aws_launch_template")
        },
        ResourceType {
            changes: &[Change {
                attrs: &["name"],
                note: "replaces the Auto Scaling group: every host is terminated and launched again",
                applies_on_replace: false,
            }],
            destroy: Some("terminates every app host"),
            identity: NAME,
            ..ResourceType::new("aws_autoscaling_group")
        },
        ResourceType {
            identity: NAME,
            ..PART.named("aws_iam_role_policy")
        },
        PART.named("aws_iam_role_policy_attachment"),
        PART.named("aws_s3_bucket_versioning"),
        PART.named("aws_s3_bucket_server_side_encryption_configuration"),
        PART.named("aws_s3_bucket_public_access_block"),
        PART.named("aws_s3_bucket_ownership_controls"),
        PART.named("aws_s3_bucket_lifecycle_configuration"),
        PART.named("aws_s3_bucket_policy"),
        PART.named("aws_route_table_association"),
        PART.named("aws_route"),
        PART.named("aws_eip"),
        PART.named("aws_default_security_group"),
        PART.named("aws_lb_listener"),
        PART.named("aws_acm_certificate_validation"),
        ResourceType {
            drawn: Drawn::PartOfReferrer,
            ..ResourceType::new("aws_iam_policy_document")
        },
        rule("aws_vpc_security_group_ingress_rule", Direction::Ingress),
        rule("aws_vpc_security_group_egress_rule", Direction::Egress),
    ],
};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_type_is_described_once() {
        let mut kinds: Vec<&str> = AWS.types.iter().map(|t| t.kind).collect();
        kinds.sort_unstable();
        let n = kinds.len();
        kinds.dedup();
        assert_eq!(kinds.len(), n, "a type is listed twice");
        assert!(kinds.iter().all(|k| k.starts_with("aws_")), "{kinds:?}");
    }
}
