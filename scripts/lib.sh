#!/usr/bin/env bash
# Shared helpers of the scripts in this folder (sourced, not run).
# Values come from environment variables when set, else from `terraform output` of generated/<env>.

SCRIPTS_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_DIR="$(cd "${SCRIPTS_DIR}/.." && pwd)"
APP_NAME="${APP_NAME:-fastapi-infra}"

die() { echo "error: $*" >&2; exit 2; }

# tf_output ENV NAME: one output of generated/ENV, as raw text.
tf_output() {
  local env="$1" name="$2" dir="${REPO_DIR}/generated/$1"
  [ -d "${dir}" ] || die "generated/${env} does not exist; fix: cargo run -p gen -- --env ${env}"
  timeout 60 terraform -chdir="${dir}" output -raw "${name}" 2>/dev/null \
    || die "cannot read output '${name}' of ${env}; fix: run 'make apply ENV=${env}' first, or set the matching environment variable"
}

# ssh_args ENV: fills the array SSH_ARGS with options and user@host for the app host.
# Overrides: SSH_HOST, SSH_USER, SSH_PORT (22), SSH_KEY, SSH_OPTS (extra options, split on spaces).
ssh_args() {
  local env="$1" host user
  host="${SSH_HOST:-}"; [ -n "${host}" ] || host="$(tf_output "${env}" instance_public_ip)"
  user="${SSH_USER:-}"; [ -n "${user}" ] || user="$(tf_output "${env}" ssh_user)"
  SSH_ARGS=(-p "${SSH_PORT:-22}" -o BatchMode=yes -o ConnectTimeout=10 -o ServerAliveInterval=15)
  if [ -n "${SSH_KEY:-}" ]; then SSH_ARGS+=(-i "${SSH_KEY}"); fi
  if [ -n "${SSH_OPTS:-}" ]; then
    local extra
    read -r -a extra <<<"${SSH_OPTS}"
    SSH_ARGS+=("${extra[@]}")
  fi
  SSH_ARGS+=("${user}@${host}")
}

# usage: print the calling script's header comment.
usage() { awk 'NR > 1 && /^#/ && !/shellcheck/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; }

# env_arg ARG: sets ENV_NAME (read by the calling script) from a script's single argument (default dev); handles --help.
# shellcheck disable=SC2034
env_arg() {
  case "$1" in
    -h|--help) usage; exit 0 ;;
    "") ENV_NAME=dev ;;
    -*) die "unknown option $1 (see --help)" ;;
    *) ENV_NAME="$1" ;;
  esac
}
