#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# The plugin example of sdloop-plugin(7), built out of tree exactly as the page says
# (cc plugin.c $(pkg-config --cflags --libs sdloop)), started behind a socket as systemd would, and
# checked with busctl --address=.
#
#   test-out-of-tree-plugin.sh MANPAGE [BUILD_DIR]
#
# MANPAGE is man/sdloop-plugin.7, or the installed page (gzip-compressed is fine). With BUILD_DIR, the
# example is built against that build tree's libsdloop through the uninstalled pkg-config file meson
# writes (BUILD_DIR/meson-uninstalled/sdloop-uninstalled.pc); without it, against the installed one
# (libsdloop-dev), as the package test does.
#
# SDLOOP_SANITIZE: the b_sanitize option the library was built with ("address,undefined"; "none" or empty
# for none): a library built with sanitizers needs programs built with them.
#
# The example is the text between the lines '.\" BEGIN EXAMPLE greeter.c' and '.\" END EXAMPLE greeter.c'
# of the page source, with the roff escapes \- and \e turned back into - and \.
set -euo pipefail

if [ $# -lt 1 ] || [ $# -gt 2 ]; then
        echo "Usage: $0 MANPAGE [BUILD_DIR]" >&2
        exit 2
fi
man=$1
build=${2:-}

for tool in cc pkg-config busctl systemd-socket-activate; do
        command -v "$tool" >/dev/null || { echo "FAIL: $tool is not installed" >&2; exit 1; }
done

tmp=$(mktemp -d "${TMPDIR:-/tmp}/sdloop-oot-XXXXXX")
pid=
cleanup() {
        if [ -n "$pid" ]; then
                kill "$pid" 2>/dev/null || :
                wait "$pid" 2>/dev/null || :
        fi
        rm -rf "$tmp"
}
trap cleanup EXIT

passed=0
fail() {
        echo "FAIL: $*" >&2
        if [ -s "$tmp/plugin.log" ]; then
                echo "--- plugin log ---" >&2
                cat "$tmp/plugin.log" >&2
        fi
        echo "$passed passed, 1 failed"
        exit 1
}
ok() {
        passed=$((passed + 1))
        echo "ok $passed - $*"
}

# --- the example, from the page ---------------------------------------------------------------------------
case $man in
        *.gz) zcat -- "$man" >"$tmp/page.7" ;;
        *) cat -- "$man" >"$tmp/page.7" ;;
esac
sed -n '/^\.\\" BEGIN EXAMPLE greeter\.c$/,/^\.\\" END EXAMPLE greeter\.c$/p' "$tmp/page.7" |
        sed -e '1d' -e '$d' | grep -v -x -e '\.EX' -e '\.EE' >"$tmp/escaped.c" || :
[ -s "$tmp/escaped.c" ] || fail "no example between the BEGIN/END EXAMPLE greeter.c markers in $man"
grep -q 'sdloop_plugin_run' "$tmp/escaped.c" || fail "the example does not call sdloop_plugin_run()"
# Anything but \- and \e would be rendered differently from what the reader copies.
if sed -e 's/\\-//g' -e 's/\\e//g' "$tmp/escaped.c" | grep -n '\\' >"$tmp/escapes"; then
        fail "the example uses roff escapes other than \\- and \\e: $(cat "$tmp/escapes")"
fi
if grep -n "^[.']" "$tmp/escaped.c" >"$tmp/requests"; then
        fail "example lines start with a roff control character: $(cat "$tmp/requests")"
fi
sed -e 's/\\-/-/g' -e 's/\\e/\\/g' "$tmp/escaped.c" >"$tmp/greeter.c"
ok "the example is in the page ($(wc -l <"$tmp/greeter.c") lines)"

# --- build it as the page says --------------------------------------------------------------------------------
rpath=
if [ -n "$build" ]; then
        export PKG_CONFIG_PATH=$build/meson-uninstalled${PKG_CONFIG_PATH:+:$PKG_CONFIG_PATH}
        [ -f "$build/meson-uninstalled/sdloop-uninstalled.pc" ] ||
                fail "$build/meson-uninstalled/sdloop-uninstalled.pc is missing"
        # pkg-config prefers NAME-uninstalled.pc; make sure it did.
        pkg-config --cflags sdloop | grep -qF -- "$build" ||
                fail "pkg-config did not pick the uninstalled sdloop.pc of $build"
        # The uninstalled library is found at run time through an rpath to the build tree.
        libdir=$(pkg-config --libs-only-L sdloop | tr ' ' '\n' | sed -n 's/^-L//p' | head -n 1)
        rpath="-Wl,-rpath,$libdir"
fi
pkg-config --exists sdloop || fail "pkg-config does not know sdloop"
sanitize=
case ${SDLOOP_SANITIZE:-none} in
        none|"") ;;
        *) sanitize=-fsanitize=$SDLOOP_SANITIZE ;;
esac

# shellcheck disable=SC2046
cc -Wall -Werror $sanitize -o "$tmp/greeter" "$tmp/greeter.c" $(pkg-config --cflags --libs sdloop) $rpath \
        2>"$tmp/cc.log" || { cat "$tmp/cc.log" >&2; fail "the example does not build"; }
ok "cc greeter.c \$(pkg-config --cflags --libs sdloop) builds it"

"$tmp/greeter" --version | grep -q '^greeter 1\.0' || fail "greeter --version"
ok "greeter --version"

# --- run it behind a socket, as systemd does ------------------------------------------------------------------
sock=$tmp/greeter.sock
systemd-socket-activate -l "$sock" -E SDLOOP_LOG_TARGET=stderr -E GREETING=Howdy "$tmp/greeter" \
        2>"$tmp/plugin.log" &
pid=$!
for _ in $(seq 200); do
        [ -S "$sock" ] && break
        sleep 0.05
done
[ -S "$sock" ] || fail "the socket never appeared"
addr=unix:path=$sock

busctl --address="$addr" introspect org.sdloop1 /org/sdloop1 >"$tmp/introspect.txt" ||
        fail "busctl introspect /org/sdloop1"
grep -q '^com\.example\.Greeter1  *interface' "$tmp/introspect.txt" || fail "no com.example.Greeter1 on /org/sdloop1"
grep -q '^\.Greet  *method  *s  *s ' "$tmp/introspect.txt" || fail "no Greet(s) -> s method"
grep -q '^org\.sdloop1\.Plugin  *interface' "$tmp/introspect.txt" || fail "no org.sdloop1.Plugin"
grep -q '^org\.sdloop1\.Service  *interface' "$tmp/introspect.txt" || fail "no org.sdloop1.Service"
ok "busctl --address= introspect shows com.example.Greeter1, org.sdloop1.Plugin and org.sdloop1.Service"

[ "$(busctl --address="$addr" get-property org.sdloop1 /org/sdloop1 org.sdloop1.Plugin Kind)" = 's "greeter"' ] ||
        fail "Kind is not \"greeter\""
[ "$(busctl --address="$addr" get-property org.sdloop1 /org/sdloop1 org.sdloop1.Plugin ProtocolVersion)" = "u 2" ] ||
        fail "ProtocolVersion is not 2"
ok "the handshake properties: Kind \"greeter\", ProtocolVersion 2"

reply=$(busctl --address="$addr" call org.sdloop1 /org/sdloop1 com.example.Greeter1 Greet s world) ||
        fail "Greet failed"
[ "$reply" = 's "Howdy, world!"' ] || fail "Greet answered $reply"
ok "Greet(\"world\") answers \"Howdy, world!\""

if busctl --address="$addr" call org.sdloop1 /org/sdloop1 com.example.Greeter1 Greet s "" 2>"$tmp/err"; then
        fail "Greet(\"\") succeeded"
fi
grep -q 'name: must not be empty' "$tmp/err" || fail "Greet(\"\") failed with: $(cat "$tmp/err")"
busctl --address="$addr" call org.sdloop1 /org/sdloop1 org.sdloop1.Service Ready || fail "Ready after an error"
ok "a bad argument is a clean InvalidArgument naming the field, and the plugin goes on"

busctl --address="$addr" call org.sdloop1 /org/sdloop1 org.sdloop1.Service HealthReport | grep -q '"greeter" ""' ||
        fail "HealthReport does not report greeter healthy"
ok "HealthReport"

echo "$passed passed, 0 failed"
