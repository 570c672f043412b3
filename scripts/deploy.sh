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
# As in user_data: the URL has no credentials; a token reaches git through a credential helper's
# environment only (never argv, never .git/config).
git_as_app() {
  if [ -n "${REPO_USERNAME:-}${REPO_PASSWORD:-}" ]; then
    # shellcheck disable=SC2016 # expanded by the helper's shell, from its environment
    GIT_CONFIG_COUNT=1 GIT_CONFIG_KEY_0=credential.helper \
      GIT_CONFIG_VALUE_0='!f() { test "$1" = get && printf "username=%s\npassword=%s\n" "${GIT_REPO_USERNAME}" "${GIT_REPO_PASSWORD}"; }; f' \
      GIT_REPO_USERNAME="${REPO_USERNAME}" GIT_REPO_PASSWORD="${REPO_PASSWORD}" GIT_TERMINAL_PROMPT=0 \
      runuser -u "${user}" -- git "$@"
  else
    GIT_TERMINAL_PROMPT=0 runuser -u "${user}" -- git "$@"
  fi
}
runuser -u "${user}" -- git -C "${src}" remote set-url origin "${REPO_URL}"
git_as_app -C "${src}" fetch --quiet origin "${REPO_BRANCH}"
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
