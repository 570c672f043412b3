#!/usr/bin/env bash
# deploy.sh [ENV]: roll out the latest commit of the app's branch on the app host of ENV.
#
# Over ssh (see ssh.sh for SSH_* settings): fetch the branch, reset the checkout to it, install
# the requirements, restart the service; then wait for health (curl-health.sh, APP_URL or
# app_url). On failure: exit 1 and print the service's recent journal.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"

env_arg "${1:-}"
env="${ENV_NAME}"
ssh_args "${env}"

# The script the host runs as root is a constant; the app's name reaches it as an argument,
# quoted for the host's shell (remote_args), never pasted into the code.
remote=$(cat <<'REMOTE'
set -euo pipefail
app="$1"
. "/etc/${app}/deploy"
user="$(systemctl show -p User --value "${app}.service")"
src="/opt/${app}/src"
runuser -u "${user}" -- git -C "${src}" fetch --quiet origin "${REPO_BRANCH}"
runuser -u "${user}" -- git -C "${src}" reset --quiet --hard FETCH_HEAD
if [ -f "${src}/requirements.txt" ]; then
  runuser -u "${user}" -- "/opt/${app}/venv/bin/pip" install --quiet -r "${src}/requirements.txt"
fi
systemctl reset-failed "${app}.service" 2>/dev/null || true
systemctl restart "${app}.service"
echo "deployed $(runuser -u "${user}" -- git -C "${src}" rev-parse --short HEAD) of ${REPO_BRANCH}"
REMOTE
)

journal() {
  echo "--- recent journal of ${APP_NAME}.service:" >&2
  # shellcheck disable=SC2029 # quoted for the host by remote_args
  ssh "${SSH_ARGS[@]}" "sudo journalctl -u $(remote_args "${APP_NAME}.service") -n 50 --no-pager" >&2 || true
}

# shellcheck disable=SC2029 # quoted for the host by remote_args
if ! ssh "${SSH_ARGS[@]}" "sudo bash -s -- $(remote_args "${APP_NAME}")" <<<"${remote}"; then
  echo "deploy failed on the host" >&2
  journal
  exit 1
fi
health_target="${APP_URL:-${env}}"
if ! "${SCRIPTS_DIR}/curl-health.sh" "${health_target}"; then
  journal
  exit 1
fi
