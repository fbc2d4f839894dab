# SPDX-License-Identifier: LGPL-2.1-or-later
"""The SDK's runtime against a real plugin process (toy_plugin.py) over a real socket: handshake,
Service, validation and the D-Bus errors, call contexts and deadlines, deferred answers that call the
host, sd_notify, crash-after, the Hello stub; and the journal protocol of its log."""

import os
import socket
import subprocess
import sys
import tempfile
import time
import unittest

import dbus
import dbus.lowlevel
import dbus.mainloop.glib
from gi.repository import GLib

import sdloop
from sdloop import log as sdlog

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = "/org/sdloop1"
CONFIG_SIG = "(ayyuuayaytttttt)"


def rp_config(oracle_id=0, digest=bytes(32)):
    return dbus.Struct((dbus.ByteArray(digest), dbus.Byte(oracle_id), dbus.UInt32(4), dbus.UInt32(1),
                        dbus.ByteArray(b""), dbus.ByteArray(b""), 0, 0, 0, 0, 0, 0), signature="ayyuuayaytttttt")


class Plugin(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.sock = os.path.join(self.tmp.name, "toy.sock")
        self.notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.notify.bind(os.path.join(self.tmp.name, "notify"))
        env = dict(os.environ, NOTIFY_SOCKET=os.path.join(self.tmp.name, "notify"), SDLOOP_LOG_TARGET="stderr",
                   SDLOOP_PLUGIN="toy-1", **self.extra_env())
        self.proc = subprocess.Popen([sys.executable, os.path.join(HERE, "toy_plugin.py"), "--listen", self.sock],
                                     env=env, stderr=self.stderr())
        self.assertEqual(self.read_notify(), "READY=1")
        self.loop = GLib.MainLoop()
        self.conn = dbus.connection.Connection(f"unix:path={self.sock}",
                                               mainloop=dbus.mainloop.glib.DBusGMainLoop())
        self.conn._register_object_path("/org/sdloop1/host", self.host_message, None, True)

    def extra_env(self):
        return {}

    def stderr(self):
        return subprocess.DEVNULL

    def tearDown(self):
        self.conn.close()
        self.proc.terminate()
        self.proc.wait(30)
        self.notify.close()
        self.tmp.cleanup()

    def read_notify(self):
        self.notify.settimeout(30)
        while True:
            data = self.notify.recv(4096).decode()
            if not data.startswith("STATUS="):
                return data

    def host_message(self, conn, msg):
        # The host's DataSource: the value is the round's number.
        ts = msg.get_args_list(byte_arrays=True)[0]
        reply = dbus.lowlevel.MethodReturnMessage(msg)
        reply.append(str(int(ts[2]) * 100), signature="s")
        conn.send_message(reply)

    def call(self, path, iface, member, signature=None, *args, context=None):
        """(error name, error text) or (None, reply args)."""
        if context is not None:
            c = dbus.lowlevel.MethodCallMessage(None, ROOT, "org.sdloop1.Context", "Set")
            c.append(dbus.Dictionary(context, signature="sv"), signature="a{sv}")
            c.set_no_reply(True)
            self.conn.send_message(c)
        m = dbus.lowlevel.MethodCallMessage(None, path, iface, member)
        if signature:
            m.append(*args, signature=signature)
        result = []

        def on_reply(reply):
            result.append(reply)
            self.loop.quit()

        self.conn.send_message_with_reply(m, on_reply, 30, require_main_loop=True)
        self.loop.run()
        reply = result[0]
        if isinstance(reply, dbus.lowlevel.ErrorMessage):
            return reply.get_error_name(), str(reply.get_args_list()[0])
        return None, reply.get_args_list(byte_arrays=True)

    def factory(self):
        err, out = self.call(ROOT, "org.sdloop1.PluginMedian", "NewMedianFactory", "oooo", "/org/sdloop1/host/provider/1",
                             "/org/sdloop1/host/data_source/1", "/org/sdloop1/host/data_source/2", "/org/sdloop1/host/error_log/1")
        self.assertIsNone(err, out)
        return str(out[0])


class Runtime(Plugin):
    def test_handshake(self):
        err, out = self.call(ROOT, "org.freedesktop.DBus.Properties", "GetAll", "s", "org.sdloop1.Plugin")
        self.assertIsNone(err)
        props = out[0]
        self.assertEqual((props["Name"], props["Kind"], props["Version"], props["ProtocolVersion"]),
                         ("toy-1", "median", "0.1", sdloop.PROTOCOL_VERSION))
        err, out = self.call(ROOT, "org.sdloop1.Service", "HealthReport")
        self.assertEqual((err, dict(out[0])), (None, {"toy-1": ""}))

    def test_objects_and_service(self):
        f = self.factory()
        self.assertEqual(f, "/org/sdloop1/factory/1")
        err, out = self.call(f, "org.sdloop1.ReportingPluginFactory", "NewReportingPlugin", CONFIG_SIG, rp_config())
        self.assertIsNone(err, out)
        rp = str(out[0])
        self.assertEqual(rp, "/org/sdloop1/reporting_plugin/2")
        self.assertEqual(self.call(rp, "org.sdloop1.ReportingPlugin", "Query", "(ayuy)", (bytes(32), 1, 7)),
                         (None, [b"\x07"]))
        # Deferred, answered after the plugin's own call to the host's data source.
        self.assertEqual(self.call(rp, "org.sdloop1.ReportingPlugin", "Observation", "(ayuy)ay",
                                   (bytes(32), 1, 7), b""), (None, [b"700"]))
        xml = self.call(ROOT, "org.freedesktop.DBus.Introspectable", "Introspect")[1][0]
        self.assertIn('<interface name="org.sdloop1.PluginMedian"', xml)
        self.assertIn('<node name="factory"/>', xml)
        self.assertIsNone(self.call(f, "org.sdloop1.Service", "Close")[0])
        # Closing the factory closed its reporting plugin.
        self.assertEqual(self.call(rp, "org.sdloop1.ReportingPlugin", "Query", "(ayuy)", (bytes(32), 1, 7))[0],
                         "org.sdloop1.Error.NotFound")

    def test_bad_input(self):
        f = self.factory()
        err, text = self.call(f, "org.sdloop1.ReportingPluginFactory", "NewReportingPlugin", CONFIG_SIG,
                              rp_config(digest=bytes(31)))
        self.assertEqual((err, text), ("org.sdloop1.Error.InvalidArgument", "config.digest: expected 32 bytes, got 31"))
        err, text = self.call(f, "org.sdloop1.ReportingPluginFactory", "NewReportingPlugin", "s", "x")
        self.assertEqual(err, "org.sdloop1.Error.InvalidArgument")
        self.assertEqual(text, "arguments: org.sdloop1.ReportingPluginFactory.NewReportingPlugin() takes "
                               "'(ayyuuayaytttttt)', got 's'")
        err, text = self.call(ROOT, "org.sdloop1.PluginMedian", "Frobnicate")
        self.assertEqual(err, "org.sdloop1.Error.InvalidArgument")
        self.assertTrue(text.startswith("member: org.sdloop1.PluginMedian on /org/sdloop1 has no method Frobnicate"), text)
        err, text = self.call("/org/sdloop1/factory/99", "org.sdloop1.Service", "Ready")
        self.assertEqual((err, text), ("org.sdloop1.Error.NotFound", "path: no object at /org/sdloop1/factory/99"))
        # … and it goes on serving.
        self.assertIsNone(self.call(f, "org.sdloop1.Service", "Ready")[0])

    def test_deadline(self):
        f = self.factory()
        deadline = sdloop.now_usec() + 200 * 1000
        err, text = self.call(f, "org.sdloop1.ReportingPluginFactory", "NewReportingPlugin", CONFIG_SIG,
                              rp_config(oracle_id=2), context={"deadline_usec": dbus.UInt64(deadline)})
        self.assertEqual(err, "org.sdloop1.Error.Timeout")
        self.assertIn("no answer before the caller's deadline", text)
        self.assertGreaterEqual(sdloop.now_usec(), deadline)
        # A context is for one call only: the next call has no deadline and answers.
        self.assertIsNone(self.call(f, "org.sdloop1.Service", "Ready")[0])

    def test_closed_while_waiting(self):
        f = self.factory()
        m = dbus.lowlevel.MethodCallMessage(None, f, "org.sdloop1.ReportingPluginFactory", "NewReportingPlugin")
        m.append(rp_config(oracle_id=2), signature=CONFIG_SIG)
        replies = []
        self.conn.send_message_with_reply(m, replies.append, 30, require_main_loop=True)
        self.assertIsNone(self.call(f, "org.sdloop1.Service", "Close")[0])
        ctx = GLib.MainContext.default()
        while not replies:
            ctx.iteration(True)
        self.assertEqual(replies[0].get_error_name(), "org.sdloop1.Error.NotFound")

    def test_hello(self):
        out = subprocess.run(["busctl", f"--address=unix:path={self.sock}", "get-property", "org.sdloop1", ROOT,
                              "org.sdloop1.Plugin", "Kind"], capture_output=True, text=True, timeout=30)
        self.assertEqual(out.stdout.strip(), 's "median"', out.stderr)
        out = subprocess.run(["busctl", f"--address=unix:path={self.sock}", "tree", "--list", "org.sdloop1"],
                             capture_output=True, text=True, timeout=30)
        self.assertIn("/org/sdloop1", out.stdout.split(), out.stderr)


class Signals(Plugin):
    """Peer.watch(): the host's signals reach the watch of the object that asked, checked by the contract."""

    PROVIDER = "/org/sdloop1/host/provider/1"

    def stderr(self):
        self.log = tempfile.NamedTemporaryFile(mode="w+")
        return self.log

    def tearDown(self):
        super().tearDown()
        self.log.close()

    def emit(self, path, signature, *args):
        m = dbus.lowlevel.SignalMessage(path, "org.sdloop1.ContractConfigTracker", "ConfigChanged")
        m.append(*args, signature=signature)
        self.conn.send_message(m)

    def log_lines(self, what):
        self.log.seek(0)
        return [line.rstrip("\n") for line in self.log if what in line]

    def test_config_changed(self):
        f = self.factory()
        self.emit(self.PROVIDER, "tay", dbus.UInt64(7), dbus.ByteArray(b"\xab" * 32))
        self.emit(self.PROVIDER, "tay", dbus.UInt64(8), dbus.ByteArray(b"\xab" * 31))
        self.emit(self.PROVIDER, "s", "x")
        self.emit("/org/sdloop1/host/provider/2", "tay", dbus.UInt64(9), dbus.ByteArray(b"\xcd" * 32))
        # One connection answers in order: once Ready is answered, the signals before it were handled.
        self.assertIsNone(self.call(f, "org.sdloop1.Service", "Ready")[0])
        self.assertEqual([line.split(": ", 1)[1] for line in self.log_lines("ConfigChanged")], [
            f"{f} heard ConfigChanged(7, {'ab' * 32})",
            f"Ignoring malformed ConfigChanged from {self.PROVIDER}: digest: expected 32 bytes, got 31",
            f"Ignoring ConfigChanged from {self.PROVIDER} with signature 's', expected 'tay'.",
        ])

        # Closed, the factory hears no more.
        self.assertIsNone(self.call(f, "org.sdloop1.Service", "Close")[0])
        self.emit(self.PROVIDER, "tay", dbus.UInt64(10), dbus.ByteArray(b"\xef" * 32))
        self.assertIsNone(self.call(ROOT, "org.sdloop1.Service", "Ready")[0])
        self.assertEqual(len(self.log_lines("ConfigChanged")), 3)


class CrashAfter(Plugin):
    def extra_env(self):
        return {"SDLOOP_CRASH_AFTER": "2"}

    def test_crash(self):
        self.factory()
        # Context calls and handshake reads do not count; the second org.sdloop1 call does.
        self.call(ROOT, "org.freedesktop.DBus.Properties", "GetAll", "s", "org.sdloop1.Plugin")
        self.assertIsNone(self.proc.poll())
        m = dbus.lowlevel.MethodCallMessage(None, ROOT, "org.sdloop1.Service", "Ready")
        self.conn.send_message(m)
        self.conn.flush()
        self.assertEqual(self.proc.wait(30), 3)


class Journal(unittest.TestCase):
    def test_native_protocol(self):
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "journal")
            s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
            s.bind(path)
            old = sdlog.JOURNAL_SOCKET
            sdlog.JOURNAL_SOCKET = path
            try:
                os.environ["SDLOOP_LOG_TARGET"] = "journal"
                sdlog.setup("test-ident", "plugin-a")
                sdloop.set_log_context("CONTRACT_ID", "c1")
                import logging
                logging.getLogger("x").warning("two\nlines")
                data = s.recv(65536)
            finally:
                sdlog.JOURNAL_SOCKET = old
                sdloop.set_log_context("CONTRACT_ID", None)
                s.close()
        self.assertIn(b"SDLOOP_PLUGIN=plugin-a\n", data)
        self.assertIn(b"CONTRACT_ID=c1\n", data)
        self.assertIn(b"PRIORITY=4\n", data)
        self.assertIn(b"SYSLOG_IDENTIFIER=test-ident\n", data)
        self.assertIn(b"MESSAGE\n" + (9).to_bytes(8, "little") + b"two\nlines\n", data)


if __name__ == "__main__":
    unittest.main()
