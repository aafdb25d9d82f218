#!/usr/bin/env bash
# The test command (README): on Debian 12, as root, installs the Debian packages the tests need,
# makes the test virtual environment .venv in this checkout with Debian's /usr/bin/python3 (the
# system Python is externally managed, PEP 668: nothing is installed into it), installs this
# checkout into it (editable, with the `test` extra, at the exact versions of constraints.txt)
# and runs the suite from it. Arguments go to pytest: `bash tests/run.sh tests/unit -x -q`.
# Integration tests need root; CI runs this as root. KP_TEST_VENV=DIR puts the venv elsewhere.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=/usr/bin/python3
VENV=${KP_TEST_VENV:-$PWD/.venv}

if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  need=""
  # qemu-system-x86 busybox-static ipvsadm kmod cpio curl: the stock-kernel VM of tests/vm (IPVS);
  # frr: FRR's bfdd (BFD peer); dbus-daemon snmp*: D-Bus and SNMP peers; groff-base: man pages;
  # libfaketime: the chaos suite's clock steps
  for p in python3 python3-venv keepalived nftables iproute2 iputils-ping procps psmisc \
           dbus-daemon snmpd snmptrapd snmp groff-base frr \
           qemu-system-x86 busybox-static ipvsadm kmod cpio curl libfaketime; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || need="$need $p"
  done
  if [ -n "$need" ]; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
      -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold $need >/dev/null
  fi
  # the Debian package may start its own keepalived: our tests start their own peers only
  if command -v systemctl >/dev/null && [ -d /run/systemd/system ]; then
    # (nor snmpd/snmptrapd: the SNMP tests run their own, in a namespace)
    # (nor frr: the BFD tests run their own bfdd, in a namespace)
    systemctl disable --now keepalived snmpd snmptrapd frr >/dev/null 2>&1 || true
  fi
fi

# (re)make the venv when it is missing, broken or not made by $PY
if ! { [ -x "$VENV/bin/python" ] && grep -qx "home = $(dirname "$PY")" "$VENV/pyvenv.cfg" 2>/dev/null \
       && "$VENV/bin/python" -c '' 2>/dev/null; }; then
  rm -rf "$VENV"
  "$PY" -m venv "$VENV"
fi
# install only when pyproject.toml or constraints.txt changed since the last install (the editable
# install follows code changes by itself)
stamp="$VENV/.keepalived-py-installed"
want=$(cat pyproject.toml constraints.txt | sha256sum | cut -d' ' -f1)
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  rm -f "$stamp"
  pip=("$VENV/bin/python" -m pip --disable-pip-version-check -q)
  "${pip[@]}" install -c constraints.txt wheel     # Debian 12's setuptools 66 builds with it
  "${pip[@]}" install --no-build-isolation -c constraints.txt -e ".[test]"
  echo "$want" > "$stamp"
fi
# the byte code made now, as an installed daemon has it (pip compiles at install): a daemon under
# test does not compile a module on its loop the first time it needs it
"$VENV/bin/python" -m compileall -q keepalived_py >/dev/null
exec "$VENV/bin/python" -m pytest -q -p no:cacheprovider --durations=40 "$@"
