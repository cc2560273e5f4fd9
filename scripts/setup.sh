#!/usr/bin/env bash
# Installs what a GPU-less Debian/Ubuntu machine needs to run wgpu on the CPU (Mesa's lavapipe
# Vulkan driver). Skipped when a Vulkan driver is already installed.
set -euo pipefail
if ls /usr/share/vulkan/icd.d/*.json >/dev/null 2>&1 && ldconfig -p | grep -q libvulkan.so.1; then
    exit 0
fi
SUDO=""
[[ "$(id -u)" != 0 ]] && SUDO="sudo"
echo "installing Mesa's Vulkan drivers (lavapipe) ..."
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq mesa-vulkan-drivers libvulkan1 libegl1 libegl-mesa0 libgl1-mesa-dri >/dev/null
