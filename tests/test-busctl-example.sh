#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# A plugin started by hand under systemd-socket-activate is a D-Bus endpoint that busctl understands, and
# what it serves is exactly the contract in dbus/.
#   usage: test-busctl-example.sh PLUGIN CHECK-INTROSPECTION DBUS-DIR
set -euo pipefail

plugin=$1 check=$2 dbus_dir=$3
tmp=$(mktemp -d /tmp/sdloop-busctl-XXXXXX)
sock=$tmp/p.sock
pid=
cleanup() {
        [ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
        rm -rf "$tmp"
}
trap cleanup EXIT

SDLOOP_LOG_TARGET=stderr systemd-socket-activate -l "$sock" "$plugin" 2>"$tmp/plugin.log" &
pid=$!
for _ in $(seq 200); do [ -S "$sock" ] && break; sleep 0.05; done
[ -S "$sock" ] || { echo "socket never appeared"; cat "$tmp/plugin.log"; exit 1; }

addr=unix:path=$sock
busctl --address="$addr" introspect org.sdloop1 /org/sdloop1 > "$tmp/introspect.txt"
grep -q '^org.sdloop1.Plugin  *interface' "$tmp/introspect.txt"
grep -q '^org.sdloop1.Service  *interface' "$tmp/introspect.txt"
grep -q '^\.Kind  *property  *s  *"example"' "$tmp/introspect.txt"

busctl --address="$addr" tree org.sdloop1 | grep -q '/org/sdloop1'
[ "$(busctl --address="$addr" get-property org.sdloop1 /org/sdloop1 org.sdloop1.Plugin ProtocolVersion)" = "u 2" ]
busctl --address="$addr" call org.sdloop1 /org/sdloop1 org.sdloop1.Service HealthReport | grep -q '"example" ""'

# The live objects and the contract must not drift apart.
busctl --address="$addr" call --json=short org.sdloop1 /org/sdloop1 org.freedesktop.DBus.Introspectable Introspect \
        | python3 -c 'import json,sys; print(json.load(sys.stdin)["data"][0])' > "$tmp/root.xml"
python3 "$check" --dbus-dir "$dbus_dir" --expect Plugin,Service "$tmp/root.xml"

# A bad call is a clean error, and the plugin goes on serving.
if busctl --address="$addr" call org.sdloop1 /org/sdloop1 org.sdloop1.Service NoSuchMethod 2>"$tmp/err"; then
        echo "unknown method succeeded"; exit 1
fi
grep -qi 'unknown method\|NoSuchMethod' "$tmp/err"
busctl --address="$addr" call org.sdloop1 /org/sdloop1 org.sdloop1.Service Ready

echo "1 passed, 0 failed"
