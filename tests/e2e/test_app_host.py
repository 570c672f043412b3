"""The app host, booted for real (issue: app host; issue 9: the first deploy comes up by itself).

A Debian root (tests/host/make-rootfs.sh, cached) boots with systemd-nspawn in its own network
namespace; real cloud-init runs generated/dev/user_data.sh from a NoCloud seed. The root holds
what a cloud image has and NOT what user_data installs, so apt-get really installs it, from the
test's package mirror. Around it (see apphost.py): moto (SSM, S3, IAM, STS), a real PostgreSQL
with TLS and the test's own CA, the starter app (examples/app) in git over HTTP, stand-ins for the Tavily and
Gemini APIs, and an IMDSv2 stand-in on 169.254.169.254 that serves the instance role's
credentials (AssumeRole against moto): the hook file /etc/default/<app> holds endpoints and
bounds, never keys.

Three independent tests (pytest-xdist runs them side by side):
- boot, deploy, verify: the full life of a host, with the dpkg lock held at boot;
- cold start: the parameters and the role's policy appear 30+ s after boot, in Terraform's order;
- never arrives: one parameter never appears; cloud-init ends in error within the bound.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from apphost import Container, Imds, NetNS, Postgres, Relay, Static, apt_packages, build_image, make_ca, sh, wait_for, wheelhouse
from harness import EXAMPLE_APP, REGION, REPO, MotoIAM

ENV = "dev"
APP = "fastapi-infra"
PREFIX = f"/{APP}/{ENV}"
UNIT = f"{APP}.service"
# The database's host name as the app sees it: the server certificate is issued for it.
DB_HOST = "fastapi-infra-dev.db.test"
INSTANCE_ID = "i-0fastapihost0001"
MAIN_TF = json.loads((REPO / f"generated/{ENV}/main.tf.json").read_text())
USER_DATA = (REPO / f"generated/{ENV}/user_data.sh").read_text()
# What the test's hold-dpkg-lock unit does at boot: what unattended-upgrades does on Ubuntu.
HOLD_LOCK = """import fcntl, os, sys, time
r, w = os.pipe()
if os.fork():  # systemd (Type=forking) goes on once the child holds the lock
    os.read(r, 1)
    os._exit(0)
f = open("/var/lib/dpkg/lock-frontend", "w")
fcntl.lockf(f, fcntl.LOCK_EX)
os.write(w, b"x")
time.sleep(int(sys.argv[1]))
"""

# Added to the starter app by the test: SHA-256 of the named environment variables as the app sees
# them (null when unset), so the test compares them with the values it stored, no secret on the wire.
ENV_DIGEST = """import hashlib, os
from fastapi import APIRouter
router = APIRouter()
@router.get("/env-digest")
def env_digest(names: str) -> dict:
    return {n: hashlib.sha256(os.environ[n].encode()).hexdigest() if n in os.environ else None for n in names.split(",")}
"""

# Run on the host as the app user with the app's environment: what the role lets the app do,
# through boto3's default credential chain (IMDS). One line of JSON: each request's outcome.
PROBE = """import json, os, sys, uuid
import boto3
from botocore.exceptions import ClientError
own_param, other_param, state_bucket, state_key = sys.argv[1:]
session = boto3.Session()
out = {"keys in env": sorted(k for k in os.environ if k in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN")),
       "credentials": session.get_credentials().method}
client = lambda s: session.client(s, endpoint_url=os.environ.get("AWS_ENDPOINT_URL"), region_name=os.environ["AWS_REGION"])
s3, ssm = client("s3"), client("ssm")
out["identity"] = client("sts").get_caller_identity()["Arn"]
def attempt(name, fn):
    try:
        fn()
        out[name] = "ok"
    except ClientError as e:  # the HTTP status: moto answers SSM's AccessDenied in XML, which
        out[name] = str(e.response["ResponseMetadata"]["HTTPStatusCode"])  # botocore cannot name
bucket, key = os.environ["S3_BUCKET_CONTENT"], f"probe/{uuid.uuid4()}"
attempt("content write", lambda: s3.put_object(Bucket=bucket, Key=key, Body=b"probe"))
attempt("content read", lambda: s3.get_object(Bucket=bucket, Key=key)["Body"].read())
attempt("content list", lambda: s3.list_objects_v2(Bucket=bucket))
attempt("content delete", lambda: s3.delete_object(Bucket=bucket, Key=key))
attempt("own parameter", lambda: ssm.get_parameter(Name=own_param, WithDecryption=True))
attempt("other env's parameter", lambda: ssm.get_parameter(Name=other_param, WithDecryption=True))
attempt("state read", lambda: s3.get_object(Bucket=state_bucket, Key=state_key))
attempt("state list", lambda: s3.list_objects_v2(Bucket=state_bucket))
attempt("state write", lambda: s3.put_object(Bucket=state_bucket, Key=state_key, Body=b"{}"))
print(json.dumps(out))
"""


# ---------------------------------------------------------------------------------------------
# The role and the parameters, as generated/dev/main.tf.json declares them.


def _resolve(value, account):
    """A reference of the generated document, as its value in moto (the references IAM needs)."""
    res = MAIN_TF["resource"]

    def one(m):
        kind, name, attr = m.group(1), m.group(2), m.group(3)
        if kind == "aws_ssm_parameter" and attr == "arn":
            return f"arn:aws:ssm:{REGION}:{account}:parameter{res[kind][name]['name']}"
        if kind == "aws_s3_bucket" and attr == "arn":
            return f"arn:aws:s3:::{res[kind][name]['bucket']}"
        if kind == "aws_iam_role" and attr == "name":
            return res[kind][name]["name"]
        if kind == "data.aws_caller_identity" and attr == "account_id":
            return account
        raise AssertionError(f"the test cannot resolve ${{{kind}.{name}.{attr}}}: teach _resolve")

    return re.sub(r"\$\{((?:data\.)?\w+)\.(\w+)\.(\w+)\}", one, value)


def policy_json(data_name: str, account: str) -> str:
    """data.aws_iam_policy_document.<data_name> as the IAM JSON Terraform would make of it."""
    doc = MAIN_TF["data"]["aws_iam_policy_document"][data_name]
    as_list = lambda x: x if isinstance(x, list) else [x]  # noqa: E731
    out = []
    for st in as_list(doc["statement"]):
        s = {"Effect": st.get("effect", "Allow")}
        if "sid" in st:
            s["Sid"] = st["sid"]
        for key, name in (("actions", "Action"), ("not_actions", "NotAction"), ("resources", "Resource"),
                          ("not_resources", "NotResource")):
            if key in st:
                s[name] = [_resolve(v, account) for v in st[key]]
        if "principals" in st:
            s["Principal"] = {p["type"]: p["identifiers"] for p in as_list(st["principals"])}
        for c in as_list(st.get("condition", [])):
            s.setdefault("Condition", {}).setdefault(c["test"], {})[c["variable"]] = c["values"]
        out.append(s)
    return json.dumps({"Version": "2012-10-17", "Statement": out})


def ref_name(value: str) -> str:
    m = re.fullmatch(r"\$\{data\.aws_iam_policy_document\.(\w+)\.json\}", value)
    assert m, f"not a policy document reference: {value}"
    return m.group(1)


class Aws:
    """The env's IAM role and SSM parameters in moto (IAM enforced), created by its admin the way
    Terraform creates them; what the role must not reach: another env's parameter and the state."""

    def __init__(self, moto: MotoIAM, settings: dict[str, str]):
        self.moto, self.settings = moto, settings
        self.iam, self.ssm, self.s3 = moto.admin_boto("iam"), moto.admin_boto("ssm"), moto.admin_boto("s3")
        self.account = moto.admin_boto("sts").get_caller_identity()["Account"]
        role = MAIN_TF["resource"]["aws_iam_role"]["app"]
        self.role = role["name"]
        self.role_arn = self.iam.create_role(
            RoleName=self.role, Description=role["description"],
            AssumeRolePolicyDocument=policy_json(ref_name(role["assume_role_policy"]), self.account),
        )["Role"]["Arn"]
        profile = MAIN_TF["resource"]["aws_iam_instance_profile"]["app"]["name"]
        self.iam.create_instance_profile(InstanceProfileName=profile)
        self.iam.add_role_to_instance_profile(InstanceProfileName=profile, RoleName=self.role)
        for b in MAIN_TF["resource"]["aws_s3_bucket"].values():
            self.s3.create_bucket(Bucket=b["bucket"])
        backend = json.loads((REPO / f"generated/{ENV}/backend.tf.json").read_text())["terraform"]["backend"]["s3"]
        self.state_bucket, self.state_key = backend["bucket"], backend["key"]
        self.s3.create_bucket(Bucket=self.state_bucket)
        self.s3.put_object(Bucket=self.state_bucket, Key=self.state_key, Body=b'{"version": 4}')
        self.other_parameter = f"/{APP}/prod/db_password"
        self.ssm.put_parameter(Name=self.other_parameter, Type="SecureString", Value="prod-secret")

    def assume_role(self) -> dict:
        """The role's credentials, as EC2 gets them for the instance (AssumeRole by the service,
        MotoIAM's way around moto's trust-policy check; see harness.MotoIAM)."""
        return self.moto.assume_role(self.role_arn, session_name=INSTANCE_ID)

    def create_parameters(self, skip=()):
        """Every aws_ssm_parameter of the document (but `skip`), in its order."""
        for key, p in MAIN_TF["resource"]["aws_ssm_parameter"].items():
            if key not in skip:
                self.ssm.put_parameter(Name=p["name"], Type=p["type"], Value=self.settings[key], Description=p["description"])

    def attach_policies(self):
        """aws_iam_role_policy and aws_iam_role_policy_attachment of the role (after the parameters,
        whose ARNs the policy names)."""
        for p in MAIN_TF["resource"]["aws_iam_role_policy"].values():
            self.iam.put_role_policy(RoleName=self.role, PolicyName=p["name"],
                                     PolicyDocument=policy_json(ref_name(p["policy"]), self.account))
        for a in MAIN_TF["resource"].get("aws_iam_role_policy_attachment", {}).values():
            self.iam.attach_role_policy(RoleName=self.role, PolicyArn=a["policy_arn"])


# ---------------------------------------------------------------------------------------------
# One test's host and its world.


class Host:
    """The container, its namespace, relay and servers; `close()` removes all of it."""

    def __init__(self, tmp: Path, moto, *, hook: dict[str, str], database=True, hold_dpkg_lock=0):
        self.tmp, self.moto, self.timings = tmp, moto, {}
        self.servers, self.container, self.pg, self.relay, self.netns, self.imds = [], None, None, None, None, None
        self.root = tmp / "root"
        try:
            self._setup(hook, database, hold_dpkg_lock)
        except BaseException:
            self.close()
            raise

    def _setup(self, hook, database, hold_dpkg_lock):
        tmp = self.tmp
        image, self.timings["image"] = build_image()
        pythons = sorted(p.name for p in (image / "root/usr/bin").glob("python3.*") if re.fullmatch(r"python3\.\d+", p.name))
        wheels, self.timings["wheels"] = wheelhouse(pythons[-1].removeprefix("python"))
        t0 = time.monotonic()
        sh("cp", "-a", "--reflink=auto", image / "root", self.root, timeout=300)
        self.timings["copy root"] = time.monotonic() - t0
        self.packages = apt_packages(USER_DATA)

        # The package mirror (apt repository and wheels) and the database's CA bundle.
        self.ca = make_ca(tmp / "ca", "ca")
        self.wrong_ca = make_ca(tmp / "ca", "other-ca")
        mirror = tmp / "mirror"
        mirror.mkdir()
        (mirror / "apt").symlink_to(image / "apt")
        (mirror / "wheels").symlink_to(wheels)
        shutil.copy(self.ca[0], mirror / "rds-ca-bundle.pem")
        self.mirror = self._serve(mirror, "mirror")
        if database:
            self.pg = Postgres(DB_HOST, self.ca)

        # The app's code in git over HTTP, the API stand-ins.
        self.git_dir, self.work = tmp / "git", tmp / "work"
        self.git_dir.mkdir()
        sh("git", "init", "-q", "--bare", "-b", "main", self.git_dir / "app.git")
        shutil.copytree(EXAMPLE_APP, self.work)
        # The test's own route on top of the starter app: digests of settings (never values).
        (self.work / "app/env_digest.py").write_text(ENV_DIGEST)
        with open(self.work / "app/main.py", "a") as f:
            f.write("\nfrom .env_digest import router  # added by the host test\napp.include_router(router)\n")
        self.git = ["git", "-C", str(self.work), "-c", "user.name=test", "-c", "user.email=test@example.invalid"]
        sh(*self.git[:3], "init", "-q", "-b", "main")
        self.commit("v1")
        git_http = self._serve(self.git_dir, "git-http")
        apis = tmp / "apis"
        apis.mkdir()
        tavily, gemini = self._serve(apis, "tavily"), self._serve(apis, "gemini")

        # The role exists before the instance (Terraform: the instance profile); parameters and
        # policies are each test's choice. The instance gets the role's credentials from IMDS.
        self.settings = {
            "db_host": DB_HOST, "db_port": str(self.pg.port if self.pg else 5432), "db_name": "app", "db_username": "app",
            "db_password": "test-password-123", "tavily_api_key": "tvly-test", "gemini_api_key": "gemini-test",
            "repo_url": f"{git_http.url}/app.git", "repo_branch": "main",
        }
        self.aws = Aws(self.moto, self.settings)
        self.imds = Imds(self.aws.role, self.aws.assume_role, INSTANCE_ID)

        self.netns = NetNS()
        into = [(s.port, "127.0.0.1", s.port) for s in self.servers] + [(self.moto.port, "127.0.0.1", self.moto.port),
                                                                         (self.imds.port, "169.254.169.254", 80)]
        if self.pg:
            into.append((self.pg.port, "127.0.0.1", self.pg.port))
        self.relay = Relay(self.netns, into, {"ssh": 22, "app": 8000}, tmp / "relay.log")

        hook_lines = [
            f"export AWS_ENDPOINT_URL={self.moto.url}",
            f"export TAVILY_API_URL={tavily.url} GEMINI_API_URL={gemini.url}",
            "export READY_TIMEOUT_SECONDS=15",  # the starter app's bound per check (a loaded CI machine)
            f"export PIP_NO_INDEX=1 PIP_FIND_LINKS={self.mirror.url}/wheels/",
            f"RDS_CA_BUNDLE_URL={self.mirror.url}/rds-ca-bundle.pem",
        ] + [f"{k}={v}" for k, v in hook.items()]
        self.key = self._prepare_root(hook_lines, hold_dpkg_lock)
        self.env = dict(os.environ, SSH_HOST="127.0.0.1", SSH_PORT=str(self.relay.ports["ssh"]), SSH_USER="ubuntu",
                        SSH_KEY=str(self.key), APP_URL=f"http://127.0.0.1:{self.relay.ports['app']}",
                        SSH_OPTS="-o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR",
                        HEALTH_TRIES="30", HEALTH_DELAY="1")
        self.container = Container(self.root, self.netns, tmp / "console.log")

    def _serve(self, folder, name):
        s = Static(folder, self.tmp / f"{name}.log")
        self.servers.append(s)
        return s

    def commit(self, message):
        sh(*self.git, "add", "-A")
        sh(*self.git, "commit", "-q", "-m", message)
        sh(*self.git, "push", "-q", self.git_dir / "app.git", "main")
        sh("git", "-C", self.git_dir / "app.git", "update-server-info")

    def _prepare_root(self, hook_lines, hold_dpkg_lock):
        root = self.root
        # The instance's image: a login user with sudo and our key, sshd on port 22 of the namespace.
        key = self.tmp / "id_ed25519"
        sh("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", key)
        sh("chroot", root, "useradd", "--create-home", "--shell", "/bin/bash", "--groups", "sudo", "ubuntu")
        ssh_dir = root / "home/ubuntu/.ssh"
        ssh_dir.mkdir(mode=0o700)
        (ssh_dir / "authorized_keys").write_text(Path(f"{key}.pub").read_text())
        sh("chroot", root, "chown", "-R", "ubuntu:ubuntu", "/home/ubuntu/.ssh")
        (root / "etc/hosts").write_text(f"127.0.0.1 localhost\n127.0.1.1 fastapi-host\n127.0.0.1 {DB_HOST}\n")
        (root / "etc/sudoers.d/90-ubuntu").write_text("ubuntu ALL=(ALL) NOPASSWD:ALL\n")
        (root / "etc/ssh/sshd_config.d/90-test.conf").write_text("PasswordAuthentication no\n")
        # The instance's package mirror: the test's, on loopback (what a site mirror would be).
        (root / "etc/apt/sources.list").write_text(f"deb [trusted=yes] {self.mirror.url}/apt ./\n")
        # The instance's site overrides: endpoints and bounds. No keys: credentials come from IMDS.
        (root / f"etc/default/{APP}").write_text("\n".join(hook_lines) + "\n")
        if hold_dpkg_lock:
            (root / "usr/local/bin/hold-dpkg-lock").write_text(HOLD_LOCK)
            (root / "etc/systemd/system/hold-dpkg-lock.service").write_text(
                "[Unit]\nDescription=Hold the dpkg lock at boot, as unattended-upgrades does\n"
                "Before=cloud-final.service\n\n[Service]\nType=forking\n"
                f"ExecStart=/usr/bin/python3 /usr/local/bin/hold-dpkg-lock {hold_dpkg_lock}\n\n"
                "[Install]\nWantedBy=multi-user.target\n")
            sh("chroot", root, "systemctl", "enable", "hold-dpkg-lock.service")
        # cloud-init's NoCloud seed: the rendered user_data of dev, as the stack would pass it.
        seed = root / "var/lib/cloud/seed/nocloud"
        seed.mkdir(parents=True)
        (seed / "user-data").write_text(USER_DATA)
        (seed / "meta-data").write_text(f"instance-id: {INSTANCE_ID}\nlocal-hostname: fastapi-host\n")
        return key

    def script(self, name, *args, timeout=300, check=True, **kw):
        return sh(REPO / "scripts" / name, *args, timeout=timeout, check=check, env=self.env, **kw)

    def ssh(self, *cmd, timeout=60, check=True, **kw):
        return self.script("ssh.sh", ENV, "--", *cmd, timeout=timeout, check=check, **kw)

    def boot(self):
        self.t_boot = time.monotonic()
        self.container.boot()
        wait_for("sshd in the container", lambda: self.ssh("true", timeout=15, check=False).returncode == 0, 300, 2)

    def log(self):
        """/var/log/user-data.log of the instance (read through the root folder: cheap to poll)."""
        f = self.root / "var/log/user-data.log"
        return f.read_text(errors="replace") if f.is_file() else ""

    def cloud_init_status(self, timeout):
        """`cloud-init status --wait` (bounded); the status line and the seconds since boot."""
        out = self.ssh("sudo", "cloud-init", "status", "--wait", timeout=timeout, check=False)
        return out.stdout + out.stderr, time.monotonic() - self.t_boot

    def close(self):
        """Everything down, each step timed (tmp/close-timings.txt)."""
        for name in ("user-data.log", "cloud-init.log"):  # kept for the reader of a failure
            if (self.root / "var/log" / name).is_file():
                shutil.copy(self.root / "var/log" / name, self.tmp / name)
        took = {}

        def timed(name, fn):
            t = time.monotonic()
            try:
                fn()
            finally:
                took[name] = time.monotonic() - t

        steps = [("container", self.container and self.container.stop), ("relay", self.relay and self.relay.stop),
                 ("netns", self.netns and self.netns.delete), ("imds", self.imds and self.imds.stop),
                 *((f"server {s.port}", s.stop) for s in self.servers), ("postgres", self.pg and self.pg.remove),
                 ("root", lambda: subprocess.run(["rm", "-rf", "--one-file-system", str(self.root)], check=False))]
        errors = []
        for name, fn in steps:  # every step, whatever failed before
            try:
                if fn:
                    timed(name, fn)
            except Exception as e:
                errors.append(e)
        (self.tmp / "close-timings.txt").write_text("".join(f"{k} {v:.1f}\n" for k, v in took.items()))
        if errors:
            raise errors[0]


@pytest.fixture
def host_factory(tmp_path):
    made, moto = [], MotoIAM(tmp_path)

    def make(**kw):
        h = Host(tmp_path, moto, **kw)
        made.append(h)
        return h

    try:
        yield make
    finally:
        for h in made:
            h.close()
        moto.stop()


def assert_installed_by_user_data(host: Host, log: str):
    """The root lacked the packages before boot (make-rootfs.sh checks it); now apt has them."""
    assert re.search(r"^Setting up git ", log, re.M), "apt-get did not install git during the boot"
    listed = host.ssh("dpkg-query -W -f '${Package} ${Status}\\n' " + " ".join(host.packages)).stdout
    for p in host.packages:
        assert re.search(rf"^{re.escape(p)} install ok installed$", listed, re.M), f"{p} is not installed:\n{listed}"


# ---------------------------------------------------------------------------------------------
# The tests.


@pytest.mark.slow
def test_app_host_boot_deploy_verify(host_factory):
    t0 = time.monotonic()
    host = host_factory(hook={}, hold_dpkg_lock=25)
    host.aws.create_parameters()
    host.aws.attach_policies()
    ssh, script = host.ssh, host.script

    # First boot: cloud-init runs user_data, which waits for the dpkg lock, installs for real.
    host.boot()
    status, t_boot = host.cloud_init_status(900)
    log = host.log()
    assert "status: done" in status, f"cloud-init: {status}\nuser-data.log:\n{log[-6000:]}"
    assert "Waiting for cache lock" in log, "apt did not meet the dpkg lock that the test held"
    assert_installed_by_user_data(host, log)
    assert host.imds.served["credentials"] > 0 and host.imds.served["token"] > 0
    assert host.imds.served["refused"] == 0, "something asked IMDS without a token (IMDSv2 is required)"

    assert ssh("systemctl", "is-enabled", UNIT).stdout.strip() == "enabled"
    assert ssh("systemctl", "is-active", UNIT).stdout.strip() == "active"
    pid = ssh("systemctl", "show", "-p", "MainPID", "--value", UNIT).stdout.strip()
    assert ssh("ps", "-o", "user=", "-p", pid).stdout.strip() == "fastapi", "the app must not run as root"
    assert ssh(f"sudo stat -c '%a %U' /etc/{APP}/env").stdout.strip() == "600 root"
    user_data = ssh("sudo", "cat", "/var/lib/cloud/instance/user-data.txt").stdout
    assert "set -euo pipefail" in user_data and "test-password-123" not in user_data
    assert "test-password-123" not in log, "user_data logged a secret"
    hook = ssh("sudo", "cat", f"/etc/default/{APP}").stdout
    assert "AWS_ACCESS_KEY_ID" not in hook and "AWS_SECRET" not in hook
    env_file = ssh("sudo", "cat", f"/etc/{APP}/env").stdout
    assert re.search(r"^DATABASE_URL=.*[?&]sslmode=verify-full", env_file, re.M), env_file.replace("test-password-123", "***")

    health = script("curl-health.sh", ENV)
    assert '"version":"v1"' in health.stdout, health.stdout
    assert ssh("hostname").stdout.strip() == "fastapi-host"

    # deploy.sh rolls out a new commit.
    main_py = host.work / "app/main.py"
    main_py.write_text(main_py.read_text().replace('VERSION = "v1"', 'VERSION = "v2"'))
    host.commit("v2")
    host.env["HEALTH_EXPECT"] = '"version":"v2"'
    deployed = script("deploy.sh", ENV, timeout=300)
    assert "healthy" in deployed.stdout and '"version":"v2"' in deployed.stdout, deployed.stdout

    # A broken commit: deploy.sh fails, says why, and shows the journal; a fix recovers.
    main_py.write_text(main_py.read_text().replace("app = FastAPI()", 'raise RuntimeError("boom at import")\napp = FastAPI()'))
    host.commit("broken")
    host.env["HEALTH_TRIES"] = "5"
    failed = script("deploy.sh", ENV, timeout=300, check=False)
    assert failed.returncode == 1, failed.stdout + failed.stderr
    assert "recent journal" in failed.stderr and "boom at import" in failed.stderr, failed.stderr[-3000:]
    host.env["HEALTH_TRIES"] = "30"
    main_py.write_text(main_py.read_text().replace('raise RuntimeError("boom at import")\n', ""))
    host.commit("fixed")
    script("deploy.sh", ENV, timeout=300)
    del host.env["HEALTH_EXPECT"]

    # user_data is safe to run twice.
    again = ssh("sudo", "bash", "/var/lib/cloud/instance/user-data.txt", timeout=600, check=False)
    assert again.returncode == 0, again.stdout[-3000:] + again.stderr[-3000:]
    assert '"version":"v2"' in script("curl-health.sh", ENV).stdout
    # Settings with `$`, backticks, quotes, `#`, `%`, `\` and newlines (issue 10, item 5): stored in
    # SSM, they reach the app unchanged through systemd's EnvironmentFile=, and verify.sh through
    # bash, and nothing in them runs. (The password keeps to RDS's characters: no / " @ or space.)
    marker = "/tmp/fastapi-infra-settings-ran"
    hostile = {
        "db_password": "p$HOME`id`'#%h\\x$(id)",
        "tavily_api_key": f"tv $(touch {marker}) `touch {marker}` 'q' \"dq\" #h %h %% \\ ${{HOME}}\nline2 ;x",
        "gemini_api_key": "ge'\"'\"' x\\",
    }
    for k, v in hostile.items():
        host.aws.ssm.put_parameter(Name=f"/{APP}/{ENV}/{k}", Value=v, Type="SecureString", Overwrite=True)
    sh("psql", "-h", "127.0.0.1", "-p", host.pg.port, "-U", "postgres", "-d", "postgres", "-c",
       "ALTER ROLE app PASSWORD '{}'".format(hostile["db_password"].replace("'", "''")),
       env=dict(os.environ, PGPASSWORD="admin-password"))
    rerun = ssh("sudo", "bash", "/var/lib/cloud/instance/user-data.txt", timeout=600, check=False)
    assert rerun.returncode == 0, rerun.stdout[-3000:] + rerun.stderr[-3000:]
    names = {"db_password": "PGPASSWORD", "tavily_api_key": "TAVILY_API_KEY", "gemini_api_key": "GEMINI_API_KEY"}
    want = {var: hashlib.sha256(hostile[k].encode()).hexdigest() for k, var in names.items()}
    url = f"{host.env['APP_URL']}/env-digest?names={','.join(names.values())}"
    with urllib.request.urlopen(url, timeout=10) as r:
        assert json.load(r) == want, "the app (systemd's EnvironmentFile=) got other values"
    for var, digest in want.items():  # bash, as verify.sh and deploy.sh read the file
        got = ssh(f"sudo bash -c 'set -a; . /etc/{APP}/env; printf %s \"${var}\" | sha256sum'").stdout.split()[0]
        assert got == digest, f"bash reads {var} differently"
    assert ssh(f"test ! -e {marker} && echo none").stdout.strip() == "none", "a command in a setting ran"
    # verify.sh's database check (below) now logs in with the hostile password, read by bash.

    # kill -9 of the app: systemd restarts it.
    pid = ssh("systemctl", "show", "-p", "MainPID", "--value", UNIT).stdout.strip()
    ssh("sudo", "kill", "-9", pid)
    wait_for("a new app process", lambda: ssh("systemctl", "show", "-p", "MainPID", "--value", UNIT).stdout.strip() not in ("0", pid), 60)
    script("curl-health.sh", ENV)

    # verify.sh: every check passes (the database with verify-full against the test's CA).
    verified = script("verify.sh", ENV, timeout=180, check=False)
    print("\n" + verified.stdout)
    assert verified.returncode == 0, verified.stdout + verified.stderr
    for check in ("health", "database", "s3", "tavily", "gemini"):
        assert re.search(rf"^PASS {check}:", verified.stdout, re.M), f"{check} missing:\n{verified.stdout}"
    # The app's buckets: artifacts and content (the logs bucket is S3's log delivery target).
    assert verified.stdout.count("PASS s3:") == 2
    # The starter app's readiness: the database (verify-full), both buckets (the role, through
    # IMDS), Tavily and Gemini, each within its bound.
    try:
        with urllib.request.urlopen(f"{host.env['APP_URL']}/ready", timeout=30) as r:
            status, ready = r.status, json.load(r)
    except urllib.error.HTTPError as e:  # 503: not ready; the body says which check failed
        status, ready = e.code, json.load(e)
    assert status == 200 and ready["ready"], json.dumps(ready, indent=1)
    assert set(ready["checks"]) == {"database", "s3 artifacts", "s3 content", "tavily", "gemini"}, ready
    assert ready["timeout_seconds"] == 15, "the site file's READY_TIMEOUT_SECONDS reaches the app"

    # The role, evaluated (IAM enforced in moto): from inside the host, as the app user, with the
    # credentials IMDS hands out, the app reaches its own things and is refused the others.
    (host.root / "usr/local/share/probe.py").write_text(PROBE)
    probe = ssh("sudo bash -c 'set -a; . /etc/fastapi-infra/env; set +a; exec runuser -u fastapi -- python3 "
                f"/usr/local/share/probe.py {PREFIX}/db_password {host.aws.other_parameter} "
                f"{host.aws.state_bucket} {host.aws.state_key}'").stdout
    got = json.loads(probe.strip().splitlines()[-1])
    assert got == {
        "keys in env": [], "credentials": "iam-role",
        "identity": f"arn:aws:sts::{host.aws.account}:assumed-role/{host.aws.role}/{INSTANCE_ID}",
        "content write": "ok", "content read": "ok", "content list": "ok", "content delete": "ok",
        "own parameter": "ok", "other env's parameter": "403", "state read": "403", "state list": "403", "state write": "403",
    }, got

    # The server's certificate is really verified: with another CA in place, the same settings fail.
    ca_file = f"/etc/{APP}/rds-ca-bundle.pem"
    ssh("sudo", "cp", ca_file, ca_file + ".good")
    ssh("sudo", "tee", ca_file, input=host.wrong_ca[0].read_text())
    wrong = script("verify.sh", ENV, timeout=180, check=False)
    assert wrong.returncode == 1 and re.search(r"^FAIL database:.*certificate verify failed", wrong.stdout, re.M), wrong.stdout
    ssh("sudo", "mv", ca_file + ".good", ca_file)

    # verify.sh says so when the database goes away.
    host.pg.stop()
    broken = script("verify.sh", ENV, timeout=180, check=False)
    assert broken.returncode == 1 and re.search(r"^FAIL database:", broken.stdout, re.M), broken.stdout
    host.pg.start()

    # Second boot: user_data does not run again, the service comes back by itself.
    runs = host.log().count("user-data: start")
    assert runs == 3, "one run by cloud-init, two by hand above"
    t_reboot = time.monotonic()
    host.container.poweroff(ssh)
    host.boot()
    ssh("sudo", "cloud-init", "status", "--wait", timeout=300, check=False)
    script("curl-health.sh", ENV)
    assert host.log().count("user-data: start") == runs, "user_data ran again on the second boot"
    assert ssh("systemctl", "is-active", UNIT).stdout.strip() == "active"
    t_reboot = time.monotonic() - t_reboot
    apt = re.findall(r"^user-data: apt took (\d+) s", log, re.M)
    print(f"\napp host timings (s): {fmt(host.timings)}, first boot to cloud-init done {t_boot:.1f}"
          f" (apt {apt[0] if apt else '?'} s, lock held 25 s), second boot to healthy {t_reboot:.1f},"
          f" whole test {time.monotonic() - t0:.1f}")


@pytest.mark.slow
def test_app_host_cold_start(host_factory):
    """Terraform's order on a first apply, modelled: the instance boots while its parameters do not
    exist and its role has no policy; they appear 35 s after user_data first asked for them
    (parameters, then the role's policy). The service comes up by itself."""
    t0 = time.monotonic()
    host = host_factory(hook={})  # the default bounds: SETTINGS_WAIT_SECONDS=600
    host.boot()
    wait_for("user_data asking for its settings", lambda: re.search(r"^user-data: (settings try 1:|FAILED)", host.log(), re.M), 900, 3)
    assert "user-data: FAILED" not in host.log(), host.log()[-4000:]
    t_refused = time.monotonic()
    time.sleep(35)
    host.aws.create_parameters()
    time.sleep(5)  # Terraform creates the role's policy after the parameters whose ARNs it names
    host.aws.attach_policies()
    t_created = time.monotonic()
    status, t_boot = host.cloud_init_status(900)
    log = host.log()
    assert "status: done" in status, f"cloud-init: {status}\nuser-data.log:\n{log[-6000:]}"
    attempts = re.findall(r"^user-data: settings try (\d+): (\w+)", log, re.M)
    assert len(attempts) >= 3, log[-4000:]
    codes = [code for _, code in attempts]
    # No policy yet: IAM refuses (HTTP 403) before SSM looks for the names. AWS names it
    # AccessDeniedException; moto answers in XML, which botocore reports as code "403".
    assert set(codes) <= {"ParameterNotFound", "AccessDeniedException", "403"}, attempts
    assert {"AccessDeniedException", "403"} & set(codes), attempts
    assert re.search(r"^user-data: settings: read 9 parameters under /fastapi-infra/dev", log, re.M), log[-4000:]
    assert "test-password-123" not in log, "user_data logged a secret"
    assert '"version":"v1"' in host.script("curl-health.sh", ENV).stdout
    print(f"\ncold start timings (s): {fmt(host.timings)}; first refused attempt {t_refused - host.t_boot:.1f} after boot,"
          f" settings created {t_created - t_refused:.1f} later, cloud-init done {t_boot:.1f} after boot"
          f" ({t_boot - (t_created - host.t_boot):.1f} after the policy), {len(attempts)} refused attempts,"
          f" whole test {time.monotonic() - t0:.1f}")


@pytest.mark.slow
def test_app_host_never_arrives(host_factory):
    """A parameter that never appears: user_data gives up within SETTINGS_WAIT_SECONDS (shortened
    through the hook file), cloud-init reports an error, and the log names the parameter."""
    t0 = time.monotonic()
    bound = 60
    host = host_factory(hook={"SETTINGS_WAIT_SECONDS": str(bound)}, database=False)
    host.aws.create_parameters(skip=("gemini_api_key",))
    host.aws.attach_policies()
    host.boot()
    status, t_boot = host.cloud_init_status(bound + 900)
    log = host.log()
    assert "status: error" in status, f"cloud-init: {status}\nuser-data.log:\n{log[-6000:]}"
    m = re.search(r"^user-data: FAILED: SSM parameters under /fastapi-infra/dev not readable within "
                  rf"SETTINGS_WAIT_SECONDS={bound} \((\d+) tries in (\d+) s\): "
                  r"ParameterNotFound: /fastapi-infra/dev/gemini_api_key$", log, re.M)
    assert m, log[-4000:]
    attempts, waited = int(m.group(1)), int(m.group(2))
    assert bound <= waited <= bound + 30 and attempts >= 3, m.group(0)
    assert "test-password-123" not in log and "gemini-test" not in log, "user_data logged a value"
    # user_data stopped there: the unit was never written.
    assert host.ssh("systemctl", "cat", UNIT, check=False).returncode != 0
    print(f"\nnever-arrives timings (s): {fmt(host.timings)}; gave up after {waited} s of {bound} ({attempts} attempts),"
          f" cloud-init error {t_boot:.1f} after boot, whole test {time.monotonic() - t0:.1f}")


def fmt(timings):
    return ", ".join(f"{k} {v:.1f}" for k, v in timings.items())
