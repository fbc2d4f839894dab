/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <stdio.h>

#include "config.h"
#include "host-integrity.h"
#include "macro.h"
#include "sdloop-verify-binary.h"
#include "util.h"

struct HostBinaryCheck {
        HostPlugin *plugin;
        HostBinaryCheck **slot;
        Sha256File *file;
        sd_event_source *step;
        int open_error; /* the file could not be opened: told from the loop like any other answer */
        host_binary_checked_fn done;
        void *userdata;
};

static HostBinaryCheck *check_free(HostBinaryCheck *c) {
        if (!c)
                return NULL;
        if (c->slot && *c->slot == c)
                *c->slot = NULL;
        sd_event_source_disable_unref(c->step);
        sha256_file_free(c->file);
        free(c);
        return NULL;
}

void host_binary_check_cancel(HostBinaryCheck **slot) {
        if (slot)
                check_free(*slot);
}

static int check_message(HostPlugin *p, int r, const char *actual, char **ret) {
        int k;

        if (r < 0)
                k = asprintf(ret, "cannot read binary %s to check its SHA-256: %s", p->settings.binary, strerror(-r));
        else
                k = asprintf(ret, "binary %s does not match binary_sha256: its SHA-256 is %s, pinned %s; "
                             "refusing to start it", p->settings.binary, actual, p->settings.binary_sha256);
        return k < 0 ? -ENOMEM : 0;
}

static void check_finish(HostBinaryCheck *c, int r, const char *actual) {
        _cleanup_free_ char *msg = NULL;
        host_binary_checked_fn done = c->done;
        void *userdata = c->userdata;
        HostPlugin *p = c->plugin;

        if (r >= 0 && !sha256_hex_equal(actual, p->settings.binary_sha256))
                r = -EBADMSG;
        if (r < 0) {
                (void) check_message(p, r == -EBADMSG ? 0 : r, actual, &msg);
                log_error("Plugin %s: %s.", p->settings.name, msg ?: "binary does not match binary_sha256");
        } else
                log_debug("Plugin %s: binary %s has the pinned SHA-256.", p->settings.name, p->settings.binary);

        check_free(c);
        done(p, r, msg ?: (r < 0 ? "binary does not match binary_sha256" : NULL), userdata);
}

static int on_check_step(sd_event_source *s, uint64_t usec, void *userdata) {
        HostBinaryCheck *c = userdata;
        char actual[SHA256_HEX_SIZE];
        int r;

        r = c->open_error ?: sha256_file_step(c->file, actual);
        if (r != 0) {
                check_finish(c, r, actual);
                return 0;
        }
        /* Once more in a later iteration, behind what became pending meanwhile: a timer long due is pending
         * anew from each iteration's own (a re-armed defer source would keep its first iteration and so go
         * before everything else, I/O included, until the end). */
        r = sd_event_source_set_enabled(s, SD_EVENT_ONESHOT);
        if (r < 0)
                check_finish(c, r, NULL);
        return 0;
}

int host_plugin_check_binary_async(HostPlugin *p, HostBinaryCheck **slot, host_binary_checked_fn done,
                                   void *userdata) {
        _cleanup_free_ HostBinaryCheck *c = NULL;
        int r;

        assert(p);
        assert(p->settings.binary_sha256);
        assert(slot);
        assert(done);

        host_binary_check_cancel(slot);
        c = new0(HostBinaryCheck, 1);
        if (!c)
                return -ENOMEM;
        *c = (HostBinaryCheck) { .plugin = p, .done = done, .userdata = userdata };
        r = sd_event_add_time(p->host->event, &c->step, CLOCK_MONOTONIC, 1, 1, on_check_step, c);
        if (r < 0)
                return r;
        (void) sd_event_source_set_description(c->step, "host-binary-check");
        r = sd_event_source_set_enabled(c->step, SD_EVENT_ONESHOT);
        if (r < 0) {
                sd_event_source_disable_unref(c->step);
                return r;
        }
        c->open_error = sha256_file_open(p->settings.binary, &c->file);
        c->slot = slot;
        *slot = TAKE_PTR(c);
        return 0;
}

int host_verifier_path(char **ret) {
        const char *dir = getenv("SDLOOP_LIBEXECDIR");

        if (asprintf(ret, "%s/" SDLOOP_VERIFY_BINARY_NAME, !isempty(dir) ? dir : SDLOOP_LIBEXECDIR) < 0)
                return -ENOMEM;
        return 0;
}
