#!/usr/bin/env bash
# Installs redis-server from the system's packages when it is missing.
# Used by `make test`, `make run` and .ci/run on clean machines.
set -euo pipefail
if command -v redis-server >/dev/null 2>&1; then
  exit 0
fi
echo "redis-server not found; installing it from the system's packages" >&2
SUDO=""
if [ "$(id -u)" != "0" ]; then SUDO="sudo"; fi
if command -v apt-get >/dev/null 2>&1; then
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq redis-server >/dev/null
  # The package starts a system service on 6379; our tests use their own ports.
  ($SUDO systemctl disable --now redis-server >/dev/null 2>&1 || $SUDO service redis-server stop >/dev/null 2>&1) || true
elif command -v dnf >/dev/null 2>&1; then
  $SUDO dnf install -y redis
elif command -v brew >/dev/null 2>&1; then
  brew install redis
else
  echo "cannot install redis-server: no known package manager; install it and retry" >&2
  exit 1
fi
command -v redis-server >/dev/null 2>&1 || { echo "redis-server still missing after install" >&2; exit 1; }
