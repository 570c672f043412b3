//! rds: Postgres 16 reachable only from the app's security group, encrypted, never public.

use tf::{Address, Body, Expr, Op, Piece, Ref, Stack, Value};

use crate::env::{Database, Protection};
use crate::{Host, Naming, SecurityGroupId, SubnetIds, VpcId};

/// RDS Postgres with its subnet group and security group.
pub struct Postgres<'a> {
    pub naming: &'a Naming,
    pub db: &'a Database,
    /// Prod: deletion protection, final snapshot, Multi-AZ backups kept.
    pub protection: Protection,
    pub vpc_id: VpcId,
    pub subnets: SubnetIds,
    /// The only security group admitted on 5432.
    pub allow_from: SecurityGroupId,
    pub username: Ref,
    /// Written through the write-only `password_wo` (never in plan or state).
    pub password: Ref,
    /// `password_wo_version`: bump it to send a new password.
    pub password_version: Ref,
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
    /// `aws_vpc_security_group_ingress_rule.db_postgres_from_app`: until it exists the app's
    /// connections to 5432 are dropped, so the app host boots only after it.
    pub ingress_from_app: Address,
}

pub const POSTGRES_PORT: u16 = 5432;

/// The final snapshot's name: `<identifier>-final-<UTC creation time, YYYYMMDDhhmmss>`. A fixed
/// name makes the second destroy of a recreated database fail (DBSnapshotAlreadyExists) and
/// leaves it running; the creation time differs for every database ever created under this
/// identifier. (Letters, digits and single hyphens, starting with a letter: RDS's rule.)
fn final_snapshot_name(identifier: &str) -> Value {
    let created = Expr::call(
        "formatdate",
        ["YYYYMMDDhhmmss".into(), Expr::call("timestamp", []).into()],
    );
    // A call, not a string template: the HCL view cannot show a template whose expression
    // holds a quoted string.
    Expr::call(
        "join",
        [
            "".into(),
            Value::list([Value::from(format!("{identifier}-final-")), created.into()]),
        ],
    )
    .into()
}

/// RDS's rule for identifiers: 1 to `max` letters, digits or hyphens, a letter first, no
/// hyphen last and never two in a row. DB instances allow 63, snapshots 255.
fn identifier_rule(id: &str, max: usize, what: &str) -> Result<(), String> {
    let why = if !(1..=max).contains(&id.len()) {
        format!("has {} characters (1 to {max})", id.len())
    } else if !id.starts_with(|c: char| c.is_ascii_alphabetic()) {
        "does not start with a letter".into()
    } else if let Some(c) = id
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || *c == '-'))
    {
        format!(
            "has `{}` (letters, digits and hyphens only)",
            c.escape_debug()
        )
    } else if id.ends_with('-') || id.contains("--") {
        "ends with a hyphen or holds two in a row".into()
    } else {
        return Ok(());
    };
    Err(format!("the RDS {what} `{id}` {why}"))
}

/// The DB instance identifier, and the final snapshot name made from it, follow RDS's rules.
pub fn check_identifier(id: &str) -> Result<(), String> {
    identifier_rule(id, 63, "DB instance identifier")?;
    // The longest final snapshot name this identifier gives (14 digits of creation time).
    identifier_rule(
        &format!("{id}-final-{}", "0".repeat(14)),
        255,
        "final snapshot name",
    )
}

/// `aws_db_instance` arguments whose change, without `apply_immediately`, RDS queues for the
/// next maintenance window (RDS User Guide, "Settings for DB instances": "If you don't choose
/// to apply the change immediately, it occurs during the next maintenance window"; and the
/// API's PendingModifiedValues). Every other argument we set applies at once either way.
pub const DEFERRED_TO_MAINTENANCE_WINDOW: &[&str] = &[
    "allocated_storage",
    "ca_cert_identifier",
    "db_subnet_group_name",
    "domain",
    "engine_version",
    "iam_database_authentication_enabled",
    "identifier",
    "instance_class",
    "iops",
    "license_model",
    "multi_az",
    "network_type",
    "option_group_name",
    "storage_throughput",
    "storage_type",
];

/// Whether changing `attr` from `old` to `new` waits for the maintenance window when
/// `apply_immediately` is off. `backup_retention_period` waits only when it turns automated
/// backups on or off (to or from 0); between two non-zero values it applies as soon as possible.
pub fn waits_for_maintenance_window(attr: &str, old: Option<i64>, new: Option<i64>) -> bool {
    match attr {
        "backup_retention_period" => old == Some(0) || new == Some(0),
        _ => DEFERRED_TO_MAINTENANCE_WINDOW.contains(&attr),
    }
}

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
        let ingress_from_app = stack.resource(
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
        let prod = self.protection == Protection::Prod;
        let mut body = Body::new()
            .attr("identifier", name.as_str())
            .attr("engine", "postgres")
            .attr("engine_version", "16")
            .attr("instance_class", self.db.instance_class.as_str())
            .attr("allocated_storage", self.db.allocated_storage_gb)
            .attr("storage_type", "gp3")
            .attr("storage_encrypted", true)
            .attr("db_name", self.db.db_name.as_str())
            .attr("username", &self.username)
            .attr("password_wo", &self.password)
            .attr("password_wo_version", &self.password_version)
            .attr("port", POSTGRES_PORT)
            .attr("db_subnet_group_name", subnet_group.attr("name"))
            .attr("vpc_security_group_ids", Value::list([sg.attr("id")]))
            .attr("publicly_accessible", false)
            .attr("multi_az", self.db.multi_az)
            .attr("backup_retention_period", self.db.backup_retention_days)
            .attr("copy_tags_to_snapshot", true)
            .attr("auto_minor_version_upgrade", true)
            // The app logs in with the master password (from SSM), and no role holds
            // `rds-db:connect`: a second, unused way in stays closed.
            .attr("iam_database_authentication_enabled", false)
            .attr(
                "enabled_cloudwatch_logs_exports",
                Value::list(["postgresql", "upgrade"]),
            )
            .attr("apply_immediately", self.db.apply_immediately)
            .attr("deletion_protection", prod)
            .attr("skip_final_snapshot", !prod);
        if prod {
            body.set("final_snapshot_identifier", final_snapshot_name(&name));
            // timestamp() is known only at apply and changes every second: take it once, when
            // the database is created (or replaced), and keep it (Terraform's timestamp docs).
            body.push_block(
                "lifecycle",
                Body::new().attr(
                    "ignore_changes",
                    Value::list([Value::Keyword("final_snapshot_identifier".into())]),
                ),
            );
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
            ingress_from_app,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identifiers_follow_the_rds_rules() {
        assert!(check_identifier("fastapi-infra-prod-db").is_ok());
        assert!(check_identifier(&format!("a{}", "b".repeat(62))).is_ok());
        for (bad, why) in [
            (format!("a{}", "b".repeat(63)), "1 to 63"),
            ("1db".to_string(), "start with a letter"),
            ("a--db".to_string(), "two in a row"),
            ("db-".to_string(), "two in a row"),
            ("a_db".to_string(), "`_`"),
            (String::new(), "1 to 63"),
        ] {
            let e = check_identifier(&bad).unwrap_err();
            assert!(e.contains(why), "{bad}: {e}");
        }
    }

    #[test]
    fn which_changes_wait_for_the_maintenance_window() {
        for attr in [
            "instance_class",
            "allocated_storage",
            "engine_version",
            "multi_az",
            "storage_type",
        ] {
            assert!(waits_for_maintenance_window(attr, None, None), "{attr}");
        }
        // Applied at once whatever apply_immediately says (RDS's settings table).
        for attr in [
            "deletion_protection",
            "port",
            "password",
            "enabled_cloudwatch_logs_exports",
            "copy_tags_to_snapshot",
            "vpc_security_group_ids",
        ] {
            assert!(!waits_for_maintenance_window(attr, None, None), "{attr}");
        }
        assert!(!waits_for_maintenance_window(
            "backup_retention_period",
            Some(7),
            Some(8)
        ));
        assert!(waits_for_maintenance_window(
            "backup_retention_period",
            Some(0),
            Some(7)
        ));
        assert!(waits_for_maintenance_window(
            "backup_retention_period",
            Some(7),
            Some(0)
        ));
    }
}
