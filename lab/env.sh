# shellcheck shell=bash
# lab/env.sh — sourced by every lab script. Sets PATH and the common podman flags.
# Nothing here changes the machine.

LAB_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
export LAB_DIR

# /usr/local/sbin first: setup.sh may put a `criu` wrapper there that must win over
# Debian 12's /usr/sbin/criu (3.17, which does not start on this kernel).
export PATH="/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

# Use Debian's python3, not a pyenv shim that the login environment may put first.
LAB_PY=/usr/bin/python3
export LAB_PY

LAB_IMAGE=${LAB_IMAGE:-localhost/debian-perl:12}
export LAB_IMAGE
# The second image (the corpus scenes that need more than perl): minbase + these packages.
LAB_TOOLS_IMAGE=${LAB_TOOLS_IMAGE:-localhost/kcsi-lab-tools:12}
LAB_TOOLS_PACKAGES=perl,procps,curl,openssl,python3,netcat-openbsd,socat,xxd,bind9-dnsutils
export LAB_TOOLS_IMAGE LAB_TOOLS_PACKAGES
LAB_CRIU_PREFIX=${LAB_CRIU_PREFIX:-/opt/kcsi-lab/criu}
export LAB_CRIU_PREFIX

# Global podman flags (before the subcommand) and flags for `podman run/create`.
PODMAN_GLOBAL=(--runtime runc)
PODMAN_RUN_FLAGS=(--network host --ulimit nofile=1024:1024 --ulimit nproc=4096:4096)

# lab_podman ARGS... — podman with the lab's global flags.
lab_podman() { podman "${PODMAN_GLOBAL[@]}" "$@"; }

# Every container the lab makes carries this label, so that leftovers can be found:
#   podman ps -a --filter label=kcsi-lab
LAB_LABEL=kcsi-lab
export LAB_LABEL
