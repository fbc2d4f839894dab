/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Spans to an OpenTelemetry collector (OTLP/HTTP, JSON encoding). Every process of sdloop writes its spans
 * to the journal (libsdloop, sdloop-trace.h: MESSAGE_ID=SDLOOP_SPAN_MESSAGE_ID with TRACE_ID, SPAN_ID, …);
 * plugins are sandboxed to AF_UNIX and could not reach a collector anyway. sdloopd follows the journal for
 * those entries — its own and every plugin's — and posts them in batches to <target>/v1/traces, one
 * resource per process (service.name: the plugin's name, or the program's). Nothing waits on the
 * collector: the journal is read as it grows, one POST is in flight at a time, and spans beyond the queue's
 * bound are dropped and counted. */

#include <stdbool.h>
#include <stdint.h>
#include <systemd/sd-event.h>

#define OTLP_QUEUE_MAX 8192U
#define OTLP_BATCH_MAX 512U
#define OTLP_FLUSH_USEC (1 * USEC_PER_SEC)
#define OTLP_POST_TIMEOUT_USEC (10 * USEC_PER_SEC)

typedef struct OtlpExporter OtlpExporter;

typedef struct OtlpStats {
        uint64_t spans_read, spans_exported, spans_dropped, spans_malformed, posts_failed;
} OtlpStats;

/* @target: "http://host:4318" or "https://…" (the path /v1/traces is added); @ca_path: the CA file the
 * collector's certificate is checked against, or NULL for the system's; @user_journal: follow the user's
 * journal rather than the system's. @attributes: "k=v" strings added to every resource, or NULL. */
int otlp_exporter_new(sd_event *event, const char *target, const char *ca_path, bool user_journal,
                      char * const *attributes, OtlpExporter **ret);
OtlpExporter *otlp_exporter_free(OtlpExporter *x);
void otlp_exporter_get_stats(OtlpExporter *x, OtlpStats *ret);
