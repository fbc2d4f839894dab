#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# Inside a booted container with writable copies of /usr, /etc and /var (tests/test-package.sh), as root:
# install the .deb files, run the example configuration's feed under the packaged sdloopd.service, look at
# it the way an operator would (sdloopctl, systemctl status, journalctl, busctl), build the plugin example
# of sdloop-plugin(7) against the installed libsdloop-dev, then remove and purge, and check that nothing
# is left running.
#
#   test-package-install.sh DEB_DIR OUT_OF_TREE_TEST
#
# SDLOOP_PACKAGE_REPORT_TIMEOUT: how long to wait for the first report, in seconds (default 180).

set -uo pipefail

deb_dir=$1
oot_test=$2
report_timeout=${SDLOOP_PACKAGE_REPORT_TIMEOUT:-180}

passed=0
failed=0
ok() {
        passed=$((passed + 1))
        echo "ok $((passed + failed)) - $*"
}
not_ok() {
        failed=$((failed + 1))
        echo "not ok $((passed + failed)) - $*"
}
# A failure after which nothing else makes sense: say what is known, then stop.
fatal() {
        not_ok "$*"
        echo "=== sdloop units ==="
        systemctl list-units --all --no-pager 'sdloop*' || :
        echo "=== journal (sdloopd and the plugins) ==="
        journalctl --no-pager -o short-monotonic -n 200 -u sdloopd.service -u 'sdloop-*' || :
        echo "$passed passed, $failed failed"
        exit 1
}
section() {
        echo
        echo "=== $* ==="
}

echo "$(systemctl --version | head -n 1); system: $(systemctl is-system-running 2>/dev/null || :)"

# --- install ------------------------------------------------------------------------------------------------
# Container images often carry a policy-rc.d that forbids maintainer scripts to start or stop services
# (exit 101). This container is a booted system with a copy of /usr: remove it, so that the package's
# scripts do here what they do on a real machine.
if [ -e /usr/sbin/policy-rc.d ]; then
        echo "(removing this container's copy of /usr/sbin/policy-rc.d)"
        rm -f /usr/sbin/policy-rc.d
fi

section "dpkg -i"
debs=()
for p in libsdloop0 libsdloop-dev sdloop; do
        f=$(ls "$deb_dir"/${p}_*.deb 2>/dev/null | head -n 1)
        [ -n "$f" ] || fatal "no ${p}_*.deb in $deb_dir"
        debs+=("$f")
done
# Their dependencies are this machine's own packages, so dpkg alone can install them, offline.
DEBIAN_FRONTEND=noninteractive dpkg -i "${debs[@]}" || fatal "dpkg -i ${debs[*]##*/}"
ok "dpkg -i ${debs[*]##*/}"

for p in libsdloop0 libsdloop-dev sdloop; do
        [ "$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null)" = installed ] || fatal "$p is not installed"
done
dpkg-query -W -f='${Conffiles}\n' sdloop | grep -q '^ /etc/sdloop/sdloopd.json ' ||
        not_ok "/etc/sdloop/sdloopd.json is not a conffile of sdloop"
getent passwd sdloop >/dev/null && getent group sdloop >/dev/null ||
        fatal "the sdloop user and group were not created (sysusers)"
[ -d /run/sdloop ] && [ -d /var/lib/sdloop ] || fatal "/run/sdloop or /var/lib/sdloop missing (tmpfiles)"
# It holds the Keystore: nobody but root may look in.
[ "$(stat -c '%U %a' /var/lib/sdloop)" = "root 700" ] ||
        not_ok "/var/lib/sdloop is $(stat -c '%U:%G %a' /var/lib/sdloop), not root's alone (0700)"
ok "all three installed; conffile, sdloop user and group, /run/sdloop and /var/lib/sdloop in place"

for page in sdloopd.8 sdloopctl.1 sdloop.json.5 sdloop-plugin.7; do
        f=/usr/share/man/man${page##*.}/$page.gz
        [ -f "$f" ] || fatal "$f is missing"
        if command -v man >/dev/null; then
                warnings=$(LC_ALL=C.UTF-8 MANROFFSEQ='' MANWIDTH=80 man --warnings -E UTF-8 -l -Tutf8 -Z "$f" 2>&1 >/dev/null)
                [ -z "$warnings" ] || not_ok "man $page: $warnings"
        fi
done
[ -f /usr/share/bash-completion/completions/sdloopctl ] || not_ok "no bash completion for sdloopctl"
ok "man pages (sdloopd.8, sdloopctl.1, sdloop.json.5, sdloop-plugin.7) and bash completion installed"

# The check a unit runs before starting a pinned binary (binary_sha256) is where sdloopd looks for it.
verify=/usr/libexec/sdloop/sdloop-verify-binary
pin=$(sha256sum /usr/sbin/sdloopd | cut -d' ' -f1)
if [ ! -x "$verify" ]; then
        not_ok "$verify is not installed"
elif ! "$verify" /usr/sbin/sdloopd "$pin" || "$verify" /usr/bin/sdloopctl "$pin" 2>/dev/null; then
        not_ok "$verify does not tell a matching binary from another"
else
        ok "sdloop-verify-binary installed in /usr/libexec/sdloop: it passes the pinned binary, refuses another"
fi

# --- run the example feed -------------------------------------------------------------------------------------
section "systemctl start sdloopd"
systemctl is-enabled sdloopd.service >/dev/null || not_ok "sdloopd.service is not enabled by the package"
systemctl is-active --quiet sdloopd.service || not_ok "dpkg -i did not start sdloopd.service"
systemctl start sdloopd.service || fatal "systemctl start sdloopd"
systemctl is-active --quiet sdloopd.service || fatal "sdloopd.service is not active"
ok "sdloopd.service is enabled and active"

# The example configuration defines one feed; sdloopd must be running it.
feeds=$(sdloopctl feeds --json=short 2>&1) || fatal "sdloopctl feeds --json: $feeds"
if ! grep -q '"name": *"example-usd"' <<<"$feeds"; then
        fatal "sdloopd runs no feed although /etc/sdloop/sdloopd.json defines \"example-usd\"" \
              "(Manager.ListFeeds: $feeds): the feed driver is not wired into sdloopd"
fi
ok "sdloopd runs the example feed"

section "sdloopctl feeds --json (waiting up to ${report_timeout}s for a report)"
deadline=$(( $(date +%s) + report_timeout ))
reports=0
while :; do
        json=$(sdloopctl feeds --json=short 2>&1) || json=
        reports=$(printf '%s' "$json" | python3 -c '
import json, sys
try:
    feeds = json.load(sys.stdin)
except ValueError:
    print(0); sys.exit()
print(sum(f.get("reports_transmitted", 0) for f in feeds if f.get("latest_answer")))' 2>/dev/null || echo 0)
        [ "${reports:-0}" -gt 0 ] && break
        [ "$(date +%s)" -lt "$deadline" ] || break
        sleep 1
done
sdloopctl feeds --json || :
sdloopctl feeds || :
if [ "${reports:-0}" -gt 0 ]; then
        ok "reports land on the ledger: $reports transmitted"
else
        fatal "no report was transmitted within ${report_timeout}s (sdloopctl feeds --json: ${json:-nothing})"
fi

ls -l /var/lib/sdloop-ledger/example-1.sqlite ||
        not_ok "the ledger is not in the ledger plugin's state directory (/var/lib/sdloop-ledger)"

section "sdloopctl list; sdloopctl status"
sdloopctl list || not_ok "sdloopctl list"
sdloopctl status --lines=5 || not_ok "sdloopctl status: not every plugin is running"

section "systemctl status 'sdloop-*'"
systemctl status --no-pager --lines=5 'sdloop-*' || :
for u in sdloop-ledger.socket sdloop-ledger.service sdloop-median.socket sdloop-median.service; do
        systemctl is-active --quiet "$u" || not_ok "$u is $(systemctl is-active "$u")"
done
ok "the plugins run as sdloop-ledger and sdloop-median (socket and service)"

section "journalctl -u sdloopd"
journalctl --no-pager -o short-monotonic -u sdloopd.service -n 40 || :
[ -n "$(journalctl --no-pager -q -o cat -u sdloopd.service 2>/dev/null)" ] ||
        not_ok "journalctl -u sdloopd shows nothing"
[ -n "$(journalctl --no-pager -q -o cat SDLOOP_PLUGIN=ledger 2>/dev/null)" ] ||
        not_ok "nothing in the journal with SDLOOP_PLUGIN=ledger"
ok "journalctl -u sdloopd and SDLOOP_PLUGIN=ledger"

section "busctl tree org.sdloop1"
tree=$(busctl tree --list org.sdloop1 2>&1) || fatal "busctl tree org.sdloop1: $tree"
busctl tree org.sdloop1 || :
for path in /org/sdloop1 /org/sdloop1/plugin/ledger /org/sdloop1/plugin/median /org/sdloop1/plugin/ledger/relayer/1; do
        grep -qx -- "$path" <<<"$tree" || not_ok "busctl tree org.sdloop1 lacks $path"
done
ok "busctl tree org.sdloop1 shows the Manager, both plugins and the relayer"

# --- the sandbox and the bus policy of the package -----------------------------------------------------------
section "systemd-analyze security sdloopd.service"
systemd-analyze security --no-pager sdloopd.service | grep -v '^✓' || :
# "→ Overall exposure level for UNIT: 1.6 OK 🙂": at most $2 tenths.
exposure_at_most() {
        local s
        s=$(systemd-analyze security --no-pager "$1" 2>/dev/null |
                sed -n 's/.*Overall exposure level for [^:]*: \([0-9]*\.[0-9]\) .*/\1/p')
        [ -n "$s" ] && [ $(( ${s%.*} * 10 + ${s#*.} )) -le "$2" ] || { echo "${s:-no score}"; return 1; }
        echo "$s"
}
if score=$(exposure_at_most sdloopd.service 30); then
        ok "systemd-analyze security sdloopd.service: $score (at most 3.0)"
else
        not_ok "systemd-analyze security sdloopd.service: $score (more than 3.0)"
fi
if score=$(exposure_at_most sdloop-ledger.service 28); then
        ok "systemd-analyze security sdloop-ledger.service: $score (at most 2.8)"
else
        not_ok "systemd-analyze security sdloop-ledger.service: $score (more than 2.8)"
fi

bad=$(find /var/lib/sdloop/keys \( -type f ! -perm 0600 \) -o \( -type d ! -perm 0700 \) -printf '%p %m\n')
n_keys=$(find /var/lib/sdloop/keys -type f -name '*.key' | wc -l)
if [ "$n_keys" -gt 0 ] && [ -z "$bad" ]; then
        ok "the keystore: $n_keys keys, directories 0700, files 0600"
else
        not_ok "the keystore: $n_keys keys; open to others: ${bad:-nothing}"
fi

section "the bus policy: nobody looks, group sdloop manages"
nobody() { setpriv --reuid=nobody --regid=nogroup --clear-groups "$@"; }
looks=true
for verb in list feeds health; do
        nobody sdloopctl "$verb" >/dev/null 2>/tmp/nobody.err || { looks=false; not_ok "sdloopctl $verb as nobody: $(cat /tmp/nobody.err)"; }
done
$looks && ok "as nobody: sdloopctl list, feeds and health"
if nobody sdloopctl restart median 2>/tmp/nobody.err; then
        not_ok "nobody may restart a plugin"
elif grep -q AccessDenied /tmp/nobody.err; then
        ok "as nobody: sdloopctl restart is refused ($(head -c 80 /tmp/nobody.err)…)"
else
        not_ok "sdloopctl restart as nobody failed, but not with AccessDenied: $(cat /tmp/nobody.err)"
fi
# A member added to the group the package made. dbus-daemon resolves a policy's group names when it reads
# it: the group is made in postinst (systemd-sysusers, from sdloop.conf), after the policy was unpacked, and
# dbus's own trigger on /usr/share/dbus-1/system.d has it read the policy again once the group is there.
systemd-sysusers --inline 'u sdloopop - "sdloop operator"' 'm sdloopop sdloop' || not_ok "an operator in group sdloop"
if setpriv --reuid=sdloopop --regid=sdloopop --init-groups sdloopctl restart median 2>/tmp/op.err; then
        ok "as a member of group sdloop: sdloopctl restart median"
else
        not_ok "sdloopctl restart as a member of group sdloop: $(cat /tmp/op.err)"
fi

# --- a plugin built against libsdloop-dev ------------------------------------------------------------------
section "the sdloop-plugin(7) example against the installed libsdloop-dev"
if "$oot_test" /usr/share/man/man7/sdloop-plugin.7.gz; then
        ok "the sdloop-plugin(7) example builds with pkg-config --cflags --libs sdloop and serves"
else
        not_ok "the sdloop-plugin(7) example against the installed packages"
fi

# --- removal ------------------------------------------------------------------------------------------------
section "apt-get remove sdloop"
DEBIAN_FRONTEND=noninteractive apt-get remove -y -q -o Dpkg::Use-Pty=0 sdloop || fatal "apt-get remove sdloop"
running=$(systemctl list-units --no-legend --plain --state=active,activating,deactivating,reloading 'sdloop-*' 'sdloopd*')
if [ -n "$running" ]; then
        not_ok "units still running after apt-get remove sdloop:"
        echo "$running"
else
        ok "apt-get remove sdloop leaves no sdloop unit running"
fi
leftover=$(pgrep -a -f '^/usr/(libexec/sdloop/|sbin/sdloopd)' || :)
[ -z "$leftover" ] || not_ok "processes left after removal: $leftover"
[ -f /etc/sdloop/sdloopd.json ] || not_ok "the configuration went with a removal (it must stay until purge)"

DEBIAN_FRONTEND=noninteractive apt-get purge -y -q -o Dpkg::Use-Pty=0 sdloop libsdloop-dev libsdloop0 || fatal "apt-get purge"
for d in /var/lib/sdloop /var/lib/sdloop-ledger /var/lib/private/sdloop-ledger; do
        [ ! -e "$d" ] || not_ok "$d is still there after purge"
done
[ ! -e /etc/sdloop/sdloopd.json ] || not_ok "/etc/sdloop/sdloopd.json is still there after purge"
[ ! -e /etc/systemd/system/multi-user.target.wants/sdloopd.service ] ||
        not_ok "sdloopd.service is still enabled after purge"
ok "apt-get purge removes the configuration, the state and the enablement"

echo
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
