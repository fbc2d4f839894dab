#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# Build the Debian packages (sdloop, libsdloop0, libsdloop-dev) from this source tree, offline.
#
#   packaging/build-deb.sh [--output DIR] [--check] [--jobs N]
#
# dpkg-buildpackage wants debian/ at the top of the source tree, and the tree here keeps it in
# packaging/debian. So the source files (those git knows of, committed or not, minus what .gitignore
# ignores — so no build directories) are copied into a temporary directory, packaging/debian becomes
# debian/ there, and `dpkg-buildpackage -b -us -uc` builds the binary packages (meson through debhelper).
# The .deb files, with the .buildinfo and .changes, are copied to DIR (default: packaging/out), and the
# build's log is DIR/build.log; the temporary tree is removed.
#
# The package build skips the test suite (DEB_BUILD_OPTIONS=nocheck, build profile nocheck) unless
# --check is given; `make test` runs the suite on its own build. Build dependencies missing: dpkg-buildpackage
# names them (dpkg-checkbuilddeps) and this script fails.

set -eu

src=$(cd "$(dirname "$0")/.." && pwd)
out=$src/packaging/out
check=false
jobs=$(nproc 2>/dev/null || echo 1)

while [ $# -gt 0 ]; do
        case $1 in
                -o|--output)
                        [ $# -ge 2 ] || { echo "$0: $1 needs a directory" >&2; exit 2; }
                        out=$2
                        shift 2 ;;
                --output=*)
                        out=${1#--output=}
                        shift ;;
                --check)
                        check=true
                        shift ;;
                -j|--jobs)
                        [ $# -ge 2 ] || { echo "$0: $1 needs a number" >&2; exit 2; }
                        jobs=$2
                        shift 2 ;;
                -h|--help)
                        sed -n '4,17p' "$0" | sed 's/^# \{0,1\}//'
                        exit 0 ;;
                *)
                        echo "$0: unknown argument $1 (see --help)" >&2
                        exit 2 ;;
        esac
done

for tool in dpkg-buildpackage dh tar; do
        if ! command -v "$tool" >/dev/null 2>&1; then
                echo "$0: $tool not found; install the Debian packages dpkg-dev and debhelper." >&2
                exit 1
        fi
done

# The upstream version in debian/changelog must be the one meson builds.
meson_version=$(sed -n "s/^ *version *: *'\([^']*\)'.*/\1/p" "$src/meson.build" | head -n 1)
deb_version=$(dpkg-parsechangelog -l "$src/packaging/debian/changelog" -S Version)
case $deb_version in
        "$meson_version"-*) ;;
        *)
                echo "$0: packaging/debian/changelog is at $deb_version but meson.build at $meson_version;" \
                     "add a changelog entry (dch -v $meson_version-1)." >&2
                exit 1 ;;
esac

mkdir -p "$out"
out=$(cd "$out" && pwd)
tmp=$(mktemp -d "${TMPDIR:-/tmp}/sdloop-deb.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
tree=$tmp/sdloop-$meson_version
mkdir "$tree"

# The files of the source tree. Without git (an unpacked tarball), everything but build output.
if git -C "$src" rev-parse --is-inside-work-tree >/dev/null 2>&1; then
        # --ignore-failed-read: a file deleted but not yet committed is still listed.
        git -C "$src" ls-files -z --cached --others --exclude-standard |
                tar -C "$src" --null --files-from=- --ignore-failed-read -cf - 2>/dev/null |
                tar -C "$tree" -xf -
else
        tar -C "$src" --exclude='./build*' --exclude=./packaging/out --exclude=./.git -cf - . |
                tar -C "$tree" -xf -
fi
rm -rf "$tree/debian"
cp -a "$src/packaging/debian" "$tree/debian"

if $check; then
        build_options="parallel=$jobs"
        profiles=
else
        build_options="nocheck parallel=$jobs"
        profiles=--build-profiles=nocheck
fi

echo "Building sdloop $deb_version in $tree (DEB_BUILD_OPTIONS=\"$build_options\")"
# shellcheck disable=SC2086
(cd "$tree" && DEB_BUILD_OPTIONS="$build_options" dpkg-buildpackage -b -us -uc $profiles) \
        >"$out/build.log" 2>&1 || {
        tail -n 60 "$out/build.log" >&2
        echo "$0: dpkg-buildpackage failed (the end of its log is above; all of it in $out/build.log)." >&2
        exit 1
}

found=false
for f in "$tmp"/*.deb "$tmp"/*.buildinfo "$tmp"/*.changes; do
        [ -e "$f" ] || continue
        cp "$f" "$out/"
        case $f in *.deb) echo "$out/$(basename "$f")"; found=true ;; esac
done
if ! $found; then
        echo "$0: dpkg-buildpackage produced no .deb" >&2
        exit 1
fi
