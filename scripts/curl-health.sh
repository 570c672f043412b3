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
  base="${APP_URL}"
elif [[ "${arg}" == http://* || "${arg}" == https://* ]]; then
  base="${arg}"
else
  base="$(tf_output "${arg}" app_url)"
fi
url="${base%/}${HEALTH_PATH:-/health}"
tries="${HEALTH_TRIES:-30}"
delay="${HEALTH_DELAY:-2}"
expect="${HEALTH_EXPECT:-}"

last=""
for i in $(seq 1 "${tries}"); do
  if body="$(curl -fsS --max-time 5 "${url}" 2>&1)"; then
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
