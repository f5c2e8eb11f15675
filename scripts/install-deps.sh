#!/usr/bin/env bash
# Debian packages kcsi needs to build and test. Idempotent.
set -eu
pkgs="build-essential meson ninja-build pkg-config libarchive-dev libprotobuf-c-dev protobuf-c-compiler
libjansson-dev libmicrohttpd-dev libsqlite3-dev libcurl4-openssl-dev libyaml-dev libgnutls28-dev openssl libpcre2-dev libssl-dev libyara-dev chromium libsodium-dev libpsl-dev zlib1g-dev publicsuffix libhyperscan-dev zstd lz4 strace time jq zsh fish criu gdb python3 util-linux tar gzip nftables iproute2 libpcap-dev libbpf-dev bpftool clang tshark"
missing=""
for p in $pkgs; do dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"; done
# node and npm (for the S3 test server): any installation will do; Debian's
# npm package conflicts with the NodeSource nodejs some machines carry
command -v node >/dev/null 2>&1 || missing="$missing nodejs"
command -v npm >/dev/null 2>&1 || missing="$missing npm"
if [ -n "$missing" ]; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq $missing
fi
