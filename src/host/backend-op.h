/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* The operations asked of a backend for one plugin, one at a time in the order asked: the backend runs
 * the head, says when it ended (backend_ops_finish()), and the queue tells the asker from the loop and
 * runs the next. */

#include "host-backend.h"

typedef enum BackendOpType {
        BACKEND_OP_START,
        BACKEND_OP_STOP,
        BACKEND_OP_RESTART,
        BACKEND_OP_REATTACH,
        _BACKEND_OP_MAX,
        _BACKEND_OP_INVALID = -EINVAL,
} BackendOpType;

const char *backend_op_to_string(BackendOpType t);

typedef struct BackendOp BackendOp;

/* Begin @type for @p; its end is told with backend_ops_finish(). A negative return ends it at once. */
typedef int (*backend_op_run_fn)(HostPlugin *p, BackendOpType type);

typedef struct BackendOps {
        HostPlugin *plugin;
        backend_op_run_fn run;
        BackendOp *head, *tail; /* the head runs once .running */
        bool running;
        bool finished; /* the head ended with .result/.message; told from .defer */
        int result;
        char *message;
        sd_event_source *defer;
} BackendOps;

void backend_ops_init(BackendOps *q, HostPlugin *p, backend_op_run_fn run);
/* Forget everything: completions are not called. */
void backend_ops_done(BackendOps *q);

int backend_ops_push(BackendOps *q, BackendOpType type, host_backend_done_fn done, void *userdata);
/* The running operation ended (from the backend's callbacks, or from run() itself). */
void backend_ops_finish(BackendOps *q, int r, const char *message);

/* What runs now, or _BACKEND_OP_INVALID. */
BackendOpType backend_ops_current(const BackendOps *q);
bool backend_ops_pending(const BackendOps *q, BackendOpType type);
