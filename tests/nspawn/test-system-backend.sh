#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# Inside the booted container (tests/nspawn/run.sh), as root: the system backend against PID 1, then the
# user backend against a user manager of root's.
#
#   test-system-backend.sh TEST_BACKEND_SYSTEMD EXAMPLE_PLUGIN [TEST_PLUGIN]

set -u

test_program=$1
example=$2
test_plugin=${3:-}

echo "$(systemctl --version | head -n 1); system: $(systemctl is-system-running 2>/dev/null || true)"

status=0
SDLOOP_LOG_TARGET=stderr "$test_program" "$example" "$test_plugin" || status=$?

# The user backend: the same against a user manager of root's. (user@0.service needs PAM configuration,
# which the container's empty /etc lacks; the manager itself runs fine as a plain service.)
if [ $status -eq 0 ]; then
        echo "=== user backend ==="
        systemd_bin=/usr/lib/systemd/systemd
        [ -x "$systemd_bin" ] || systemd_bin=/lib/systemd/systemd
        mkdir -p -m 0700 /run/user/0
        if systemd-run --quiet --unit=test-user-manager -p Type=notify -p Delegate=yes \
                        -E XDG_RUNTIME_DIR=/run/user/0 "$systemd_bin" --user; then
                XDG_RUNTIME_DIR=/run/user/0 SDLOOP_LOG_TARGET=stderr \
                        "$test_program" --user "$example" "$test_plugin" || status=$?
        else
                echo "FAIL: could not start a user manager"
                status=1
        fi
fi

if [ $status -ne 0 ]; then
        echo "=== sdloop-* units ==="
        systemctl list-units --all --no-pager 'sdloop-*' || true
        XDG_RUNTIME_DIR=/run/user/0 systemctl --user list-units --all --no-pager 'sdloop-*' || true
        echo "=== journal of sdloop-* units ==="
        journalctl --no-pager -o short-monotonic -n 300 -u 'sdloop-*' -u test-user-manager.service || true
fi
exit $status
