"""The deployment stack, applied for real against moto on 127.0.0.1 (issue: deployment stack).

For dev and prod: plan, apply, outputs with the promised shapes, a second plan with no
changes, and destroy. The committed output stays clean: the test works on a copy and adds
`*_override.tf.json` files for the emulator's endpoints and quirks.
"""

import json
import re

import pytest

from harness import TEST_VARS, Terraform, copy_env, write_json


# moto 5.2.5 drops the description of a rule that references another security group, so every
# plan would add it back. The description stays in the generated output (scanners and reviewers
# want it); the test alone ignores it on that one rule.
MOTO_QUIRKS = {
    "resource": {
        "aws_vpc_security_group_ingress_rule": {
            "db_postgres_from_app": {"lifecycle": {"ignore_changes": ["description"]}}
        }
    }
}


def prepare(env, tmp_path, moto):
    work = copy_env(env, tmp_path / env)
    write_json(work / "providers_override.tf.json", moto.provider_override())
    write_json(work / "backend_override.tf.json", {"terraform": {"backend": {"local": {}}}})
    write_json(work / "moto_override.tf.json", MOTO_QUIRKS)
    write_json(work / "terraform.tfvars.json", TEST_VARS)
    tf = Terraform(work, tmp_path / f"terraform-{env}.log")
    tf.init(backend=True)
    return work, tf


def check_aws_rules(env, moto, out):
    """What AWS requires and the emulator lets pass: checked on what the emulator now holds."""
    s3, ec2 = moto.boto("s3"), moto.boto("ec2")
    account = moto.boto("sts").get_caller_identity()["Account"]
    # Access logs are delivered only into an SSE-S3 bucket, by the logging service, for exactly
    # the source buckets of this account, each under its own prefix.
    logs = out["bucket_logs_name"]["value"]
    rule = s3.get_bucket_encryption(Bucket=logs)["ServerSideEncryptionConfiguration"]["Rules"][0]
    assert rule["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256", rule
    policy = json.loads(s3.get_bucket_policy(Bucket=logs)["Policy"])
    delivery = [st for st in policy["Statement"] if st.get("Principal") == {"Service": "logging.s3.amazonaws.com"}]
    assert len(delivery) == 2, policy
    for role in ("artifacts", "content"):
        source = out[f"bucket_{role}_name"]["value"]
        assert s3.get_bucket_logging(Bucket=source)["LoggingEnabled"]["TargetPrefix"] == f"{role}/"
        st = next(st for st in delivery if st["Resource"] == f"arn:aws:s3:::{logs}/{role}/*")
        assert st["Condition"]["ArnLike"]["aws:SourceArn"] == f"arn:aws:s3:::{source}", st
        assert st["Condition"]["StringEquals"]["aws:SourceAccount"] == account, st
    for role in ("artifacts", "content"):
        rule = s3.get_bucket_encryption(Bucket=out[f"bucket_{role}_name"]["value"])["ServerSideEncryptionConfiguration"]["Rules"][0]
        assert rule["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == "aws:kms", rule

    # The instance sits in a zone that offers its type. The fixture is meaningful: moto, like
    # us-east-1, has a default subnet in a zone without t3 (us-east-1e).
    inst = ec2.describe_instances(InstanceIds=[out["instance_id"]["value"]])["Reservations"][0]["Instances"][0]
    offered = {o["Location"] for o in ec2.describe_instance_type_offerings(
        LocationType="availability-zone", Filters=[{"Name": "instance-type", "Values": [inst["InstanceType"]]}])["InstanceTypeOfferings"]}
    default_zones = {sn["AvailabilityZone"] for sn in ec2.describe_subnets(
        Filters=[{"Name": "default-for-az", "Values": ["true"]}])["Subnets"]}
    assert default_zones - offered, f"every default subnet's zone offers {inst['InstanceType']}: the check proves nothing"
    assert inst["Placement"]["AvailabilityZone"] in offered, (inst["Placement"], offered)
    # The DB subnet group spans at least two zones.
    group = moto.boto("rds").describe_db_subnet_groups(DBSubnetGroupName=f"fastapi-infra-{env}-db")["DBSubnetGroups"][0]
    assert len({sn["SubnetAvailabilityZone"]["Name"] for sn in group["Subnets"]}) >= 2, group


@pytest.mark.slow
@pytest.mark.parametrize("env", ["dev", "prod"])
def test_apply_outputs_replan_destroy(env, tmp_path, moto):
    work, tf = prepare(env, tmp_path, moto)
    tf.run("plan", "-out=tfplan", timeout=180)
    tf.run("apply", "-auto-approve", "tfplan", timeout=400)

    out = json.loads(tf.run("output", "-json").stdout)
    assert re.fullmatch(r"http://\d+\.\d+\.\d+\.\d+:8000", out["app_url"]["value"]), out["app_url"]
    assert re.fullmatch(r"[a-z0-9.-]+:5432", out["rds_endpoint"]["value"]), out["rds_endpoint"]
    assert out["instance_id"]["value"].startswith("i-")
    for role in ("logs", "artifacts", "content"):
        assert out[f"bucket_{role}_name"]["value"] == f"fastapi-infra-{env}-{role}"
    # No secret in outputs or state outputs.
    assert TEST_VARS["db_password"] not in json.dumps(out)

    # What the emulator now holds matches what the env file asked for.
    rds = moto.boto("rds").describe_db_instances()["DBInstances"]
    assert len(rds) == 1 and rds[0]["Engine"] == "postgres"
    assert rds[0]["PubliclyAccessible"] is False and rds[0]["StorageEncrypted"] is True
    assert rds[0]["DeletionProtection"] is (env == "prod")
    ssm = moto.boto("ssm").get_parameter(Name=f"/fastapi-infra/{env}/db_password", WithDecryption=False)
    assert ssm["Parameter"]["Type"] == "SecureString"
    check_aws_rules(env, moto, out)

    # A second plan must show no changes (exit 0; 2 would mean changes).
    replan = tf.run("plan", "-detailed-exitcode", timeout=180, check=False)
    assert replan.returncode == 0, f"second plan is not empty:\n{replan.stdout[-6000:]}\n{replan.stderr[-2000:]}"

    if env == "prod":
        # Protection is real: lift it through a test override before destroying. Prod's buckets
        # are not force_destroy, and the logs bucket has received access logs by now.
        write_json(
            work / "teardown_override.tf.json",
            {"resource": {
                "aws_db_instance": {"this": {"deletion_protection": False, "skip_final_snapshot": True}},
                "aws_s3_bucket": {role: {"force_destroy": True} for role in ("logs", "artifacts", "content")},
            }},
        )
        tf.run("apply", "-auto-approve", timeout=300)
    tf.run("destroy", "-auto-approve", timeout=600)
    state = json.loads(tf.run("show", "-json").stdout)
    assert not state.get("values", {}).get("root_module", {}).get("resources"), "destroy left resources"
    print(f"\n{env} timings (s): " + ", ".join(f"{k} {v:.1f}" for k, v in tf.timings.items()))
