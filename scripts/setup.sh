#!/usr/bin/env bash
# Installs what the examples and tests need on a Debian machine with rustup, or says exactly
# what to install when it cannot (not root and no sudo). Safe to run repeatedly: it only acts
# on what is missing.
set -euo pipefail

need_pkgs=()
command -v qemu-aarch64 >/dev/null || need_pkgs+=(qemu-user)
command -v aarch64-linux-gnu-gcc >/dev/null || need_pkgs+=(gcc-aarch64-linux-gnu libc6-dev-arm64-cross)
command -v arm-linux-gnueabihf-gcc >/dev/null || need_pkgs+=(gcc-arm-linux-gnueabihf)
# Board tests; on Debian 12 this removes the backported qemu-utils, which nothing here needs.
command -v qemu-system-aarch64 >/dev/null || need_pkgs+=(qemu-system-arm)

if [ ${#need_pkgs[@]} -gt 0 ]; then
    if [ "$(id -u)" = 0 ]; then sudo=""; elif command -v sudo >/dev/null; then sudo="sudo"; else
        echo "missing Debian packages: ${need_pkgs[*]}" >&2
        echo "install them with: apt-get update && apt-get install -y ${need_pkgs[*]}" >&2
        exit 1
    fi
    echo "setup: installing ${need_pkgs[*]}" >&2
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${need_pkgs[@]}" >/dev/null
fi

# The toolchain and targets are pinned in rust-toolchain.toml; rustup installs them on first
# use, this makes it explicit (and works offline when they are already there).
rustup show active-toolchain >/dev/null 2>&1 || rustup toolchain install
for t in aarch64-unknown-linux-gnu aarch64-unknown-none thumbv7em-none-eabihf; do
    rustup target list --installed | grep -qx "$t" || rustup target add "$t"
done
