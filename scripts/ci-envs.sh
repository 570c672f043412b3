#!/usr/bin/env bash
# The app environments a CI run works on, as a JSON array for a job matrix.
#
#   scripts/ci-envs.sh                 every app env (a folder of generated/ with backend.tf.json)
#   scripts/ci-envs.sh BASE HEAD       the app envs whose generated/<env>/ changed from BASE to HEAD
#
# Prints one line `envs=[...]` (append it to $GITHUB_OUTPUT). bootstrap has local state and
# no backend, so CI never plans or applies it. Env names are checked against gen's pattern.
set -euo pipefail

usage() { sed -n '2,8p' "$0" | sed 's/^# \{0,1\}//'; }
case "${1:-}" in
  -h|--help) usage; exit 0 ;;
esac
[ "$#" = 0 ] || [ "$#" = 2 ] || { usage >&2; exit 2; }

cd "$(dirname "$0")/.."
RE_NAME='^[a-z]([a-z0-9-]{0,30}[a-z0-9])?$'
RE_REV='^[0-9A-Za-z._/~^-]{1,200}$'

if [ "$#" = 2 ]; then
  for rev in "$1" "$2"; do
    [[ "${rev}" =~ ${RE_REV} && "${rev}" != -* ]] || { echo "error: $(printf '%q' "${rev}") is not a git revision" >&2; exit 2; }
  done
  candidates="$(git diff --name-only "$1" "$2" -- generated/ | cut -d/ -f2 | sort -u)"
else
  candidates="$(find generated -mindepth 1 -maxdepth 1 -type d -printf '%f\n' | sort)"
fi

out=()
for env in ${candidates}; do
  [[ "${env}" =~ ${RE_NAME} ]] || { echo "error: generated/$(printf '%q' "${env}") is not an env name" >&2; exit 2; }
  # An env removed by the change has nothing left to plan; bootstrap has no backend.
  [ -f "generated/${env}/backend.tf.json" ] || continue
  out+=("\"${env}\"")
done
(IFS=,; echo "envs=[${out[*]}]")
