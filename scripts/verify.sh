#!/usr/bin/env bash
# verify.sh [ENV]: the release's verification list, one PASS/FAIL line each.
# Exit 0: every check passed; 1: a check failed or gave no result; 2: bad input (an ENV, a
# setting or an output that is missing or malformed), found before any check runs.
#
#   health     GET <app_url>/health from here (curl-health.sh; APP_URL overrides)
#   database   from the instance: psql "select 1" with the app's settings
#   s3         from the instance, with its role: write, read back and delete a probe object in
#              each of the app's buckets
#   tavily     from the instance: an HTTP answer from TAVILY_API_URL (https://api.tavily.com)
#   gemini     from the instance: an HTTP answer from GEMINI_API_URL
#              (https://generativelanguage.googleapis.com)
# The endpoints can be pointed elsewhere (tests use loopback) through /etc/default/<app> on the host.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"

env_arg "${1:-}"
env="${ENV_NAME}"
# Every input first: a bad one stops here (exit 2), before any check runs.
ssh_args "${env}"

failed=0
report() { # report NAME STATUS DETAIL
  echo "$2 $1: $3"
  if [ "$2" != PASS ]; then failed=1; fi
}

status=0
out="$(HEALTH_TRIES="${HEALTH_TRIES:-5}" "${SCRIPTS_DIR}/curl-health.sh" "${APP_URL:-${env}}" 2>&1)" || status=$?
case "${status}" in
  0) report health PASS "${out}" ;;
  2) echo "${out}" >&2; exit 2 ;; # bad input, named by curl-health.sh
  *) report health FAIL "${out}" ;;
esac
remote=$(cat <<'REMOTE'
set -uo pipefail
app="$1"
set -a
. "/etc/${app}/env"
if [ -f "/etc/default/${app}" ]; then . "/etc/default/${app}"; fi
set +a
if out="$(timeout 20 psql "${DATABASE_URL}" -tAc 'select 1' 2>&1)" && [ "${out}" = 1 ]; then
  echo "PASS database: select 1 on ${PGHOST}:${PGPORT}/${PGDATABASE}"
else
  echo "FAIL database: ${PGHOST}:${PGPORT}/${PGDATABASE}: ${out}"
fi
timeout 60 python3 - <<'PY'
import os, uuid
import boto3
endpoint = os.environ.get("AWS_ENDPOINT_URL_S3") or os.environ.get("AWS_ENDPOINT_URL") or None
s3 = boto3.client("s3", endpoint_url=endpoint, region_name=os.environ["AWS_REGION"])
for var in sorted(k for k in os.environ if k.startswith("S3_BUCKET_")):
    bucket, key = os.environ[var], f"verify/{uuid.uuid4()}.txt"
    body = f"probe {key}".encode()
    try:
        s3.put_object(Bucket=bucket, Key=key, Body=body)
        got = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
        s3.delete_object(Bucket=bucket, Key=key)
        ok = got == body
        print(f"{'PASS' if ok else 'FAIL'} s3: write, read, delete in {bucket}" + ("" if ok else " (read back differs)"))
    except Exception as e:  # one line per bucket, whatever went wrong
        print(f"FAIL s3: {bucket}: {e}")
PY
for api in tavily gemini; do
  case "${api}" in
    tavily) url="${TAVILY_API_URL:-https://api.tavily.com}" ;;
    gemini) url="${GEMINI_API_URL:-https://generativelanguage.googleapis.com}" ;;
  esac
  if code="$(curl -sS -o /dev/null -w '%{http_code}' --max-time 10 "${url}" 2>&1)" && [ "${code}" != 000 ]; then
    echo "PASS ${api}: ${url} answered HTTP ${code}"
  else
    echo "FAIL ${api}: ${url} unreachable: ${code}"
  fi
done
REMOTE
)
# The app's name reaches the constant script as an argument, quoted for the host's shell.
# shellcheck disable=SC2029 # quoted for the host by remote_args
if lines="$(ssh "${SSH_ARGS[@]}" "sudo bash -s -- $(remote_args "${APP_NAME}")" <<<"${remote}" 2>&1)"; then :; fi
if ! grep -qE '^(PASS|FAIL) ' <<<"${lines}"; then
  report host FAIL "no answer over ssh: ${lines}"
fi
while IFS= read -r line; do
  case "${line}" in
    PASS\ *|FAIL\ *) echo "${line}"; if [[ "${line}" == FAIL* ]]; then failed=1; fi ;;
  esac
done <<<"${lines}"
# A check the host did not report on has not passed.
for name in database s3 tavily gemini; do
  if ! grep -qE "^(PASS|FAIL) ${name}: " <<<"${lines}"; then
    report "${name}" FAIL "no result from the host"
  fi
done

if [ "${failed}" = 0 ]; then echo "verify: all checks passed"; else echo "verify: some checks FAILED" >&2; fi
exit "${failed}"
