#!/usr/bin/env bash
# Install keepalived-py on Debian 12 (bookworm) with Debian's own /usr/bin/python3, as root.
#
#   ./install.sh              install, or reinstall/upgrade from this checkout (idempotent)
#   ./install.sh --uninstall  remove what the install added
#
# What it does (nothing goes into the system Python, which is externally managed - PEP 668):
#   - apt-get installs the Debian packages it needs that are missing: python3, python3-venv,
#     iproute2, nftables
#   - creates a virtual environment /opt/keepalived-py with `/usr/bin/python3 -m venv` and
#     installs keepalived-py into it, with the exact dependency versions of constraints.txt
#     (built with the venv's own setuptools, Debian 12's 66.1)
#   - links /usr/local/sbin/keepalived-py -> /opt/keepalived-py/bin/keepalived-py
#   - installs the systemd unit /usr/local/lib/systemd/system/keepalived-py.service and, unless
#     one exists already, the defaults file /etc/default/keepalived-py; the service is neither
#     enabled nor started. The optional hardening drop-in goes to
#     /opt/keepalived-py/share/keepalived-py/hardening.conf (not active: see the file)
#   - installs the man pages keepalived-py(8), keepalived-py-status(8), keepalived-py-genhash(1)
#     under /usr/local/share/man
#   - installs the D-Bus policy for org.keepalived.Vrrp1 as /etc/dbus-1/system.d/keepalived-py.conf
#     (enable_dbus; not keepalived's own file name: that is a conffile of Debian's keepalived package,
#     and dpkg stops at a prompt when a later install of that package finds it)
#     when the bus's policy directory exists and no such file is there (keepalived's package
#     ships the same policy)
# Everything it added is recorded in /opt/keepalived-py/install-manifest for --uninstall.
set -euo pipefail

PREFIX=/opt/keepalived-py
PY=/usr/bin/python3
LINK=/usr/local/sbin/keepalived-py
UNIT=/usr/local/lib/systemd/system/keepalived-py.service
DEFAULTS=/etc/default/keepalived-py
MANDIR=/usr/local/share/man
MANPAGES="man8/keepalived-py.8 man8/keepalived-py-status.8 man1/keepalived-py-genhash.1"
POLICY=/etc/dbus-1/system.d/keepalived-py.conf
KEEPALIVED_POLICY=/etc/dbus-1/system.d/org.keepalived.Vrrp1.conf
MANIFEST=$PREFIX/install-manifest
DEBS="python3 python3-venv iproute2 nftables"
SRC=$(cd "$(dirname "$0")" && pwd)

say() { echo "install.sh: $*"; }
die() { echo "install.sh: error: $*" >&2; exit 1; }

systemd_running() { [ -d /run/systemd/system ] && command -v systemctl >/dev/null; }

is_our_venv() { [ -f "$PREFIX/pyvenv.cfg" ] && [ -f "$MANIFEST" ]; }

# lines of the previous manifest with a given tag ("deb", "conffile"), if any
manifest_get() { [ -f "$MANIFEST" ] && awk -v t="$1" '$1 == t { $1 = ""; sub(/^ /, ""); print }' "$MANIFEST" || true; }

# write_manifest CONFFILE-LINE DEBS DIRS [POLICY]
write_manifest() {
    local p
    {
        echo "# written by keepalived-py's install.sh; read by install.sh --uninstall"
        echo "file $LINK"
        echo "file $UNIT"
        for p in $MANPAGES; do echo "file $MANDIR/$p"; done
        if [ -n "$1" ]; then echo "conffile $1"; fi
        if [ -n "${4:-}" ]; then echo "policy $4"; fi
        for p in $2; do echo "deb $p"; done
        for p in $(printf '%s\n' $3 | sort -u); do echo "dir $p"; done
    } > "$MANIFEST"
}

do_uninstall() {
    if ! is_our_venv; then
        [ -e "$PREFIX" ] && die "$PREFIX exists but was not made by install.sh (no $MANIFEST); not touching it"
        say "keepalived-py is not installed ($PREFIX does not exist)"
    fi
    if systemd_running && [ -f "$UNIT" ]; then
        systemctl disable --now keepalived-py.service >/dev/null 2>&1 || true
    fi
    if [ -L "$LINK" ] && [ "$(readlink "$LINK")" = "$PREFIX/bin/keepalived-py" ]; then
        rm -f "$LINK" && say "removed $LINK"
    fi
    local f
    for f in "$UNIT" $(for p in $MANPAGES; do echo "$MANDIR/$p"; done); do
        if [ -f "$f" ] && [ -f "$MANIFEST" ] && grep -qxF "file $f" "$MANIFEST"; then
            rm -f "$f" && say "removed $f"
        fi
    done
    local pol
    pol=$(manifest_get policy)
    if [ -n "$pol" ] && [ -f "$pol" ] && grep -q "keepalived-py:" "$pol"; then
        rm -f "$pol" && say "removed $pol"
    fi
    local d
    for d in $(manifest_get dir | sort -r); do      # directories the install created, deepest first
        if rmdir "$d" 2>/dev/null; then say "removed the empty directory $d"; fi
    done
    local conf sum
    conf=$(manifest_get conffile)
    if [ -n "$conf" ]; then
        sum=${conf##* }
        if [ -f "$DEFAULTS" ] && [ "$(sha256sum < "$DEFAULTS" | cut -d' ' -f1)" = "$sum" ]; then
            rm -f "$DEFAULTS" && say "removed $DEFAULTS"
        elif [ -f "$DEFAULTS" ]; then
            say "kept $DEFAULTS: it was changed after the install (remove it by hand if unwanted)"
        fi
    fi
    local debs
    debs=$(manifest_get deb | tr '\n' ' ')
    if systemd_running; then systemctl daemon-reload || true; fi
    if is_our_venv; then
        rm -rf "$PREFIX" && say "removed $PREFIX"
    fi
    if [ -n "${debs// /}" ]; then
        # marked as automatically installed: `apt-get autoremove` removes them once nothing needs them
        apt-mark auto $debs >/dev/null
        say "Debian packages the install added, now marked auto (apt-get autoremove removes them): $debs"
    fi
    say "uninstalled"
}

do_install() {
    command -v apt-get >/dev/null || die "this installer is for Debian 12 (apt-get not found)"
    [ -f "$SRC/pyproject.toml" ] && [ -d "$SRC/keepalived_py" ] || die "run it from a keepalived-py checkout"
    if [ -e "$PREFIX" ] && ! is_our_venv; then
        die "$PREFIX exists but was not made by install.sh; move it away first"
    fi
    if [ -e "$LINK" ] && ! { [ -L "$LINK" ] && [ "$(readlink "$LINK")" = "$PREFIX/bin/keepalived-py" ]; }; then
        die "$LINK exists and is not our link; move it away first"
    fi

    # 1. Debian packages (only the missing ones; remembered so --uninstall can report them)
    local need="" p
    for p in $DEBS; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || need="$need $p"
    done
    local added_debs
    added_debs=$(manifest_get deb | tr '\n' ' ')
    if [ -n "$need" ]; then
        say "apt-get install$need"
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
            -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold $need >/dev/null
        added_debs="$added_debs$need"
    fi
    "$PY" -c 'import sys; sys.exit(sys.version_info < (3, 11))' || die "$PY is older than Python 3.11"

    # what an earlier install recorded: our defaults file and the directories it created
    local conf_line dirs d policy_line
    conf_line=$(manifest_get conffile)
    policy_line=$(manifest_get policy)
    dirs=$(manifest_get dir | tr '\n' ' ')
    for d in "$(dirname "$UNIT")" "$(dirname "$(dirname "$UNIT")")" "$(dirname "$LINK")" \
             "$MANDIR" "$MANDIR/man8" "$MANDIR/man1"; do
        [ -d "$d" ] || dirs="$dirs $d"
    done

    # 2. the virtual environment, made afresh so it holds exactly the pinned versions
    say "creating the virtual environment $PREFIX with $PY ($("$PY" -V 2>&1))"
    rm -rf "$PREFIX"
    "$PY" -m venv "$PREFIX"
    write_manifest "$conf_line" "$added_debs" "$dirs" "$policy_line"
    local pip=("$PREFIX/bin/python" -m pip --disable-pip-version-check -q)
    "${pip[@]}" install -c "$SRC/constraints.txt" wheel
    # build from a clean copy: no stale build/ or *.egg-info in the checkout can leak into the wheel
    BUILD_TMP=$(mktemp -d /tmp/keepalived-py-build.XXXXXX)
    trap 'rm -rf "$BUILD_TMP"' EXIT
    local tmp=$BUILD_TMP
    cp -a "$SRC/pyproject.toml" "$SRC/README.md" "$SRC/keepalived_py" "$tmp/"
    find "$tmp" -name __pycache__ -prune -exec rm -rf {} +
    say "installing keepalived-py and its pinned dependencies into $PREFIX"
    "${pip[@]}" install --no-build-isolation -c "$SRC/constraints.txt" "$tmp"
    "$PREFIX/bin/keepalived-py" --version >/dev/null 2>&1

    # 3. the command on root's PATH, the unit, the defaults file
    mkdir -p "$(dirname "$LINK")"
    ln -sfn "$PREFIX/bin/keepalived-py" "$LINK"
    mkdir -p "$(dirname "$UNIT")"
    install -m 0644 "$SRC/systemd/keepalived-py.service" "$UNIT"
    install -D -m 0644 "$SRC/systemd/hardening.conf" "$PREFIX/share/keepalived-py/hardening.conf"
    local page
    for page in $MANPAGES; do
        install -D -m 0644 "$SRC/docs/man/$(basename "$page")" "$MANDIR/$page"
    done
    if command -v mandb >/dev/null; then mandb -q "$MANDIR" >/dev/null 2>&1 || true; fi
    if [ ! -e "$DEFAULTS" ]; then
        install -m 0644 "$SRC/systemd/keepalived-py.default" "$DEFAULTS"
        conf_line="$DEFAULTS $(sha256sum < "$DEFAULTS" | cut -d' ' -f1)"
    elif [ -z "$conf_line" ]; then
        say "kept the existing $DEFAULTS (not made by install.sh)"
    fi
    # the D-Bus policy keepalived ships (enable_dbus): ours only where none is installed
    if [ -d "$(dirname "$POLICY")" ] && [ ! -e "$POLICY" ] && [ ! -e "$KEEPALIVED_POLICY" ]; then
        install -m 0644 "$SRC/keepalived_py/dbus/org.keepalived.Vrrp1.conf" "$POLICY"
        policy_line=$POLICY
    fi
    write_manifest "$conf_line" "$added_debs" "$dirs" "$policy_line"
    if systemd_running; then
        systemctl daemon-reload
        if systemctl is-active --quiet keepalived-py.service; then
            say "keepalived-py.service is running the old code: systemctl restart keepalived-py"
        fi
    fi
    local ver
    ver=$("$LINK" --version 2>&1 | head -n1) || true
    say "installed $ver in $PREFIX; command $LINK;" \
        "unit $UNIT (not enabled: write /etc/keepalived/keepalived.conf, then" \
        "systemctl enable --now keepalived-py)"
}

need_root() { [ "$(id -u)" = 0 ] || die "run it as root (it manages Debian packages and /opt, /usr/local, /etc)"; }
case "${1:-}" in
    "") need_root; do_install ;;
    --uninstall|uninstall) need_root; do_uninstall ;;
    -h|--help) sed -n '2,23p' "$0" | sed 's/^# \{0,1\}//' ;;
    *) die "unknown argument '$1' (use --uninstall or --help)" ;;
esac
