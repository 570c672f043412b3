#!/usr/bin/env bash
# The whole test suite, on a fresh machine or a warm one: what CI (.ci/run) and `make test` run.
#
#   scripts/test.sh            everything: lint, unit, snapshot, terraform validate, checkov, moto e2e
#   scripts/test.sh --quick    everything but the slow moto end-to-end tests
#
# Installs what it needs: apt packages (shellcheck; debootstrap, systemd-container, ssh and psql
# clients for the app-host test) when missing, the Python test tools (moto, checkov, pytest) into
# a venv, and the app-host test's Debian root; both cached outside the repo, keyed by their inputs
# ($FASTAPI_INFRA_CACHE, default ~/.cache/fastapi-infra).
set -euo pipefail

usage() { sed -n '2,9p' "$0" | sed 's/^# \{0,1\}//'; }
quick=0
case "${1:-}" in
  -h|--help) usage; exit 0 ;;
  --quick) quick=1 ;;
  "") ;;
  *) echo "unknown argument: $1" >&2; usage >&2; exit 2 ;;
esac

cd "$(dirname "$0")/.."
say() { printf '\n== %s\n' "$*"; }

say "prerequisites"
command -v terraform >/dev/null || { echo "terraform is not installed: it comes with this kind of machine (see README)" >&2; exit 1; }
plugin_dir="${TF_PLUGIN_DIR:-/opt/tf-plugins}"
[ -d "${plugin_dir}/registry.terraform.io/hashicorp/aws" ] || {
  echo "the AWS provider mirror is missing at ${plugin_dir}: it comes with this kind of machine (see README)" >&2; exit 1; }
terraform version | sed -n 1p  # sed reads it all: head would SIGPIPE terraform under pipefail

missing=()
command -v shellcheck >/dev/null || missing+=(shellcheck)
if [ "${quick}" = 0 ]; then
  # The app-host test boots a Debian root with systemd-nspawn and talks to it over ssh.
  command -v debootstrap >/dev/null || missing+=(debootstrap)
  command -v systemd-nspawn >/dev/null || missing+=(systemd-container)
  command -v ssh >/dev/null || missing+=(openssh-client)
  command -v psql >/dev/null || missing+=(postgresql-client)
  # Its package cache (dpkg-scanpackages) and its network namespace (ip netns).
  command -v dpkg-scanpackages >/dev/null || missing+=(dpkg-dev)
  command -v ip >/dev/null || missing+=(iproute2)
  command -v initdb >/dev/null || { echo "initdb (PostgreSQL server) is missing: it comes with this kind of machine" >&2; exit 1; }
fi
if [ "${#missing[@]}" -gt 0 ]; then
  echo "installing ${missing[*]}"
  timeout 600 apt-get update -qq
  timeout 600 apt-get install -y -qq "${missing[@]}" >/dev/null
fi

export FASTAPI_INFRA_CACHE="${FASTAPI_INFRA_CACHE:-${HOME}/.cache/fastapi-infra}"
cache="${FASTAPI_INFRA_CACHE}"
key="$( (cat tests/requirements.txt; python3 --version) | sha256sum | cut -c1-16)"
venv="${cache}/venv-${key}"
if [ ! -f "${venv}/.complete" ]; then
  echo "making the test venv ${venv}"
  rm -rf "${cache}"/venv-*
  mkdir -p "${cache}"
  python3 -m venv "${venv}"
  timeout 900 "${venv}/bin/pip" install -q -r tests/requirements.txt
  touch "${venv}/.complete"
fi
export PATH="${venv}/bin:${PATH}"

say "format and lint"
cargo fmt --all -- --check
cargo clippy --workspace --all-targets --locked -q -- -D warnings
shellcheck -x scripts/*.sh .ci/run tests/host/*.sh generated/*/user_data.sh

say "generated/ is current"
cargo run -q --locked -p gen -- --all --check

say "cargo test (unit, snapshots, CLI, terraform validate)"
INSTA_UPDATE=no cargo test --workspace --locked

say "pytest (checkov$( [ "${quick}" = 1 ] || echo ", moto end-to-end"))"
# The end-to-end tests mostly wait on the provider's polling: run them side by side
# (PYTEST_WORKERS, default 4). Each run gets its own temp folder.
basetemp="$(mktemp -d "${TMPDIR:-/tmp}/fastapi-infra-e2e.XXXXXX")"
pytest_args=(-q -p no:cacheprovider --durations=0 --basetemp="${basetemp}" -n "${PYTEST_WORKERS:-4}" --dist loadgroup)
if [ "${quick}" = 1 ]; then
  pytest_args+=(-m "not slow")
fi
pytest "${pytest_args[@]}" tests/e2e
