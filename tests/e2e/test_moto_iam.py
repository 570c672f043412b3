"""Self-tests of the IAM-enforcing moto launcher (moto_iam.py): each patch in both directions.

Against moto 5.2.5 without the patches, the exact-ARN Allow tests fail (refused: moto checks
resource `*`), the exact-ARN Deny tests fail (allowed: the Deny never matches), every
SecureTransport test fails (the Deny applies to TLS requests too) and AssumeRole of a role
trusting a Service crashes with HTTP 500.
"""

import json

import pytest
from botocore.exceptions import ClientError

from harness import MotoIAM
from moto_iam import ALLOW, NEUTRAL, Caller, Context, evaluate

# One server for the module: xdist (`--dist loadgroup`) keeps these tests on one worker.
pytestmark = pytest.mark.xdist_group("moto_iam")

ACCOUNT = "123456789012"
REGION = "us-east-1"


def param_arn(name: str) -> str:
    return f"arn:aws:ssm:{REGION}:{ACCOUNT}:parameter{name}"


def table_arn(name: str) -> str:
    return f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/{name}"


def policy(*statements: dict) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def allow(actions, resources, **extra) -> dict:
    return {"Effect": "Allow", "Action": actions, "Resource": resources, **extra}


def deny(actions, resources, **extra) -> dict:
    return {"Effect": "Deny", "Action": actions, "Resource": resources, **extra}


def trust(principal: dict) -> str:
    return policy({"Effect": "Allow", "Principal": principal, "Action": "sts:AssumeRole"})


def denied(call, *args, **kwargs) -> None:
    """The call is refused with HTTP 403 AccessDenied (not a 404, not a crash)."""
    with pytest.raises(ClientError) as err:
        call(*args, **kwargs)
    resp = err.value.response
    assert resp["ResponseMetadata"]["HTTPStatusCode"] == 403, resp
    assert "AccessDenied" in resp["Error"]["Code"] or "AccessDenied" in str(err.value), resp


@pytest.fixture(scope="module")
def moto(tmp_path_factory):
    server = MotoIAM(tmp_path_factory.mktemp("moto-iam"))
    try:
        yield server
    finally:
        server.stop()


def make_role(moto, name: str, *statements: dict, principal=None) -> str:
    """A role with one inline policy; its ARN. Trusts EC2 unless told otherwise."""
    iam = moto.admin_boto("iam")
    doc = trust(principal or {"Service": "ec2.amazonaws.com"})
    arn = iam.create_role(RoleName=name, AssumeRolePolicyDocument=doc)["Role"]["Arn"]
    if statements:
        iam.put_role_policy(RoleName=name, PolicyName="p", PolicyDocument=policy(*statements))
    return arn


def role_creds(moto, name: str, *statements: dict) -> dict:
    return moto.assume_role(make_role(moto, name, *statements))


def test_enforcement_is_on(moto):
    bogus = moto.boto_as({"AccessKeyId": "AKIANOTAKEY000000000", "SecretAccessKey": "x"}, "ssm")
    with pytest.raises(ClientError):
        bogus.describe_parameters()
    moto.admin_boto("ssm").put_parameter(Name="/e/a", Value="v", Type="String")
    nothing = role_creds(moto, "no-policy")
    denied(moto.boto_as(nothing, "ssm").get_parameter, Name="/e/a")


def test_ssm_allow_on_exact_arn_allows_it_and_not_a_sibling(moto):
    admin = moto.admin_boto("ssm")
    admin.put_parameter(Name="/s1/a", Value="secret-a", Type="SecureString")
    admin.put_parameter(Name="/s1/b", Value="secret-b", Type="SecureString")
    creds = role_creds(
        moto, "ssm-exact", allow(["ssm:GetParameter", "ssm:GetParameters"], [param_arn("/s1/a")])
    )
    ssm = moto.boto_as(creds, "ssm")
    assert ssm.get_parameter(Name="/s1/a", WithDecryption=True)["Parameter"]["Value"] == "secret-a"
    got = ssm.get_parameters(Names=["/s1/a"], WithDecryption=True)["Parameters"]
    assert [p["Value"] for p in got] == ["secret-a"]
    denied(ssm.get_parameter, Name="/s1/b")
    # GetParameters is authorized per name: one refused name refuses the call.
    denied(ssm.get_parameters, Names=["/s1/a", "/s1/b"])
    # GetParametersByPath is its own action on the path's ARN.
    denied(ssm.get_parameters_by_path, Path="/s1")


def test_ssm_deny_on_exact_arn_denies_it(moto):
    admin = moto.admin_boto("ssm")
    admin.put_parameter(Name="/s2/a", Value="a", Type="String")
    admin.put_parameter(Name="/s2/b", Value="b", Type="String")
    creds = role_creds(
        moto,
        "ssm-deny",
        allow("ssm:GetParameter*", "*"),
        deny("ssm:GetParameter*", [param_arn("/s2/b")]),
    )
    ssm = moto.boto_as(creds, "ssm")
    assert ssm.get_parameter(Name="/s2/a")["Parameter"]["Value"] == "a"
    denied(ssm.get_parameter, Name="/s2/b")
    denied(ssm.get_parameters, Names=["/s2/a", "/s2/b"])
    # As on AWS: GetParametersByPath is authorized against the path, not what it returns, so a
    # Deny on one parameter's ARN does not stop it (deny the path to do that).
    names = {p["Name"] for p in ssm.get_parameters_by_path(Path="/s2")["Parameters"]}
    assert names == {"/s2/a", "/s2/b"}


def test_dynamodb_checks_the_table_arn(moto):
    ddb = moto.admin_boto("dynamodb")
    for name in ("t-own", "t-other"):
        ddb.create_table(
            TableName=name,
            KeySchema=[{"AttributeName": "LockID", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "LockID", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
    item = {"LockID": {"S": "x"}}
    exact = moto.boto_as(
        role_creds(moto, "ddb-exact", allow(["dynamodb:GetItem", "dynamodb:PutItem"], table_arn("t-own"))),
        "dynamodb",
    )
    exact.put_item(TableName="t-own", Item=item)
    assert exact.get_item(TableName="t-own", Key=item)["Item"] == item
    denied(exact.get_item, TableName="t-other", Key=item)
    denied(exact.put_item, TableName="t-other", Item=item)

    broad = moto.boto_as(
        role_creds(moto, "ddb-deny", allow("dynamodb:*", "*"), deny("dynamodb:*", table_arn("t-other"))),
        "dynamodb",
    )
    assert broad.get_item(TableName="t-own", Key=item)["Item"] == item
    denied(broad.get_item, TableName="t-other", Key=item)
    denied(broad.batch_get_item, RequestItems={"t-own": {"Keys": [item]}, "t-other": {"Keys": [item]}})


DENY_INSECURE = {
    "Sid": "DenyInsecureTransport",
    "Effect": "Deny",
    "Principal": {"AWS": ["*"]},
    "Action": ["s3:*"],
    "Condition": {"Bool": {"aws:SecureTransport": ["false"]}},
}


def make_bucket(moto, name: str, *statements: dict) -> None:
    s3 = moto.admin_boto("s3")
    s3.create_bucket(Bucket=name)
    if statements:
        resources = [f"arn:aws:s3:::{name}", f"arn:aws:s3:::{name}/*"]
        docs = [{**st, "Resource": st.get("Resource", resources)} for st in statements]
        s3.put_bucket_policy(Bucket=name, Policy=policy(*docs))


def test_secure_transport_deny_blocks_plain_http_only(moto):
    make_bucket(moto, "tls-only", DENY_INSECURE)
    tls = moto.admin_boto("s3")
    tls.put_object(Bucket="tls-only", Key="k", Body=b"v")
    assert tls.get_object(Bucket="tls-only", Key="k")["Body"].read() == b"v"
    assert [o["Key"] for o in tls.list_objects_v2(Bucket="tls-only")["Contents"]] == ["k"]

    plain = moto.boto_as(moto.admin_creds, "s3", secure_transport=False)
    denied(plain.get_object, Bucket="tls-only", Key="k")
    denied(plain.put_object, Bucket="tls-only", Key="k2", Body=b"v")
    denied(plain.list_objects_v2, Bucket="tls-only")

    role = role_creds(moto, "s3-all", allow("s3:*", "*"))
    assert moto.boto_as(role, "s3").get_object(Bucket="tls-only", Key="k")["Body"].read() == b"v"
    denied(moto.boto_as(role, "s3", secure_transport=False).get_object, Bucket="tls-only", Key="k")


def test_identity_policy_conditions_are_evaluated(moto):
    make_bucket(moto, "cond-identity")
    moto.admin_boto("s3").put_object(Bucket="cond-identity", Key="k", Body=b"v")
    creds = role_creds(
        moto,
        "s3-tls-allow",
        allow("s3:GetObject", "arn:aws:s3:::cond-identity/*", Condition={"Bool": {"aws:SecureTransport": "true"}}),
    )
    assert moto.boto_as(creds, "s3").get_object(Bucket="cond-identity", Key="k")["Body"].read() == b"v"
    denied(moto.boto_as(creds, "s3", secure_transport=False).get_object, Bucket="cond-identity", Key="k")


def test_bucket_policy_string_and_arn_conditions(moto):
    own = f"arn:aws:iam::{ACCOUNT}:role/"
    make_bucket(
        moto,
        "cond-bucket",
        {"Effect": "Deny", "Principal": "*", "Action": "s3:GetObject",
         "Resource": "arn:aws:s3:::cond-bucket/secret/*",
         "Condition": {"StringEquals": {"aws:PrincipalArn": own + "no-secret"}}},
        {"Effect": "Deny", "Principal": "*", "Action": "s3:PutObject",
         "Resource": "arn:aws:s3:::cond-bucket/*",
         "Condition": {"StringLike": {"aws:PrincipalArn": "arn:aws:iam::*:role/ro-*"}}},
        {"Effect": "Deny", "Principal": "*", "Action": "s3:DeleteObject",
         "Resource": "arn:aws:s3:::cond-bucket/*",
         "Condition": {"ArnLike": {"aws:PrincipalArn": f"arn:aws:iam::{ACCOUNT}:role/keep-*"}}},
    )
    admin = moto.admin_boto("s3")
    for key in ("secret/k", "open/k"):
        admin.put_object(Bucket="cond-bucket", Key=key, Body=b"v")
    everything = allow("s3:*", "*")

    no_secret = moto.boto_as(role_creds(moto, "no-secret", everything), "s3")
    denied(no_secret.get_object, Bucket="cond-bucket", Key="secret/k")
    assert no_secret.get_object(Bucket="cond-bucket", Key="open/k")["Body"].read() == b"v"

    read_only = moto.boto_as(role_creds(moto, "ro-reader", everything), "s3")
    denied(read_only.put_object, Bucket="cond-bucket", Key="open/new", Body=b"v")
    assert read_only.get_object(Bucket="cond-bucket", Key="secret/k")["Body"].read() == b"v"

    keeper = moto.boto_as(role_creds(moto, "keep-1", everything), "s3")
    keeper.put_object(Bucket="cond-bucket", Key="open/kept", Body=b"v")
    denied(keeper.delete_object, Bucket="cond-bucket", Key="open/kept")

    # Nobody else matches those conditions: the admin does all three.
    assert admin.get_object(Bucket="cond-bucket", Key="secret/k")["Body"].read() == b"v"
    admin.put_object(Bucket="cond-bucket", Key="open/new", Body=b"v")
    admin.delete_object(Bucket="cond-bucket", Key="open/kept")


def test_an_unmodelled_operator_fails_loudly(moto):
    make_bucket(moto, "cond-unknown", {
        "Effect": "Deny", "Principal": "*", "Action": "s3:GetObject",
        "Condition": {"BinaryEquals": {"aws:SecureTransport": "dHJ1ZQ=="}},
    })
    admin = moto.admin_boto("s3")
    with pytest.raises(ClientError) as err:
        admin.put_object(Bucket="cond-unknown", Key="k", Body=b"v")
        admin.get_object(Bucket="cond-unknown", Key="k")
    assert err.value.response["ResponseMetadata"]["HTTPStatusCode"] == 500


def test_assume_role_checks_the_trust_policy(moto):
    ec2_role = make_role(moto, "trusts-ec2")
    lambda_role = make_role(moto, "trusts-lambda", principal={"Service": "lambda.amazonaws.com"})
    admin_arn = moto.admin_boto("iam").get_user(UserName="moto-admin")["User"]["Arn"]
    user_role = make_role(moto, "trusts-admin", principal={"AWS": admin_arn})

    creds = moto.assume_role(ec2_role)
    assert creds["AccessKeyId"].startswith("ASIA") and creds["SessionToken"]
    who = moto.boto_as(creds, "sts").get_caller_identity()["Arn"]
    assert who == f"arn:aws:sts::{ACCOUNT}:assumed-role/trusts-ec2/i-test"

    denied(moto.assume_role, lambda_role)  # EC2 is not trusted by it
    sts = moto.admin_boto("sts")
    # A user the trust policy does not name is refused (moto crashed with a TypeError here).
    denied(sts.assume_role, RoleArn=ec2_role, RoleSessionName="session")
    assert sts.assume_role(RoleArn=user_role, RoleSessionName="session")["Credentials"]["SessionToken"]


LOGS_STATEMENT = {
    "Sid": "S3ServerAccessLogs",
    "Effect": "Allow",
    "Principal": {"Service": ["logging.s3.amazonaws.com"]},
    "Action": ["s3:PutObject"],
    "Resource": ["arn:aws:s3:::logs/*"],
    "Condition": {"ArnLike": {"aws:SourceArn": ["arn:aws:s3:::content", "arn:aws:s3:::artifacts"]},
                  "StringEquals": {"aws:SourceAccount": [ACCOUNT]}},
}


@pytest.mark.parametrize(
    "caller, source_arn, source_account, expected",
    [
        (Caller(service="logging.s3.amazonaws.com"), "arn:aws:s3:::content", ACCOUNT, ALLOW),
        (Caller(service="logging.s3.amazonaws.com"), "arn:aws:s3:::other", ACCOUNT, NEUTRAL),
        (Caller(service="logging.s3.amazonaws.com"), "arn:aws:s3:::content", "999999999999", NEUTRAL),
        (Caller(service="logging.s3.amazonaws.com"), None, None, NEUTRAL),
        (Caller(arn=f"arn:aws:iam::{ACCOUNT}:user/u", principal_arn=f"arn:aws:iam::{ACCOUNT}:user/u",
                account=ACCOUNT), "arn:aws:s3:::content", ACCOUNT, NEUTRAL),
    ],
)
def test_logs_bucket_statement_evaluates_like_aws(caller, source_arn, source_account, expected):
    """The access-log statement we generate: only the logging service, for our source buckets."""
    ctx = Context.build(caller, secure=True, source_ip="127.0.0.1", region=REGION)
    if source_arn:
        ctx.values["aws:sourcearn"] = [source_arn]
        ctx.values["aws:sourceaccount"] = [source_account]
    doc = {"Statement": [LOGS_STATEMENT]}
    assert evaluate([doc], "s3:PutObject", "arn:aws:s3:::logs/x", ctx, caller) == expected


def test_web_identity_tokens_name_their_provider_and_claims():
    """Pure: a token's issuer and audience pick the OIDC provider; sub/aud become condition keys."""
    from moto_iam import web_identity_caller

    host = "token.actions.githubusercontent.com"
    arn = f"arn:aws:iam::{ACCOUNT}:oidc-provider/{host}"
    providers = [(arn, host, ["sts.amazonaws.com"])]
    claims = {"iss": f"https://{host}", "aud": "sts.amazonaws.com", "sub": "repo:o/r:pull_request", "exp": 2000}
    caller, ctx = web_identity_caller(claims, providers, now=1000)
    assert caller.federated == arn and caller.principal_type == "WebIdentityUser"
    assert ctx.get(f"{host}:sub") == ["repo:o/r:pull_request"] and ctx.get(f"{host}:aud") == ["sts.amazonaws.com"]
    trust = {"Statement": [{"Effect": "Allow", "Principal": {"Federated": arn},
                            "Action": "sts:AssumeRoleWithWebIdentity",
                            "Condition": {"StringEquals": {f"{host}:sub": "repo:o/r:pull_request",
                                                           f"{host}:aud": "sts.amazonaws.com"}}}]}
    assert evaluate([trust], "sts:AssumeRoleWithWebIdentity", None, ctx, caller) == ALLOW
    other = web_identity_caller({**claims, "sub": "repo:x/r:pull_request"}, providers, now=1000)
    assert evaluate([trust], "sts:AssumeRoleWithWebIdentity", None, other[1], other[0]) == NEUTRAL
    assert web_identity_caller({**claims, "exp": 999}, providers, now=1000) is None  # expired
    assert web_identity_caller({**claims, "aud": "other"}, providers, now=1000) is None
    assert web_identity_caller({**claims, "iss": "https://evil.example"}, providers, now=1000) is None
