/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* sdloop-test-plugin: LOOP's internal/test/cmd. Serves the static PluginRelayer (--mode=relayer, kind
 * "relayer") or the static PluginMedian (--mode=median, kind "median") through the plugin runtime, on a
 * socket from systemd (LISTEN_FDS) or from --listen PATH. The mode may also follow the runtime's options
 * ("… --listen PATH -- --mode=median" or "… --listen PATH median"). The runtime's --crash-after N makes
 * the process exit with status 3 at the N-th org.sdloop1 call, for recovery tests. --hang-after=N
 * ($SDLOOP_TEST_HANG_AFTER; org.sdloop1.Context messages not counted) makes it hang instead, the way a plugin with a stuck handler does: the N-th
 * org.sdloop1 call's dispatch never returns, so the event loop stops — nothing is answered, no WATCHDOG=1
 * goes out, the connection stays open — until a watchdog kills the process. With --hang-once only the
 * first process to get there hangs (it leaves "hung" in $STATE_DIRECTORY), so a restarted one serves.
 * --break=short-digest answers OffchainConfigDigester.ConfigDigest with a 31-byte digest, --break=hang
 * never answers Relayer.GetChainStatus (the loop keeps serving everything else): plugins that break the
 * contract, for sdloop-conformance to name. */

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "macro.h"
#include "sdloop.h"
#include "static.h"

/* Until the mode is known the kind is this, which no host expects. */
#define KIND_UNSET "unset"

static uint64_t hang_after, n_calls;
static bool hang_once;

static int parse_hang_after(const char *s) {
        char *end = NULL;

        errno = 0;
        hang_after = strtoull(s, &end, 10);
        if (errno != 0 || !end || *end || end == s) {
                fprintf(stderr, "Invalid --hang-after: %s\n", s);
                return -EINVAL;
        }
        return 0;
}

/* Whether this process is the one to hang: always, or with --hang-once the first to claim the marker. */
static bool hang_claim(void) {
        _cleanup_free_ char *marker = NULL;
        const char *dir = getenv("STATE_DIRECTORY");
        int fd;

        if (!hang_once)
                return true;
        if (!dir || asprintf(&marker, "%s/hung", dir) < 0) {
                log_error("--hang-once needs $STATE_DIRECTORY; not hanging.");
                return false;
        }
        fd = open(marker, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
        if (fd < 0)
                return false;
        safe_close(fd);
        return true;
}

static int on_method_call(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        const char *iface = sd_bus_message_get_interface(m);

        if (!sd_bus_message_is_method_call(m, NULL, NULL) || !iface ||
            strncmp(iface, SDLOOP_INTERFACE_PREFIX, strlen(SDLOOP_INTERFACE_PREFIX)) != 0)
                return 0;
        /* A call's context travels as a message of its own, just before it: not a call of its own. */
        if (streq(iface, "org.sdloop1.Context"))
                return 0;
        if (++n_calls != hang_after || !hang_claim())
                return 0;

        log_warning("Hanging on purpose at call %" PRIu64 " (%s.%s).", n_calls, iface,
                    strempty(sd_bus_message_get_member(m)));
        /* The loop is stuck here. SIGTERM is blocked for the loop, so only SIGABRT or SIGKILL end it. */
        for (;;)
                (void) pause();
}

static int parse_mode(const char *s, const char **ret_kind) {
        if (streq(s, SDLOOP_KIND_RELAYER))
                *ret_kind = SDLOOP_KIND_RELAYER;
        else if (streq(s, SDLOOP_KIND_MEDIAN))
                *ret_kind = SDLOOP_KIND_MEDIAN;
        else
                return -EINVAL;
        return 0;
}

static int parse_break(const char *s);
static int break_setup(SdloopPeer *peer);

static int connection_setup(SdloopPlugin *plugin, SdloopPeer *peer, SdloopObject *root, void *userdata) {
        SdloopPluginDescription *d = userdata;
        int r;

        r = break_setup(peer);
        if (r < 0)
                return r;

        if (hang_after > 0) {
                r = sd_bus_add_filter(sdloop_peer_get_bus(peer), NULL, on_method_call, NULL);
                if (r < 0)
                        return r;
        }
        if (streq(d->kind, SDLOOP_KIND_RELAYER))
                return static_plugin_relayer_export(root);
        return static_plugin_median_export(root);
}

static void ignore_sigterm_if_asked(void);

static int startup(SdloopPlugin *plugin, void *userdata) {
        SdloopPluginDescription *d = userdata;

        ignore_sigterm_if_asked();
        for (char **a = sdloop_plugin_get_args(plugin); a && *a; a++) {
                const char *v = *a;

                if (strncmp(v, "--mode=", 7) == 0)
                        v += 7;
                if (parse_mode(v, &d->kind) < 0)
                        return log_error_errno(-EINVAL, "Unknown argument \"%s\": expected --mode=relayer or "
                                               "--mode=median.", *a);
        }

        if (streq(d->kind, KIND_UNSET))
                return log_error_errno(-EINVAL, "No mode given: use --mode=relayer or --mode=median.");
        return 0;
}

int main(int argc, char *argv[]) {
        static SdloopPluginDescription description = {
                .name = "sdloop-test-plugin",
                .kind = KIND_UNSET,
                .version = "1",
                .connection_setup = connection_setup,
                .startup = startup,
                .userdata = &description,
        };
        _cleanup_free_ char **args = NULL;
        const char *e;
        int n = 0;

        e = getenv("SDLOOP_TEST_HANG_AFTER");
        if (e && parse_hang_after(e) < 0)
                return 2;

        /* The runtime does not know --mode: take it out of the options (everything before "--") here. */
        args = new0(char *, argc + 1);
        if (!args)
                return EXIT_FAILURE;
        for (int i = 0; i < argc; i++) {
                const char *v = NULL;

                if (streq(argv[i], "--")) {
                        while (i < argc)
                                args[n++] = argv[i++];
                        break;
                }
                if (strncmp(argv[i], "--hang-after=", 13) == 0) {
                        if (parse_hang_after(argv[i] + 13) < 0)
                                return 2;
                        continue;
                }
                if (strncmp(argv[i], "--break=", 8) == 0) {
                        if (parse_break(argv[i] + 8) < 0)
                                return 2;
                        continue;
                }
                if (streq(argv[i], "--hang-once")) {
                        hang_once = true;
                        continue;
                }
                if (strncmp(argv[i], "--mode=", 7) == 0)
                        v = argv[i] + 7;
                else if (streq(argv[i], "--mode")) {
                        if (i + 1 >= argc) {
                                fprintf(stderr, "--mode needs a value: relayer or median.\n");
                                return 2;
                        }
                        v = argv[++i];
                }

                if (!v) {
                        args[n++] = argv[i];
                        continue;
                }
                if (parse_mode(v, &description.kind) < 0) {
                        /* As LOOP's test binary: an unknown command is exit status 2. */
                        fprintf(stderr, "Unknown mode \"%s\": expected relayer or median.\n", v);
                        return 2;
                }
        }

        return sdloop_plugin_run(&description, n, args);
}

/* --- contract breakers (--break=) ------------------------------------------------------------------- */

static enum { BREAK_NONE, BREAK_SHORT_DIGEST, BREAK_HANG } break_mode;

static int parse_break(const char *s) {
        if (streq(s, "short-digest"))
                break_mode = BREAK_SHORT_DIGEST;
        else if (streq(s, "hang"))
                break_mode = BREAK_HANG;
        else {
                fprintf(stderr, "Unknown --break=%s: expected short-digest or hang.\n", s);
                return -EINVAL;
        }
        return 0;
}

/* Ahead of the objects: the call is answered here, or swallowed, and goes no further. */
static int on_break_call(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        static const uint8_t digest[SDLOOP_DIGEST_SIZE - 1] = { 1 };
        int r;

        if (break_mode == BREAK_HANG && sd_bus_message_is_method_call(m, "org.sdloop1.Relayer", "GetChainStatus")) {
                log_warning("Never answering Relayer.GetChainStatus, on purpose.");
                return 1;
        }
        if (break_mode != BREAK_SHORT_DIGEST ||
            !sd_bus_message_is_method_call(m, "org.sdloop1.OffchainConfigDigester", "ConfigDigest"))
                return 0;

        log_warning("Answering OffchainConfigDigester.ConfigDigest with a 31-byte digest, on purpose.");
        r = sd_bus_message_new_method_return(m, &reply);
        if (r >= 0)
                r = sd_bus_message_append_array(reply, 'y', digest, sizeof(digest));
        if (r >= 0)
                r = sd_bus_send(sd_bus_message_get_bus(m), reply, NULL);
        return r < 0 ? r : 1;
}

static int break_setup(SdloopPeer *peer) {
        if (break_mode == BREAK_NONE)
                return 0;
        return sd_bus_add_filter(sdloop_peer_get_bus(peer), NULL, on_break_call, NULL);
}

/* $SDLOOP_TEST_IGNORE_SIGTERM=1: SIGTERM does nothing (the runtime's own handling of it is undone), the way
 * a plugin stuck in its shutdown would — only SIGKILL ends it, after the stop timeout. It serves on. */
static void ignore_sigterm_if_asked(void) {
        const char *e = getenv("SDLOOP_TEST_IGNORE_SIGTERM");
        sigset_t mask;

        if (!e || !streq(e, "1"))
                return;
        /* Ignored and unblocked: discarded when sent, never read by the loop's signalfd. */
        (void) signal(SIGTERM, SIG_IGN);
        sigemptyset(&mask);
        sigaddset(&mask, SIGTERM);
        (void) sigprocmask(SIG_UNBLOCK, &mask, NULL);
        log_info("Ignoring SIGTERM on purpose.");
}
