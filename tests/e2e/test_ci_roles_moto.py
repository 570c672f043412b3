"""The CI roles bootstrap makes (issue 15), proven by denied requests against IAM-enforcing moto.

Bootstrap is applied through Terraform (state bucket, lock table, key, GitHub's OIDC provider and
per app env a `-ci-plan` and a `-ci-apply` role). The credentials are obtained the way GitHub
Actions obtains them: an unsigned `AssumeRoleWithWebIdentity` with an OIDC token whose `iss`,
`aud` and `sub` are GitHub's. moto 5.2.5 cannot do that with IAM enforced; the launcher
(moto_iam.py, point 4) reads the token's claims, finds the OIDC provider bootstrap created and
evaluates the role's trust policy with them. The token's signature is not checked (moto has no
JWKS): this proves the trust conditions and the roles' permissions, not token authenticity.

Both directions, each refusal a 403 on something that exists:
- trust: another repository's token, and for apply a pull request's token, are refused;
- plan role: reads its env's state, lists its env's bucket; refused writing its state and
  reading the other env's state or buckets;
- apply role: writes its env's state and objects in its env's buckets; refused on the other
  env's state and buckets.
Each env is its own test, so xdist runs them side by side.
"""

import base64
import json
import time

import boto3
import pytest
from botocore import UNSIGNED
from botocore.config import Config
from botocore.exceptions import ClientError

from harness import REGION, MotoIAM, Terraform, copy_env, envs, is_bootstrap, write_json

ENVS = envs()
BOOT = next(cfg for cfg in ENVS.values() if is_bootstrap(cfg))
APPS = sorted(name for name, cfg in ENVS.items() if not is_bootstrap(cfg))
REPO = BOOT["ci"]["github_repository"]
ISSUER = "https://token.actions.githubusercontent.com"


def token(sub: str, aud: str = "sts.amazonaws.com", ttl: int = 600) -> str:
    """A JWT with GitHub's claims (the signature part is a placeholder: see the module doc)."""
    part = lambda d: base64.urlsafe_b64encode(json.dumps(d).encode()).rstrip(b"=").decode()  # noqa: E731
    claims = {"iss": ISSUER, "aud": aud, "sub": sub, "exp": int(time.time()) + ttl, "iat": int(time.time())}
    return f"{part({'alg': 'RS256', 'typ': 'JWT'})}.{part(claims)}.c2ln"


def web_identity(moto, role_arn: str, sub: str, **kw) -> dict:
    sts = boto3.client("sts", endpoint_url=moto.url, region_name=REGION,
                       config=Config(signature_version=UNSIGNED, retries={"total_max_attempts": 1}))
    creds = sts.assume_role_with_web_identity(RoleArn=role_arn, RoleSessionName="gha", WebIdentityToken=token(sub, **kw))
    return creds["Credentials"]


def denied(call, **kwargs) -> None:
    with pytest.raises(ClientError) as err:
        call(**kwargs)
    resp = err.value.response
    assert resp["ResponseMetadata"]["HTTPStatusCode"] == 403, resp
    assert "AccessDenied" in resp["Error"]["Code"] or "AccessDenied" in str(err.value), resp


def buckets(cfg: dict) -> list[str]:
    return [cfg["buckets"][role] for role in ("logs", "artifacts", "content")]


def state_key(env: str) -> str:
    return f"{ENVS[env]['project']}/{env}/terraform.tfstate"


def apply_bootstrap(moto, tmp_path) -> dict:
    """Bootstrap through Terraform, but for its lifecycle rules (moto makes the provider poll
    those for about a minute; permissions do not depend on them). Its outputs."""
    boot = copy_env("bootstrap", tmp_path / "bootstrap")
    write_json(boot / "providers_override.tf.json", moto.provider_override())
    main = json.loads((boot / "main.tf.json").read_text())
    targets = [f"-target={kind}.{name}" for kind, blocks in main["resource"].items()
               if kind != "aws_s3_bucket_lifecycle_configuration" for name in blocks]
    tf = Terraform(boot, tmp_path / "terraform-bootstrap.log")
    tf.init()
    tf.run("apply", "-auto-approve", *targets, timeout=600)
    return {k: v["value"] for k, v in json.loads(tf.run("output", "-json").stdout).items()}


@pytest.mark.slow
@pytest.mark.parametrize("env", APPS)
def test_ci_roles_reach_only_their_env(env, tmp_path):
    other = next(e for e in APPS if e != env)
    moto = MotoIAM(tmp_path)
    try:
        out = apply_bootstrap(moto, tmp_path)
        plan_arn, apply_arn = out[f"{env}_ci_plan_role_arn"], out[f"{env}_ci_apply_role_arn"]
        state_bucket = BOOT["state"]["bucket"]
        s3a = moto.admin_boto("s3")
        for e in (env, other):  # what both envs' applies would have made
            s3a.put_object(Bucket=state_bucket, Key=state_key(e), Body=f'{{"env": "{e}"}}'.encode())
            for b in buckets(ENVS[e]):
                s3a.create_bucket(Bucket=b)
                s3a.put_object(Bucket=b, Key="existing", Body=b"x")

        # Trust: only this repository; plan only from the env's `-plan` GitHub environment (or
        # main, the drift check), apply only from the env's GitHub environment: no bare pull
        # request or branch, which no environment's reviewers gate.
        plan_sub = f"repo:{REPO}:environment:{env}-plan"
        with pytest.raises(ClientError) as err:
            web_identity(moto, plan_arn, f"repo:someone-else/fastapi-infra:environment:{env}-plan")
        assert err.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
        for sub in (f"repo:{REPO}:pull_request", f"repo:{REPO}:environment:{other}-plan"):
            with pytest.raises(ClientError) as err:
                web_identity(moto, plan_arn, sub)
            assert err.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403, sub
        for sub in (f"repo:{REPO}:pull_request", f"repo:{REPO}:ref:refs/heads/feature",
                    f"repo:{REPO}:ref:refs/heads/main", plan_sub):
            with pytest.raises(ClientError) as err:
                web_identity(moto, apply_arn, sub)
            assert err.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403, sub
        with pytest.raises(ClientError):
            web_identity(moto, plan_arn, plan_sub, aud="another-audience")

        # Plan role, from a pull request's job in the env's `-plan` environment.
        s3 = moto.boto_as(web_identity(moto, plan_arn, plan_sub), "s3")
        assert json.loads(s3.get_object(Bucket=state_bucket, Key=state_key(env))["Body"].read()) == {"env": env}
        s3.list_objects_v2(Bucket=ENVS[env]["buckets"]["content"])
        denied(s3.put_object, Bucket=state_bucket, Key=state_key(env), Body=b"{}")
        denied(s3.delete_object, Bucket=state_bucket, Key=state_key(env))
        denied(s3.get_object, Bucket=state_bucket, Key=state_key(other))
        denied(s3.put_object, Bucket=ENVS[env]["buckets"]["content"], Key="probe", Body=b"x")
        for b in buckets(ENVS[other]):
            denied(s3.list_objects_v2, Bucket=b)
            denied(s3.get_object, Bucket=b, Key="existing")

        # Apply role, from the env's GitHub environment.
        s3 = moto.boto_as(web_identity(moto, apply_arn, f"repo:{REPO}:environment:{env}"), "s3")
        s3.put_object(Bucket=state_bucket, Key=state_key(env), Body=b'{"env": "applied"}')
        s3.put_object(Bucket=ENVS[env]["buckets"]["content"], Key="probe", Body=b"x")
        denied(s3.get_object, Bucket=state_bucket, Key=state_key(other))
        denied(s3.put_object, Bucket=state_bucket, Key=state_key(other), Body=b"{}")
        for b in buckets(ENVS[other]):
            denied(s3.get_object, Bucket=b, Key="existing")
            denied(s3.put_object, Bucket=b, Key="probe", Body=b"x")
            denied(s3.delete_object, Bucket=b, Key="existing")
        # The other env's apply token does not open this env's apply role.
        with pytest.raises(ClientError):
            web_identity(moto, apply_arn, f"repo:{REPO}:environment:{other}")
    finally:
        moto.stop()
