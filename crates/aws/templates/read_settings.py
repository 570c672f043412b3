"""Read the app's settings from SSM Parameter Store and write the environment files.

Run by user_data.sh as root at boot (python3 with Debian/Ubuntu's python3-boto3). Inputs come
from the environment: SSM_PREFIX, SSM_KEYS (space separated), EXTRA_ENV (space separated
KEY=value pairs that are not secret), ENV_OUT (the root-only env file), DEPLOY_OUT, DB_CA_FILE
(the database's CA bundle) and SETTINGS_WAIT_SECONDS (how long to wait for the parameters).

At first boot the parameters, the role's policy or the role's credentials may not be there yet
(Terraform creates them alongside; IAM is eventually consistent): every such answer is retried
with backoff until SETTINGS_WAIT_SECONDS have passed. Each attempt is logged with the names it
still misses and the error code, never a value.
"""
import os
import random
import time
import urllib.parse

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

prefix = os.environ["SSM_PREFIX"]
keys = os.environ["SSM_KEYS"].split()
wait_seconds = float(os.environ.get("SETTINGS_WAIT_SECONDS", "600"))
# AWS_ENDPOINT_URL_SSM / AWS_ENDPOINT_URL (from /etc/default/<app>) also work with older boto3.
endpoint = os.environ.get("AWS_ENDPOINT_URL_SSM") or os.environ.get("AWS_ENDPOINT_URL") or None
# Not there yet, or not allowed yet: worth another try. Anything else fails at once.
RETRY = {
    "AccessDenied", "AccessDeniedException", "ParameterNotFound", "ThrottlingException", "Throttling",
    "TooManyRequestsException", "RequestLimitExceeded", "UnrecognizedClientException", "InvalidClientTokenId",
    "ExpiredTokenException", "InternalServerError", "InternalFailure", "ServiceUnavailable",
}
names = [f"{prefix}/{k}" for k in keys]
got = {}


def log(msg):
    print(f"user-data: {msg}", flush=True)


def fetch_missing():
    """One attempt at every parameter not read yet; returns what is still wrong, or None."""
    # A new client each attempt: the role's credentials (IMDS) may arrive after the first try.
    config = Config(connect_timeout=5, read_timeout=20, retries={"mode": "standard", "max_attempts": 2})
    ssm = boto3.client("ssm", region_name=os.environ["AWS_REGION"], endpoint_url=endpoint, config=config)
    missing = [n for n in names if n.rsplit("/", 1)[1] not in got]
    for i in range(0, len(missing), 10):
        try:
            resp = ssm.get_parameters(Names=missing[i:i + 10], WithDecryption=True)
        except ClientError as e:
            err = e.response.get("Error", {})
            if err.get("Code") not in RETRY:
                raise SystemExit(f"user-data: FAILED: SSM GetParameters: {err.get('Code')}: {err.get('Message')}")
            return f"{err.get('Code')}: {err.get('Message')}"
        except BotoCoreError as e:  # no credentials yet, endpoint unreachable, timeout
            return f"{type(e).__name__}: {e}"
        for p in resp["Parameters"]:
            got[p["Name"].rsplit("/", 1)[1]] = p["Value"]
    still = [n for n in names if n.rsplit("/", 1)[1] not in got]
    return f"ParameterNotFound: {' '.join(still)}" if still else None


start = time.monotonic()
deadline = start + wait_seconds
delay = 2.0
for attempt in range(1, 1_000_000):
    problem = fetch_missing()
    if problem is None:
        log(f"settings: read {len(names)} parameters under {prefix} (attempt {attempt})")
        break
    left = deadline - time.monotonic()
    if left <= 0:
        raise SystemExit(
            f"user-data: FAILED: SSM parameters under {prefix} not readable within SETTINGS_WAIT_SECONDS="
            f"{wait_seconds:g} ({attempt} attempts in {time.monotonic() - start:.0f} s); last answer: {problem}"
        )
    pause = min(left, delay * random.uniform(0.8, 1.2))
    log(f"settings attempt {attempt}: {problem}; next try in {pause:.0f} s ({left:.0f} s left)")
    time.sleep(pause)
    delay = min(delay * 2, 30.0)


def q(v):
    v = str(v)
    if "\n" in v:
        raise SystemExit("user-data: a setting contains a newline")
    return '"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"'


user = urllib.parse.quote(got["db_username"], safe="")
password = urllib.parse.quote(got["db_password"], safe="")
# The server's certificate is verified against the RDS CA bundle, host name included.
tls = urllib.parse.urlencode({"sslmode": "verify-full", "sslrootcert": os.environ["DB_CA_FILE"]})
env = {
    "AWS_REGION": os.environ["AWS_REGION"],
    "AWS_DEFAULT_REGION": os.environ["AWS_REGION"],
    "DATABASE_URL": f"postgresql://{user}:{password}@{got['db_host']}:{got['db_port']}/{got['db_name']}?" + tls,
    "PGHOST": got["db_host"],
    "PGPORT": got["db_port"],
    "PGDATABASE": got["db_name"],
    "PGUSER": got["db_username"],
    "PGPASSWORD": got["db_password"],
    "PGSSLMODE": "verify-full",
    "PGSSLROOTCERT": os.environ["DB_CA_FILE"],
    "TAVILY_API_KEY": got["tavily_api_key"],
    "GEMINI_API_KEY": got["gemini_api_key"],
}
for pair in os.environ.get("EXTRA_ENV", "").split():
    k, _, v = pair.partition("=")
    env[k] = v
# Endpoint overrides from /etc/default/<app> (tests, proxies) reach the app too.
for k in ("AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3", "TAVILY_API_URL", "GEMINI_API_URL", "HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY"):
    if os.environ.get(k):
        env[k] = os.environ[k]
with open(os.environ["ENV_OUT"], "w") as f:
    for k, v in env.items():
        f.write(f"{k}={q(v)}\n")
with open(os.environ["DEPLOY_OUT"], "w") as f:
    f.write(f"REPO_URL={q(got['repo_url'])}\nREPO_BRANCH={q(got['repo_branch'])}\n")
