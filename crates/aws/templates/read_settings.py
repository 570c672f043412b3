"""Read the app's settings from SSM Parameter Store and write the environment files.

Run by user_data.sh as root at boot (python3 with Debian/Ubuntu's python3-boto3). Inputs come
from the environment: SSM_PREFIX, SSM_KEYS (space separated), EXTRA_ENV (a JSON object of
settings that are not secret), ENV_OUT (the root-only env file) and DEPLOY_OUT (the root-only
file of the repository settings, with the URL's credentials apart).

Both files use one format that systemd's EnvironmentFile= and bash's `.` read the same way (see
env_line); the writer refuses what either would change.
"""
import json
import os
import re
import tempfile
import urllib.parse

import boto3

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
    """Write KEY='value' lines to path atomically, mode 0600 (owner: the caller, root)."""
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
    """(URL without credentials, username, password) of the app's git URL.

    https://user:token@host/path gives https://host/path, and the (percent-decoded) user and
    token go to git through a credential helper only: never argv (ps), never .git/config. ssh
    URLs (ssh://, git@host:path) keep their user, which is no secret, and carry no password.
    The URL itself is never printed: it may hold a token.
    """
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
keys = os.environ["SSM_KEYS"].split()
# AWS_ENDPOINT_URL_SSM / AWS_ENDPOINT_URL (from /etc/default/<app>) also work with older boto3.
endpoint = os.environ.get("AWS_ENDPOINT_URL_SSM") or os.environ.get("AWS_ENDPOINT_URL") or None
ssm = boto3.client("ssm", region_name=os.environ["AWS_REGION"], endpoint_url=endpoint)
names = [f"{prefix}/{k}" for k in keys]
got = {}
for i in range(0, len(names), 10):
    resp = ssm.get_parameters(Names=names[i:i + 10], WithDecryption=True)
    if resp.get("InvalidParameters"):
        raise SystemExit(f"user-data: missing SSM parameters: {resp['InvalidParameters']}")
    for p in resp["Parameters"]:
        got[p["Name"].rsplit("/", 1)[1]] = p["Value"]

user = urllib.parse.quote(got["db_username"], safe="")
password = urllib.parse.quote(got["db_password"], safe="")
env = {
    "AWS_REGION": os.environ["AWS_REGION"],
    "AWS_DEFAULT_REGION": os.environ["AWS_REGION"],
    "DATABASE_URL": f"postgresql://{user}:{password}@{got['db_host']}:{got['db_port']}/{got['db_name']}",
    "PGHOST": got["db_host"],
    "PGPORT": got["db_port"],
    "PGDATABASE": got["db_name"],
    "PGUSER": got["db_username"],
    "PGPASSWORD": got["db_password"],
    "TAVILY_API_KEY": got["tavily_api_key"],
    "GEMINI_API_KEY": got["gemini_api_key"],
}
env.update(json.loads(os.environ.get("EXTRA_ENV") or "{}"))
# Endpoint overrides from /etc/default/<app> (tests, proxies) reach the app too.
for k in ("AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3", "TAVILY_API_URL", "GEMINI_API_URL", "HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY"):
    if os.environ.get(k):
        env[k] = os.environ[k]
write_env_file(os.environ["ENV_OUT"], env)
repo_url, repo_username, repo_password = split_repo_url(got["repo_url"])
if not BRANCH.match(got["repo_branch"]):
    raise SystemExit("user-data: the SSM setting repo_branch is not a branch name (letters, digits, . _ / -)")
write_env_file(os.environ["DEPLOY_OUT"], {
    "REPO_URL": repo_url,
    "REPO_BRANCH": got["repo_branch"],
    "REPO_USERNAME": repo_username,
    "REPO_PASSWORD": repo_password,
})
