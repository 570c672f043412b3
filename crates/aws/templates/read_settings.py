"""Read the app's settings from SSM Parameter Store and write the environment files.

Run by user_data.sh as root at boot (python3 with Debian/Ubuntu's python3-boto3). Inputs come
from the environment: SSM_PREFIX, SSM_KEYS (space separated), EXTRA_ENV (space separated
KEY=value pairs that are not secret), ENV_OUT (the root-only env file) and DEPLOY_OUT.
"""
import os
import urllib.parse

import boto3

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


def q(v):
    v = str(v)
    if "\n" in v:
        raise SystemExit("user-data: a setting contains a newline")
    return '"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"'


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
