/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Trace context on every call (W3C Trace Context: trace id, span id, sampled flag) and spans in the
 * journal. A trace begins at a root: sdloop_context_start_trace() on a context gives it a new trace id and
 * a root span, sampled or not as @sampling_ratio decides (the decision travels in the flags; nobody down
 * the line decides again). Every call made with that context (or while it is current, see
 * sdloop_context_set_current()) is a client span under it and carries a traceparent; every call served
 * with one is a server span under the caller's. When tracing is on in a process and the trace is sampled,
 * each span it ends is written to the journal with TRACE_ID, SPAN_ID, PARENT_SPAN_ID, SPAN_NAME,
 * SPAN_KIND, SPAN_DURATION_USEC and SPAN_OUTCOME (on stderr, when that is the log target, as one line with
 * those fields). Log lines written while a context is current carry its TRACE_ID and SPAN_ID. */

#include <stdbool.h>
#include <stdint.h>

#include "sdloop-call.h"

/* "00-" 32 hex "-" 16 hex "-" 2 hex, and the NUL. */
#define SDLOOP_TRACEPARENT_SIZE 56
#define SDLOOP_TRACE_ID_SIZE 33

/* MESSAGE_ID= of every span entry in the journal: `journalctl MESSAGE_ID=…` lists spans, and sdloopd's
 * span exporter follows the journal for them. */
#define SDLOOP_SPAN_MESSAGE_ID "87d731ddf3fd477ca5e7aabdfe59b850"

/* Spans written here or not (default: CL_TRACING_ENABLED, see sdloop-env.h). */
void sdloop_tracing_set_enabled(bool b);
/* The share of new traces sampled, in [0, 1] (-EINVAL otherwise; default CL_TRACING_SAMPLING_RATIO or 0).
 * get returns 0 while tracing is off here: a root begun then is not sampled. */
int sdloop_tracing_set_sampling_ratio(double ratio);
double sdloop_tracing_get_sampling_ratio(void);

/* A new trace with @c as its root span; -EINVAL unless 0 <= @sampling_ratio <= 1. */
int sdloop_context_start_trace(SdloopContext *c, double sampling_ratio);
/* Join the trace a traceparent names, as a span under it (-EINVAL if malformed; NULL: no trace). */
int sdloop_context_set_traceparent(SdloopContext *c, const char *traceparent);
/* The traceparent naming @c's span; -ENODATA without a trace. */
int sdloop_context_get_traceparent(const SdloopContext *c, char ret[static SDLOOP_TRACEPARENT_SIZE]);
/* The trace id in hex; -ENODATA without a trace. */
int sdloop_context_get_trace_id(const SdloopContext *c, char ret[static SDLOOP_TRACE_ID_SIZE]);
bool sdloop_context_is_sampled(const SdloopContext *c);
/* @c's own span (begun at CLOCK_MONOTONIC @start_usec) ends, named @name, with @outcome ("ok" for NULL). */
int sdloop_context_end_span(const SdloopContext *c, const char *name, uint64_t start_usec, const char *outcome);
