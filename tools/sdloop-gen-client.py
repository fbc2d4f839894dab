#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Generate libsdloop's client calls from the D-Bus contract.

usage: sdloop-gen-client.py OUTDIR XML...

Writes OUTDIR/sdloop-client.h (installed) and OUTDIR/client-<interface>.c, one per interface: for every
method a synchronous sdloop_<service>_<method>() for top-level code and an asynchronous
sdloop_<service>_<method>_async() with a typed reply callback. Both share one message builder and one reply
parser per method, so both validate alike. The XML says what travels (D-Bus types, argument names, and the
org.sdloop1.Type annotation where a type has rules, e.g. ConfigDigest or Decimal); the C binding (C types,
codec functions) is the table below.
"""

import os
import re
import sys
import xml.etree.ElementTree as ET

TYPE_ANNOTATION = "org.sdloop1.Type"

# Interfaces served by plugins or by the host to plugins; the system-bus ones have their own tools.
CLIENT_INTERFACES = [
    "Service", "Keystore", "DataSource", "ErrorLog", "PluginRelayer", "Relayer", "OffchainConfigDigester",
    "ContractConfigTracker", "ContractTransmitter", "ReportCodec", "MedianContract", "OnchainConfigCodec",
    "PluginMedian", "ReportingPluginFactory", "ReportingPlugin", "Ledger",
]
# Methods of the root object of a plugin connection: no path argument.
ROOT_INTERFACES = {"PluginRelayer", "PluginMedian"}

# Composite types by signature (the C structs of sdloop-types.h and their codec functions).
STRUCTS = {
    "(ayuy)": ("SdloopReportTimestamp", "report_timestamp", False),
    "((ayuy)ay)": ("SdloopReportContext", "report_context", False),
    "(aytaayasyaytay)": ("SdloopContractConfig", "contract_config", True),
    "(sisbss)": ("SdloopRelayArgs", "relay_args", True),
    "(ayyuuayaytttttt)": ("SdloopReportingPluginConfig", "reporting_plugin_config", True),
    "(sb(ttt))": ("SdloopReportingPluginInfo", "reporting_plugin_info", True),
    "(sbs)": ("SdloopChainStatus", "chain_status", True),
}
# (ss) is two things: told apart by the argument's name.
PAIRS = {"plugin_args": ("SdloopPluginArgs", "plugin_args"), "onchain_config": ("SdloopOnchainConfig", "onchain_config")}
ARRAYS = {
    "a(ayy)": ("SdloopAttributed", "attributed_array", "sdloop_attributed_array_free"),
    "a(ussy)": ("SdloopParsedObservation", "parsed_observations", "sdloop_parsed_observations_free"),
    "a(ssss)": ("SdloopNodeStatus", "node_statuses", "sdloop_node_statuses_free"),
}
BASIC = {"y": "uint8_t", "b": "bool", "n": "int16_t", "q": "uint16_t", "i": "int32_t", "u": "uint32_t",
         "x": "int64_t", "t": "uint64_t"}

# Checks of composite arguments by their org.sdloop1.Type (client-util.c).
IN_CHECKS = {
    "OnchainConfig": "client_check_onchain_config",
    "ParsedObservations": "client_check_parsed_observations",
    "AttributedSignatures": "client_check_signatures",
}

# C-binding details that the contract does not (and should not) say.
# Arguments with their own C names in the synchronous API, which callers use.
ARG_NAMES = {
    ("ContractTransmitter", "Transmit", "report_context"): "report_context",
    ("ReportCodec", "BuildReport", "observations"): "obs",
    ("Keystore", "Sign", "signed_data"): "signed",
    ("ContractConfigTracker", "LatestBlockHeight", "block_height"): "height",
    ("ContractConfigTracker", "LatestConfig", "contract_config"): "",
    ("OffchainConfigDigester", "ConfigDigest", "contract_config"): "config",
    ("OnchainConfigCodec", "Encode", "onchain_config"): "config",
    ("OnchainConfigCodec", "Decode", "onchain_config"): "",
    ("Relayer", "GetChainStatus", "status"): "",
    ("Relayer", "ListNodeStatuses", "nodes"): "",
    ("ReportingPlugin", "ShouldAcceptFinalizedReport", "should_accept"): "",
    ("ReportingPlugin", "ShouldTransmitAcceptedReport", "should_transmit"): "",
    ("PluginRelayer", "NewRelayer", "keystore"): "keystore_path",
}
# Results a synchronous caller may pass NULL for.
OPTIONAL_RESULTS = {("Relayer", "ListNodeStatuses", "total"), ("Relayer", "ListNodeStatuses", "next_page_token")}
# Strings a caller may pass NULL for: sent as "".
OPTIONAL_STRINGS = {("Relayer", "ListNodeStatuses", "page_token")}
# NewMedianFactory's four object paths come as one struct in C.
DEPS_STRUCT = {("PluginMedian", "NewMedianFactory"): ("SdloopMedianDeps", "deps")}


def snake(name):
    return re.sub(r"(?<=[a-z0-9])([A-Z])", r"_\1", name).lower()


class Arg:
    def __init__(self, iface, member, el):
        self.iface, self.member = iface, member
        self.name = el.get("name")
        self.sig = el.get("type")
        self.out = el.get("direction") == "out"
        ann = [a.get("value") for a in el.findall("annotation") if a.get("name") == TYPE_ANNOTATION]
        self.semantic = ann[0] if ann else None
        key = (iface, member, self.name)
        self.cname = ARG_NAMES.get(key, self.name)
        self.optional = key in OPTIONAL_RESULTS or key in OPTIONAL_STRINGS
        self.kind = self.classify()

    def classify(self):
        s = self.sig
        if s in BASIC:
            return "basic"
        if s == "ay":
            return "digest" if self.semantic == "ConfigDigest" else "bytes"
        if s == "s":
            return "decimal" if self.semantic == "Decimal" else "string"
        if s == "o":
            return "object"
        if s == "as":
            return "strv"
        if s == "a{ss}":
            return "pairs"
        if s in STRUCTS:
            return "struct"
        if s == "(ss)" and self.name in PAIRS:
            return "struct"
        if s in ARRAYS:
            return "array"
        raise SystemExit(f"sdloop-gen-client: {self.iface}.{self.member}: no C binding for {self.name} '{s}'")

    def struct(self):
        if self.sig == "(ss)":
            t, codec = PAIRS[self.name]
            return t, codec, True
        return STRUCTS[self.sig]

    @property
    def field(self):
        return f"{self.member} reply.{self.name}"

    # --- inputs ---
    def in_params(self):
        n = self.cname
        if self.kind == "basic":
            return [f"{BASIC[self.sig]} {n}"]
        if self.kind in ("string", "decimal", "object"):
            return [f"const char *{n}"]
        if self.kind == "digest":
            return [f"const uint8_t {n}[static SDLOOP_DIGEST_SIZE]"]
        if self.kind == "bytes":
            return [f"const void *{n}", f"size_t {n}_size"]
        if self.kind == "struct":
            return [f"const {self.struct()[0]} *{n}"]
        if self.kind == "array":
            return [f"const {ARRAYS[self.sig][0]} *{n}", f"size_t n_{n}"]
        raise SystemExit(f"no input binding for {self.kind}")

    def in_call_args(self):
        n = self.cname
        if self.kind == "bytes":
            return [n, f"{n}_size"]
        if self.kind == "array":
            return [n, f"n_{n}"]
        return [n]

    def in_null_check(self):
        n = self.cname
        if self.kind in ("string", "decimal", "object", "struct", "digest"):
            return None if self.optional else f"!{n}"
        if self.kind == "bytes":
            return f"(!{n} && {n}_size > 0)"
        if self.kind == "array":
            return f"(!{n} && n_{n} > 0)"
        return None

    def in_check(self):
        """Refuse before sending what the other side would refuse anyway, naming the field."""
        n, f = self.cname, self.name
        if self.kind == "basic" and self.semantic == "Count":
            return [f"if ({n} < 0)",
                    f'        return sdloop_error_invalid(error, "{f}", "must not be negative, got %" PRIi64, (int64_t) {n});']
        if self.kind == "object":
            return [f'r = client_check_object_path({n}, "{f}", error);', "if (r < 0)", "        return r;"]
        if self.kind in ("string", "decimal") and not self.optional:
            return [f"if (!service_utf8_is_valid({n}))",
                    f'        return sdloop_error_invalid(error, "{f}", "not valid UTF-8");']
        check = IN_CHECKS.get(self.semantic)
        if check:
            args = ", ".join(self.in_call_args())
            return [f'r = {check}({args}, "{f}", error);', "if (r < 0)", "        return r;"]
        return []

    def in_append(self):
        n = self.cname
        f = self.name
        if self.kind == "basic":
            v = f"(int) {n}" if self.sig == "b" else n
            return [f'r = sd_bus_message_append(m, "{self.sig}", {v});',
                    f'if (r < 0)', f'        return service_append_failed(error, "{f}", r);']
        if self.kind in ("string", "decimal", "object"):
            v = f"strempty({n})" if self.optional else n
            return [f'r = sd_bus_message_append(m, "{self.sig}", {v});',
                    f'if (r < 0)', f'        return service_append_failed(error, "{f}", r);']
        if self.kind == "digest":
            return ["r = sdloop_append_digest(m, %s);" % n,
                    "if (r < 0)", f'        return service_append_failed(error, "{f}", r);']
        if self.kind == "bytes":
            return [f'r = service_check_bytes_arg("{f}", {n}, {n}_size, 0, error);', "if (r < 0)", "        return r;",
                    f"r = sdloop_append_bytes(m, {n}, {n}_size);",
                    "if (r < 0)", f'        return service_append_failed(error, "{f}", r);']
        if self.kind == "struct":
            return [f"r = sdloop_append_{self.struct()[1]}(m, {n});",
                    "if (r < 0)", f'        return service_append_failed(error, "{f}", r);']
        if self.kind == "array":
            return [f"r = sdloop_append_{ARRAYS[self.sig][1]}(m, {n}, n_{n});",
                    "if (r < 0)", f'        return service_append_failed(error, "{f}", r);']
        raise SystemExit(f"no input binding for {self.kind}")

    # --- results ---
    def res_fields(self):
        f = self.name
        if self.kind == "basic":
            return [f"{BASIC[self.sig]} {f};"]
        if self.kind == "digest":
            return [f"uint8_t {f}[SDLOOP_DIGEST_SIZE];"]
        if self.kind in ("string", "decimal", "object"):
            return [f"char *{f};"]
        if self.kind in ("strv", "pairs"):
            return [f"char **{f};"]
        if self.kind == "bytes":
            return [f"SdloopBytes {f};"]
        if self.kind == "struct":
            return [f"{self.struct()[0]} {f};"]
        if self.kind == "array":
            return [f"{ARRAYS[self.sig][0]} *{f};", f"size_t n_{f};"]

    def res_free(self):
        f = f"res->{self.name}"
        if self.kind in ("string", "decimal", "object"):
            return [f"{f} = mfree({f});"]
        if self.kind in ("strv", "pairs"):
            return [f"strv_free({f});", f"{f} = NULL;"]
        if self.kind == "bytes":
            return [f"sdloop_bytes_done(&{f});"]
        if self.kind == "struct":
            return [f"sdloop_{self.struct()[1]}_done(&{f});"] if self.struct()[2] else []
        if self.kind == "array":
            return [f"{ARRAYS[self.sig][2]}({f}, res->n_{self.name});", f"{f} = NULL;", f"res->n_{self.name} = 0;"]
        return []

    def res_read(self):
        f, fld = f"res->{self.name}", self.field
        k = self.kind
        if k == "basic":
            if self.sig == "b":
                return [f'r = service_read_reply_bool(reply, "{fld}", &{f}, error);']
            return [f"r = service_read_reply_basic(reply, \"{fld}\", '{self.sig}', &{f}, error);"]
        if k == "digest":
            return [f'r = sdloop_read_digest(reply, "{fld}", {f}, error);']
        if k == "decimal":
            return [f'r = sdloop_read_decimal(reply, "{fld}", &{f}, error);']
        if k == "string":
            return [f'r = service_read_reply_string(reply, "{fld}", &{f}, error);']
        if k == "object":
            return [f'r = service_read_reply_object(reply, "{fld}", &{f}, error);']
        if k == "strv":
            return [f'r = client_read_strv(reply, "{fld}", &{f}, error);']
        if k == "pairs":
            return [f'r = client_read_pairs(reply, "{fld}", &{f}, error);']
        if k == "bytes":
            return [f'r = sdloop_read_bytes(reply, "{fld}", 0, &{f}, error);']
        if k == "struct":
            return [f'r = sdloop_read_{self.struct()[1]}(reply, "{fld}", &{f}, error);']
        if k == "array":
            return [f'r = sdloop_read_{ARRAYS[self.sig][1]}(reply, "{fld}", 0, &{f}, &res->n_{self.name}, error);'
                    if self.sig == "a(ayy)" else
                    f'r = sdloop_read_{ARRAYS[self.sig][1]}(reply, "{fld}", &{f}, &res->n_{self.name}, error);']

    def ret_name(self):
        return f"ret_{self.cname}" if self.cname else "ret"

    def sync_params(self):
        n = self.ret_name()
        k = self.kind
        if k == "basic":
            return [f"{BASIC[self.sig]} *{n}"]
        if k == "digest":
            return [f"uint8_t {n}[static SDLOOP_DIGEST_SIZE]"]
        if k in ("string", "decimal", "object"):
            return [f"char **{n}"]
        if k in ("strv", "pairs"):
            return [f"char ***{n}"]
        if k == "bytes":
            return [f"SdloopBytes *{n}"]
        if k == "struct":
            return [f"{self.struct()[0]} *{n}"]
        if k == "array":
            return [f"{ARRAYS[self.sig][0]} **{n}", f"size_t *{n}_n" if n != "ret" else "size_t *ret_n"]

    def sync_required(self):
        if self.optional:
            return []
        names = []
        for x in self.sync_params():
            decl = x.split("[")[0]  # "uint8_t ret_digest[static N]" names ret_digest
            names.append("!" + decl.split()[-1].lstrip("*"))
        return names

    def sync_assign(self):
        n = self.ret_name()
        f = f"res.{self.name}"
        k = self.kind
        pre = f"if ({n}) " if self.optional else ""
        if k == "basic":
            return [f"{pre}*{n} = {f};"]
        if k == "digest":
            return [f"memcpy({n}, {f}, SDLOOP_DIGEST_SIZE);"]
        if k in ("string", "decimal", "object", "strv", "pairs"):
            return [f"{pre}*{n} = TAKE_PTR({f});"]
        if k in ("bytes", "struct"):
            return [f"*{n} = {f};", f"{f} = ({self.c_type()}) {{}};"]
        if k == "array":
            nn = f"{n}_n" if n != "ret" else "ret_n"
            return [f"*{n} = TAKE_PTR({f});", f"*{nn} = res.n_{self.name};", f"res.n_{self.name} = 0;"]

    def c_type(self):
        return "SdloopBytes" if self.kind == "bytes" else self.struct()[0]

    def cb_params(self):
        n = self.name
        k = self.kind
        if k == "basic":
            return [f"{BASIC[self.sig]} {n}"]
        if k == "digest":
            return [f"const uint8_t {n}[SDLOOP_DIGEST_SIZE]"]
        if k in ("string", "decimal", "object"):
            return [f"char **{n}"]
        if k in ("strv", "pairs"):
            return [f"char ***{n}"]
        if k == "bytes":
            return [f"SdloopBytes *{n}"]
        if k == "struct":
            return [f"{self.struct()[0]} *{n}"]
        if k == "array":
            return [f"{ARRAYS[self.sig][0]} **{n}", f"size_t n_{n}"]

    def cb_args(self):
        f = f"res.{self.name}"
        k = self.kind
        if k in ("basic", "digest"):
            return [f]
        if k == "array":
            return [f"&{f}", f"res.n_{self.name}"]
        return [f"&{f}"]


class Method:
    def __init__(self, iface, el):
        self.iface = iface
        self.member = el.get("name")
        self.args = [Arg(iface, self.member, a) for a in el.findall("arg")]
        self.ins = [a for a in self.args if not a.out]
        self.outs = [a for a in self.args if a.out]
        self.fn = f"sdloop_{snake(iface)}_{snake(self.member)}"
        self.root = iface in ROOT_INTERFACES
        self.deps = DEPS_STRUCT.get((iface, self.member))
        self.Name = "".join(x.capitalize() for x in snake(iface).split("_")) + self.member

    def head_params(self):
        p = ["SdloopPeer *peer"]
        if not self.root:
            p.append("const char *path")
        if self.deps:
            p.append(f"const {self.deps[0]} *{self.deps[1]}")
        else:
            for a in self.ins:
                p += a.in_params()
        return p

    def in_call_args(self):
        a = ["peer"] + ([] if self.root else ["path"])
        if self.deps:
            return a + [self.deps[1]]
        for x in self.ins:
            a += x.in_call_args()
        return a

    def cb_type(self):
        return f"{self.fn}_reply_t"


def emit_method(m, out):
    iface = f"org.sdloop1.{m.iface}"
    path = "SDLOOP_ROOT_PATH" if m.root else "path"
    res_t = f"{m.Name}Result"
    w = out.append

    # builder
    w(f"static int build_{m.Name}({', '.join(m.head_params())}, sd_bus_message **ret, sd_bus_error *error) {{")
    w("        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL;")
    w("        int r;")
    w("")
    checks = ["!peer"] + ([] if m.root else ["!path"])
    if m.deps:
        d = m.deps[1]
        checks.append(f"!{d}")
    else:
        checks += [c for c in (a.in_null_check() for a in m.ins) if c]
    w(f"        if ({' || '.join(checks)})")
    w("                return -EINVAL;")
    if m.deps:
        d = m.deps[1]
        for a in m.ins:
            w(f'        r = client_check_object_path({d}->{a.name}, "{a.name}", error);')
            w("        if (r < 0)")
            w("                return r;")
    else:
        for a in m.ins:
            for line in a.in_check():
                w("        " + line)
    w("")
    w(f'        r = sdloop_peer_new_call(peer, {path}, "{iface}", "{m.member}", &m);')
    w("        if (r < 0)")
    w("                return r;")
    if m.deps:
        d = m.deps[1]
        for a in m.ins:
            w(f'        r = sd_bus_message_append(m, "o", {d}->{a.name});')
            w("        if (r < 0)")
            w(f'                return service_append_failed(error, "{a.name}", r);')
    else:
        for a in m.ins:
            for line in a.in_append():
                w("        " + line)
    w("")
    w("        *ret = TAKE_PTR(m);")
    w("        return 0;")
    w("}")
    w("")

    # results
    if m.outs:
        w(f"typedef struct {res_t} {{")
        for a in m.outs:
            for f in a.res_fields():
                w("        " + f)
        w(f"}} {res_t};")
        w("")
        w(f"static void {m.Name}_result_done({res_t} *res) {{")
        body = [l for a in m.outs for l in a.res_free()]
        if not body:
            w("        *res = (%s) {};" % res_t)
        for l in body:
            w("        " + l)
        w("}")
        w("")
        w(f"static int parse_{m.Name}(sd_bus_message *reply, {res_t} *res, sd_bus_error *error) {{")
        w("        int r;")
        w("")
        for a in m.outs:
            for l in a.res_read():
                w("        " + l)
            w("        if (r < 0)")
            w("                return r;")
            if a.kind == "basic" and a.semantic == "Count":
                w(f"        if (res->{a.name} < 0)")
                w(f'                return sdloop_error_invalid(error, "{a.field}", "must not be negative, got %" PRIi64,')
                w(f"                                            (int64_t) res->{a.name});")
            if a.kind == "struct" and a.struct()[0] == "SdloopReportingPluginInfo":
                w(f'        r = client_check_reporting_plugin_info(&res->{a.name}, "{a.field}", error);')
                w("        if (r < 0)")
                w("                return r;")
        w("        return 0;")
        w("}")
        w("")

    # synchronous
    sync_params = m.head_params() + [p for a in m.outs for p in a.sync_params()] + ["sd_bus_error *error"]
    w(f"int {m.fn}({', '.join(sync_params)}) {{")
    w("        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL, *reply = NULL;")
    if m.outs:
        w(f"        _cleanup_({m.Name}_result_done) {res_t} res = {{}};")
    w("        int r;")
    w("")
    req = [c for a in m.outs for c in a.sync_required()]
    if req:
        w(f"        if ({' || '.join(req)})")
        w("                return -EINVAL;")
    w(f"        r = build_{m.Name}({', '.join(m.in_call_args())}, &m, error);")
    w("        if (r < 0)")
    w("                return r;")
    w(f"        r = sdloop_peer_call(peer, m, 0, {'&reply' if m.outs else 'NULL'}, error);")
    w("        if (r < 0)")
    w("                return r;")
    if m.outs:
        w(f"        r = parse_{m.Name}(reply, &res, error);")
        w("        if (r < 0)")
        w("                return r;")
        for a in m.outs:
            for l in a.sync_assign():
                w("        " + l)
    w("        return 0;")
    w("}")
    w("")

    # asynchronous
    w(f"static void on_{m.Name}_reply(SdloopPeer *peer, int r, sd_bus_message *reply, sd_bus_error *error,")
    w("                void (*typed)(void), void *userdata) {")
    if m.outs:
        w(f"        _cleanup_({m.Name}_result_done) {res_t} res = {{}};")
        w("")
        w("        if (r >= 0) {")
        w(f"                r = parse_{m.Name}(reply, &res, error);")
        w("                if (r < 0) {")
        w(f"                        {m.Name}_result_done(&res);")
        w(f"                        res = ({res_t}) {{}};")
        w("                }")
        w("        }")
    cb_args = ["peer", "r"] + [x for a in m.outs for x in a.cb_args()] + ["error", "userdata"]
    w(f"        (({m.cb_type()}) typed)({', '.join(cb_args)});")
    w("}")
    w("")
    async_params = m.head_params() + ["SdloopContext *ctx", f"{m.cb_type()} reply", "void *userdata",
                                      "sd_bus_slot **ret_slot"]
    w(f"int {m.fn}_async({', '.join(async_params)}) {{")
    w("        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;")
    w("        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL;")
    w("        int r;")
    w("")
    w("        if (!reply)")
    w("                return -EINVAL;")
    w(f"        r = build_{m.Name}({', '.join(m.in_call_args())}, &m, &error);")
    w("        if (r < 0)")
    w("                return r;")
    w(f"        return client_call_async(peer, m, ctx, on_{m.Name}_reply, (void (*)(void)) reply, userdata, ret_slot);")
    w("}")
    w("")


def emit_decl(m, out):
    w = out.append
    res = " ".join(m.outs[i].name for i in range(len(m.outs)))
    w(f"/* {m.iface}.{m.member}({', '.join(a.name for a in m.ins)}){' → ' + res if res else ''} */")
    sync_params = m.head_params() + [p for a in m.outs for p in a.sync_params()] + ["sd_bus_error *error"]
    w(f"int {m.fn}({', '.join(sync_params)});")
    cb = ["SdloopPeer *peer", "int r"] + [p for a in m.outs for p in a.cb_params()] + ["sd_bus_error *error",
                                                                                       "void *userdata"]
    w(f"typedef void (*{m.cb_type()})({', '.join(cb)});")
    async_params = m.head_params() + ["SdloopContext *ctx", f"{m.cb_type()} reply", "void *userdata",
                                      "sd_bus_slot **ret_slot"]
    w(f"int {m.fn}_async({', '.join(async_params)});")
    w("")


HEADER_TOP = """/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Generated by tools/sdloop-gen-client.py from dbus/org.sdloop1.*.xml. Do not edit. */
#pragma once

/* Client calls for every method of every org.sdloop1 object interface.
 *
 * sdloop_<service>_<method>(peer, path, args…, ret_results…, error) is synchronous and for top-level code
 * only (tools, tests): inside an event-loop callback it refuses (org.sdloop1.Error.Internal), see
 * sdloop-peer.h. Results are the caller's to free. Returns 0 or a negative errno with @error set:
 * org.sdloop1.Error.PluginUnavailable when the connection is lost, Timeout when the deadline passes, the
 * name the other side sent otherwise, and InvalidArgument naming "<Member> reply.<field>" for a reply that
 * does not parse or fails validation (a digest of other than 32 bytes, a malformed decimal, …). Arguments
 * that cannot be sent are refused before anything goes out: InvalidArgument naming the field, -EINVAL
 * without @error for a missing required pointer.
 *
 * sdloop_<service>_<method>_async(peer, path, args…, ctx, reply, userdata, ret_slot) sends the same call
 * and returns at once: a negative errno only when the call cannot be sent at all (a bad argument as above,
 * -EHOSTDOWN for a lost connection), and then @reply is not called. Otherwise @reply runs once, from the
 * event loop, with r = 0 and the results, or r < 0, zeroed results and @error set as above. Scalar results
 * come by value; owned results (strings, bytes, structs, arrays) by pointer to the library's copy, which
 * @reply may take over (TAKE_PTR(), or zero the struct); what is left is freed when @reply returns. @ctx
 * (may be NULL: the peer's call timeout) gives the deadline and travels with the call; pass
 * sdloop_call_get_context() of the call being served when calling on its behalf. Unreferencing *ret_slot
 * cancels the call: @reply will not run. @ret_slot NULL: the call cannot be cancelled. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <systemd/sd-bus.h>

#include "sdloop-call.h"
#include "sdloop-peer.h"
#include "sdloop-types.h"

"""


def main():
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    outdir = sys.argv[1]
    ifaces = {}
    for path in sys.argv[2:]:
        root = ET.parse(path).getroot()
        for i in root.findall("interface"):
            short = i.get("name").rsplit(".", 1)[-1]
            if short in CLIENT_INTERFACES:
                ifaces[short] = [Method(short, m) for m in i.findall("method")]
    missing = [i for i in CLIENT_INTERFACES if i not in ifaces]
    if missing:
        sys.exit(f"sdloop-gen-client: no XML for {', '.join(missing)}")

    header = [HEADER_TOP]
    for name in CLIENT_INTERFACES:
        header.append(f"/* --- org.sdloop1.{name} --- */\n\n")
        decl = []
        for m in ifaces[name]:
            emit_decl(m, decl)
        header.append("\n".join(decl) + "\n")
    write(os.path.join(outdir, "sdloop-client.h"), "".join(header))

    for name in CLIENT_INTERFACES:
        body = [f"/* SPDX-License-Identifier: LGPL-2.1-or-later */",
                f"/* Generated by tools/sdloop-gen-client.py from dbus/org.sdloop1.{name}.xml. Do not edit. */",
                "", '#include "client-internal.h"', ""]
        for m in ifaces[name]:
            emit_method(m, body)
        write(os.path.join(outdir, f"client-{snake(name).replace('_', '-')}.c"), "\n".join(body))


def write(path, text):
    # Only touch files whose contents change, so that a rebuild stays small.
    try:
        with open(path) as f:
            if f.read() == text:
                return
    except OSError:
        pass
    with open(path, "w") as f:
        f.write(text)


if __name__ == "__main__":
    main()
