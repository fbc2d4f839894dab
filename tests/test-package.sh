#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# The Debian packages, end to end: build them from this source tree (packaging/build-deb.sh), check them
# with lintian (an E: fails, W: are shown), then install them into a freshly booted systemd and run the
# packaged sdloopd there (tests/nspawn/test-package-install.sh says what is checked inside).
#
#   test-package.sh SOURCE_DIR BUILD_DIR
#
# The .deb files are left in BUILD_DIR/package-test/debs for inspection. SDLOOP_PACKAGE_DEBS=DIR tests the
# .deb files in DIR instead of building them (to iterate on the installed side).
#
# The container is the one of tests/nspawn/run.sh, with one difference: installing packages needs
# writable copies of this machine's /usr, /etc and /var (its package database, its configuration), where
# run.sh gives an ephemeral root with a read-only /usr and an empty /etc and /var (--volatile=yes). So
# run.sh is asked (SDLOOP_NSPAWN_OVERLAY) for --overlay=/usr:UP/usr:/usr --overlay=/etc:UP/etc:/etc
# --overlay=/var:UP/var:/var (DESIGN.md §4), UP being a fresh temporary directory: whatever dpkg writes
# lands there, and this machine is left untouched.
#
# Needs root, systemd-nspawn (systemd-container), dpkg-dev, debhelper and lintian; a missing one is a
# failure, not a skip.

set -euo pipefail

if [ $# -ne 2 ]; then
        echo "Usage: $0 SOURCE_DIR BUILD_DIR" >&2
        exit 2
fi
src=$(realpath "$1")
build=$(realpath "$2")

fail() {
        echo "FAIL: $*" >&2
        exit 1
}

[ "$(id -u)" = 0 ] || fail "installing packages into a booted container needs root; run this test as root."
missing=
for tool in systemd-nspawn:systemd-container dpkg-buildpackage:dpkg-dev dh:debhelper lintian:lintian; do
        command -v "${tool%%:*}" >/dev/null 2>&1 || missing="$missing ${tool#*:}"
done
[ -z "$missing" ] || fail "missing Debian packages:$missing (make deps installs them)."

work=$build/package-test
tmp=$(mktemp -d "${TMPDIR:-/tmp}/sdloop-package-XXXXXX")
trap 'rm -rf "$tmp"' EXIT

# --- build --------------------------------------------------------------------------------------------------
echo "=== packaging/build-deb.sh ==="
rm -rf "$work"
mkdir -p "$work/debs"
if [ -n "${SDLOOP_PACKAGE_DEBS:-}" ]; then
        echo "(not building: testing the .deb files in $SDLOOP_PACKAGE_DEBS)"
        cp "$SDLOOP_PACKAGE_DEBS"/*.deb "$work/debs/" || fail "no .deb files in $SDLOOP_PACKAGE_DEBS"
else
        start=$(date +%s)
        "$src/packaging/build-deb.sh" --output "$work/debs" || fail "the packages do not build"
        echo "(built in $(( $(date +%s) - start ))s)"
fi
debs=()
for p in sdloop libsdloop0 libsdloop-dev; do
        f=$(ls "$work/debs/${p}"_*.deb 2>/dev/null | head -n 1)
        [ -n "$f" ] || fail "packaging/build-deb.sh made no ${p}_*.deb"
        debs+=("$f")
done

# --- lintian ------------------------------------------------------------------------------------------------
echo "=== lintian ==="
# Exit status 1 means tags at the --fail-on level (error) were found; 2 means lintian itself failed.
status=0
lintian --fail-on error "${debs[@]}" >"$tmp/lintian.log" 2>&1 ||
        status=$?
grep -v '^running with root privileges' "$tmp/lintian.log" || :
case $status in
        0) echo "lintian: no errors" ;;
        1) fail "lintian reports errors (E: above)" ;;
        *) fail "lintian failed (exit status $status)" ;;
esac
grep -q '^E: ' "$tmp/lintian.log" && fail "lintian reports errors (E: above)"

# --- install and run in a booted systemd ------------------------------------------------------------------
SDLOOP_NSPAWN_TIMEOUT=${SDLOOP_NSPAWN_TIMEOUT:-480} SDLOOP_NSPAWN_OVERLAY=$tmp/overlay \
        "$src/tests/nspawn/run.sh" "$build" "$src" "$src/tests/nspawn/test-package-install.sh" \
        "$work/debs" "$src/tests/test-out-of-tree-plugin.sh"
