#!/usr/bin/env bash
# Set up kcsi on a fresh Debian machine and run it on the reference crime
# scene (a Perl IRC bot in a web container).
set -eu
cd "$(dirname "$0")/.."
sudo_() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }
sudo_ bash scripts/install-deps.sh
[ -d build ] || meson setup build
ninja -C build
ex=tests/data/fixtures/checkpoint-perlbot.tar
for cmd in "show" "ps --env" "files --pid 15" "net"; do
  echo "\$ build/kcsi $cmd $ex"
  build/kcsi $cmd "$ex"
  echo
done
