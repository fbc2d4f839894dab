#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# Inside the booted container (tests/nspawn/run.sh), as root: tracing end to end with the system backend.
# sdloopd runs with CL_TRACING_ENABLED, every trace sampled and a collector on loopback; the feed's rounds
# are traces across sdloopd, the relayer and the median plugin (units of their own). Then:
# journalctl TRACE_ID=<id> shows one round in all three processes, and the collector (a small OTLP/HTTP
# receiver written here) got the same spans from sdloopd's exporter, one resource per process.
#
#   test-tracing.sh SDLOOPD RELAYER_LEDGER MEDIAN DBUS_POLICY SDLOOPCTL

set -u

sdloopd=$1 ledger=$2 median=$3 policy=$4 sdloopctl=$5
cfg=/tmp/sdloop-etc
. "$(dirname "$0")/lib.sh"

dump() {
        journalctl --no-pager -o short-monotonic -n 60 -u sdloopd.service || :
        tail -n 20 /tmp/collector.log 2>/dev/null || :
}

install_bus_policy "$policy"

# A failed check ends the test at once: what it started is stopped, or the container's shutdown waits for
# the collectors it left behind. A passing run stops them itself.
collector=
on_exit() {
        rc=$?
        if [ $rc -ne 0 ]; then
                [ -z "$collector" ] || kill -9 "$collector" 2>/dev/null || :
                systemctl kill --signal=SIGKILL sdloopd.service sdloopd-tls.service 2>/dev/null || :
        fi
        exit $rc
}
trap on_exit EXIT

# The collector: every POST to /v1/traces appended to one file, one JSON document a line.
/usr/bin/python3 - >/tmp/collector.log 2>&1 <<'PY' &
import http.server, json
class H(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        ok = self.path == "/v1/traces" and self.headers["Content-Type"] == "application/json"
        if ok:
            json.loads(body)
            with open("/tmp/otlp.jsonl", "ab") as f:
                f.write(body + b"\n")
        self.send_response(200 if ok else 400)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(b"{}")
    def log_message(self, *a):
        pass
http.server.HTTPServer(("127.0.0.1", 4318), H).serve_forever()
PY
collector=$!
wait_for 20 /usr/bin/python3 -c 'import socket; socket.create_connection(("127.0.0.1", 4318))' || fail "the collector did not start"

mkdir -p "$cfg"
write_feed_config "$cfg/sdloopd.json" tracing-1 "$ledger" "$median" 0.5 '"metrics": { "listen": "127.0.0.1:9466" },'

systemd-run --quiet --unit=sdloopd -p Type=notify -p NotifyAccess=main \
        -E CL_TRACING_ENABLED=true -E CL_TRACING_SAMPLING_RATIO=1 \
        -E CL_TRACING_COLLECTOR_TARGET=http://127.0.0.1:4318 -E CL_TRACING_ATTRIBUTE_node=nspawn \
        "$sdloopd" --system --backend=system --config "$cfg/sdloopd.json" || fail "sdloopd did not start"
wait_for 60 state_is ledger running || fail "ledger is $(prop ledger State)"
wait_for 60 state_is median running || fail "median is $(prop median State)"
wait_for 60 reports_at_least 3 || fail "the feed did not transmit 3 reports"
systemctl show -P Environment "$(prop median Unit)" | grep -q 'CL_TRACING_SAMPLING_RATIO=1' \
        || fail "the median plugin's unit was not given the tracing settings: $(systemctl show -P Environment "$(prop median Unit)")"
ok "a feed runs with tracing on; the plugins' units carry the host's CL_TRACING_* settings"

# The trace of one transmitted round, from the journal.
trace=$(journalctl --no-pager -o json -u sdloopd.service SPAN_NAME=feed.round | tail -n 1 |
        /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["TRACE_ID"])') || fail "no feed.round span in the journal"
journalctl --no-pager -o json TRACE_ID="$trace" >/tmp/trace.json
/usr/bin/python3 - /tmp/trace.json <<'PY' || fail "journalctl TRACE_ID=$trace does not show the round in all three processes"
import json, sys
e = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
who = {x.get("SDLOOP_PLUGIN") or x.get("SYSLOG_IDENTIFIER") for x in e if "SPAN_ID" in x}
assert {"sdloopd", "ledger", "median"} <= who, who
spans = {x["SPAN_ID"]: x for x in e if x.get("MESSAGE_ID") and "SPAN_NAME" in x}
roots = [s for s in spans.values() if s["SPAN_NAME"] == "feed.round"]
assert len(roots) == 1, roots
# Every span's parent is in the round, up to the root.
for s in spans.values():
    if s is not roots[0]:
        assert s.get("PARENT_SPAN_ID") in spans, s
print(len(spans), "spans")
PY
ok "journalctl TRACE_ID=$trace shows one round in sdloopd, the relayer and the median plugin, every span's parent in it"

ctl_trace=$("$sdloopctl" feeds --json=short | /usr/bin/python3 -c 'import json,sys; f = json.load(sys.stdin)[0]; assert f["latest_trace_sampled"]; print(f["latest_trace_id"])') \
        || fail "sdloopctl feeds --json has no sampled latest_trace_id"
journalctl --no-pager -o cat TRACE_ID="$ctl_trace" SPAN_NAME=feed.round | grep -q . \
        || fail "the trace sdloopctl names ($ctl_trace) is not a round in the journal"
ok "sdloopctl feeds --json names the latest round's trace ($ctl_trace), which the journal shows"

# The collector got the same round from sdloopd's exporter.
got_trace() { grep -q "\"traceId\":\"$trace\"" /tmp/otlp.jsonl; }
wait_for 30 got_trace || fail "the collector never got trace $trace"
/usr/bin/python3 - /tmp/otlp.jsonl "$trace" <<'PY' || fail "the spans the collector got are not the round's"
import json, sys
services, spans = {}, {}
for line in open(sys.argv[1]):
    for rs in json.loads(line)["resourceSpans"]:
        attrs = {a["key"]: a["value"]["stringValue"] for a in rs["resource"]["attributes"]}
        assert attrs.get("node") == "nspawn", attrs
        for ss in rs["scopeSpans"]:
            for s in ss["spans"]:
                if s["traceId"] == sys.argv[2]:
                    services.setdefault(attrs["service.name"], 0)
                    services[attrs["service.name"]] += 1
                    spans[s["spanId"]] = s
                    assert int(s["startTimeUnixNano"]) <= int(s["endTimeUnixNano"]), s
                    assert s["kind"] in (1, 2, 3) and s["status"]["code"] in (1, 2), s
assert {"sdloopd", "ledger", "median"} <= set(services), services
assert all(s.get("parentSpanId") in spans for s in spans.values() if s["name"] != "feed.round"), "orphan span"
print(services)
PY
ok "the collector got the round over OTLP/HTTP, one resource per process, with the resource attributes"

curl -sf http://127.0.0.1:9466/metrics >/tmp/metrics.txt || fail "GET /metrics"
exported=$(sed -n 's/^sdloop_spans_exported_total //p' /tmp/metrics.txt)
[ -n "$exported" ] && [ "$exported" -gt 0 ] || fail "sdloop_spans_exported_total is '$exported'"
grep -q '^sdloop_spans_malformed_total 0$' /tmp/metrics.txt || fail "malformed spans: $(grep malformed /tmp/metrics.txt)"
ok "/metrics counts the exported spans ($exported)"

systemctl stop sdloopd.service
kill "$collector" 2>/dev/null || :

# Over TLS: a collector with a certificate of its own (self-signed, in no system store), which sdloopd
# trusts only through CL_TRACING_TLS_CERT_PATH. The plugins' units stay; the next sdloopd adopts them.
OPENSSL_CONF=/dev/null openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1 \
        -keyout /tmp/collector-key.pem -out /tmp/collector-cert.pem >/tmp/openssl.log 2>&1 || fail "openssl req: $(tail -n 3 /tmp/openssl.log)"
/usr/bin/python3 - >/tmp/collector-tls.log 2>&1 <<'PY' &
import http.server, ssl
class H(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        with open("/tmp/otlp-tls.jsonl", "ab") as f:
            f.write(body + b"\n")
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(b"{}")
    def log_message(self, *a):
        pass
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain("/tmp/collector-cert.pem", "/tmp/collector-key.pem")
httpd = http.server.HTTPServer(("127.0.0.1", 4319), H)
httpd.socket = ctx.wrap_socket(httpd.socket, server_side=True)
httpd.serve_forever()
PY
collector=$!
wait_for 20 /usr/bin/python3 -c 'import socket; socket.create_connection(("127.0.0.1", 4319))' \
        || fail "the TLS collector did not start: $(cat /tmp/collector-tls.log)"
systemd-run --quiet --unit=sdloopd-tls -p Type=notify -p NotifyAccess=main \
        -E CL_TRACING_ENABLED=true -E CL_TRACING_SAMPLING_RATIO=1 \
        -E CL_TRACING_COLLECTOR_TARGET=https://127.0.0.1:4319 -E CL_TRACING_TLS_CERT_PATH=/tmp/collector-cert.pem \
        "$sdloopd" --system --backend=system --config "$cfg/sdloopd.json" || fail "sdloopd (TLS) did not start"
got_tls_round() { [ -s /tmp/otlp-tls.jsonl ] && grep -q '"name":"feed.round"' /tmp/otlp-tls.jsonl; }
wait_for 60 got_tls_round || fail "the TLS collector got no round: $(journalctl --no-pager -o cat -u sdloopd-tls.service | tail -n 5)"
ok "with CL_TRACING_TLS_CERT_PATH, rounds go to an https:// collector whose certificate only that CA vouches for"

systemctl stop sdloopd-tls.service
kill "$collector" 2>/dev/null || :
echo "# $passed checks passed"
