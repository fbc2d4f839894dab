/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* sdloop-test-plugin: LOOP's internal/test/cmd. Serves the static PluginRelayer (--mode=relayer, kind
 * "relayer") or the static PluginMedian (--mode=median, kind "median") through the plugin runtime, on a
 * socket from systemd (LISTEN_FDS) or from --listen PATH. The mode may also follow the runtime's options
 * ("… --listen PATH -- --mode=median" or "… --listen PATH median"). The runtime's --crash-after N makes
 * the process exit with status 3 at the N-th org.sdloop1 call, for recovery tests. */

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "macro.h"
#include "sdloop.h"
#include "static.h"

/* Until the mode is known the kind is this, which no host expects. */
#define KIND_UNSET "unset"

static int parse_mode(const char *s, const char **ret_kind) {
        if (streq(s, SDLOOP_KIND_RELAYER))
                *ret_kind = SDLOOP_KIND_RELAYER;
        else if (streq(s, SDLOOP_KIND_MEDIAN))
                *ret_kind = SDLOOP_KIND_MEDIAN;
        else
                return -EINVAL;
        return 0;
}

static int connection_setup(SdloopPlugin *plugin, SdloopPeer *peer, SdloopObject *root, void *userdata) {
        SdloopPluginDescription *d = userdata;

        if (streq(d->kind, SDLOOP_KIND_RELAYER))
                return static_plugin_relayer_export(root);
        return static_plugin_median_export(root);
}

static int startup(SdloopPlugin *plugin, void *userdata) {
        SdloopPluginDescription *d = userdata;

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
        int n = 0;

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
