#!/usr/bin/env bash
# Build (once) the image that the app-host test boots with systemd-nspawn, in a cache folder
# keyed by its inputs, and print that folder. It holds:
#   root/   a Debian root with what a cloud image has (systemd, cloud-init, sshd, python3), and
#           NOT the packages user_data installs: the test's boot really runs apt-get install
#   apt/    those packages (.deb with every dependency the root lacks) as a flat apt repository
#           (Packages, Release), which the test serves on loopback as the instance's mirror
#
#   tests/host/make-rootfs.sh [CACHE_DIR]
#
# Inputs (the cache key): this script, the package list of generated/dev/user_data.sh
# (APT_PACKAGES=(...); USER_DATA overrides the file). Concurrent runs are safe: one builds
# under a lock, the others wait for it (bounded) and reuse the result. debootstrap's downloads
# are kept in CACHE_DIR/debootstrap-debs, so a rebuild after a change of this script is fast.
# Images of other keys are removed once unused for a day (a test of another checkout may be
# using one right now).
set -euo pipefail

if [ "${1:-}" = "-h" ] || [ "${1:-}" = "--help" ]; then sed -n '2,15p' "$0" | sed 's/^# \{0,1\}//'; exit 0; fi
cache="${1:-${FASTAPI_INFRA_CACHE:-${HOME}/.cache/fastapi-infra}}"
here="$(cd "$(dirname "$0")" && pwd)"
user_data="${USER_DATA:-${here}/../../generated/dev/user_data.sh}"
line="$(grep -m1 -E '^APT_PACKAGES=\(' "${user_data}")" || {
  echo "no APT_PACKAGES=(...) line in ${user_data}" >&2; exit 1; }
read -r -a user_data_packages <<<"$(sed -E 's/^APT_PACKAGES=\((.*)\)$/\1/' <<<"${line}")"
[ "${#user_data_packages[@]}" -gt 0 ] || { echo "empty APT_PACKAGES in ${user_data}" >&2; exit 1; }

key="$( (cat "$0"; echo "${user_data_packages[@]}") | sha256sum | cut -c1-16)"
image="${cache}/host-${key}"
if [ -f "${image}/.complete" ]; then
  touch "${image}"
  echo "${image}"
  exit 0
fi

mkdir -p "${cache}"
exec 9>"${cache}/host-image.lock"
if ! flock -w 1800 9; then
  echo "another make-rootfs.sh held ${cache}/host-image.lock for 30 minutes" >&2
  exit 1
fi
if [ -f "${image}/.complete" ]; then  # built by the run we waited for
  echo "${image}"
  exit 0
fi

find "${cache}" -mindepth 1 -maxdepth 1 \( -name 'host-*' -o -name 'rootfs-*' \) -mmin +1440 -exec rm -rf {} +
work="$(mktemp -d "${cache}/host-${key}.tmp.XXXXXX")"
trap 'rm -rf --one-file-system "${work}"' EXIT
root="${work}/root"

# What an Ubuntu cloud image has before user_data runs: systemd, cloud-init (it needs
# python3-cffi-backend here), sshd, sudo, python3, CA certificates.
base=systemd,systemd-sysv,dbus,cloud-init,python3-cffi-backend,python3,ca-certificates,openssh-server,sudo,iproute2,netbase,procps
mkdir -p "${cache}/debootstrap-debs"
echo "debootstrap bookworm into ${root} (a few minutes, once)" >&2
timeout 1500 debootstrap --variant=minbase --cache-dir="${cache}/debootstrap-debs" --include="${base}" \
  bookworm "${root}" http://deb.debian.org/debian >&2

# This sandbox intercepts TLS: trust the machine's CA bundle inside the root too (pip in the
# app's venv needs it). TMPDIR is the host's and may not exist in the root: drop it.
in_root() { env -u TMPDIR DEBIAN_FRONTEND=noninteractive timeout 900 chroot "${root}" "$@"; }
if [ -f /etc/ssl/certs/ca-certificates.crt ]; then
  install -D -m 0644 /etc/ssl/certs/ca-certificates.crt "${root}/usr/local/share/ca-certificates/host-bundle.crt"
  in_root update-ca-certificates >&2
  want="$(grep -c 'BEGIN CERTIFICATE' /etc/ssl/certs/ca-certificates.crt)"
  have="$(grep -c 'BEGIN CERTIFICATE' "${root}/etc/ssl/certs/ca-certificates.crt")"
  if [ "${have}" -lt "${want}" ]; then
    echo "the root trusts ${have} CAs, fewer than the machine's ${want}" >&2
    exit 1
  fi
fi

# The packages user_data installs, downloaded (not installed) with every dependency the root
# lacks, then moved out into a flat repository. The root keeps no package lists or archives.
in_root apt-get clean
in_root apt-get update -qq >&2
in_root apt-get install -y -qq --download-only --no-install-recommends "${user_data_packages[@]}" >&2
repo="${work}/apt"
mkdir -p "${repo}"
mv "${root}"/var/cache/apt/archives/*.deb "${repo}/"
in_root apt-get clean
rm -rf "${root}"/var/lib/apt/lists/*
for p in "${user_data_packages[@]}"; do
  # shellcheck disable=SC2016
  if [ "${p}" != python3 ] && [ "${p}" != ca-certificates ] && in_root dpkg-query -W -f='${Status}' "${p}" 2>/dev/null | grep -q 'ok installed'; then
    echo "the root already holds ${p}, which user_data installs" >&2
    exit 1
  fi
done
(
  cd "${repo}"
  dpkg-scanpackages --multiversion . /dev/null 2>/dev/null > Packages
  size="$(stat -c %s Packages)"
  sum="$(sha256sum Packages | cut -d' ' -f1)"
  printf 'Origin: fastapi-infra-test\nLabel: fastapi-infra-test\nSuite: test\nCodename: test\nSHA256:\n %s %s Packages\n' \
    "${sum}" "${size}" > Release
)
echo "package cache: $(find "${repo}" -name '*.deb' | wc -l) .deb, $(du -sh "${repo}" | cut -f1)" >&2

# cloud-init: NoCloud only, C.UTF-8, no network configuration (the test owns the namespace).
cat > "${root}/etc/cloud/cloud.cfg.d/90_test.cfg" <<'CFG'
datasource_list: [NoCloud, None]
locale: C.UTF-8
network: {config: disabled}
CFG
echo "fastapi-host" > "${root}/etc/hostname"
touch "${work}/.complete"
mv "${work}" "${image}"
trap - EXIT
echo "${image}"
