#!/usr/bin/env bash
# Shared helpers of the scripts in this folder (sourced, not run).
# Values come from environment variables when set, else from `terraform output` of generated/<env>.
# Every value from either source is checked against a strict pattern before it is used: none
# can become an option of ssh or curl, or code in the script sent to the host.

SCRIPTS_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_DIR="$(cd "${SCRIPTS_DIR}/.." && pwd)"

die() { echo "error: $*" >&2; exit 2; }

# Patterns (bash regular expressions, whole value). Some are used by the scripts that source this.
RE_NAME='^[a-z]([a-z0-9-]{0,30}[a-z0-9])?$'             # env and app names, as gen's names
RE_UNIX_USER='^[a-z_][a-z0-9_-]{0,31}$'                   # the login user on the host
RE_HOST='^([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$'
RE_IPV6='^[0-9A-Fa-f:]*:[0-9A-Fa-f:.]*$'
RE_PORT='^([1-9][0-9]{0,3}|[1-5][0-9]{4}|6[0-4][0-9]{3}|65[0-4][0-9]{2}|655[0-2][0-9]|6553[0-5])$'
# shellcheck disable=SC2034
RE_URL='^https?://(([A-Za-z0-9.-]+)|(\[[0-9A-Fa-f:.]+\]))(:[0-9]{1,5})?(/[A-Za-z0-9._~/%-]*)?$'
# shellcheck disable=SC2034
RE_PATH='^/[A-Za-z0-9._~/%-]*$'
# shellcheck disable=SC2034
RE_COUNT='^[1-9][0-9]{0,3}$'
# shellcheck disable=SC2034
RE_SECONDS='^[0-9]{1,3}(\.[0-9]{1,3})?$'
RE_SSH_OPT='^[A-Za-z][A-Za-z0-9]*=[^[:space:][:cntrl:]]+$'

# check NAME VALUE PATTERN WHAT: exit 2 unless VALUE matches PATTERN (the value is shown quoted).
check() {
  local name="$1" value="$2" re="$3" what="$4"
  [[ "${value}" =~ ${re} ]] || die "${name} is $(printf '%q' "${value}"), not ${what}"
}

APP_NAME="${APP_NAME:-fastapi-infra}"
check APP_NAME "${APP_NAME}" "${RE_NAME}" "a name of lowercase letters, digits and '-' (at most 32, starting with a letter)"

# tf_output ENV NAME VAR: one output of generated/ENV, as raw text; VAR is the environment
# variable that replaces it (named in the error).
tf_output() {
  local env="$1" name="$2" var="$3" dir="${REPO_DIR}/generated/$1"
  [ -d "${dir}" ] || die "generated/${env} does not exist; fix: cargo run -p gen -- --env ${env}, or set ${var}"
  timeout 60 terraform -chdir="${dir}" output -raw "${name}" 2>/dev/null \
    || die "cannot read output '${name}' of ${env}; fix: run 'make apply ENV=${env}' first, or set ${var}"
}

# host_ok NAME VALUE: a host name or an IPv4/IPv6 address, never anything ssh reads as an option.
host_ok() {
  [[ "$2" =~ ${RE_HOST} || "$2" =~ ${RE_IPV6} ]] \
    || die "$1 is $(printf '%q' "$2"), not a host name or IP address"
}

# ssh_args ENV: fills the array SSH_ARGS with options, `--` and user@host for the app host.
# Overrides: SSH_HOST, SSH_USER, SSH_PORT (22), SSH_KEY, SSH_OPTS (extra `-o Key=Value` pairs).
ssh_args() {
  local env="$1" host user port="${SSH_PORT:-22}"
  host="${SSH_HOST:-}"; [ -n "${host}" ] || host="$(tf_output "${env}" instance_public_ip SSH_HOST)"
  user="${SSH_USER:-}"; [ -n "${user}" ] || user="$(tf_output "${env}" ssh_user SSH_USER)"
  host_ok "the app host (SSH_HOST or output instance_public_ip)" "${host}"
  check "the ssh user (SSH_USER or output ssh_user)" "${user}" "${RE_UNIX_USER}" "a Unix user name"
  check SSH_PORT "${port}" "${RE_PORT}" "a port number from 1 to 65535"
  SSH_ARGS=(-p "${port}" -o BatchMode=yes -o ConnectTimeout=10 -o ServerAliveInterval=15)
  if [ -n "${SSH_KEY:-}" ]; then
    [ -f "${SSH_KEY}" ] || die "SSH_KEY is $(printf '%q' "${SSH_KEY}"), not a file"
    SSH_ARGS+=(-i "${SSH_KEY}")
  fi
  if [ -n "${SSH_OPTS:-}" ]; then
    local extra i
    read -r -a extra <<<"${SSH_OPTS}"
    for ((i = 0; i < ${#extra[@]}; i += 2)); do
      if [ "${extra[i]}" != -o ] || ! [[ "${extra[i + 1]:-}" =~ ${RE_SSH_OPT} ]]; then
        die "SSH_OPTS is $(printf '%q' "${SSH_OPTS}"), not a list of '-o Key=Value' pairs"
      fi
    done
    SSH_ARGS+=("${extra[@]}")
  fi
  # `--`: whatever follows is the destination, never an option.
  SSH_ARGS+=(-- "${user}@${host}")
}

# remote_args VALUE...: the values as one string of words for the host's shell (ssh joins its
# arguments with spaces and the remote shell splits them again), each quoted with printf %q.
remote_args() {
  local out="" v
  for v in "$@"; do out+=" $(printf '%q' "${v}")"; done
  printf '%s' "${out# }"
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
    *) env_ok "$1"; ENV_NAME="$1" ;;
  esac
}

# env_ok ENV: an environment name (a file envs/ENV.toml), never a path.
env_ok() { check "the environment" "$1" "${RE_NAME}" "an environment name such as dev or prod"; }
