#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# Run a test script as root inside a freshly booted systemd (PID 1, system bus, journald), so that the
# systemd backends meet the real thing even where the machine itself was not booted with systemd.
#
#   run.sh BUILD_DIR SOURCE_DIR INNER_SCRIPT [ARG...]
#
# The container is an ephemeral view of this machine's own /usr (systemd-nspawn --volatile=yes), with
# BUILD_DIR and SOURCE_DIR bound read-only at /opt/sdloop-test/{build,source}. INNER_SCRIPT runs from a oneshot unit
# pulled into the boot transaction; its output is printed here and its exit status becomes ours.
# The inner script sees SDLOOP_BUILD_DIR and SDLOOP_SOURCE_DIR, and SDLOOP_LOG_LEVEL passed through.
#
# Exit status: the inner script's (77 from inside is turned into a failure: only a missing
# systemd-nspawn skips); 1 when the container does not boot or does not finish within
# $SDLOOP_NSPAWN_TIMEOUT seconds (default 300).

set -eu

if [ $# -lt 3 ]; then
        echo "Usage: $0 BUILD_DIR SOURCE_DIR INNER_SCRIPT [ARG...]" >&2
        exit 2
fi

build_dir=$(realpath "$1")
source_dir=$(realpath "$2")
inner=$(realpath "$3")
shift 3

if ! command -v systemd-nspawn >/dev/null 2>&1; then
        echo "SKIP: systemd-nspawn not found (Debian package systemd-container)."
        exit 77
fi
if [ "$(id -u)" != 0 ]; then
        echo "FAIL: booting a systemd container needs root; run this test as root." >&2
        exit 1
fi

timeout_sec=${SDLOOP_NSPAWN_TIMEOUT:-300}
machine="sdloop-test-$$-$(od -An -N4 -tu4 /dev/urandom | tr -d ' ')"
out=$(mktemp -d "${TMPDIR:-/tmp}/sdloop-nspawn.XXXXXX")
cleanup() {
        rm -rf "$out"
}
trap cleanup EXIT

# Quote for a unit file's ExecStart=: double quotes, with \ " and $ escaped (and % for specifiers).
unit_quote() {
        printf '"%s"' "$(printf '%s' "$1" | sed -e 's/\\/\\\\/g' -e 's/"/\\"/g' -e 's/\$/$$/g' -e 's/%/%%/g')"
}

# Inside, the trees live at fixed neutral paths: a checkout under /home, /root or /tmp would be hidden
# from sandboxed plugin units (ProtectHome=, PrivateTmp=). Binaries find their libraries through
# $ORIGIN-relative run paths, so they work from there.
in_build=/opt/sdloop-test/build
in_source=/opt/sdloop-test/source
relocate() {
        case "$1" in
                "$build_dir"|"$build_dir"/*) printf '%s' "$in_build${1#"$build_dir"}" ;;
                "$source_dir"|"$source_dir"/*) printf '%s' "$in_source${1#"$source_dir"}" ;;
                *) printf '%s' "$1" ;;
        esac
}

exec_start=$(unit_quote "$(relocate "$inner")")
for a in "$@"; do
        exec_start="$exec_start $(unit_quote "$(relocate "$a")")"
done

# The unit is test-sdloop.service, not sdloop-…: that namespace belongs to plugin instances, and the
# tests count sdloop-* units.
# The exit status of the test becomes the container's (systemctl exit), and so systemd-nspawn's.
# EXIT_STATUS is a number for exits and a signal name for kills: anything but a number is a failure.
cat >"$out/test-sdloop.service" <<EOF
[Unit]
Description=sdloop test: $(basename "$inner")
Wants=dbus.socket systemd-journald.socket
After=dbus.socket systemd-journald.socket basic.target

[Service]
Type=oneshot
Environment=SDLOOP_BUILD_DIR=$in_build SDLOOP_SOURCE_DIR=$in_source SDLOOP_NSPAWN=1
Environment=SDLOOP_LOG_LEVEL=${SDLOOP_LOG_LEVEL:-info}
WorkingDirectory=/tmp
ExecStart=$exec_start
StandardOutput=file:/sdloop-out/log
StandardError=inherit
TimeoutStartSec=infinity
# A test stuck in a loop that logs must not fill the disk of the machine running it.
LimitFSIZE=512M
ExecStopPost=/bin/sh -c 'case "$\${EXIT_STATUS:-}" in ""|*[!0-9]*) s=1 ;; *) s=$\$EXIT_STATUS ;; esac; echo "inner exit status: $\${EXIT_STATUS:-none}" >>/sdloop-out/log; systemctl exit $\$s'
EOF

# Parents first: the build directory is often inside the source tree.
binds="--bind-ro=$source_dir:$in_source --bind-ro=$build_dir:$in_build"
case "$inner" in
        "$build_dir"/*|"$source_dir"/*) ;;
        *) binds="$binds --bind-ro=$inner" ;;
esac

start=$(date +%s)
status=0
# shellcheck disable=SC2086
# SDLOOP_NSPAWN_OVERLAY=DIR: writable copies of /usr, /etc and /var (upper layers in DIR), for installing
# packages inside without touching this machine (DESIGN.md §4).
overlays=
if [ -n "${SDLOOP_NSPAWN_OVERLAY:-}" ]; then
        up=$SDLOOP_NSPAWN_OVERLAY
        mkdir -p "$up/usr" "$up/etc" "$up/var"
        overlays="--overlay=/usr:$up/usr:/usr --overlay=/etc:$up/etc:/etc --overlay=/var:$up/var:/var"
fi

timeout -k 30 "$timeout_sec" \
        systemd-nspawn --quiet --register=no --keep-unit --volatile=yes -D / \
                --machine="$machine" \
                $overlays \
                $binds \
                --bind="$out:/sdloop-out" \
                --bind-ro="$out/test-sdloop.service:/etc/systemd/system/test-sdloop.service" \
                --boot -- \
                systemd.firstboot=off systemd.unit=multi-user.target systemd.wants=test-sdloop.service \
                </dev/null >"$out/console" 2>&1 || status=$?
elapsed=$(( $(date +%s) - start ))

echo "=== $(basename "$inner") in container $machine (${elapsed}s) ==="
if [ -f "$out/log" ]; then
        cat "$out/log"
else
        echo "(no output: the test unit never ran)"
fi

# Success only with the test's own word for it: the container may also stop without having run it.
if [ $status -eq 0 ] && ! grep -qx 'inner exit status: 0' "$out/log" 2>/dev/null; then
        echo "FAIL: the container stopped without the test having run to its end." >&2
        status=1
fi

case $status in
        124|137)
                echo "FAIL: the container did not finish within ${timeout_sec}s." >&2
                status=1 ;;
        77)
                echo "FAIL: the inner test asked to be skipped; only a missing systemd-nspawn may skip." >&2
                status=1 ;;
esac
# On failure, the boot messages say whether the container came up at all (all of them if the test
# never ran, else the end, where the shutdown shows what was still running).
if [ $status -ne 0 ] && [ -s "$out/console" ]; then
        if [ -f "$out/log" ]; then
                echo "=== container console (last 40 lines) ===" >&2
                tail -n 40 "$out/console" >&2
        else
                echo "=== container console ===" >&2
                cat "$out/console" >&2
        fi
fi
exit $status
