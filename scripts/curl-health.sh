#!/usr/bin/env bash
# curl-health.sh [ENV|URL]: GET <app_url>/health with bounded retries and a clear verdict.
#
# ENV (default dev) reads app_url from `terraform output`; a URL (http://...) is used as is;
# APP_URL overrides both. HEALTH_PATH (/health), HEALTH_TRIES (30), HEALTH_DELAY (2 s),
# HEALTH_EXPECT (text the body must contain; empty: any 2xx). Exit 0 healthy, 1 not.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"

arg="${1:-dev}"
case "${arg}" in
  -h|--help) usage; exit 0 ;;
esac
if [ -n "${APP_URL:-}" ]; then
  base="${APP_URL}"; from=APP_URL
elif [[ "${arg}" == http://* || "${arg}" == https://* ]]; then
  base="${arg}"; from="the URL argument"
else
  env_ok "${arg}"
  base="$(tf_output "${arg}" app_url APP_URL)"; from="output app_url of ${arg}"
fi
check "${from}" "${base}" "${RE_URL}" "an http(s) URL (scheme, host, optional port and path)"
path="${HEALTH_PATH:-/health}"
check HEALTH_PATH "${path}" "${RE_PATH}" "a URL path (/ then letters, digits, . _ ~ / % -)"
url="${base%/}${path}"
tries="${HEALTH_TRIES:-30}"
check HEALTH_TRIES "${tries}" "${RE_COUNT}" "a count from 1 to 9999"
delay="${HEALTH_DELAY:-2}"
check HEALTH_DELAY "${delay}" "${RE_SECONDS}" "a number of seconds such as 2 or 0.5"
expect="${HEALTH_EXPECT:-}"
check HEALTH_EXPECT "${expect}" '^[^[:cntrl:]]{0,200}$' "text of at most 200 characters without control characters"

last=""
for i in $(seq 1 "${tries}"); do
  if body="$(curl -fsS --max-time 5 -- "${url}" 2>&1)"; then
    if [ -z "${expect}" ] || [[ "${body}" == *"${expect}"* ]]; then
      echo "healthy: ${url} -> ${body}"
      exit 0
    fi
    last="body does not contain '${expect}': ${body}"
  else
    last="${body}"
  fi
  if [ "${i}" -lt "${tries}" ]; then sleep "${delay}"; fi
done
echo "unhealthy: ${url} after ${tries} tries; last: ${last}" >&2
exit 1
