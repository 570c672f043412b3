"""Remote state against moto on 127.0.0.1 (issue: remote state).

Bootstrap creates the state bucket and lock table; dev keeps its state there with DynamoDB
locking, and a `staging` env made from one new env file uses S3 native locking (use_lockfile).
For both, a held lock makes a second plan fail with a lock error, and after release it succeeds.
Then everything is destroyed, bootstrap last.
"""

import json
import os
import select
import subprocess
import time

import pytest

from harness import TEST_VARS, REPO, Terraform, copy_env, write_json

BUCKET = "fastapi-infra-tfstate"
TABLE = "fastapi-infra-tflock"
ALIAS = "alias/fastapi-infra-tfstate"
# A small, fast part of the app stack: enough to write real state.
TARGET = "-target=aws_ssm_parameter.repo_branch"


def backend_file(path, moto):
    lines = [f"{k} = {v}" if k == "endpoints" else f'{k} = "{v}"' for k, v in moto.backend_config().items()]
    path.write_text("\n".join(lines) + "\n")
    return path


def hold_lock(tf: Terraform):
    """Start an apply (of a real change) that stops at its confirmation prompt, holding the lock."""
    env = dict(tf.env)
    env.pop("TF_INPUT", None)
    proc = subprocess.Popen(
        ["timeout", "120", "terraform", "apply", "-no-color", TARGET, "-var", "app_repo_branch=held-lock"],
        cwd=tf.dir,
        env=env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    out = b""
    deadline = time.monotonic() + 90
    fd = proc.stdout.fileno()
    while b"Enter a value" not in out:
        assert time.monotonic() < deadline, f"apply never reached its prompt:\n{out.decode()}"
        ready, _, _ = select.select([fd], [], [], 0.5)
        if ready:
            chunk = os.read(fd, 65536)
            assert chunk or proc.poll() is None, f"apply exited early:\n{out.decode()}"
            out += chunk
    return proc


def release(proc):
    proc.stdin.write(b"no\n")
    proc.stdin.flush()
    proc.wait(timeout=30)


def assert_locked_then_free(tf: Terraform, moto, lock_evidence):
    holder = hold_lock(tf)
    try:
        lock_evidence()
        blocked = tf.run("plan", "-lock-timeout=2s", TARGET, timeout=60, check=False)
        assert blocked.returncode != 0
        assert "Error acquiring the state lock" in blocked.stderr, blocked.stderr[-3000:]
        print("\nwhat a user sees while the lock is held:\n" + blocked.stderr.strip()[:1200])
    finally:
        release(holder)
    tf.run("plan", "-lock-timeout=2s", TARGET, timeout=120)


def check_state_key(moto, out, table) -> str:
    """The state key: customer-managed, rotated, named by its alias, used by bucket and table."""
    kms = moto.boto("kms")
    key_arn = out["state_kms_key_arn"]["value"]
    meta = kms.describe_key(KeyId=key_arn)["KeyMetadata"]
    assert meta["KeyManager"] == "CUSTOMER" and meta["KeyState"] == "Enabled", meta
    assert kms.get_key_rotation_status(KeyId=key_arn)["KeyRotationEnabled"] is True
    alias_arn = out["state_kms_alias_arn"]["value"]
    assert alias_arn == f"arn:aws:kms:us-east-1:{moto.boto('sts').get_caller_identity()['Account']}:{ALIAS}"
    assert kms.describe_key(KeyId=alias_arn)["KeyMetadata"]["Arn"] == key_arn
    # Every app env's backend names this alias, by name: S3 resolves it in the writer's account.
    for env in ("dev", "prod"):
        backend = json.loads((REPO / f"generated/{env}/backend.tf.json").read_text())["terraform"]["backend"]["s3"]
        assert backend["encrypt"] is True and backend["kms_key_id"] == ALIAS, backend
    # The key policy names only this account, which manages the key through IAM.
    policy = json.loads(kms.get_key_policy(KeyId=key_arn, PolicyName="default")["Policy"])
    principals = [st["Principal"] for st in policy["Statement"]]
    assert principals == [{"AWS": f"arn:aws:iam::{meta['AWSAccountId']}:root"}], policy
    rule = moto.boto("s3").get_bucket_encryption(Bucket=BUCKET)["ServerSideEncryptionConfiguration"]["Rules"][0]
    assert rule["ApplyServerSideEncryptionByDefault"] == {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": key_arn}, rule
    assert table["SSEDescription"]["SSEType"] == "KMS" and table["SSEDescription"]["KMSMasterKeyArn"] == key_arn
    return key_arn


def assert_state_encrypted_with(moto, head, key_arn):
    """The backend wrote the state with SSE-KMS and the state key. AWS reports the key ARN;
    moto echoes the id the request named (the alias ARN) without checking it, so resolve it."""
    assert head["ServerSideEncryption"] == "aws:kms", head
    named = head["SSEKMSKeyId"]
    assert moto.boto("kms").describe_key(KeyId=named)["KeyMetadata"]["Arn"] == key_arn, named


@pytest.mark.slow
def test_bootstrap_backends_locking_and_teardown(tmp_path, moto):
    timings = {}
    t0 = time.monotonic()

    # 1. Bootstrap, local state. prevent_destroy is on in the generated output.
    boot = copy_env("bootstrap", tmp_path / "bootstrap")
    write_json(boot / "providers_override.tf.json", moto.provider_override())
    btf = Terraform(boot, tmp_path / "terraform-bootstrap.log")
    btf.init()
    btf.run("apply", "-auto-approve", timeout=300)
    out = json.loads(btf.run("output", "-json").stdout)
    assert out["state_bucket_name"]["value"] == BUCKET
    assert out["lock_table_name"]["value"] == TABLE
    assert out["region"]["value"] == "us-east-1"
    # The CI roles: GitHub's OIDC provider, and per app env a plan and an apply role whose trust
    # names that provider, the audience and this repository's subjects (crates/gen/tests/ci_roles.rs
    # checks every condition; moto does not evaluate web-identity trust).
    iam = moto.boto("iam")
    provider = out["github_oidc_provider_arn"]["value"]
    assert provider.endswith(":oidc-provider/token.actions.githubusercontent.com"), provider
    assert iam.get_open_id_connect_provider(OpenIDConnectProviderArn=provider)["ClientIDList"] == ["sts.amazonaws.com"]
    for env in ("dev", "prod"):
        for kind in ("plan", "apply"):
            role = iam.get_role(RoleName=f"fastapi-infra-{env}-ci-{kind}")["Role"]
            assert out[f"{env}_ci_{kind}_role_arn"]["value"] == role["Arn"]
            (st,) = role["AssumeRolePolicyDocument"]["Statement"]
            assert st["Principal"] == {"Federated": provider}, st
            assert st["Condition"]["StringEquals"]["token.actions.githubusercontent.com:aud"] == "sts.amazonaws.com", st
            assert iam.get_role_policy(RoleName=role["RoleName"], PolicyName=role["RoleName"])["PolicyDocument"]
    replan = btf.run("plan", "-detailed-exitcode", timeout=180, check=False)
    assert replan.returncode == 0, f"second bootstrap plan is not empty:\n{replan.stdout[-4000:]}"
    s3 = moto.boto("s3")
    assert s3.get_bucket_versioning(Bucket=BUCKET)["Status"] == "Enabled"
    pab = s3.get_public_access_block(Bucket=BUCKET)["PublicAccessBlockConfiguration"]
    assert all(pab.values()), pab
    policy = json.loads(s3.get_bucket_policy(Bucket=BUCKET)["Policy"])
    deny = policy["Statement"][0]
    assert deny["Effect"] == "Deny" and deny["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}, deny
    # A second plan of bootstrap shows no changes (the key policy, rotation, alias, encryption),
    # taken before the emulator-only policy removal below.
    replan = btf.run("plan", "-detailed-exitcode", timeout=300, check=False)
    assert replan.returncode == 0, f"second bootstrap plan is not empty:\n{replan.stdout[-4000:]}"
    # moto 5.2.5 ignores policy conditions ("Conditions are not taken into account"), so this
    # TLS-only deny blocks every object request, over http or https. Lift it in the emulator
    # only; the policy itself was applied and checked above.
    s3.delete_bucket_policy(Bucket=BUCKET)
    ddb = moto.boto("dynamodb").describe_table(TableName=TABLE)["Table"]
    assert ddb["KeySchema"] == [{"AttributeName": "LockID", "KeyType": "HASH"}]
    assert ddb["BillingModeSummary"]["BillingMode"] == "PAY_PER_REQUEST"
    key_arn = check_state_key(moto, out, ddb)
    timings["bootstrap apply"] = time.monotonic() - t0

    # 2. dev: S3 backend with DynamoDB locking, pointed at moto by a partial backend config.
    t = time.monotonic()
    dev = copy_env("dev", tmp_path / "dev")
    write_json(dev / "providers_override.tf.json", moto.provider_override())
    write_json(dev / "terraform.tfvars.json", TEST_VARS)
    dtf = Terraform(dev, tmp_path / "terraform-dev.log")
    dtf.init(backend=True, backend_config=backend_file(tmp_path / "moto.s3.tfbackend", moto))
    dtf.run("apply", "-auto-approve", TARGET, timeout=300)
    head = s3.head_object(Bucket=BUCKET, Key="fastapi-infra/dev/terraform.tfstate")
    assert head["ContentLength"] > 0
    assert_state_encrypted_with(moto, head, key_arn)
    state = json.loads(s3.get_object(Bucket=BUCKET, Key="fastapi-infra/dev/terraform.tfstate")["Body"].read())
    assert any(r["type"] == "aws_ssm_parameter" for r in state["resources"])
    timings["dev init+apply"] = time.monotonic() - t

    def dynamodb_lock_held():
        items = moto.boto("dynamodb").scan(TableName=TABLE)["Items"]
        ids = [i["LockID"]["S"] for i in items]
        assert f"{BUCKET}/fastapi-infra/dev/terraform.tfstate" in ids, ids

    t = time.monotonic()
    assert_locked_then_free(dtf, moto, dynamodb_lock_held)
    timings["dev lock test"] = time.monotonic() - t

    # 3. staging: one new env file, no Rust change, S3 native locking only.
    t = time.monotonic()
    envs = tmp_path / "envs"
    envs.mkdir()
    for name in ("bootstrap", "dev"):
        (envs / f"{name}.toml").write_text((REPO / "envs" / f"{name}.toml").read_text())
    staging = (REPO / "envs/dev.toml").read_text().replace("-dev-", "-staging-").replace('lock = "dynamodb"', 'lock = "lockfile"')
    (envs / "staging.toml").write_text(staging)
    gen = subprocess.run(
        ["cargo", "run", "-q", "--locked", "-p", "gen", "--", "--envs-dir", str(envs), "--out", str(tmp_path / "gen"), "--env", "staging"],
        cwd=REPO, capture_output=True, text=True, timeout=600,
    )
    assert gen.returncode == 0, gen.stderr
    backend = json.loads((tmp_path / "gen/staging/backend.tf.json").read_text())["terraform"]["backend"]["s3"]
    assert backend["use_lockfile"] is True and "dynamodb_table" not in backend
    stg = tmp_path / "gen/staging"
    write_json(stg / "providers_override.tf.json", moto.provider_override())
    write_json(stg / "terraform.tfvars.json", TEST_VARS)
    stf = Terraform(stg, tmp_path / "terraform-staging.log")
    stf.init(backend=True, backend_config=tmp_path / "moto.s3.tfbackend")
    stf.run("apply", "-auto-approve", TARGET, timeout=300)

    head = s3.head_object(Bucket=BUCKET, Key="fastapi-infra/staging/terraform.tfstate")
    assert_state_encrypted_with(moto, head, key_arn)

    def s3_lock_held():
        keys = [o["Key"] for o in s3.list_objects_v2(Bucket=BUCKET, Prefix="fastapi-infra/staging/").get("Contents", [])]
        assert "fastapi-infra/staging/terraform.tfstate.tflock" in keys, keys

    assert_locked_then_free(stf, moto, s3_lock_held)
    timings["staging (lockfile) apply + lock test"] = time.monotonic() - t

    # 4. Teardown: envs first, bootstrap last. prevent_destroy must stop a plain destroy.
    t = time.monotonic()
    stf.run("destroy", "-auto-approve", TARGET, timeout=300)
    dtf.run("destroy", "-auto-approve", TARGET, timeout=300)
    refused = btf.run("plan", "-destroy", timeout=120, check=False)
    assert refused.returncode != 0 and "prevent_destroy" in refused.stderr, refused.stderr[-2000:]
    write_json(
        boot / "teardown_override.tf.json",
        {"resource": {
            "aws_s3_bucket": {"state": {"lifecycle": {"prevent_destroy": False}}},
            "aws_dynamodb_table": {"lock": {"lifecycle": {"prevent_destroy": False}}},
            "aws_kms_key": {"state": {"lifecycle": {"prevent_destroy": False}}},
        }},
    )
    moto.empty_bucket(BUCKET)
    btf.run("destroy", "-auto-approve", timeout=300)
    assert BUCKET not in [b["Name"] for b in s3.list_buckets()["Buckets"]]
    assert TABLE not in moto.boto("dynamodb").list_tables()["TableNames"]
    # KMS never deletes a key at once: it is scheduled for deletion after the 30-day window.
    assert moto.boto("kms").describe_key(KeyId=key_arn)["KeyMetadata"]["KeyState"] == "PendingDeletion"
    timings["teardown"] = time.monotonic() - t
    print("\nstate backend timings (s): " + ", ".join(f"{k} {v:.1f}" for k, v in timings.items()))
