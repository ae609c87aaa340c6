# shellcheck shell=bash
# Shared by scripts/setup, scripts/test, scripts/develop and scripts/bench: where the Python
# that runs FleetPush's tests lives, and how to run a command with it.
#
# Home Assistant 2026.10 needs Python >= 3.14.2. Where the machine has one (a laptop, a
# devcontainer), the virtual environment is made with it directly. Elsewhere a minimal Debian sid
# root with Python 3.14 is built once under FLEETPUSH_ROOT and commands run inside it through
# `unshare` + `chroot`, with the checkout bind-mounted at the same path.

FLEETPUSH_ROOT=${FLEETPUSH_ROOT:-/opt/fleetpush-root}
CHECKOUT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# When the script that sourced this first started: the scripts it runs (scripts/setup, the demo)
# count their seconds from the same moment, so that the counter never goes back.
export FP_START=${FP_START:-$(date +%s)}

say() { printf '[%4ss] %s\n' "$(($(date +%s) - FP_START))" "$*"; }
# What scripts/setup says when it has nothing to do: silent with FP_QUIET=1 (scripts/develop).
info() { if [ "${FP_QUIET:-0}" != 1 ]; then say "$@"; fi; }

# A Python >= 3.14.2 on this machine, or nothing.
native_python() {
  local candidate
  for candidate in "${FLEETPUSH_PYTHON:-}" python3.15 python3.14 python3; do
    [ -n "$candidate" ] || continue
    command -v "$candidate" >/dev/null 2>&1 || continue
    if "$candidate" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 14, 2) else 1)' 2>/dev/null; then
      command -v "$candidate"
      return 0
    fi
  done
  return 1
}

if NATIVE_PYTHON=$(native_python); then
  FP_MODE=native
  VENV=${FLEETPUSH_VENV:-$HOME/.cache/fleetpush/venv}
else
  FP_MODE=chroot
  NATIVE_PYTHON=
  VENV=/opt/venv # as seen inside the root
fi
# The second Home Assistant of the end-to-end test (requirements_e2e_latest.txt), next to the
# first; tests/e2e/conftest.py finds it by the same rule.
VENV_LATEST=$VENV-latest

# A path of the environment as seen from this machine.
host_path() {
  if [ "$FP_MODE" = native ]; then echo "$1"; else echo "$FLEETPUSH_ROOT$1"; fi
}

# Run a command with the virtual environment first on PATH, in the checkout.
fp_run() {
  if [ "$FP_MODE" = native ]; then
    (cd "$CHECKOUT" && PATH="$VENV/bin:$PATH" VIRTUAL_ENV="$VENV" "$@")
    return
  fi
  local quoted name
  quoted=$(printf '%q ' "$@")
  # Package index and proxy settings of the host reach pip and uv inside the root too.
  local passthrough=()
  for name in PIP_INDEX_URL PIP_EXTRA_INDEX_URL UV_INDEX_URL UV_EXTRA_INDEX_URL \
    HTTP_PROXY HTTPS_PROXY NO_PROXY http_proxy https_proxy no_proxy FLEETPUSH_E2E FP_START; do
    if [ -n "${!name:-}" ]; then passthrough+=("$name=${!name}"); fi
  done
  unshare --mount --propagation private bash -c '
    set -e
    root=$1 checkout=$2 venv=$3 cmd=$4
    mount --bind /proc "$root/proc"
    mount --rbind /dev "$root/dev"
    mount --rbind /sys "$root/sys"
    mkdir -p "$root$checkout"
    mount --bind "$checkout" "$root$checkout"
    exec chroot "$root" /usr/bin/env -i HOME=/root LANG=C.UTF-8 TERM="${TERM:-dumb}" \
      CI="${CI:-}" PATH="$venv/bin:/usr/local/bin:/usr/bin:/bin" VIRTUAL_ENV="$venv" \
      SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt UV_NATIVE_TLS=1 \
      "${@:5}" /bin/bash -c "cd \"$checkout\" && exec $cmd"
  ' fleetpush "$FLEETPUSH_ROOT" "$CHECKOUT" "$VENV" "$quoted" "${passthrough[@]}"
}
