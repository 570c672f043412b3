#!/usr/bin/env bash
# Build (once) the Debian root that the app-host test boots with systemd-nspawn, in a cache
# folder keyed by this script's contents. Prints the root's path on stdout.
#
#   tests/host/make-rootfs.sh [CACHE_DIR]
set -euo pipefail

if [ "${1:-}" = "-h" ] || [ "${1:-}" = "--help" ]; then sed -n '2,5p' "$0" | sed 's/^# \{0,1\}//'; exit 0; fi
cache="${1:-${FASTAPI_INFRA_CACHE:-${HOME}/.cache/fastapi-infra}}"
key="$(sha256sum "$0" | cut -c1-16)"
root="${cache}/rootfs-${key}"
if [ -f "${root}/.complete" ]; then
  echo "${root}"
  exit 0
fi

# Packages the image of a cloud instance has (cloud-init, sshd) plus what user_data installs,
# so the boot does not depend on a slow mirror. python3-cffi-backend: cloud-init needs it.
packages=systemd,systemd-sysv,dbus,cloud-init,python3-cffi-backend,python3,python3-venv,python3-pip,python3-boto3,git,curl,ca-certificates,postgresql-client,openssh-server,sudo,iproute2,netbase,procps

# Roots made by older versions of this script are of no further use.
rm -rf "${root}" "${cache}"/rootfs-*
mkdir -p "${cache}"
echo "debootstrap bookworm into ${root} (a few minutes, once)" >&2
timeout 1500 debootstrap --variant=minbase --include="${packages}" bookworm "${root}" http://deb.debian.org/debian >&2

# This sandbox intercepts TLS: trust the machine's CA bundle inside the root too (pip in the
# app's venv needs it). TMPDIR is the host's and may not exist in the root: drop it.
if [ -f /etc/ssl/certs/ca-certificates.crt ]; then
  install -D -m 0644 /etc/ssl/certs/ca-certificates.crt "${root}/usr/local/share/ca-certificates/host-bundle.crt"
  env -u TMPDIR chroot "${root}" update-ca-certificates >&2
  want="$(grep -c 'BEGIN CERTIFICATE' /etc/ssl/certs/ca-certificates.crt)"
  have="$(grep -c 'BEGIN CERTIFICATE' "${root}/etc/ssl/certs/ca-certificates.crt")"
  if [ "${have}" -lt "${want}" ]; then
    echo "the root trusts ${have} CAs, fewer than the machine's ${want}" >&2
    exit 1
  fi
fi
# cloud-init: NoCloud only, C.UTF-8, no network configuration (the container shares the host's).
cat > "${root}/etc/cloud/cloud.cfg.d/90_test.cfg" <<'CFG'
datasource_list: [NoCloud, None]
locale: C.UTF-8
network: {config: disabled}
CFG
echo "fastapi-host" > "${root}/etc/hostname"
touch "${root}/.complete"
echo "${root}"
