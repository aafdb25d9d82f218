#!/usr/bin/env bash
# The test command (README): installs everything the tests need on a fresh Debian machine, then
# runs the whole suite. Integration tests need root; CI runs this as root.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  need=""
  for p in keepalived nftables iproute2 iputils-ping procps psmisc; do
    dpkg -s "$p" >/dev/null 2>&1 || need="$need $p"
  done
  if [ -n "$need" ]; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $need >/dev/null
  fi
  # the Debian package may start its own keepalived: our tests start their own peers only
  if command -v systemctl >/dev/null && [ -d /run/systemd/system ]; then
    systemctl disable --now keepalived >/dev/null 2>&1 || true
  fi
fi
python3 -m pip install -q --disable-pip-version-check -e ".[test]"
exec python3 -m pytest -q -p no:cacheprovider "$@" tests
