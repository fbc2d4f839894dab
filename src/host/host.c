/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <malloc.h>
#include <time.h>

#include "host-backend.h"
#include "host-plugin.h"
#include "host.h"
#include "macro.h"
#include "util.h"

uint64_t host_now(void) {
        return now_monotonic_usec();
}

int host_new(sd_event *event, const HostBackend *backend, Host **ret) {
        _cleanup_(host_freep) Host *h = NULL;
        int r;

        assert(backend);

        /* A host owns its process too: keep heap slack so that each payload-sized message does not grow and
         * trim the heap (see sdloop_plugin_run()). */
        (void) mallopt(M_TOP_PAD, 256 * 1024);
        (void) mallopt(M_MMAP_THRESHOLD, 4 * 1024 * 1024);

        h = new0(Host, 1);
        if (!h)
                return -ENOMEM;
        h->backend = backend;
        h->next_handle_id = 1;

        if (event)
                h->event = sd_event_ref(event);
        else {
                r = sd_event_default(&h->event);
                if (r < 0)
                        return r;
        }

        if (backend->init) {
                r = backend->init(h);
                if (r < 0)
                        return r;
        }

        *ret = TAKE_PTR(h);
        return 0;
}

Host *host_free(Host *h) {
        if (!h)
                return NULL;

        while (h->plugins)
                host_plugin_free(h->plugins);
        if (h->backend && h->backend->done)
                h->backend->done(h);
        sd_event_unref(h->event);
        return mfree(h);
}

int host_run(Host *h) {
        int r;

        r = sd_event_loop(h->event);
        if (r < 0)
                return r;

        r = 0;
        (void) sd_event_get_exit_code(h->event, &r);
        return r;
}

HostPlugin *host_find_plugin(Host *h, const char *name) {
        for (HostPlugin *p = h->plugins; p; p = p->next)
                if (streq(p->settings.name, name))
                        return p;
        return NULL;
}

bool host_in_dispatch(Host *h) {
        int state;

        if (sdloop_peer_in_dispatch(NULL))
                return true;
        state = sd_event_get_state(h->event);
        return state >= 0 && state != SD_EVENT_INITIAL && state != SD_EVENT_FINISHED;
}

int host_run_until(Host *h, const bool *done, const char *what, sd_bus_error *error) {
        int r = 0;

        if (*done)
                return 0;
        if (host_in_dispatch(h)) {
                const char *e = getenv("SDLOOP_ABORT_ON_NESTED_WAIT");

                log_error("Host: synchronous %s called from inside an event-loop callback; refused (use the "
                          "asynchronous form).", what);
                if (e && streq(e, "1"))
                        abort();
                (void) sdloop_error_setf(error, SDLOOP_ERROR_INTERNAL,
                                         "%s: synchronous wait inside an event-loop callback refused", what);
                return -EDEADLK;
        }

        while (!*done) {
                if (sd_event_get_state(h->event) == SD_EVENT_FINISHED) {
                        r = -ESHUTDOWN;
                        break;
                }
                r = sd_event_run(h->event, UINT64_MAX);
                if (r < 0)
                        break;
                r = 0;
        }

        if (*done)
                return 0;
        sd_bus_error_free(error);
        return sdloop_error_setf(error, SDLOOP_ERROR_PLUGIN_UNAVAILABLE, "%s: event loop ended while waiting: %s",
                                 what, strerror(-r));
}

uint64_t host_backoff_next(uint64_t *state_usec) {
        uint64_t step = *state_usec ?: HOST_BACKOFF_MIN_USEC, delay;

        *state_usec = MIN(step * 2, HOST_BACKOFF_MAX_USEC);
        /* Jitter: anywhere in [step/2, step]. */
        delay = step / 2 + (uint64_t) random() % (step / 2 + 1);
        return MAX(delay, 1U);
}
