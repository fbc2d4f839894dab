#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""The SO_PEERCRED check of the SDK's runtime: a plugin running as one uid (PLUGIN_UID) serves root and its
own uid, and closes a connection from any other uid (OTHER_UID) without answering, logging the refusal
with that uid and pid; it goes on serving after it. Socket-activated on a socket anyone may connect to
(systemd's default SocketMode=0666), which only the check guards; with --listen, the socket is the
plugin's own and 0600. Needs root to switch uids: run as a script, it exits 77 (skipped) otherwise."""

import json
import os
import socket
import subprocess
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
PLUGIN_UID = PLUGIN_GID = 65534  # nobody
OTHER_UID = OTHER_GID = 65533    # nobody else
NEEDS_ROOT = (f"needs root: runs the plugin as uid {PLUGIN_UID} and connects as root, as uid {PLUGIN_UID} "
              f"and as uid {OTHER_UID}")


def as_user(uid, gid):
    return {} if uid == 0 else {"user": uid, "group": gid, "extra_groups": []}


class PeerCred:
    """What both ways of starting the plugin share; a subclass starts it in start()."""

    def setUp(self):
        if os.geteuid() != 0:
            raise unittest.SkipTest(NEEDS_ROOT)
        self.tmp = tempfile.TemporaryDirectory()
        os.chmod(self.tmp.name, 0o755)  # reachable by every uid of the test
        self.sock = os.path.join(self.tmp.name, "toy.sock")
        self.log_path = os.path.join(self.tmp.name, "log")
        self.notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.notify.bind(os.path.join(self.tmp.name, "notify"))
        os.chmod(os.path.join(self.tmp.name, "notify"), 0o666)
        self.env = dict(os.environ, NOTIFY_SOCKET=os.path.join(self.tmp.name, "notify"),
                        SDLOOP_LOG_TARGET="stderr", SDLOOP_LOG_LEVEL="info", SDLOOP_PLUGIN="toy")
        with open(self.log_path, "w") as log:
            self.proc = self.start(log)
        self.notify.settimeout(30)
        while not self.notify.recv(4096).decode().startswith("READY=1"):
            pass
        # Nobody reads the STATUS= lines that follow: gone, they cannot fill up and block the plugin.
        self.notify.close()
        os.unlink(os.path.join(self.tmp.name, "notify"))

    def tearDown(self):
        if os.geteuid() != 0:
            return
        self.proc.terminate()
        self.assertEqual(self.proc.wait(30), 0)
        self.tmp.cleanup()

    def client(self, uid, gid):
        out = subprocess.run([sys.executable, os.path.join(HERE, "peer_client.py"), self.sock], env=self.env,
                             capture_output=True, text=True, timeout=60, check=True, **as_user(uid, gid))
        result = json.loads(out.stdout)
        self.assertEqual(result["uid"], uid)
        return result

    def refusals(self):
        with open(self.log_path) as f:
            return [line for line in f if "Refusing connection" in line]

    def assert_served(self, uid, gid):
        r = self.client(uid, gid)
        self.assertTrue(r["sasl"].startswith("OK "), f"uid {uid}: SASL answered {r['sasl']!r}")
        self.assertEqual((r["name"], r["error"]), ("toy", None), f"uid {uid}")


class SocketActivated(PeerCred, unittest.TestCase):
    def start(self, log):
        # The socket as systemd passes it: made by root, connectable by anyone.
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        listener.bind(self.sock)
        os.chmod(self.sock, 0o666)
        listener.listen(16)
        try:
            return subprocess.Popen(["/bin/sh", "-c", 'LISTEN_PID=$$ LISTEN_FDS=1 exec "$@" 3<&0 0</dev/null', "sh",
                                     sys.executable, os.path.join(HERE, "toy_plugin.py")],
                                    stdin=listener.fileno(), stderr=log, env=self.env,
                                    **as_user(PLUGIN_UID, PLUGIN_GID))
        finally:
            listener.close()

    def test_only_root_and_own_uid(self):
        self.assert_served(0, 0)
        self.assertEqual(self.refusals(), [])

        # Another uid: closed before the SASL exchange, on both connections, each refusal logged.
        r = self.client(OTHER_UID, OTHER_GID)
        self.assertEqual(r["sasl"], "", "the plugin answered another uid")
        self.assertIsNone(r["name"])
        self.assertIsNotNone(r["error"])
        lines = self.refusals()
        self.assertEqual(len(lines), 2, lines)
        self.assertIn(f"Refusing connection from uid {OTHER_UID} (pid {r['pid']}): only root and uid "
                      f"{PLUGIN_UID} may talk to this plugin.", lines[0] + lines[1])

        # The plugin goes on serving its own uid and root, refusing nothing more.
        self.assert_served(PLUGIN_UID, PLUGIN_GID)
        self.assert_served(0, 0)
        self.assertEqual(len(self.refusals()), 2)
        self.assertEqual(self.proc.poll(), None)


class Listen(PeerCred, unittest.TestCase):
    def start(self, log):
        os.chown(self.tmp.name, PLUGIN_UID, PLUGIN_GID)
        return subprocess.Popen([sys.executable, os.path.join(HERE, "toy_plugin.py"), "--listen", self.sock],
                                stderr=log, env=self.env, **as_user(PLUGIN_UID, PLUGIN_GID))

    def test_socket_is_private(self):
        st = os.stat(self.sock)
        self.assertEqual((st.st_uid, oct(st.st_mode & 0o777)), (PLUGIN_UID, oct(0o600)))
        self.assertEqual(self.client(OTHER_UID, OTHER_GID)["sasl"], "EACCES")
        self.assert_served(PLUGIN_UID, PLUGIN_GID)
        self.assert_served(0, 0)
        self.assertEqual(self.refusals(), [])


if __name__ == "__main__":
    if os.geteuid() != 0:
        print(f"SKIP: {NEEDS_ROOT}", file=sys.stderr)
        sys.exit(77)
    unittest.main(verbosity=2)
