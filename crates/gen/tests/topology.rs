//! `[network]` and `[serving]`: bad combinations exit 2 naming the key (nothing written), and
//! what `prod-ha` (private, load-balanced) emits holds AWS's rules and the promises.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .unwrap()
}

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("gen-topology-{}-{name}", std::process::id()));
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(dir.join("envs")).unwrap();
    for e in ["dev", "prod", "prod-ha", "bootstrap"] {
        fs::copy(
            repo().join(format!("envs/{e}.toml")),
            dir.join(format!("envs/{e}.toml")),
        )
        .unwrap();
    }
    dir
}

fn gen(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_gen"))
        .current_dir(dir)
        .args(args)
        .output()
        .unwrap()
}

fn prod_ha() -> String {
    fs::read_to_string(repo().join("envs/prod-ha.toml")).unwrap()
}

/// `prod-ha.toml` with `from` replaced by `to` (which must occur).
fn edit(from: &str, to: &str) -> String {
    let t = prod_ha();
    assert!(t.contains(from), "prod-ha.toml has no `{from}`");
    t.replacen(from, to, 1)
}

/// The env file is refused: exit 2, the file and `key` named, a fix given, nothing written.
fn refused(text: &str, key: &str, why: &str) {
    let dir = scratch(&key.replace('.', "-"));
    fs::write(dir.join("envs/prod-ha.toml"), text).unwrap();
    let out = gen(&dir, &["--env", "prod-ha", "--no-readme"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{why}: {err}");
    assert!(
        err.contains("envs/prod-ha.toml")
            && err.contains(&format!("key `{key}`"))
            && err.contains("fix:"),
        "{why}: the error must name the file, `{key}` and the fix: {err}"
    );
    assert!(
        !dir.join("generated").exists(),
        "{why}: nothing may be written"
    );
    let _ = fs::remove_dir_all(dir);
}

#[test]
fn load_balanced_without_a_health_path_is_refused() {
    refused(
        &edit("health_path = \"/health\"\n", ""),
        "app.health_path",
        "no health path",
    );
}

#[test]
fn a_domain_without_a_hosted_zone_while_dns_validation_is_on_is_refused() {
    refused(
        &edit("hosted_zone = \"fastapi-infra.example.com\"\n", ""),
        "serving.hosted_zone",
        "no zone",
    );
    refused(
        &edit(
            "hosted_zone = \"fastapi-infra.example.com\"",
            "hosted_zone = \"other.example.com\"",
        ),
        "serving.hosted_zone",
        "domain outside the zone",
    );
}

#[test]
fn manual_dns_validation_needs_no_zone_and_outputs_the_record() {
    let dir = scratch("manual-dns");
    let text = edit(
        "hosted_zone = \"fastapi-infra.example.com\"\n",
        "dns_validation = false\n",
    );
    fs::write(dir.join("envs/prod-ha.toml"), text).unwrap();
    let out = gen(&dir, &["--env", "prod-ha", "--no-readme"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let main = fs::read_to_string(dir.join("generated/prod-ha/main.tf.json")).unwrap();
    let outputs = fs::read_to_string(dir.join("generated/prod-ha/outputs.tf.json")).unwrap();
    assert!(
        !main.contains("aws_route53_record") && main.contains("aws_acm_certificate_validation")
    );
    assert!(outputs.contains("certificate_validation_records"));
    let _ = fs::remove_dir_all(dir);
}

#[test]
fn a_private_network_in_one_zone_is_refused() {
    refused(
        &edit(
            "zones = [\"us-east-1a\", \"us-east-1b\"]",
            "zones = [\"us-east-1a\"]",
        ),
        "network.zones",
        "one zone",
    );
    refused(
        &edit(
            "zones = [\"us-east-1a\", \"us-east-1b\"]",
            "zones = [\"us-east-1a\", \"eu-west-1b\"]",
        ),
        "network.zones",
        "a zone of another region",
    );
}

#[test]
fn ssh_ingress_in_a_load_balanced_env_is_refused() {
    refused(
        &edit(
            "ssh_ingress_cidrs = []",
            "ssh_ingress_cidrs = [\"198.51.100.10/32\"]",
        ),
        "app.ssh_ingress_cidrs",
        "SSH CIDRs",
    );
}

#[test]
fn modes_that_cannot_work_together_are_refused() {
    refused(
        &edit("mode = \"private\"", "mode = \"default-vpc\""),
        "network.mode",
        "load-balanced in the default VPC",
    );
    refused(
        &edit("mode = \"load-balanced\"", "mode = \"single-host\""),
        "serving.mode",
        "a single host in private subnets",
    );
    refused(
        &edit("desired_hosts = 2", "desired_hosts = 9"),
        "serving.desired_hosts",
        "desired above max",
    );
    refused(
        &edit("vpc_cidr = \"10.20.0.0/16\"", "vpc_cidr = \"10.20.0.0/26\""),
        "network.vpc_cidr",
        "a VPC too small",
    );
}

fn main_tf() -> Value {
    let text = fs::read_to_string(repo().join("generated/prod-ha/main.tf.json")).unwrap();
    serde_json::from_str(&text).unwrap()
}

fn resources<'a>(doc: &'a Value, kind: &str) -> Vec<(&'a String, &'a Value)> {
    doc["resource"][kind]
        .as_object()
        .map(|m| m.iter().collect())
        .unwrap_or_default()
}

/// A nested block: JSON holds one as an object, several as a list.
fn block<'a>(v: &'a Value, key: &str) -> &'a Value {
    match &v[key] {
        Value::Array(a) => &a[0],
        other => other,
    }
}

fn one<'a>(doc: &'a Value, kind: &str, name: &str) -> &'a Value {
    let v = &doc["resource"][kind][name];
    assert!(!v.is_null(), "{kind}.{name} is missing");
    v
}

#[test]
fn prod_ha_hosts_take_the_app_port_from_the_load_balancer_only_and_no_ssh() {
    let doc = main_tf();
    let ingress = resources(&doc, "aws_vpc_security_group_ingress_rule");
    for (name, r) in &ingress {
        assert_ne!(r["from_port"], 22, "{name}: no SSH ingress at all");
        if r["security_group_id"] == "${aws_security_group.app.id}" {
            assert_eq!(
                r["referenced_security_group_id"], "${aws_security_group.alb.id}",
                "{name}"
            );
            assert!(r.get("cidr_ipv4").is_none(), "{name}");
        }
    }
    let from_alb = one(
        &doc,
        "aws_vpc_security_group_ingress_rule",
        "app_http_from_alb",
    );
    assert_eq!(from_alb["from_port"], 8000);
    assert!(doc["variable"].get("ssh_key_name").is_none());
    let ssm = one(&doc, "aws_iam_role_policy_attachment", "ssm_core");
    assert_eq!(
        ssm["policy_arn"],
        "arn:aws:iam::aws:policy/AmazonSSMManagedInstanceCore"
    );
}

#[test]
fn prod_ha_load_balancer_is_https_with_tls12_logs_and_protection() {
    let doc = main_tf();
    let lb = one(&doc, "aws_lb", "this");
    assert_eq!(lb["drop_invalid_header_fields"], true);
    assert_eq!(lb["enable_deletion_protection"], true, "prod protection");
    assert_eq!(lb["internal"], false);
    assert_eq!(lb["subnets"], "${local.public_subnet_ids}");
    assert_eq!(
        block(lb, "access_logs")["bucket"],
        "${aws_s3_bucket.logs.id}"
    );
    assert_eq!(block(lb, "access_logs")["enabled"], true);
    let https = one(&doc, "aws_lb_listener", "https");
    assert_eq!(https["protocol"], "HTTPS");
    assert_eq!(https["ssl_policy"], "ELBSecurityPolicy-TLS13-1-2-2021-06");
    assert_eq!(
        https["certificate_arn"], "${aws_acm_certificate_validation.this.certificate_arn}",
        "the listener waits for an ISSUED certificate"
    );
    let http = one(&doc, "aws_lb_listener", "http");
    let redirect = &block(block(http, "default_action"), "redirect");
    assert_eq!(redirect["protocol"], "HTTPS");
    assert_eq!(redirect["status_code"], "HTTP_301");
    let tg = one(&doc, "aws_lb_target_group", "app");
    assert_eq!(tg["port"], 8000);
    assert_eq!(block(tg, "health_check")["path"], "/health");
    let cert = one(&doc, "aws_acm_certificate", "this");
    assert_eq!(cert["domain_name"], "api.fastapi-infra.example.com");
    assert_eq!(cert["validation_method"], "DNS");
    let outputs: Value = serde_json::from_str(
        &fs::read_to_string(repo().join("generated/prod-ha/outputs.tf.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(
        outputs["output"]["app_url"]["value"],
        "https://api.fastapi-infra.example.com"
    );
}

#[test]
fn prod_ha_fleet_uses_the_same_user_data_imdsv2_encrypted_and_rolls_on_change() {
    let doc = main_tf();
    let lt = one(&doc, "aws_launch_template", "app");
    assert_eq!(
        lt["user_data"],
        "${filebase64(\"${path.module}/user_data.sh\")}"
    );
    assert_eq!(block(lt, "metadata_options")["http_tokens"], "required");
    assert_eq!(
        block(block(lt, "block_device_mappings"), "ebs")["encrypted"],
        true
    );
    assert_eq!(
        block(lt, "network_interfaces")["associate_public_ip_address"],
        false
    );
    let asg = one(&doc, "aws_autoscaling_group", "app");
    assert_eq!(
        (
            asg["min_size"].clone(),
            asg["max_size"].clone(),
            asg["desired_capacity"].clone()
        ),
        (2.into(), 4.into(), 2.into())
    );
    assert_eq!(asg["health_check_type"], "ELB");
    assert_eq!(asg["vpc_zone_identifier"], "${local.private_subnet_ids}");
    assert_eq!(
        block(asg, "launch_template")["version"],
        "${aws_launch_template.app.latest_version}"
    );
    assert_eq!(block(asg, "instance_refresh")["strategy"], "Rolling");
    assert_eq!(
        asg["target_group_arns"][0],
        "${aws_lb_target_group.app.arn}"
    );
    let deps: Vec<&str> = asg["depends_on"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    for d in [
        "aws_db_instance.this",
        "aws_route.private_a_nat",
        "aws_iam_role_policy_attachment.ssm_core",
    ] {
        assert!(deps.contains(&d), "the hosts boot after {d}: {deps:?}");
    }
}

#[test]
fn prod_ha_network_is_private_across_two_zones_with_nat_endpoint_and_flow_logs() {
    let doc = main_tf();
    let subnets = resources(&doc, "aws_subnet");
    assert_eq!(subnets.len(), 4);
    for (name, s) in &subnets {
        assert_eq!(s["map_public_ip_on_launch"], false, "{name}");
    }
    assert_eq!(
        resources(&doc, "aws_nat_gateway").len(),
        2,
        "nat_gateways = per-zone"
    );
    let ep = one(&doc, "aws_vpc_endpoint", "s3");
    assert_eq!(ep["vpc_endpoint_type"], "Gateway");
    assert_eq!(ep["service_name"], "com.amazonaws.us-east-1.s3");
    let flow = one(&doc, "aws_flow_log", "this");
    assert_eq!(flow["traffic_type"], "ALL");
    assert_eq!(flow["log_destination_type"], "s3");
    assert_eq!(
        flow["log_destination"],
        "${aws_s3_bucket.logs.arn}/vpc-flow-logs/"
    );
    let db_group = one(&doc, "aws_db_subnet_group", "db");
    assert_eq!(db_group["subnet_ids"], "${local.private_subnet_ids}");
    assert_eq!(one(&doc, "aws_db_instance", "this")["multi_az"], true);
    assert!(doc["resource"].get("aws_instance").is_none());
}

#[test]
fn moving_prod_to_a_private_network_is_flagged_as_data_loss_by_gen_diff() {
    let dir = scratch("move");
    let out = gen(&dir, &["--all", "--no-readme"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let prod = fs::read_to_string(dir.join("envs/prod.toml")).unwrap();
    let ha = prod_ha();
    let tables = &ha[ha.find("\n[network]").unwrap() + 1..ha.find("\n[buckets]").unwrap() + 1];
    let moved = prod
        .replace(
            "ssh_ingress_cidrs = [\"198.51.100.10/32\"]",
            "ssh_ingress_cidrs = []",
        )
        .replace("[buckets]", &format!("{tables}[buckets]"));
    assert_ne!(moved, prod);
    fs::write(dir.join("envs/prod.toml"), moved).unwrap();
    let out = gen(&dir, &["diff", "--env", "prod"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{text}");
    let group = text
        .find("~ aws_db_subnet_group.db")
        .expect("the subnet group changes");
    let note = &text[group..];
    assert!(
        note.contains("!! moves the database to other subnets")
            && note.contains("data is lost unless you snapshot"),
        "{text}"
    );
    assert!(
        text.contains("- aws_instance.app") && text.contains("!! terminates the app host"),
        "{text}"
    );
    let _ = fs::remove_dir_all(dir);
}
