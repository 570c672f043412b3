"""moto_server with IAM enforcement that is faithful where our tests need it.

Run as its own process (``python moto_iam.py -H 127.0.0.1 -p PORT``, what ``harness.MotoIAM``
does) with ``INITIAL_NO_AUTH_ACTION_COUNT`` set: this module patches moto 5.2.5 in that process,
then starts moto's own server. The tests never import the patches (only the pure helpers).

What moto 5.2.5 gets wrong, and what this launcher does instead (docs: IAM User Guide, "Policy
evaluation logic", "Condition operators"; Systems Manager, "How Parameter Store authorizes
parameter retrieval"):

1. **Resources.** SSM, DynamoDB and KMS requests are checked against resource ``*``, so an Allow
   on an exact ARN is refused and a Deny on an exact ARN never matches. Here each request is
   checked against its ARNs: ``GetParameter``/``PutParameter``/... the parameter, ``GetParameters``
   and ``DeleteParameters`` *each* named parameter (one refused refuses the call),
   ``GetParametersByPath`` the path itself (not the parameters it returns, as AWS does);
   DynamoDB the table (``Query``/``Scan`` on an index: the index), ``Batch*``/``Transact*`` every
   table named; KMS the key (an alias is resolved to its key). Calls without resource-level
   permissions (``DescribeParameters``, ``ListTables``, ``CreateKey``...) stay ``*``.
2. **Conditions and principals.** moto knows only ``StringEquals`` and ignores every other
   operator, so a ``Deny`` when ``aws:SecureTransport`` is ``false`` refused every request.
   Here identity policies, bucket policies (object *and* bucket requests) and trust policies
   are evaluated by one evaluator: explicit Deny wins, then Allow, else implicit deny; every
   operator family (String*, Arn*, Bool, Null, Numeric*, Date*, IpAddress, ``...IfExists``,
   ``ForAnyValue:``/``ForAllValues:``) with AWS's rule for absent keys (false, except negated
   operators, ``IfExists`` and ``Null``). An operator this file does not know fails the request
   with HTTP 500 and a message in the server log: never a silent pass.
   Principals in resource and trust policies are matched (``*``, ``{"AWS": ...}`` by user, role,
   account or root ARN, ``{"Service": ...}``), where moto applied every statement to everyone.
   Wildcards are IAM's (``*`` and ``?``, actions case-insensitive), not regular expressions.
3. **AssumeRole by a service.** moto's trust check crashes (TypeError) on a ``Service``
   principal. Here trust policies go through the evaluator. A request signed by a valid key
   that carries the header ``X-Moto-Service-Principal: ec2.amazonaws.com`` is made *as that
   service*: the caller's own policies are not consulted, the role's trust policy must allow
   that service. This is how tests get an instance role's credentials (what EC2 does for an
   instance profile), without the race of ``/moto-api/reset-auth`` (a concurrent request could
   take the one unauthenticated slot).
4. **AssumeRoleWithWebIdentity.** The request is unsigned (the token is the credential); moto
   5.2.5 under enforcement fails it for lack of a signature, and without enforcement grants
   any role to any token. Here the token is read as a JWT, the IAM OIDC provider whose URL is
   the token's ``iss`` (host and path) and whose client ids hold its ``aud`` is the caller
   (``{"Federated": <provider ARN>}``), the context gets ``<host>:aud``, ``<host>:sub`` and
   ``<host>:iss``, an expired token (``exp``) is refused, and the role's trust policy decides.
   Not modelled: the token's signature (AWS checks it against the issuer's JWKS; here any
   signature passes), so a test proves the trust conditions, never the token's authenticity.

How TLS is modelled: moto speaks plain HTTP on loopback, but real clients of our stack reach AWS
over HTTPS. So every request counts as ``aws:SecureTransport = true`` unless it carries the
header ``X-Moto-Secure-Transport: false``, which models a plain-HTTP request (``MotoIAM.boto_as(...,
secure_transport=False)`` adds it). A "Deny unless TLS" bucket policy therefore lets TLS-modelled
requests through and refuses the others, as on AWS.

Context keys provided: ``aws:SecureTransport``, ``aws:PrincipalArn``, ``aws:PrincipalAccount``,
``aws:PrincipalType``, ``aws:username`` (users), ``aws:SourceIp``, ``aws:RequestedRegion``,
``aws:CurrentTime``, ``aws:EpochTime``; for a service principal ``aws:PrincipalServiceName``.
Not modelled: policy variables (``${aws:username}`` is compared literally), permission
boundaries, session policies, SCPs, ACLs, S3 per-key checks inside ``DeleteObjects`` (moto checks
the bucket ARN), and bucket policies granting access that identity policies do not.
"""

from __future__ import annotations

import datetime
import ipaddress
import json
import re
import sys
import threading
from dataclasses import dataclass, field
from typing import Any

SECURE_TRANSPORT_HEADER = "X-Moto-Secure-Transport"
SERVICE_PRINCIPAL_HEADER = "X-Moto-Service-Principal"

ALLOW, DENY, NEUTRAL = "Allow", "Deny", "Neutral"


class PolicyModelError(Exception):
    """The policy uses something this evaluator does not model: fail loudly, never guess."""


# ---------------------------------------------------------------------------------------------
# The evaluator (pure: no moto import)
# ---------------------------------------------------------------------------------------------


@dataclass
class Caller:
    """Who makes the request. `arn` is None for an anonymous request."""

    arn: str | None = None
    principal_arn: str | None = None  # a role session's role ARN, else `arn`
    account: str | None = None
    service: str | None = None  # set when the caller is an AWS service principal
    user_name: str | None = None
    federated: str | None = None  # an OIDC provider's ARN, for AssumeRoleWithWebIdentity

    @property
    def principal_type(self) -> str:
        if self.service:
            return "AWSService"
        if self.federated:
            return "WebIdentityUser"
        if self.arn is None:
            return "Anonymous"
        if ":assumed-role/" in self.arn:
            return "AssumedRole"
        if self.arn.endswith(":root"):
            return "Account"
        return "User"


@dataclass
class Context:
    """The request context: lower-cased condition keys to their values."""

    values: dict[str, list[str]] = field(default_factory=dict)

    @classmethod
    def build(cls, caller: Caller, secure: bool, source_ip: str | None, region: str | None) -> Context:
        now = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)
        keys: dict[str, Any] = {
            "aws:securetransport": "true" if secure else "false",
            "aws:currenttime": now.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "aws:epochtime": str(int(now.timestamp())),
            "aws:principaltype": caller.principal_type,
            "aws:sourceip": source_ip,
            "aws:requestedregion": region,
            "aws:principalarn": caller.principal_arn,
            "aws:principalaccount": caller.account,
            "aws:username": caller.user_name,
            "aws:principalservicename": caller.service,
        }
        return cls({k: [v] for k, v in keys.items() if v})

    def get(self, key: str) -> list[str] | None:
        return self.values.get(key.lower())


def _as_list(value: Any) -> list:
    return value if isinstance(value, list) else [value]


def glob_match(pattern: str, value: str, ignore_case: bool = False) -> bool:
    """IAM wildcards: `*` any run of characters, `?` one character; everything else literal."""
    regex = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    flags = re.DOTALL | (re.IGNORECASE if ignore_case else 0)
    return re.fullmatch(regex, value, flags) is not None


def arn_match(pattern: str, value: str) -> bool:
    """ArnEquals/ArnLike: the six colon-separated parts are matched one by one."""
    p, v = pattern.split(":", 5), value.split(":", 5)
    return len(p) == len(v) == 6 and all(glob_match(a, b) for a, b in zip(p, v))


def _number(text: str) -> float:
    try:
        return float(text)
    except ValueError as e:
        raise PolicyModelError(f"not a number in a Numeric condition: {text!r}") from e


def _date(text: str) -> datetime.datetime:
    if re.fullmatch(r"\d+", text):
        return datetime.datetime.fromtimestamp(int(text), datetime.timezone.utc)
    try:
        d = datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError as e:
        raise PolicyModelError(f"not a date in a Date condition: {text!r}") from e
    return d if d.tzinfo else d.replace(tzinfo=datetime.timezone.utc)


def _ip_in(network: str, address: str) -> bool:
    try:
        return ipaddress.ip_address(address) in ipaddress.ip_network(network, strict=False)
    except ValueError:
        return False


# operator -> (compare(policy_value, context_value), negated)
_OPERATORS = {
    "StringEquals": (lambda p, v: p == v, False),
    "StringNotEquals": (lambda p, v: p == v, True),
    "StringEqualsIgnoreCase": (lambda p, v: p.lower() == v.lower(), False),
    "StringNotEqualsIgnoreCase": (lambda p, v: p.lower() == v.lower(), True),
    "StringLike": (glob_match, False),
    "StringNotLike": (glob_match, True),
    "ArnEquals": (arn_match, False),
    "ArnLike": (arn_match, False),
    "ArnNotEquals": (arn_match, True),
    "ArnNotLike": (arn_match, True),
    "Bool": (lambda p, v: p.lower() == v.lower(), False),
    "NumericEquals": (lambda p, v: _number(v) == _number(p), False),
    "NumericNotEquals": (lambda p, v: _number(v) == _number(p), True),
    "NumericLessThan": (lambda p, v: _number(v) < _number(p), False),
    "NumericLessThanEquals": (lambda p, v: _number(v) <= _number(p), False),
    "NumericGreaterThan": (lambda p, v: _number(v) > _number(p), False),
    "NumericGreaterThanEquals": (lambda p, v: _number(v) >= _number(p), False),
    "DateEquals": (lambda p, v: _date(v) == _date(p), False),
    "DateNotEquals": (lambda p, v: _date(v) == _date(p), True),
    "DateLessThan": (lambda p, v: _date(v) < _date(p), False),
    "DateLessThanEquals": (lambda p, v: _date(v) <= _date(p), False),
    "DateGreaterThan": (lambda p, v: _date(v) > _date(p), False),
    "DateGreaterThanEquals": (lambda p, v: _date(v) >= _date(p), False),
    "IpAddress": (_ip_in, False),
    "NotIpAddress": (_ip_in, True),
}


def _condition_holds(operator: str, key: str, expected: Any, ctx: Context) -> bool:
    qualifier = None
    if ":" in operator:
        qualifier, operator = operator.split(":", 1)
        if qualifier not in ("ForAnyValue", "ForAllValues"):
            raise PolicyModelError(f"unknown condition qualifier {qualifier!r}")
    expected = [str(e).lower() if isinstance(e, bool) else str(e) for e in _as_list(expected)]
    actual = ctx.get(key)
    if operator == "Null":
        want_absent = expected[0].lower() == "true"
        return (actual is None) == want_absent
    if_exists = operator.endswith("IfExists")
    base = operator[: -len("IfExists")] if if_exists else operator
    if base not in _OPERATORS:
        raise PolicyModelError(f"condition operator {operator!r} is not modelled by moto_iam.py")
    compare, negated = _OPERATORS[base]
    if actual is None:
        if qualifier == "ForAllValues":
            return True
        return if_exists or negated

    def one(value: str) -> bool:
        hit = any(compare(p, value) for p in expected)
        return not hit if negated else hit

    if qualifier == "ForAllValues":
        return all(one(v) for v in actual)
    return any(one(v) for v in actual)


def conditions_hold(condition: dict | None, ctx: Context) -> bool:
    """Every operator and every key must hold (AND); values of one key are ORed (NOR if negated)."""
    for operator, pairs in (condition or {}).items():
        for key, expected in pairs.items():
            if not _condition_holds(operator, key, expected, ctx):
                return False
    return True


def _principal_matches(principal: Any, caller: Caller) -> bool:
    if principal == "*":
        return True
    if not isinstance(principal, dict):
        raise PolicyModelError(f"unexpected Principal {principal!r}")
    for kind, values in principal.items():
        for value in _as_list(values):
            if kind == "AWS" and _aws_principal_matches(str(value), caller):
                return True
            if kind == "Service" and caller.service is not None and value == caller.service:
                return True
            if kind == "Federated" and caller.federated is not None and value == caller.federated:
                return True
    return False


def _aws_principal_matches(value: str, caller: Caller) -> bool:
    if value == "*":
        return True
    if caller.arn is None or caller.service is not None:
        return False
    if value in (caller.arn, caller.principal_arn):
        return True
    # An account (id or root ARN) stands for every principal of that account.
    account = value if re.fullmatch(r"\d{12}", value) else None
    m = re.fullmatch(r"arn:[^:]+:iam::(\d{12}):root", value)
    if m:
        account = m.group(1)
    return account is not None and account == caller.account


def _element_matches(statement: dict, name: str, value: str, ignore_case: bool) -> bool | None:
    """Action/NotAction or Resource/NotResource; None if the statement has neither."""
    if name in statement:
        return any(glob_match(p, value, ignore_case) for p in _as_list(statement[name]))
    if "Not" + name in statement:
        return not any(glob_match(p, value, ignore_case) for p in _as_list(statement["Not" + name]))
    return None


def statement_applies(
    st: dict, action: str, resource: str | None, ctx: Context, caller: Caller | None
) -> bool:
    """Does this statement apply? `caller` is given for resource and trust policies only."""
    if not _element_matches(st, "Action", action, ignore_case=True):
        return False
    if resource is not None:
        hit = _element_matches(st, "Resource", resource, ignore_case=False)
        if hit is False:
            return False
    if caller is not None:
        if "Principal" in st and not _principal_matches(st["Principal"], caller):
            return False
        if "NotPrincipal" in st and _principal_matches(st["NotPrincipal"], caller):
            return False
    return conditions_hold(st.get("Condition"), ctx)


def evaluate(
    documents: list[dict],
    action: str,
    resource: str | None,
    ctx: Context,
    caller: Caller | None = None,
) -> str:
    """ALLOW, DENY (explicit) or NEUTRAL over several policy documents: an explicit Deny wins."""
    result = NEUTRAL
    for doc in documents:
        for st in _as_list(doc.get("Statement", [])):
            if not statement_applies(st, action, resource, ctx, caller):
                continue
            if st.get("Effect") == "Deny":
                return DENY
            if st.get("Effect") == "Allow":
                result = ALLOW
    return result


# ---------------------------------------------------------------------------------------------
# Resource ARNs of SSM, DynamoDB and KMS requests (pure)
# ---------------------------------------------------------------------------------------------


def ssm_parameter_arn(partition: str, region: str, account: str, name: str) -> str:
    if name.startswith("arn:"):
        return name
    name = re.sub(r":[^/:]+$", "", name)  # a version or label selector, `name:3`
    return f"arn:{partition}:ssm:{region}:{account}:parameter/{name.lstrip('/')}"


def ssm_resources(action: str, params: dict, partition: str, region: str, account: str) -> Any:
    arn = lambda n: ssm_parameter_arn(partition, region, account, n)  # noqa: E731
    if action in ("GetParameters", "DeleteParameters") and params.get("Names"):
        return [arn(n) for n in params["Names"]]
    if action == "GetParametersByPath" and params.get("Path"):
        path = params["Path"]
        return arn(path.rstrip("/") or "/") if path != "/" else arn("/")
    if action in ("AddTagsToResource", "RemoveTagsFromResource", "ListTagsForResource"):
        if params.get("ResourceType") == "Parameter" and params.get("ResourceId"):
            return arn(params["ResourceId"])
        return "*"
    if params.get("Name"):
        return arn(params["Name"])
    return "*"


def dynamodb_table_arn(partition: str, region: str, account: str, table: str) -> str:
    if table.startswith("arn:"):
        return table
    return f"arn:{partition}:dynamodb:{region}:{account}:table/{table}"


def dynamodb_resources(action: str, params: dict, partition: str, region: str, account: str) -> Any:
    arn = lambda t: dynamodb_table_arn(partition, region, account, t)  # noqa: E731
    if params.get("RequestItems"):
        return [arn(t) for t in params["RequestItems"]]
    if params.get("TransactItems"):
        tables = []
        for item in params["TransactItems"]:
            for op in item.values():
                if isinstance(op, dict) and op.get("TableName"):
                    tables.append(arn(op["TableName"]))
        return tables or "*"
    if params.get("ResourceArn"):
        return params["ResourceArn"]
    if params.get("TableName"):
        table = arn(params["TableName"])
        if action in ("Query", "Scan") and params.get("IndexName"):
            return f"{table}/index/{params['IndexName']}"
        return table
    return "*"


# ---------------------------------------------------------------------------------------------
# The patches (moto imported here only)
# ---------------------------------------------------------------------------------------------

_request = threading.local()


def _header(environ: dict, name: str) -> str | None:
    return environ.get("HTTP_" + name.upper().replace("-", "_"))


def _environ() -> dict:
    return getattr(_request, "environ", None) or {}


def _caller_from_request(account_id: str, region: str) -> Caller:
    """Who signed the current request (moto's own key lookup), anonymous if nobody valid."""
    from moto.iam.access_control import CreateAccessKeyFailure, create_access_key
    from moto.sts.models import sts_backends
    from moto.utilities.utils import get_partition

    env = _environ()
    auth = _header(env, "Authorization") or ""
    m = re.search(r"Credential=([^/,\s]+)/", auth)
    if not m:
        return Caller()
    key_id = m.group(1)
    headers = {}
    token = _header(env, "X-Amz-Security-Token")
    if token is not None:
        headers["X-Amz-Security-Token"] = token
    partition = get_partition(region)
    try:
        key = create_access_key(account_id, partition, key_id, headers)
    except CreateAccessKeyFailure:
        return Caller()
    return _caller_of_key(key, account_id, partition, sts_backends)


def _caller_of_key(key: Any, account_id: str, partition: str, sts_backends: Any) -> Caller:
    arn = key.arn
    if ":assumed-role/" in arn:
        role_arn = None
        for assumed in sts_backends[account_id][partition].assumed_roles:
            if assumed.access_key_id == key._access_key_id:
                role_arn = assumed.role_arn
        return Caller(arn=arn, principal_arn=role_arn, account=account_id)
    return Caller(arn=arn, principal_arn=arn, account=account_id, user_name=arn.rsplit("/", 1)[-1])


def _context(caller: Caller, region: str | None) -> Context:
    env = _environ()
    secure = (_header(env, SECURE_TRANSPORT_HEADER) or "true").lower() != "false"
    return Context.build(caller, secure, env.get("REMOTE_ADDR"), region)


def _policy_json(policy: Any) -> dict:
    from moto.iam.access_control import IAMPolicy

    if isinstance(policy, dict) and "Statement" in policy:
        return policy
    return IAMPolicy(policy)._policy_json


def _bucket_policy(account_id: str, partition: str, bucket_name: str) -> dict | None:
    from moto.s3.exceptions import MissingBucket
    from moto.s3.models import s3_backends

    try:
        bucket = s3_backends[account_id][partition].get_bucket(bucket_name)
    except MissingBucket:
        return None
    return json.loads(bucket.policy.decode()) if bucket.policy else None


def _check_action_permitted(self: Any, resource: Any) -> None:
    """Replaces IAMRequestBase.check_action_permitted: identity, bucket and trust policies."""
    if self._action == "sts:GetCallerIdentity":  # AWS: always allowed
        return
    from moto.sts.models import sts_backends
    from moto.utilities.utils import get_partition

    partition = get_partition(self._region)
    resources = resource if isinstance(resource, list) else [resource]
    service = self._headers.get(SERVICE_PRINCIPAL_HEADER)
    if service and self._action == "sts:AssumeRole":
        caller = Caller(service=service)
        if not self._trust_allows(resources[0], caller, _context(caller, self._region)):
            self._raise_access_denied()
        return
    caller = _caller_of_key(self._access_key, self.account_id, partition, sts_backends)
    ctx = _context(caller, self._region)
    documents = [_policy_json(p) for p in self._access_key.collect_policies()]
    for r in resources:
        if evaluate(documents, self._action, r, ctx) != ALLOW:
            self._raise_access_denied()
        if r.startswith("arn:") and ":s3:::" in r and r.split(":::", 1)[1] not in ("", "*"):
            policy = _bucket_policy(self.account_id, partition, r.split(":::", 1)[1].split("/", 1)[0])
            if policy and evaluate([policy], self._action, r, ctx, caller) == DENY:
                self._raise_access_denied()
        if self._is_assuming_role_operation(r) and not self._trust_allows(r, caller, ctx):
            self._raise_access_denied()


def _trust_allows(self: Any, role_arn: str, caller: Caller, ctx: Context) -> bool:
    from moto.iam.exceptions import NotFoundException

    try:
        role = self.backend.get_role_by_arn(role_arn)
    except NotFoundException:  # AWS answers AccessDenied for a role that does not exist
        return False
    doc = role.assume_role_policy_document
    doc = json.loads(doc) if isinstance(doc, str) else doc
    return evaluate([doc], self._action, None, ctx, caller) == ALLOW


def _bucket_get_permission(self: Any, action: str, resource: str) -> Any:
    """Replaces FakeBucket.get_permission: the bucket policy with conditions and principals."""
    from moto.iam.access_control import PermissionResult

    if self.policy is None:
        return PermissionResult.NEUTRAL
    if action == "s3:HeadObject":  # HEAD needs s3:GetObject
        action = "s3:GetObject"
    caller = _caller_from_request(self.account_id, self.region_name)
    result = evaluate([json.loads(self.policy.decode())], action, resource, _context(caller, self.region_name), caller)
    return {ALLOW: PermissionResult.PERMITTED, DENY: PermissionResult.DENIED}.get(result, PermissionResult.NEUTRAL)


def _params(response: Any) -> dict:
    body = response.body
    if isinstance(body, dict):
        return body
    try:
        parsed = json.loads(body or "{}")
    except (TypeError, ValueError):
        return {}
    return parsed if isinstance(parsed, dict) else {}


def _partition(region: str) -> str:
    from moto.utilities.utils import get_partition

    return get_partition(region)


def _ssm_resource(self: Any) -> Any:
    return ssm_resources(self._get_action(), _params(self), _partition(self.region), self.region, self.current_account)


def _dynamodb_resource(self: Any) -> Any:
    return dynamodb_resources(self._get_action(), _params(self), _partition(self.region), self.region, self.current_account)


def _kms_resource(self: Any) -> Any:
    params = _params(self)
    region, account = self.region, self.current_account
    prefix = f"arn:{_partition(region)}:kms:{region}:{account}:"
    alias = params.get("AliasName")
    key_id = params.get("KeyId") or params.get("TargetKeyId")
    resources = []
    if alias:
        resources.append(alias if alias.startswith("arn:") else prefix + alias)
    if key_id:
        try:
            resources.append(prefix + "key/" + self.kms_backend.any_id_to_key_id(key_id))
        except Exception:  # an unknown key: let moto answer NotFound after the check
            resources.append(key_id if key_id.startswith("arn:") else prefix + "key/" + key_id)
    return resources or "*"


def _wrap_key_response(original: Any) -> Any:
    """moto answers a bucket-policy denial with an empty 403; AWS sends an AccessDenied error."""

    def key_response(self: Any, request: Any, full_url: str) -> Any:
        from moto.s3.exceptions import BucketAccessDeniedError

        response = original(self, request, full_url)
        if response == (403, {}, "") and request.method != "HEAD":
            raise BucketAccessDeniedError(bucket=self.parse_bucket_name_from_url(request, full_url))
        return response

    return key_response


def _jwt_claims(token: str) -> dict:
    """The claims of a JWT (its middle part), signature not checked (see point 4 above)."""
    import base64

    try:
        payload = token.split(".")[1]
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    except (IndexError, ValueError) as e:
        raise PolicyModelError(f"WebIdentityToken is not a JWT: {e}") from e
    return claims if isinstance(claims, dict) else {}


def web_identity_caller(claims: dict, providers: list[tuple[str, str, list[str]]], now: float) -> tuple[Caller, Context] | None:
    """The caller and context of a web-identity token: None when no provider matches, or expired.

    `providers`: (ARN, URL without scheme, client ids) of the account's OIDC providers."""
    iss = str(claims.get("iss", ""))
    host_path = re.sub(r"^https://", "", iss)
    aud = claims.get("aud")
    auds = [str(a) for a in _as_list(aud)] if aud is not None else []
    exp = claims.get("exp")
    if not isinstance(exp, (int, float)) or exp <= now:
        return None
    for arn, url, client_ids in providers:
        if url == host_path and any(a in client_ids for a in auds):
            caller = Caller(federated=arn)
            ctx = Context.build(caller, True, None, None)
            for key, value in (("aud", auds), ("sub", [str(claims.get("sub", ""))]), ("iss", [host_path])):
                ctx.values[f"{host_path}:{key}".lower()] = value
            return caller, ctx
    return None


def _wrap_authenticate(original: Any) -> Any:
    """AssumeRoleWithWebIdentity (unsigned) is decided by the token and the trust policy."""

    def authenticate(self: Any, iam_request_cls: Any, resource: str = "*") -> None:
        from moto.core.authorization import ActionAuthenticatorMixin
        from moto.core.exceptions import AccessDeniedError
        from moto.iam.models import iam_backends
        from moto import settings

        if (
            ActionAuthenticatorMixin.request_count < settings.INITIAL_NO_AUTH_ACTION_COUNT
            or self._get_action() != "AssumeRoleWithWebIdentity"
        ):
            return original(self, iam_request_cls, resource)
        import time

        action = "sts:AssumeRoleWithWebIdentity"
        role_arn = self._get_param("RoleArn") or ""
        backend = iam_backends[self.current_account][_partition(self.region)]
        providers = [(p.arn, p.url, list(p.client_id_list)) for p in backend.open_id_providers.values()]
        found = web_identity_caller(_jwt_claims(self._get_param("WebIdentityToken") or ""), providers, time.time())
        if found is None:
            raise AccessDeniedError(user_arn="web identity (no matching OIDC provider, or expired token)", action=action)
        caller, ctx = found
        try:
            role = backend.get_role_by_arn(role_arn)
        except Exception:
            raise AccessDeniedError(user_arn=caller.federated or "", action=action)
        doc = role.assume_role_policy_document
        doc = json.loads(doc) if isinstance(doc, str) else doc
        if evaluate([doc], action, None, ctx, caller) != ALLOW:
            raise AccessDeniedError(user_arn=caller.federated or "", action=action)

    return authenticate


def _wrap_wsgi(original: Any) -> Any:
    """Remember each request's WSGI environ (one thread per request) for the context keys."""

    def call(self: Any, environ: dict, start_response: Any) -> Any:
        _request.environ = environ
        return original(self, environ, start_response)

    return call


def apply_patches() -> None:
    from moto.core.authorization import ActionAuthenticatorMixin
    from moto.dynamodb.responses import DynamoHandler
    from moto.iam.access_control import IAMRequestBase
    from moto.kms.responses import KmsResponse
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication
    from moto.s3.models import FakeBucket
    from moto.s3.responses import S3Response
    from moto.ssm.responses import SimpleSystemManagerResponse

    IAMRequestBase.check_action_permitted = _check_action_permitted
    IAMRequestBase._trust_allows = _trust_allows
    FakeBucket.get_permission = _bucket_get_permission
    S3Response._key_response = _wrap_key_response(S3Response._key_response)
    SimpleSystemManagerResponse._determine_resource = _ssm_resource
    DynamoHandler._determine_resource = _dynamodb_resource
    KmsResponse._determine_resource = _kms_resource
    DomainDispatcherApplication.__call__ = _wrap_wsgi(DomainDispatcherApplication.__call__)
    ActionAuthenticatorMixin._authenticate_and_authorize_action = _wrap_authenticate(
        ActionAuthenticatorMixin._authenticate_and_authorize_action
    )


def main() -> None:
    apply_patches()
    from moto.server import main as moto_main

    moto_main(sys.argv[1:])


if __name__ == "__main__":
    main()
