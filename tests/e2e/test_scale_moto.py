"""prod-ha (private network, HTTPS load balancer, Auto Scaling group) applied against moto on
127.0.0.1 (issue 14): apply, what the emulator now holds checked against AWS's rules and the
issue's promises, a second plan with no changes, a user_data change planned as a rolling
replacement, destroy.

Where moto 5.2.5 is not AWS, named here:
- Auto Scaling has no StartInstanceRefresh: a launch-template change that would start an instance
  refresh cannot be applied, so that path is checked on the plan (template updated, group
  updated to the new version; the provider starts the refresh when it applies that update).
- ACM issues the certificate after MOTO_ACM_VALIDATION_WAIT seconds whatever DNS holds; the
  validation record is still created in Route 53 and checked here.
- Target health: moto does not run health checks, so instances are never proven healthy by the
  path; the target group's health check settings are checked instead.
- moto's CreateFlowLogs takes the whole ARN resource, subfolder included, as the bucket name
  (`fastapi-infra-prod-ha-logs/vpc-flow-logs/ does not exist`); AWS accepts a subfolder. The
  test's override points the flow log at the bucket itself; the generated subfolder is checked
  in crates/gen/tests/topology.rs.
- Instances that moto's Auto Scaling launches from a template do not take the template's metadata
  options, instance profile or security groups (they report `HttpTokens: optional`, no profile,
  no groups): those are checked on the template version the group uses, the subnet and the
  absent public IP on the instances.
- DescribeLoadBalancers answers without `Scheme`: `internal = false` is checked in the generated
  document (crates/gen/tests/topology.rs).
- DescribeLaunchTemplateVersions reports the template's own tags as a `launch-template` tag
  specification of the version (AWS keeps them on the template): the override ignores
  `tag_specifications` of the template (with `image_id`, which the generated lifecycle ignores).
- moto drops the description of a security group rule that references another group (as for
  db_postgres_from_app in test_stack_moto.py): the test's override ignores it on those rules.
"""

import json
import re

import pytest

from harness import TEST_VARS, Terraform, copy_env, write_json

ENV = "prod-ha"
ZONE = "fastapi-infra.example.com"
DOMAIN = f"api.{ZONE}"
# Services the stack talks to, beyond test_stack_moto's.
SCALE_SERVICES = ["elbv2", "autoscaling", "acm", "route53", "sts", "ec2", "iam", "rds", "s3", "ssm"]
SG_REFERENCING_RULES = {
    "aws_vpc_security_group_ingress_rule": ["db_postgres_from_app", "app_http_from_alb"],
    "aws_vpc_security_group_egress_rule": ["alb_to_app"],
}


@pytest.fixture
def moto_acm(tmp_path):
    from harness import Moto

    server = Moto(tmp_path, extra_env={"MOTO_ACM_VALIDATION_WAIT": "1"})
    try:
        yield server
    finally:
        server.stop()


def prepare(tmp_path, moto):
    work = copy_env(ENV, tmp_path / ENV)
    provider = moto.provider_override()
    provider["provider"]["aws"]["endpoints"].update({s: moto.url for s in SCALE_SERVICES})
    write_json(work / "providers_override.tf.json", provider)
    write_json(work / "backend_override.tf.json", {"terraform": {"backend": {"local": {}}}})
    quirks = {kind: {n: {"lifecycle": {"ignore_changes": ["description"]}} for n in names}
              for kind, names in SG_REFERENCING_RULES.items()}
    # moto quirk (see the module docstring): the flow log's destination without its subfolder.
    quirks["aws_flow_log"] = {"this": {"log_destination": "${aws_s3_bucket.logs.arn}"}}
    # moto quirk: the template's own tags come back as a `launch-template` tag specification of
    # its version data, so every plan would drop it and make a new version.
    quirks["aws_launch_template"] = {"app": {"lifecycle": {"ignore_changes": ["image_id", "tag_specifications"]}}}
    write_json(work / "moto_override.tf.json", {"resource": quirks})
    tfvars = tmp_path / "prod-ha.tfvars.json"
    tfvars.write_text(json.dumps(TEST_VARS))
    tf = Terraform(work, tmp_path / f"terraform-{ENV}.log")
    tf.init(backend=True)
    return work, tf, tfvars


def check_network(moto, out):
    ec2 = moto.boto("ec2")
    vpc = ec2.describe_vpcs(Filters=[{"Name": "tag:Name", "Values": ["fastapi-infra-prod-ha-vpc"]}])["Vpcs"]
    assert len(vpc) == 1 and vpc[0]["CidrBlock"] == "10.20.0.0/16", vpc
    vpc_id = vpc[0]["VpcId"]
    subnets = ec2.describe_subnets(Filters=[{"Name": "vpc-id", "Values": [vpc_id]}])["Subnets"]
    zones = {s["AvailabilityZone"] for s in subnets}
    assert zones == {"us-east-1a", "us-east-1b"}, zones
    assert not [s for s in subnets if s["MapPublicIpOnLaunch"]], "a subnet assigns public IPs"
    nats = [n for n in ec2.describe_nat_gateways()["NatGateways"] if n["VpcId"] == vpc_id and n["State"] == "available"]
    assert len(nats) == 2, nats
    eps = ec2.describe_vpc_endpoints(Filters=[{"Name": "vpc-id", "Values": [vpc_id]}])["VpcEndpoints"]
    assert [e["ServiceName"] for e in eps] == ["com.amazonaws.us-east-1.s3"] and eps[0]["VpcEndpointType"] == "Gateway"
    flows = ec2.describe_flow_logs(Filters=[{"Name": "resource-id", "Values": [vpc_id]}])["FlowLogs"]
    assert len(flows) == 1 and flows[0]["LogDestinationType"] == "s3", flows
    assert flows[0]["LogDestination"] == f"arn:aws:s3:::{out['bucket_logs_name']['value']}"
    group = moto.boto("rds").describe_db_subnet_groups(DBSubnetGroupName="fastapi-infra-prod-ha-db")["DBSubnetGroups"][0]
    private = {s["SubnetId"] for s in subnets if s["CidrBlock"] in ("10.20.128.0/20", "10.20.144.0/20")}
    assert len(private) == 2, subnets
    assert {s["SubnetIdentifier"] for s in group["Subnets"]} == private, (group, private)
    return vpc_id, private


def check_load_balancer(moto, out):
    elb = moto.boto("elbv2")
    lbs = elb.describe_load_balancers(Names=["fastapi-infra-prod-ha-alb"])["LoadBalancers"]
    assert lbs[0]["DNSName"] == out["alb_dns_name"]["value"], lbs
    attrs = {a["Key"]: a["Value"] for a in elb.describe_load_balancer_attributes(LoadBalancerArn=lbs[0]["LoadBalancerArn"])["Attributes"]}
    assert attrs["deletion_protection.enabled"] == "true", attrs
    assert attrs["routing.http.drop_invalid_header_fields.enabled"] == "true", attrs
    assert attrs["access_logs.s3.enabled"] == "true" and attrs["access_logs.s3.bucket"] == out["bucket_logs_name"]["value"], attrs
    listeners = {ls["Port"]: ls for ls in elb.describe_listeners(LoadBalancerArn=lbs[0]["LoadBalancerArn"])["Listeners"]}
    assert listeners[443]["Protocol"] == "HTTPS" and listeners[443]["SslPolicy"] == "ELBSecurityPolicy-TLS13-1-2-2021-06"
    redirect = listeners[80]["DefaultActions"][0]
    assert redirect["Type"] == "redirect" and redirect["RedirectConfig"]["Protocol"] == "HTTPS", redirect
    cert = moto.boto("acm").describe_certificate(CertificateArn=listeners[443]["Certificates"][0]["CertificateArn"])["Certificate"]
    assert cert["DomainName"] == DOMAIN and cert["Status"] == "ISSUED", cert
    tg = elb.describe_target_groups(Names=["fastapi-infra-prod-ha-app"])["TargetGroups"][0]
    assert (tg["Port"], tg["HealthCheckPath"]) == (8000, "/health"), tg
    # The logs bucket lets the Region's ELB account (us-east-1: 127311923021) write under alb/.
    s3 = moto.boto("s3")
    logs = out["bucket_logs_name"]["value"]
    policy = json.loads(s3.get_bucket_policy(Bucket=logs)["Policy"])
    st = next(s for s in policy["Statement"] if s.get("Sid") == "LoadBalancerAccessLogs")
    assert st["Principal"] == {"AWS": "arn:aws:iam::127311923021:root"}, st
    account = moto.boto("sts").get_caller_identity()["Account"]
    assert st["Resource"] == f"arn:aws:s3:::{logs}/alb/AWSLogs/{account}/*", st
    rule = s3.get_bucket_encryption(Bucket=logs)["ServerSideEncryptionConfiguration"]["Rules"][0]
    assert rule["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256", "ALB logs need SSE-S3"
    return tg["TargetGroupArn"]


def check_dns(moto):
    r53 = moto.boto("route53")
    zone = next(z for z in r53.list_hosted_zones()["HostedZones"] if z["Name"] == f"{ZONE}.")
    records = r53.list_resource_record_sets(HostedZoneId=zone["Id"])["ResourceRecordSets"]
    alias = [r for r in records if r["Name"] == f"{DOMAIN}." and r["Type"] == "A"]
    assert alias and "AliasTarget" in alias[0], records
    assert [r for r in records if r["Type"] == "CNAME"], f"no validation record: {records}"


def check_hosts(moto, private, tg_arn):
    asg = moto.boto("autoscaling").describe_auto_scaling_groups(AutoScalingGroupNames=["fastapi-infra-prod-ha-app"])["AutoScalingGroups"][0]
    assert (asg["MinSize"], asg["MaxSize"], asg["DesiredCapacity"]) == (2, 4, 2), asg
    assert asg["HealthCheckType"] == "ELB" and asg["TargetGroupARNs"] == [tg_arn], asg
    assert set(asg["VPCZoneIdentifier"].split(",")) == private
    ids = [i["InstanceId"] for i in asg["Instances"]]
    assert len(ids) == 2, asg["Instances"]
    ec2 = moto.boto("ec2")
    for r in ec2.describe_instances(InstanceIds=ids)["Reservations"]:
        for i in r["Instances"]:
            assert "PublicIpAddress" not in i, f"{i['InstanceId']} has a public IP"
            assert i["SubnetId"] in private
    lt = ec2.describe_launch_template_versions(LaunchTemplateName="fastapi-infra-prod-ha-app", Versions=["$Latest"])["LaunchTemplateVersions"][0]
    data = lt["LaunchTemplateData"]
    assert data["BlockDeviceMappings"][0]["Ebs"]["Encrypted"] is True
    assert data["NetworkInterfaces"][0]["AssociatePublicIpAddress"] is False
    assert data["MetadataOptions"]["HttpTokens"] == "required", data["MetadataOptions"]
    assert data["IamInstanceProfile"] == {"Name": "fastapi-infra-prod-ha-app"}
    app_sg = ec2.describe_security_groups(Filters=[{"Name": "group-name", "Values": ["fastapi-infra-prod-ha-app"]}])["SecurityGroups"][0]
    assert data["NetworkInterfaces"][0]["Groups"] == [app_sg["GroupId"]]
    import base64
    from harness import REPO
    assert base64.b64decode(data["UserData"]) == (REPO / "generated" / ENV / "user_data.sh").read_bytes(), \
        "the launch template does not carry the env's user_data.sh"
    # No SSH anywhere: no security group of the VPC admits port 22.
    sgs = ec2.describe_security_groups(Filters=[{"Name": "group-name", "Values": ["fastapi-infra-prod-ha-app", "fastapi-infra-prod-ha-alb"]}])["SecurityGroups"]
    assert len(sgs) == 2
    for sg in sgs:
        assert not [p for p in sg["IpPermissions"] if p.get("FromPort") == 22], sg
    iam = moto.boto("iam")
    attached = [p["PolicyArn"] for p in iam.list_attached_role_policies(RoleName="fastapi-infra-prod-ha-app")["AttachedPolicies"]]
    assert "arn:aws:iam::aws:policy/AmazonSSMManagedInstanceCore" in attached


def replan_is_empty(tf, tfvars):
    replan = tf.run("plan", "-detailed-exitcode", f"-var-file={tfvars}", timeout=300, check=False)
    assert replan.returncode == 0, f"plan is not empty:\n{replan.stdout[-6000:]}\n{replan.stderr[-2000:]}"


def user_data_change_rolls_the_hosts(work, tf, tfvars):
    """moto has no StartInstanceRefresh: the rolling replacement is checked on the plan."""
    ud = work / "user_data.sh"
    original = ud.read_bytes()
    ud.write_bytes(original + b"# a change\n")
    try:
        tf.run("plan", f"-var-file={tfvars}", "-out=roll.tfplan", timeout=300)
        plan = json.loads(tf.run("show", "-json", "roll.tfplan").stdout)
    finally:
        ud.write_bytes(original)
    changes = {c["address"]: c["change"]["actions"] for c in plan["resource_changes"] if c["change"]["actions"] != ["no-op"]}
    assert changes == {"aws_launch_template.app": ["update"], "aws_autoscaling_group.app": ["update"]}, changes
    asg = next(c for c in plan["resource_changes"] if c["address"] == "aws_autoscaling_group.app")
    assert asg["change"]["after"]["instance_refresh"][0]["strategy"] == "Rolling"
    assert "launch_template" in json.dumps(asg["change"]["after_unknown"]), "the group does not move to the new version"


@pytest.mark.slow
def test_prod_ha_apply_replan_roll_destroy(tmp_path, moto_acm):
    moto = moto_acm
    moto.boto("route53").create_hosted_zone(Name=ZONE, CallerReference=f"test-{moto.port}")
    work, tf, tfvars = prepare(tmp_path, moto)
    tf.run("apply", "-auto-approve", f"-var-file={tfvars}", timeout=1200)
    out = json.loads(tf.run("output", "-json").stdout)
    assert out["app_url"]["value"] == f"https://{DOMAIN}"
    assert re.fullmatch(r"[a-z0-9.-]+:5432", out["rds_endpoint"]["value"])
    assert "instance_id" not in out and "ssh_user" not in out
    _vpc, private = check_network(moto, out)
    tg = check_load_balancer(moto, out)
    check_dns(moto)
    check_hosts(moto, private, tg)
    rds = moto.boto("rds").describe_db_instances()["DBInstances"][0]
    assert rds["MultiAZ"] is True and rds["PubliclyAccessible"] is False
    replan_is_empty(tf, tfvars)
    user_data_change_rolls_the_hosts(work, tf, tfvars)

    write_json(work / "teardown_override.tf.json", {"resource": {
        "aws_db_instance": {"this": {"deletion_protection": False, "skip_final_snapshot": True}},
        "aws_lb": {"this": {"enable_deletion_protection": False}},
        "aws_s3_bucket": {role: {"force_destroy": True} for role in ("logs", "artifacts", "content")},
    }})
    tf.run("apply", "-auto-approve", f"-var-file={tfvars}", timeout=600)
    tf.run("destroy", "-auto-approve", f"-var-file={tfvars}", timeout=900)
    state = json.loads(tf.run("show", "-json").stdout)
    assert not state.get("values", {}).get("root_module", {}).get("resources"), "destroy left resources"
    print(f"\n{ENV} timings (s): " + ", ".join(f"{k} {v:.1f}" for k, v in tf.timings.items()))
