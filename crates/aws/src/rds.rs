//! rds: Postgres 16 reachable only from the app's security group, encrypted, never public.

use tf::{Address, Body, Expr, Op, Piece, Ref, Stack, Value};

use crate::env::{Database, Protection};
use crate::{Host, Naming, SecurityGroupId, SubnetIds, VpcId};

/// RDS Postgres with its subnet group and security group.
pub struct Postgres<'a> {
    pub naming: &'a Naming,
    pub db: &'a Database,
    pub vpc_id: VpcId,
    pub subnets: SubnetIds,
    /// The only security group admitted on 5432.
    pub allow_from: SecurityGroupId,
    pub username: Ref,
    pub password: Ref,
}

/// What the database gives other modules.
pub struct PostgresOutputs {
    /// `aws_db_instance.this`: the app host boots only after it exists.
    pub address: Address,
    pub host: Host,
    pub port: Ref,
    /// `<host>:<port>`.
    pub endpoint: Value,
    pub security_group: SecurityGroupId,
}

pub const POSTGRES_PORT: u16 = 5432;

/// RDS refuses a DB subnet group that covers fewer than two Availability Zones
/// (DBSubnetGroupDoesNotCoverEnoughAZs). The subnets are default subnets, one per zone.
fn two_zones(subnets: &SubnetIds) -> Body {
    Body::new()
        .attr(
            "condition",
            Expr::binary(Expr::call("length", [subnets.into()]), Op::GreaterEq, 2i64),
        )
        .attr(
            "error_message",
            "The DB subnet group needs default subnets in at least two Availability Zones. Fix: add default subnets (aws ec2 create-default-subnet --availability-zone ...).",
        )
}

impl Postgres<'_> {
    pub fn emit(&self, stack: &mut Stack) -> PostgresOutputs {
        let name = self.naming.db_identifier();
        let sg = stack.resource(
            "aws_security_group",
            "db",
            Body::new()
                .attr("name", name.as_str())
                .attr(
                    "description",
                    "Postgres: admits 5432 from the app security group only",
                )
                .attr("vpc_id", &self.vpc_id),
        );
        stack.resource(
            "aws_vpc_security_group_ingress_rule",
            "db_postgres_from_app",
            Body::new()
                .attr("security_group_id", sg.attr("id"))
                .attr("description", "Postgres from the app instances")
                .attr("referenced_security_group_id", &self.allow_from)
                .attr("ip_protocol", "tcp")
                .attr("from_port", POSTGRES_PORT)
                .attr("to_port", POSTGRES_PORT),
        );
        let subnet_group = stack.resource(
            "aws_db_subnet_group",
            "db",
            Body::new()
                .attr("name", name.as_str())
                .attr("description", "Default VPC subnets for Postgres")
                .attr("subnet_ids", &self.subnets)
                .block(
                    "lifecycle",
                    Body::new().block("precondition", two_zones(&self.subnets)),
                ),
        );
        let prod = self.db.protection == Protection::Prod;
        let mut body = Body::new()
            .attr("identifier", name.as_str())
            .attr("engine", "postgres")
            .attr("engine_version", "16")
            .attr("instance_class", self.db.instance_class.0.as_str())
            .attr("allocated_storage", self.db.allocated_storage_gb)
            .attr("storage_type", "gp3")
            .attr("storage_encrypted", true)
            .attr("db_name", self.db.db_name.0.as_str())
            .attr("username", &self.username)
            .attr("password", &self.password)
            .attr("port", POSTGRES_PORT)
            .attr("db_subnet_group_name", subnet_group.attr("name"))
            .attr("vpc_security_group_ids", Value::list([sg.attr("id")]))
            .attr("publicly_accessible", false)
            .attr("multi_az", self.db.multi_az)
            .attr("backup_retention_period", self.db.backup_retention_days)
            .attr("copy_tags_to_snapshot", true)
            .attr("auto_minor_version_upgrade", true)
            .attr("iam_database_authentication_enabled", true)
            .attr(
                "enabled_cloudwatch_logs_exports",
                Value::list(["postgresql", "upgrade"]),
            )
            .attr("deletion_protection", prod)
            .attr("skip_final_snapshot", !prod);
        if prod {
            body.set("final_snapshot_identifier", format!("{name}-final"));
        }
        let db = stack.resource("aws_db_instance", "this", body);
        let host = db.attr("address");
        let port = db.attr("port");
        let endpoint = Value::template([
            Piece::Expr(Expr::Ref(host.clone())),
            Piece::Lit(":".into()),
            Piece::Expr(Expr::Ref(port.clone())),
        ]);
        PostgresOutputs {
            address: db,
            host: Host(host),
            port,
            endpoint,
            security_group: SecurityGroupId(sg.attr("id")),
        }
    }
}
