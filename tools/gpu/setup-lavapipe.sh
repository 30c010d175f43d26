#!/usr/bin/env bash
# Gives a machine without a GPU a WebGPU adapter: Mesa's lavapipe (a Vulkan
# driver that runs on the CPU), which Dawn — shipped by the `webgpu` npm
# package — then finds like any other Vulkan device. Used to run the webgpu
# backend's tests on CPU-only machines (RXRL_TEST_BACKEND=webgpu).
#
# Debian bookworm's own Mesa (22.3) exposes no adapter to Dawn; the Mesa from
# bookworm-backports (25.x) does, so this adds that suite and installs
# mesa-vulkan-drivers and libvulkan1 from it. Needs root and apt access.
# Idempotent: a second run changes nothing. On other distributions it stops
# and says what it needs instead.
set -euo pipefail

if [ "$(id -u)" != 0 ]; then
  echo "setup-lavapipe: run as root (it adds an apt source and installs packages)" >&2
  exit 2
fi
. /etc/os-release
if [ "${ID:-}" != debian ] || [ "${VERSION_CODENAME:-}" != bookworm ]; then
  echo "setup-lavapipe: written for Debian bookworm, this is ${PRETTY_NAME:-unknown}." >&2
  echo "  Install Mesa >= 24 with its lavapipe Vulkan driver (mesa-vulkan-drivers) and libvulkan1," >&2
  echo "  then check with: node tools/gpu/adapter.mjs" >&2
  exit 2
fi

list=/etc/apt/sources.list.d/bookworm-backports.sources
if ! grep -rqs 'bookworm-backports' /etc/apt/sources.list /etc/apt/sources.list.d/; then
  cat >"$list" <<'SRC'
Types: deb
URIs: http://deb.debian.org/debian
Suites: bookworm-backports
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SRC
  echo "setup-lavapipe: added $list"
fi

export DEBIAN_FRONTEND=noninteractive
apt-get update -q
apt-get install -y -q --no-install-recommends -t bookworm-backports mesa-vulkan-drivers libvulkan1

icd=$(ls /usr/share/vulkan/icd.d/lvp_icd*.json 2>/dev/null | head -n1 || true)
if [ -z "$icd" ]; then
  echo "setup-lavapipe: mesa-vulkan-drivers installed but no lavapipe ICD under /usr/share/vulkan/icd.d" >&2
  exit 1
fi
echo "setup-lavapipe: lavapipe ICD $icd ($(dpkg-query -W -f='${Version}' mesa-vulkan-drivers))"
