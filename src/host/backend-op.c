/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include "backend-op.h"
#include "host-plugin.h"
#include "macro.h"

struct BackendOp {
        BackendOpType type;
        host_backend_done_fn done;
        void *userdata;
        BackendOp *next;
};

static const char * const op_table[_BACKEND_OP_MAX] = {
        [BACKEND_OP_START] = "start",
        [BACKEND_OP_STOP] = "stop",
        [BACKEND_OP_RESTART] = "restart",
        [BACKEND_OP_REATTACH] = "reattach",
};

const char *backend_op_to_string(BackendOpType t) {
        return t >= 0 && t < _BACKEND_OP_MAX ? op_table[t] : NULL;
}

void backend_ops_init(BackendOps *q, HostPlugin *p, backend_op_run_fn run) {
        *q = (BackendOps) { .plugin = p, .run = run };
}

void backend_ops_done(BackendOps *q) {
        while (q->head) {
                BackendOp *o = q->head;

                q->head = o->next;
                free(o);
        }
        q->tail = NULL;
        q->running = q->finished = false;
        q->message = mfree(q->message);
        q->defer = sd_event_source_disable_unref(q->defer);
}

static void ops_schedule(BackendOps *q);

/* From the loop: tell the asker how the head ended, then begin the next. */
static int on_ops_defer(sd_event_source *s, void *userdata) {
        BackendOps *q = userdata;
        _cleanup_free_ char *message = NULL;
        host_backend_done_fn done;
        HostPlugin *p = q->plugin;
        BackendOp *o;
        void *ud;
        int r;

        if (!q->running && q->head) {
                q->running = true;
                log_debug("Plugin %s: backend %s.", p->settings.name, backend_op_to_string(q->head->type));
                r = q->run(p, q->head->type);
                if (r < 0 && !q->finished)
                        backend_ops_finish(q, r, NULL);
                return 0;
        }
        if (!q->finished || !q->head)
                return 0;

        o = q->head;
        q->head = o->next;
        if (!q->head)
                q->tail = NULL;
        q->running = q->finished = false;
        r = q->result;
        message = TAKE_PTR(q->message);
        done = o->done;
        ud = o->userdata;
        free(o);
        if (q->head)
                ops_schedule(q);

        /* Last: the asker may free the plugin, and this queue with it. */
        if (done)
                done(p, r, message, ud);
        return 0;
}

static void ops_schedule(BackendOps *q) {
        int r;

        if (!q->defer) {
                r = sd_event_add_defer(q->plugin->host->event, &q->defer, on_ops_defer, q);
                if (r < 0) {
                        q->defer = NULL;
                        log_error_errno(r, "Plugin %s: cannot schedule a backend operation: %m",
                                        q->plugin->settings.name);
                        return;
                }
                (void) sd_event_source_set_description(q->defer, "backend-op");
        }
        (void) sd_event_source_set_enabled(q->defer, SD_EVENT_ONESHOT);
}

int backend_ops_push(BackendOps *q, BackendOpType type, host_backend_done_fn done, void *userdata) {
        BackendOp *o;

        o = new0(BackendOp, 1);
        if (!o)
                return -ENOMEM;
        *o = (BackendOp) { .type = type, .done = done, .userdata = userdata };
        if (q->tail)
                q->tail->next = o;
        else
                q->head = o;
        q->tail = o;
        if (!q->running)
                ops_schedule(q);
        return 0;
}

void backend_ops_finish(BackendOps *q, int r, const char *message) {
        if (!q->running || q->finished)
                return;
        q->finished = true;
        q->result = r;
        if (free_and_strdup(&q->message, message) < 0)
                log_oom();
        ops_schedule(q);
}

BackendOpType backend_ops_current(const BackendOps *q) {
        return q->running && !q->finished && q->head ? q->head->type : _BACKEND_OP_INVALID;
}

bool backend_ops_pending(const BackendOps *q, BackendOpType type) {
        for (BackendOp *o = q->head; o; o = o->next)
                if (o->type == type)
                        return true;
        return false;
}
