"""Test helpers: a moto server on 127.0.0.1 and a bounded terraform runner.

Every process is started with a timeout and stopped by its PID; nothing leaves loopback.
"""

from __future__ import annotations

import datetime
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import tomllib
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
FIXTURES = Path(__file__).resolve().parent / "fixtures"
# The starter app (examples/app): the app the host test deploys, so the example cannot rot.
EXAMPLE_APP = Path(__file__).resolve().parents[2] / "examples/app"
PLUGIN_DIR = os.environ.get("TF_PLUGIN_DIR", "/opt/tf-plugins")
SERVICES = ["ec2", "iam", "rds", "s3", "sts", "ssm", "dynamodb", "kms"]
# terraform.tfvars of the tests: placeholders, never real secrets.
TEST_VARS = {
    "db_username": "app",
    "db_password": "test-password-123",
    "tavily_api_key": "tvly-test-key",
    "gemini_api_key": "gemini-test-key",
    "app_repo_url": "https://example.invalid/app.git",
    "app_repo_branch": "main",
}
REGION = "us-east-1"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def listens(proc: subprocess.Popen, port: int) -> bool:
    """Whether a process of `proc`'s group (started with start_new_session) listens on
    127.0.0.1:`port`: the answer on a port is ours, not another program's."""
    local = f"0100007F:{port:04X}"
    inodes = set()
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        f = line.split()
        if f[1] == local and f[3] == "0A":  # 0A: LISTEN
            inodes.add(f"socket:[{f[9]}]")
    for pid in (int(d) for d in os.listdir("/proc") if d.isdigit()):
        try:
            if os.getpgid(pid) != proc.pid:
                continue
            fds = Path(f"/proc/{pid}/fd")
            if any(os.readlink(fds / fd) in inodes for fd in os.listdir(fds)):
                return True
        except OSError:
            continue  # gone meanwhile
    return False


def serve_on_free_port(what: str, spawn, answers, tries: int = 5, wait: float = 60):
    """Start a server (`spawn(port)` -> Popen with start_new_session) on a free port of 127.0.0.1
    and wait until it answers (`answers(port)`) from its own process. A port another program
    takes between free_port() and the server's bind is no failure: the server exits, or the
    answer comes from another process, and it starts again on another port (at most `tries`).
    Returns (port, proc)."""
    for _ in range(tries):
        port = free_port()
        proc = spawn(port)
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                if answers(port) and listens(proc, port):
                    return port, proc
            except OSError:
                pass
            time.sleep(0.3)
        if proc.poll() is None and listens(proc, port):
            stop_group(proc)
            raise RuntimeError(f"{what} on port {port} did not answer within {wait} s")
        stop_group(proc)  # it exited, or another program holds the port: try another one
    raise RuntimeError(f"{what} could not start on a free port in {tries} tries")


def stop_group(proc: subprocess.Popen, grace: float = 10) -> None:
    """Stop a process started with start_new_session: SIGTERM its group, SIGKILL after `grace` s."""
    if proc.poll() is not None:
        return
    os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=grace)


class Moto:
    """moto_server on 127.0.0.1, started and stopped by its PID."""

    def __init__(self, log_dir: Path, command: list[str] | None = None, extra_env: dict | None = None):
        if command is None:
            exe = shutil.which("moto_server")
            assert exe, "moto_server is not on PATH: run the tests through scripts/test.sh"
            command = [exe]
        env = dict(os.environ)
        env["MOTO_AMIS_PATH"] = str(FIXTURES / "amis.json")
        env["MOTO_IAM_LOAD_MANAGED_POLICIES"] = "true"
        env.update(extra_env or {})
        # One log for every try; each try's output is marked by its port.
        self.log = open(log_dir / f"moto-{time.monotonic_ns()}.log", "w")

        def spawn(port: int) -> subprocess.Popen:
            self.log.write(f"--- moto_server on port {port}\n")
            self.log.flush()
            return subprocess.Popen([*command, "-H", "127.0.0.1", "-p", str(port)], stdout=self.log,
                                    stderr=subprocess.STDOUT, env=env, start_new_session=True)

        def answers(port: int) -> bool:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/moto-api/", timeout=2):
                return True

        self.port, self.proc = serve_on_free_port("moto_server", spawn, answers)
        self.url = f"http://127.0.0.1:{self.port}"

    def stop(self) -> None:
        stop_group(self.proc)
        self.log.close()

    def boto(self, service: str):
        import boto3

        return boto3.client(
            service,
            endpoint_url=self.url,
            region_name=REGION,
            aws_access_key_id="test",
            aws_secret_access_key="test",
        )

    def provider_override(self) -> dict:
        """Provider settings that point the AWS provider at this server (test only)."""
        return {
            "provider": {
                "aws": {
                    "access_key": "test",
                    "secret_key": "test",
                    "skip_credentials_validation": True,
                    "skip_metadata_api_check": True,
                    "s3_use_path_style": True,
                    "endpoints": {s: self.url for s in SERVICES},
                }
            }
        }

    def backend_config(self) -> dict:
        """A partial S3 backend config pointing at this server."""
        return {
            "endpoints": f'{{ s3 = "{self.url}", dynamodb = "{self.url}", sts = "{self.url}", iam = "{self.url}" }}',
            "use_path_style": "true",
            "skip_credentials_validation": "true",
            "skip_requesting_account_id": "true",
            "skip_metadata_api_check": "true",
            "access_key": "test",
            "secret_key": "test",
        }

    def empty_bucket(self, bucket: str) -> None:
        """Delete every version of every object (a versioned bucket takes minutes otherwise)."""
        s3 = self.boto("s3")
        paginator = s3.get_paginator("list_object_versions")
        for page in paginator.paginate(Bucket=bucket):
            objs = [
                {"Key": v["Key"], "VersionId": v["VersionId"]}
                for v in page.get("Versions", []) + page.get("DeleteMarkers", [])
            ]
            if objs:
                s3.delete_objects(Bucket=bucket, Delete={"Objects": objs})


class Terraform:
    """terraform in one folder, every call bounded in time. Never uses TF_LOG (secrets)."""

    def __init__(self, workdir: Path, log: Path):
        self.dir = workdir
        self.log = log
        self.env = dict(os.environ)
        self.env.update({"TF_IN_AUTOMATION": "1", "TF_INPUT": "0", "CHECKPOINT_DISABLE": "1"})
        self.env.pop("TF_LOG", None)
        self.timings: dict[str, float] = {}

    def run(self, *args: str, timeout: float = 300, check: bool = True) -> subprocess.CompletedProcess:
        start = time.monotonic()
        proc = subprocess.run(
            ["timeout", "-k", "10", str(int(timeout)), "terraform", *args, "-no-color"],
            cwd=self.dir,
            env=self.env,
            capture_output=True,
            text=True,
        )
        took = time.monotonic() - start
        self.timings[args[0]] = self.timings.get(args[0], 0.0) + took
        with open(self.log, "a") as f:
            f.write(f"$ terraform {' '.join(args)}  ({took:.1f}s, exit {proc.returncode})\n{proc.stdout}\n{proc.stderr}\n")
        if check and proc.returncode != 0:
            raise AssertionError(
                f"terraform {args[0]} failed in {self.dir} (exit {proc.returncode}):\n{proc.stdout[-4000:]}\n{proc.stderr[-4000:]}"
            )
        return proc

    def init(self, backend: bool = False, backend_config: Path | None = None) -> None:
        args = ["init", "-input=false", f"-plugin-dir={PLUGIN_DIR}"]
        if not backend:
            args.append("-backend=false")
        if backend_config is not None:
            args.append(f"-backend-config={backend_config}")
        self.run(*args, timeout=120)


def copy_env(env: str, dest: Path) -> Path:
    """A copy of generated/<env> to work in, so the committed output stays clean."""
    src = REPO / "generated" / env
    assert src.is_dir(), f"{src} is missing: run `cargo run -p gen -- --env {env}`"
    shutil.copytree(src, dest)
    return dest


def write_json(path: Path, data: dict) -> None:
    path.write_text(json.dumps(data, indent=2) + "\n")


ADMIN_POLICY = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}


class MotoIAM(Moto):
    """moto_server with IAM enforced and its fidelity gaps patched (see tests/e2e/moto_iam.py).

    Stable API (other tests build on it):
      MotoIAM(tmp_path)               start; an admin user (`Action *`, `Resource *`) exists
      .admin_creds                    {"AccessKeyId", "SecretAccessKey"} of that admin
      .admin_boto(service)            a boto3 client signed by the admin (`.boto` is the same)
      .provider_override()            Terraform provider settings signed by the admin
      .backend_config()               partial S3 backend settings signed by the admin
      .assume_role(role_arn, service="ec2.amazonaws.com", session_name="i-test")
                                      credentials of the role as that service receives them
                                      (what IMDS serves an instance): {"AccessKeyId",
                                      "SecretAccessKey", "SessionToken", "Expiration" (ISO 8601)};
                                      the role's trust policy must allow the service
      .boto_as(creds, service, secure_transport=True)
                                      a boto3 client signed by `creds` (role or user);
                                      secure_transport=False models a plain-HTTP request
                                      (aws:SecureTransport = false); default: TLS
      .stop()
    Every request is checked against the caller's policies (explicit Deny wins), bucket
    policies and trust policies, with conditions, on the request's ARNs. Clients made here
    never retry, so a refusal is immediate and a retry cannot hide one.
    """

    # CreateUser, PutUserPolicy, CreateAccessKey: the requests moto lets through unsigned.
    NO_AUTH_REQUESTS = 3

    def __init__(self, log_dir: Path):
        launcher = Path(__file__).resolve().parent / "moto_iam.py"
        super().__init__(
            log_dir,
            command=[sys.executable, str(launcher)],
            extra_env={"INITIAL_NO_AUTH_ACTION_COUNT": str(self.NO_AUTH_REQUESTS)},
        )
        try:
            self.admin_creds = self._create_admin()
            self._check_enforced()
        except BaseException:
            self.stop()
            raise

    def _client(self, service: str, creds: dict, headers: dict | None = None):
        import boto3
        from botocore.config import Config

        client = boto3.client(
            service,
            endpoint_url=self.url,
            region_name=REGION,
            aws_access_key_id=creds["AccessKeyId"],
            aws_secret_access_key=creds["SecretAccessKey"],
            aws_session_token=creds.get("SessionToken"),
            config=Config(retries={"total_max_attempts": 1}, s3={"addressing_style": "path"}),
        )
        if headers:
            def add_headers(request, **_):
                for k, v in headers.items():
                    request.headers[k] = v

            client.meta.events.register("before-sign", add_headers)
        return client

    def _create_admin(self) -> dict:
        iam = self._client("iam", {"AccessKeyId": "unsigned", "SecretAccessKey": "unsigned"})
        iam.create_user(UserName="moto-admin")
        iam.put_user_policy(UserName="moto-admin", PolicyName="admin", PolicyDocument=json.dumps(ADMIN_POLICY))
        key = iam.create_access_key(UserName="moto-admin")["AccessKey"]
        return {"AccessKeyId": key["AccessKeyId"], "SecretAccessKey": key["SecretAccessKey"]}

    def _check_enforced(self) -> None:
        from botocore.exceptions import ClientError

        self.admin_boto("iam").get_user(UserName="moto-admin")
        bogus = self._client("iam", {"AccessKeyId": "AKIABOGUSBOGUSBOGUS0", "SecretAccessKey": "x"})
        try:
            bogus.list_users()
        except ClientError:
            return
        raise AssertionError("moto_iam: IAM is not enforced (an unknown key was accepted)")

    def admin_boto(self, service: str):
        return self._client(service, self.admin_creds)

    def boto(self, service: str):
        return self.admin_boto(service)

    def boto_as(self, creds: dict, service: str, secure_transport: bool = True):
        headers = None if secure_transport else {"X-Moto-Secure-Transport": "false"}
        return self._client(service, creds, headers)

    def assume_role(self, role_arn: str, service: str = "ec2.amazonaws.com", session_name: str = "i-test") -> dict:
        sts = self._client("sts", self.admin_creds, {"X-Moto-Service-Principal": service})
        creds = sts.assume_role(RoleArn=role_arn, RoleSessionName=session_name)["Credentials"]
        return {
            "AccessKeyId": creds["AccessKeyId"],
            "SecretAccessKey": creds["SecretAccessKey"],
            "SessionToken": creds["SessionToken"],
            "Expiration": creds["Expiration"].astimezone(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        }

    def provider_override(self) -> dict:
        override = super().provider_override()
        override["provider"]["aws"]["access_key"] = self.admin_creds["AccessKeyId"]
        override["provider"]["aws"]["secret_key"] = self.admin_creds["SecretAccessKey"]
        return override

    def backend_config(self) -> dict:
        config = super().backend_config()
        config["access_key"] = self.admin_creds["AccessKeyId"]
        config["secret_key"] = self.admin_creds["SecretAccessKey"]
        return config


def envs(folder: Path = REPO / "envs") -> dict[str, dict]:
    """Every environment of `folder` (its `*.toml`), name -> the parsed env file, sorted by name.
    Tests that cover every env use this, never a hand-kept list: a new env file is covered."""
    return {p.stem: tomllib.loads(p.read_text()) for p in sorted(folder.glob("*.toml"))}


def generated_main(env: str) -> dict:
    """generated/<env>/main.tf.json: what the code emits, the one source tests read roles and
    keys from (never a copy of them)."""
    return json.loads((REPO / "generated" / env / "main.tf.json").read_text())


def bucket_roles(env: str) -> dict[str, str]:
    """Each bucket of an env by role (`aws_s3_bucket.<role>`), with its name."""
    return {role: b["bucket"] for role, b in generated_main(env)["resource"]["aws_s3_bucket"].items()}


def logged_buckets(env: str) -> list[str]:
    """The roles of the buckets that log their access into another (`aws_s3_bucket_logging.<role>`)."""
    return sorted(generated_main(env)["resource"].get("aws_s3_bucket_logging", {}))


def secret_parameters(env: str) -> dict[str, str]:
    """Each secret variable and the name of the SSM parameter it is written to (`value_wo`)."""
    params = generated_main(env)["resource"]["aws_ssm_parameter"]
    out = {}
    for p in params.values():
        m = re.fullmatch(r"\$\{var\.([a-z0-9_]+)\}", str(p.get("value_wo", "")))
        if m:
            out[m.group(1)] = p["name"]
    return out


def is_bootstrap(env: dict) -> bool:
    return env.get("kind") == "bootstrap"
