#!/usr/bin/env bash
# ssh.sh [ENV] [-- COMMAND...]: ssh to the app host of ENV (default dev).
#
# Host and user come from `terraform output` (instance_public_ip, ssh_user) unless SSH_HOST and
# SSH_USER are set. Also: SSH_PORT (22), SSH_KEY (private key file), SSH_OPTS (extra options).
# Examples: scripts/ssh.sh prod    scripts/ssh.sh dev -- sudo journalctl -u fastapi-infra -n 50
set -euo pipefail
# shellcheck source-path=SCRIPTDIR
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"

env="dev"
case "${1:-}" in
  -h|--help) usage; exit 0 ;;
  --|"") ;;
  -*) die "unknown option $1 (see --help)" ;;
  *) env_ok "$1"; env="$1"; shift ;;
esac
if [ "${1:-}" = "--" ]; then shift; fi
ssh_args "${env}"
exec ssh "${SSH_ARGS[@]}" "$@"
