#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# make demo: start a plugin the systemd way and look at it with busctl.
set -euo pipefail
build=${1:-build}
tmp=$(mktemp -d /tmp/sdloop-demo-XXXXXX)
pid=
trap '[ -n "$pid" ] && kill $pid 2>/dev/null; wait 2>/dev/null; rm -rf "$tmp"' EXIT

echo "== Starting the example plugin under systemd-socket-activate on $tmp/example.sock"
SDLOOP_LOG_TARGET=stderr systemd-socket-activate -l "$tmp/example.sock" "$build/plugins/sdloop-example" &
pid=$!
for _ in $(seq 100); do [ -S "$tmp/example.sock" ] && break; sleep 0.05; done
addr=unix:path=$tmp/example.sock

echo "== busctl --address=$addr tree org.sdloop1"
busctl --address="$addr" tree org.sdloop1
echo "== busctl --address=$addr introspect org.sdloop1 /org/sdloop1"
busctl --address="$addr" introspect org.sdloop1 /org/sdloop1
echo "== busctl --address=$addr call org.sdloop1 /org/sdloop1 org.sdloop1.Service HealthReport"
busctl --address="$addr" call org.sdloop1 /org/sdloop1 org.sdloop1.Service HealthReport
