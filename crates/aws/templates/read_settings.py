# Read the app's settings from SSM Parameter Store and write the environment files.
#
# Run by user_data.sh as root at boot (python3 with Debian/Ubuntu's python3-boto3). Inputs come
# from the environment: SSM_PREFIX, SETTINGS_SPEC (a JSON object made by the generator from the
# app contract, crates/aws/src/contract.rs, `settings_spec`: the keys to read, every variable of
# the env file and where its value comes from), ENV_OUT (the root-only env file), DEPLOY_OUT (the
# root-only file of the repository settings, with the URL's credentials apart), DB_CA_FILE (the
# database's CA bundle) and SETTINGS_WAIT_SECONDS: how long to retry, with backoff, while the
# parameters, the role's policy or its credentials are not there yet (each try is logged, never a
# value). No key or variable name is written here: they all come from the spec.
#
# Both files use one format that systemd's EnvironmentFile= and bash's `.` read the same way (see
# env_line); the writer refuses what either would change.
#
import json
import os
import random
import re
import tempfile
import time
import urllib.parse

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

# --- The writer: one format for every reader ---------------------------------------------
# systemd (EnvironmentFile=, parse_env_file_internal in src/basic/env-file.c) and bash both read
# KEY='...' as the bytes between the quotes, verbatim (newlines too), and after a closing quote
# both go on reading the same value: a `'` is written '"'"' (close, a double-quoted ', reopen).
# Bash expands and runs nothing in single quotes. systemd (252) drops a value with a control
# character other than tab and newline, so the writer refuses those instead.
KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")


def env_line(key, value):
    if not KEY.match(key):
        raise SystemExit(f"user-data: `{key}` is not an environment variable name")
    value = str(value)
    bad = next((c for c in value if (ord(c) < 32 and c not in "\t\n") or ord(c) == 127), None)
    if bad is not None:
        raise SystemExit(f"user-data: the setting {key} contains the control character {ord(bad):#04x}; "
                         "systemd would drop it: remove it from the value")
    return f"{key}='" + value.replace("'", "'\"'\"'") + "'\n"


def write_env_file(path, pairs):
    # Write KEY='value' lines to path atomically, mode 0600 (owner: the caller, root).
    text = "".join(env_line(k, v) for k, v in pairs.items())
    fd, tmp = tempfile.mkstemp(dir=os.path.dirname(os.path.abspath(path)), prefix=".settings-")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


BRANCH = re.compile(r"(?!-)(?!.*\.\.)(?!.*//)(?!.*\.lock\Z)[A-Za-z0-9._][A-Za-z0-9._/-]{0,254}\Z")
SCP_URL = re.compile(r"[A-Za-z0-9._-]+@[A-Za-z0-9.-]+:[A-Za-z0-9._~/-]+\Z")


def split_repo_url(url):
    # (URL without credentials, username, password) of the app's git URL.
    #
    # https://user:token@host/path gives https://host/path, and the (percent-decoded) user and
    # token go to git through a credential helper only: never argv (ps), never .git/config. ssh
    # URLs (ssh://, git@host:path) keep their user, which is no secret, and carry no password.
    # The URL itself is never printed: it may hold a token.
    #
    what = "the SSM setting repo_url is not a git URL (https://host/path, ssh://host/path or user@host:path)"
    if not url or url.startswith("-") or any(c.isspace() or ord(c) < 32 or ord(c) == 127 for c in url):
        raise SystemExit(f"user-data: {what}")
    if SCP_URL.match(url):
        return url, "", ""
    try:
        parts = urllib.parse.urlsplit(url)
        parts.port  # raises on a bad port
    except ValueError:
        raise SystemExit(f"user-data: {what}") from None
    if parts.scheme not in ("https", "http", "ssh") or not parts.hostname or not parts.path.startswith("/"):
        raise SystemExit(f"user-data: {what}")
    userinfo, _, hostport = parts.netloc.rpartition("@")
    user, has_pw, password = userinfo.partition(":")
    if parts.scheme == "ssh":
        if has_pw:
            raise SystemExit("user-data: the SSM setting repo_url has a password in an ssh URL; use a deploy key")
        return url, "", ""
    clean = urllib.parse.urlunsplit((parts.scheme, hostport, parts.path, parts.query, ""))
    return clean, urllib.parse.unquote(user), urllib.parse.unquote(password)


prefix = os.environ["SSM_PREFIX"]
spec = json.loads(os.environ["SETTINGS_SPEC"])
keys = spec["ssm"]
wait = float(os.environ.get("SETTINGS_WAIT_SECONDS", "600"))
# AWS_ENDPOINT_URL_SSM / AWS_ENDPOINT_URL (from /etc/default/<app>) also work with older boto3.
endpoint = os.environ.get("AWS_ENDPOINT_URL_SSM") or os.environ.get("AWS_ENDPOINT_URL") or None
# Not there yet or not allowed yet (HTTP 403, 429, 5xx, these codes): retried. Else: fail at once.
RETRY = ("ParameterNotFound", "Throttl", "UnrecognizedClient", "ExpiredToken")
names = [f"{prefix}/{k}" for k in keys]
got = {}


def fetch():
    # One try at the parameters not read yet: None when all are read, else what is wrong.
    cfg = Config(connect_timeout=5, read_timeout=20, retries={"max_attempts": 2})
    # A new client each try: the role's credentials (IMDS) may come late.
    ssm = boto3.client("ssm", region_name=os.environ["AWS_REGION"], endpoint_url=endpoint, config=cfg)
    todo = [n for n in names if n.rsplit("/", 1)[1] not in got]
    for i in range(0, len(todo), 10):
        try:
            resp = ssm.get_parameters(Names=todo[i:i + 10], WithDecryption=True)
        except ClientError as e:
            code, msg = e.response["Error"].get("Code", ""), " ".join(e.response["Error"].get("Message", "").split())[:300]
            status = e.response["ResponseMetadata"].get("HTTPStatusCode", 0)
            if not (code.startswith(RETRY) or status in (403, 429) or status >= 500):
                raise SystemExit(f"user-data: FAILED: SSM GetParameters: {code}: {msg}")
            return f"{code}: {msg}"
        except BotoCoreError as e:  # no credentials yet, no connection, timeout
            return f"{type(e).__name__}: {e}"
        got.update((p["Name"].rsplit("/", 1)[1], p["Value"]) for p in resp["Parameters"])
    todo = [n for n in names if n.rsplit("/", 1)[1] not in got]
    return "ParameterNotFound: " + " ".join(todo) if todo else None


start, delay, n = time.monotonic(), 2.0, 0
while problem := fetch():
    n += 1
    left = start + wait - time.monotonic()
    if left <= 0:
        raise SystemExit(f"user-data: FAILED: SSM parameters under {prefix} not readable within "
                         f"SETTINGS_WAIT_SECONDS={wait:g} ({n} tries in {time.monotonic() - start:.0f} s): {problem}")
    pause = min(left, delay * random.uniform(0.8, 1.2))
    print(f"user-data: settings try {n}: {problem}; next in {pause:.0f} s ({left:.0f} s left)", flush=True)
    time.sleep(pause)
    delay = min(delay * 2, 30)
print(f"user-data: settings: read {len(names)} parameters under {prefix}", flush=True)


def database_url(db):
    # postgresql://user:password@host:port/name?sslmode=...&sslrootcert=... from the spec's keys.
    user, password = (urllib.parse.quote(got[db[k]], safe="") for k in ("user", "password"))
    tls = urllib.parse.urlencode({"sslmode": db["sslmode"], "sslrootcert": os.environ[db["ca"]]})
    return f"postgresql://{user}:{password}@{got[db['host']]}:{got[db['port']]}/{got[db['name']]}?" + tls


source = {"ssm": lambda k: got[k], "value": lambda v: v, "boot": lambda var: os.environ[var],
          "url": lambda _: database_url(spec["db"])}
env = {name: source[kind](arg) for name, kind, arg in spec["env"]}
# Site overrides from /etc/default/<app> (endpoints, proxies) reach the app too.
env.update((k, os.environ[k]) for k in spec["pass"] if os.environ.get(k))
write_env_file(os.environ["ENV_OUT"], env)
url_key, branch_key = spec["repo"]
repo_url, repo_username, repo_password = split_repo_url(got[url_key])
if not BRANCH.match(got[branch_key]):
    raise SystemExit("user-data: the SSM setting repo_branch is not a branch name (letters, digits, . _ / -)")
write_env_file(os.environ["DEPLOY_OUT"], {
    "REPO_URL": repo_url,
    "REPO_BRANCH": got[branch_key],
    "REPO_USERNAME": repo_username,
    "REPO_PASSWORD": repo_password,
})
