"""No app host can read or lock Terraform state (issue 10, item 3), proven against IAM-enforced moto.

For one env per test (dev: `s3_access = "full"`, prod: `"scoped"`; separate tests so xdist runs
them side by side): bootstrap is applied (state bucket with its TLS-only policy, lock table),
then the whole env stack through Terraform with the admin's credentials and the real S3
backend, so the env's own state lives in the state bucket. The other env is represented by what
its role must not reach, made by the admin: its buckets, its SSM parameters, its state object.
Then the env's instance role is assumed the way EC2 does it (`MotoIAM.assume_role`) and every
request is made with those credentials.

Both directions, each refusal a 403 AccessDenied on something that exists:
- allowed: own content bucket write, read and list; own SSM parameters (as user_data reads them);
- refused: the other env's parameters and buckets (`full` is `s3:*` on the env's own buckets
  only); every state object (own and other env's), listing, writing and deleting in the state
  bucket; the lock table.
Then the admin grants the role AmazonS3FullAccess and AmazonDynamoDBFullAccess on top: the
explicit Deny still refuses the state bucket and the lock table (explicit deny wins), while the
grant visibly works on the other env's bucket.
"""

import json
import time

import pytest
from botocore.exceptions import ClientError

from harness import REPO, TEST_VARS, MotoIAM, Terraform, copy_env, write_json

import tomllib

MOTO_QUIRKS = {  # as in test_stack_moto.py: moto drops this rule's description
    "resource": {
        "aws_vpc_security_group_ingress_rule": {
            "db_postgres_from_app": {"lifecycle": {"ignore_changes": ["description"]}}
        }
    }
}


def parameter_names(env: str) -> list[str]:
    """The env's SSM parameter names, as its generated Terraform creates them."""
    main = json.loads((REPO / "generated" / env / "main.tf.json").read_text())
    return sorted(p["name"] for p in main["resource"]["aws_ssm_parameter"].values())


def env_file(name: str) -> dict:
    return tomllib.loads((REPO / "envs" / f"{name}.toml").read_text())


def bucket_names(cfg: dict) -> list[str]:
    """The env's bucket names (`[buckets]` also holds settings such as logs_expiration_days)."""
    return [cfg["buckets"][role] for role in ("logs", "artifacts", "content")]


def denied(call, **kwargs) -> None:
    with pytest.raises(ClientError) as err:
        call(**kwargs)
    resp = err.value.response
    assert resp["ResponseMetadata"]["HTTPStatusCode"] == 403, resp
    assert "AccessDenied" in resp["Error"]["Code"] or "AccessDenied" in str(err.value), resp


def backend_file(path, moto) -> None:
    lines = [f"{k} = {v}" if k == "endpoints" else f'{k} = "{v}"' for k, v in moto.backend_config().items()]
    path.write_text("\n".join(lines) + "\n")


def apply_bootstrap(moto, tmp_path) -> None:
    """Bootstrap's state bucket (with its TLS-only policy) and lock table, through Terraform.

    All but the lifecycle rules: against moto the provider polls those for about a minute, and
    access does not depend on them (test_state_backend.py applies them).
    """
    boot = copy_env("bootstrap", tmp_path / "bootstrap")
    write_json(boot / "providers_override.tf.json", moto.provider_override())
    main = json.loads((boot / "main.tf.json").read_text())
    targets = [
        f"-target={kind}.{name}"
        for kind, blocks in main["resource"].items()
        if kind != "aws_s3_bucket_lifecycle_configuration"
        for name in blocks
    ]
    tf = Terraform(boot, tmp_path / "terraform-bootstrap.log")
    tf.init()
    tf.run("apply", "-auto-approve", *targets, timeout=300)
    policy = json.loads(moto.admin_boto("s3").get_bucket_policy(Bucket=env_file("bootstrap")["state"]["bucket"])["Policy"])
    assert policy["Statement"][0]["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}, policy


def apply_env(env: str, moto, tmp_path) -> dict:
    work = copy_env(env, tmp_path / env)
    write_json(work / "providers_override.tf.json", moto.provider_override())
    write_json(work / "moto_override.tf.json", MOTO_QUIRKS)
    write_json(work / "terraform.tfvars.json", TEST_VARS)
    backend_file(tmp_path / "moto.s3.tfbackend", moto)
    tf = Terraform(work, tmp_path / f"terraform-{env}.log")
    tf.init(backend=True, backend_config=tmp_path / "moto.s3.tfbackend")
    tf.run("apply", "-auto-approve", timeout=600)
    return json.loads(tf.run("output", "-json").stdout)


def stand_in_for(other: str, moto) -> None:
    """What the other env would have made: its buckets, parameters and state object."""
    cfg = env_file(other)
    s3 = moto.admin_boto("s3")
    for bucket in bucket_names(cfg):
        s3.create_bucket(Bucket=bucket)
        s3.put_object(Bucket=bucket, Key="existing", Body=b"other env's object")
    ssm = moto.admin_boto("ssm")
    for name in parameter_names(other):
        ssm.put_parameter(Name=name, Value=f"{other} value", Type="SecureString")
    state = cfg["state"]
    s3.put_object(Bucket=state["bucket"], Key=f"{cfg['project']}/{other}/terraform.tfstate", Body=b"{}")


def assert_state_refused(moto, creds, cfg: dict, env: str, other: str) -> None:
    state = cfg["state"]
    bucket, table = state["bucket"], state["dynamodb_table"]
    s3 = moto.boto_as(creds, "s3")
    for owner in (env, other):
        key = f"{cfg['project']}/{owner}/terraform.tfstate"
        moto.admin_boto("s3").head_object(Bucket=bucket, Key=key)  # it exists: a refusal, not a 404
        denied(s3.get_object, Bucket=bucket, Key=key)
        denied(s3.put_object, Bucket=bucket, Key=key, Body=b"{}")
        denied(s3.delete_object, Bucket=bucket, Key=key)
    denied(s3.list_objects_v2, Bucket=bucket)
    ddb = moto.boto_as(creds, "dynamodb")
    lock_id = {"LockID": {"S": f"{bucket}/{cfg['project']}/{env}/terraform.tfstate"}}
    denied(ddb.put_item, TableName=table, Item=lock_id)
    denied(ddb.get_item, TableName=table, Key=lock_id)
    denied(ddb.delete_item, TableName=table, Key=lock_id)
    denied(ddb.scan, TableName=table)


@pytest.mark.slow
@pytest.mark.parametrize("env", ["dev", "prod"])
def test_instance_role_cannot_reach_state_or_other_env(env, tmp_path):
    other = {"dev": "prod", "prod": "dev"}[env]
    cfg, other_cfg = env_file(env), env_file(other)
    t0 = time.monotonic()
    moto = MotoIAM(tmp_path)
    try:
        apply_bootstrap(moto, tmp_path)
        out = apply_env(env, moto, tmp_path)
        applied = time.monotonic() - t0
        stand_in_for(other, moto)
        creds = moto.assume_role(out["instance_role_arn"]["value"])

        # Allowed: own content bucket (over TLS) and own parameters, read as user_data does.
        s3 = moto.boto_as(creds, "s3")
        content = out["bucket_content_name"]["value"]
        s3.put_object(Bucket=content, Key="probe/own", Body=b"mine")
        assert s3.get_object(Bucket=content, Key="probe/own")["Body"].read() == b"mine"
        assert "probe/own" in [o["Key"] for o in s3.list_objects_v2(Bucket=content)["Contents"]]
        # Its bucket policy refuses plain HTTP, also to its own role.
        denied(moto.boto_as(creds, "s3", secure_transport=False).get_object, Bucket=content, Key="probe/own")
        ssm = moto.boto_as(creds, "ssm")
        names = parameter_names(env)
        assert all(n.startswith(out["ssm_prefix"]["value"] + "/") for n in names)
        got = ssm.get_parameters(Names=names, WithDecryption=True)
        assert got["InvalidParameters"] == [] and len(got["Parameters"]) == len(names)
        values = {p["Name"].rsplit("/", 1)[1]: p["Value"] for p in got["Parameters"]}
        assert values["db_password"] == TEST_VARS["db_password"]

        # Refused: the other env's parameters, alone or mixed with its own.
        for name in parameter_names(other):
            denied(ssm.get_parameter, Name=name, WithDecryption=True)
        denied(ssm.get_parameters, Names=[names[0], parameter_names(other)[0]], WithDecryption=True)

        # Refused: state, own and other env's, and the lock table.
        assert_state_refused(moto, creds, cfg, env, other)

        # Refused, whatever the access level: the other env's buckets (issue 10: `full` was
        # AmazonS3FullAccess and reached them).
        other_content = other_cfg["buckets"]["content"]
        for bucket in bucket_names(other_cfg):
            denied(s3.get_object, Bucket=bucket, Key="existing")
            denied(s3.put_object, Bucket=bucket, Key="probe", Body=b"x")
            denied(s3.list_objects_v2, Bucket=bucket)
            denied(s3.get_bucket_versioning, Bucket=bucket)
        if cfg["iam"]["s3_access"] == "full":
            # `full` is every S3 action on its own buckets: bucket-level calls work there.
            assert s3.get_bucket_versioning(Bucket=content)["Status"] == "Enabled"
        else:
            denied(s3.get_bucket_versioning, Bucket=content)

        # Explicit deny wins: broad grants added later do not open state or the lock table.
        iam = moto.admin_boto("iam")
        role_name = out["instance_role_arn"]["value"].rsplit("/", 1)[1]
        for managed in ("AmazonS3FullAccess", "AmazonDynamoDBFullAccess"):
            iam.attach_role_policy(RoleName=role_name, PolicyArn=f"arn:aws:iam::aws:policy/{managed}")
        assert s3.get_object(Bucket=other_content, Key="existing")["Body"].read() == b"other env's object"
        assert_state_refused(moto, creds, cfg, env, other)
        print(f"\n{env}: bootstrap + apply {applied:.0f} s, total {time.monotonic() - t0:.0f} s")
    finally:
        moto.stop()
