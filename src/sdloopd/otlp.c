/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* The journal is opened with one match (the span message id) and positioned at its end: spans written
 * before sdloopd started are not sent again. Each entry becomes an OtlpSpan in a ring of bounded size;
 * a timer (or a full batch) turns up to OTLP_BATCH_MAX of them into one ExportTraceServiceRequest. What is
 * read from the journal comes from untrusted processes too: ids are checked for their hex length, text is
 * bounded, and json-c does the escaping. */

#include <json-c/json.h>
#include <string.h>
#include <systemd/sd-journal.h>

#include "config.h"
#include "curl-event.h"
#include "macro.h"
#include "otlp.h"
#include "sdloop-log.h"
#include "sdloop-trace.h"

#define OTLP_NAME_MAX 256U

typedef struct OtlpSpan {
        char trace_id[33], span_id[17], parent_span_id[17];
        char name[OTLP_NAME_MAX], service[128], outcome[OTLP_NAME_MAX];
        int kind;
        uint64_t start_nsec, end_nsec;
} OtlpSpan;

struct OtlpExporter {
        sd_event *event;
        char *url;
        char **attributes;
        sd_journal *journal;
        sd_event_source *journal_io, *flush_timer;
        OtlpSpan *ring;
        size_t head, n; /* n queued from head on */
        CurlEvent *curl;
        CURL *easy;
        struct curl_slist *headers;
        char *body;
        size_t n_posted; /* spans in the POST in flight */
        bool warned;
        OtlpStats stats;
};

static bool is_hex(const char *s, size_t l) {
        if (strlen(s) != l)
                return false;
        for (size_t i = 0; i < l; i++)
                if (!strchr("0123456789abcdef", s[i]))
                        return false;
        return strspn(s, "0") < l; /* all zeros is "no id" in W3C */
}

/* FIELD=value of the current entry into @buf (bounded, NUL-terminated); false if absent. */
static bool entry_field(sd_journal *j, const char *field, char *buf, size_t size) {
        const void *data;
        size_t l, fl = strlen(field);

        if (sd_journal_get_data(j, field, &data, &l) < 0 || l <= fl + 1)
                return false;
        l -= fl + 1;
        if (l >= size)
                l = size - 1;
        memcpy(buf, (const char *) data + fl + 1, l);
        buf[l] = 0;
        return true;
}

static int span_kind(const char *s) {
        /* OTLP's SpanKind: INTERNAL 1, SERVER 2, CLIENT 3. */
        if (streq(s, "server"))
                return 2;
        if (streq(s, "client"))
                return 3;
        return 1;
}

static int entry_to_span(sd_journal *j, OtlpSpan *s) {
        char kind[32], duration[32], *e;
        uint64_t end_usec, d;

        *s = (OtlpSpan) {};
        if (!entry_field(j, "TRACE_ID", s->trace_id, sizeof(s->trace_id)) || !is_hex(s->trace_id, 32) ||
            !entry_field(j, "SPAN_ID", s->span_id, sizeof(s->span_id)) || !is_hex(s->span_id, 16) ||
            !entry_field(j, "SPAN_NAME", s->name, sizeof(s->name)) ||
            !entry_field(j, "SPAN_DURATION_USEC", duration, sizeof(duration)))
                return -EBADMSG;
        if (entry_field(j, "PARENT_SPAN_ID", s->parent_span_id, sizeof(s->parent_span_id)) &&
            !is_hex(s->parent_span_id, 16))
                return -EBADMSG;
        errno = 0;
        d = strtoull(duration, &e, 10);
        if (*e || errno)
                return -EBADMSG;
        if (!entry_field(j, "SPAN_OUTCOME", s->outcome, sizeof(s->outcome)))
                strcpy(s->outcome, "ok");
        s->kind = entry_field(j, "SPAN_KIND", kind, sizeof(kind)) ? span_kind(kind) : 1;
        if (!entry_field(j, "SDLOOP_PLUGIN", s->service, sizeof(s->service)) &&
            !entry_field(j, "SYSLOG_IDENTIFIER", s->service, sizeof(s->service)))
                strcpy(s->service, "unknown");
        if (sd_journal_get_realtime_usec(j, &end_usec) < 0)
                return -EBADMSG;
        s->end_nsec = end_usec * 1000;
        s->start_nsec = d <= end_usec ? (end_usec - d) * 1000 : 0;
        return 0;
}

static void queue_push(OtlpExporter *x, const OtlpSpan *s) {
        if (x->n == OTLP_QUEUE_MAX) {
                /* The oldest goes: the collector is behind, what is new matters more. */
                x->head = (x->head + 1) % OTLP_QUEUE_MAX;
                x->n--;
                x->stats.spans_dropped++;
        }
        x->ring[(x->head + x->n) % OTLP_QUEUE_MAX] = *s;
        x->n++;
}

static json_object *attribute(const char *key, const char *value) {
        json_object *a = json_object_new_object(), *v = json_object_new_object();

        json_object_object_add(v, "stringValue", json_object_new_string(value));
        json_object_object_add(a, "key", json_object_new_string(key));
        json_object_object_add(a, "value", v);
        return a;
}

static json_object *nsec(uint64_t n) {
        char buf[32];

        snprintf(buf, sizeof(buf), "%" PRIu64, n);
        return json_object_new_string(buf);
}

static json_object *span_to_json(const OtlpSpan *s) {
        json_object *o = json_object_new_object(), *status = json_object_new_object();
        bool ok = streq(s->outcome, "ok");

        json_object_object_add(o, "traceId", json_object_new_string(s->trace_id));
        json_object_object_add(o, "spanId", json_object_new_string(s->span_id));
        if (s->parent_span_id[0])
                json_object_object_add(o, "parentSpanId", json_object_new_string(s->parent_span_id));
        json_object_object_add(o, "name", json_object_new_string(s->name));
        json_object_object_add(o, "kind", json_object_new_int(s->kind));
        json_object_object_add(o, "startTimeUnixNano", nsec(s->start_nsec));
        json_object_object_add(o, "endTimeUnixNano", nsec(s->end_nsec));
        /* STATUS_CODE_OK 1, STATUS_CODE_ERROR 2 (with the error's name). */
        json_object_object_add(status, "code", json_object_new_int(ok ? 1 : 2));
        if (!ok)
                json_object_object_add(status, "message", json_object_new_string(s->outcome));
        json_object_object_add(o, "status", status);
        return o;
}

static json_object *resource_new(OtlpExporter *x, const char *service, json_object **ret_spans) {
        json_object *rs = json_object_new_object(), *res = json_object_new_object(), *attrs = json_object_new_array(),
                *scopes = json_object_new_array(), *scope = json_object_new_object(),
                *scope_id = json_object_new_object(), *spans = json_object_new_array();

        json_object_array_add(attrs, attribute("service.name", service));
        json_object_array_add(attrs, attribute("service.namespace", "sdloop"));
        for (char **a = x->attributes; a && *a; a++) {
                _cleanup_free_ char *k = strndup(*a, strcspn(*a, "="));

                if (k && (*a)[strlen(k)] == '=')
                        json_object_array_add(attrs, attribute(k, *a + strlen(k) + 1));
        }
        json_object_object_add(res, "attributes", attrs);
        json_object_object_add(rs, "resource", res);
        json_object_object_add(scope_id, "name", json_object_new_string("sdloop"));
        json_object_object_add(scope_id, "version", json_object_new_string(SDLOOP_VERSION));
        json_object_object_add(scope, "scope", scope_id);
        json_object_object_add(scope, "spans", spans);
        json_object_array_add(scopes, scope);
        json_object_object_add(rs, "scopeSpans", scopes);
        *ret_spans = spans;
        return rs;
}

/* Up to @n (at most OTLP_BATCH_MAX) spans from the head, grouped into one resource per service. */
static char *batch_to_json(OtlpExporter *x, size_t n) {
        json_object *root = json_object_new_object(), *resources = json_object_new_array();
        /* The resources made so far: their service and their span list, in step with @resources. */
        const char *services[OTLP_BATCH_MAX];
        json_object *spans_of[OTLP_BATCH_MAX];
        size_t n_resources = 0;
        char *text;

        assert(n <= OTLP_BATCH_MAX);
        for (size_t i = 0; i < n; i++) {
                const OtlpSpan *s = &x->ring[(x->head + i) % OTLP_QUEUE_MAX];
                size_t k = 0;

                while (k < n_resources && !streq(services[k], s->service))
                        k++;
                if (k == n_resources) {
                        json_object_array_add(resources, resource_new(x, s->service, &spans_of[k]));
                        services[k] = s->service;
                        n_resources++;
                }
                json_object_array_add(spans_of[k], span_to_json(s));
        }
        json_object_object_add(root, "resourceSpans", resources);
        text = strdup(json_object_to_json_string_ext(root, JSON_C_TO_STRING_PLAIN));
        json_object_put(root);
        return text;
}

static void flush(OtlpExporter *x) {
        size_t n;

        if (x->n_posted > 0 || x->n == 0)
                return;
        n = MIN(x->n, (size_t) OTLP_BATCH_MAX);
        free(x->body);
        x->body = batch_to_json(x, n);
        if (!x->body) {
                log_oom();
                return;
        }
        if (curl_easy_setopt(x->easy, CURLOPT_POSTFIELDS, x->body) != CURLE_OK ||
            curl_easy_setopt(x->easy, CURLOPT_POSTFIELDSIZE, (long) strlen(x->body)) != CURLE_OK ||
            curl_event_add(x->curl, x->easy) < 0) {
                log_warning("Spans: cannot post to %s.", x->url);
                return;
        }
        x->n_posted = n;
}

static void on_posted(CurlEvent *ce, CURL *easy, CURLcode result, void *userdata) {
        OtlpExporter *x = userdata;
        long code = 0;
        size_t n = x->n_posted;

        (void) curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &code);
        x->n_posted = 0;
        /* Delivered or not, these spans are done with: a collector that is down loses them, not the queue. */
        x->head = (x->head + n) % OTLP_QUEUE_MAX;
        x->n -= n;
        if (result == CURLE_OK && code >= 200 && code < 300) {
                x->stats.spans_exported += n;
                if (x->warned)
                        log_info("Spans: %s accepts them again.", x->url);
                x->warned = false;
        } else {
                x->stats.posts_failed++;
                x->stats.spans_dropped += n;
                if (!x->warned)
                        log_warning("Spans: posting to %s failed (%s), %zu dropped; said once until it works again.",
                                    x->url, result != CURLE_OK ? curl_easy_strerror(result) : "HTTP error", n);
                x->warned = true;
        }
        if (x->n >= OTLP_BATCH_MAX)
                flush(x);
}

static int on_flush_timer(sd_event_source *s, uint64_t usec, void *userdata) {
        OtlpExporter *x = userdata;

        flush(x);
        (void) sd_event_source_set_time_relative(s, OTLP_FLUSH_USEC);
        (void) sd_event_source_set_enabled(s, SD_EVENT_ONESHOT);
        return 0;
}

static int on_journal(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        OtlpExporter *x = userdata;
        int r;

        (void) sd_journal_process(x->journal);
        while ((r = sd_journal_next(x->journal)) > 0) {
                OtlpSpan span;

                x->stats.spans_read++;
                if (entry_to_span(x->journal, &span) < 0) {
                        x->stats.spans_malformed++;
                        continue;
                }
                queue_push(x, &span);
        }
        if (r < 0)
                log_debug_errno(r, "Spans: reading the journal: %m");
        if (x->n >= OTLP_BATCH_MAX)
                flush(x);
        return 0;
}

OtlpExporter *otlp_exporter_free(OtlpExporter *x) {
        if (!x)
                return NULL;
        sd_event_source_disable_unref(x->journal_io);
        sd_event_source_disable_unref(x->flush_timer);
        curl_event_free(x->curl);
        if (x->easy)
                curl_easy_cleanup(x->easy);
        curl_slist_free_all(x->headers);
        sd_journal_close(x->journal);
        sd_event_unref(x->event);
        strv_free(x->attributes);
        free(x->ring);
        free(x->body);
        free(x->url);
        return mfree(x);
}

static void otlp_exporter_freep(OtlpExporter **x) {
        otlp_exporter_free(*x);
}

int otlp_exporter_new(sd_event *event, const char *target, const char *ca_path, bool user_journal,
                      char * const *attributes, OtlpExporter **ret) {
        _cleanup_(otlp_exporter_freep) OtlpExporter *x = NULL;
        char match[64];
        size_t n = strv_length(attributes);
        int r;

        x = new0(OtlpExporter, 1);
        if (!x)
                return -ENOMEM;
        x->event = sd_event_ref(event);
        if (asprintf(&x->url, "%.*s/v1/traces", (int) (strlen(target) - (strlen(target) > 0 &&
                                                                         target[strlen(target) - 1] == '/')),
                     target) < 0) {
                x->url = NULL;
                return -ENOMEM;
        }
        x->ring = new0(OtlpSpan, OTLP_QUEUE_MAX);
        x->attributes = new0(char *, n + 1);
        if (!x->ring || !x->attributes)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++)
                if (!(x->attributes[i] = strdup(attributes[i])))
                        return -ENOMEM;

        r = sd_journal_open(&x->journal, SD_JOURNAL_LOCAL_ONLY | (user_journal ? SD_JOURNAL_CURRENT_USER : SD_JOURNAL_SYSTEM));
        if (r < 0)
                return r;
        snprintf(match, sizeof(match), "MESSAGE_ID=%s", SDLOOP_SPAN_MESSAGE_ID);
        r = sd_journal_add_match(x->journal, match, 0);
        if (r < 0)
                return r;
        /* Only what comes from now on: the tail, then one step back so that next() finds the new. */
        r = sd_journal_seek_tail(x->journal);
        if (r >= 0)
                (void) sd_journal_previous(x->journal);
        r = sd_journal_get_fd(x->journal);
        if (r < 0)
                return r;
        r = sd_event_add_io(event, &x->journal_io, r, (uint32_t) sd_journal_get_events(x->journal), on_journal, x);
        if (r < 0)
                return r;
        (void) sd_event_source_set_description(x->journal_io, "otlp-journal");

        r = curl_event_new(event, "otlp-post", on_posted, x, &x->curl);
        if (r < 0)
                return r;
        x->easy = curl_easy_init();
        x->headers = curl_slist_append(NULL, "Content-Type: application/json");
        if (!x->easy || !x->headers)
                return -ENOMEM;
        if (curl_easy_setopt(x->easy, CURLOPT_URL, x->url) != CURLE_OK ||
            curl_easy_setopt(x->easy, CURLOPT_HTTPHEADER, x->headers) != CURLE_OK ||
            curl_easy_setopt(x->easy, CURLOPT_NOSIGNAL, 1L) != CURLE_OK ||
            curl_easy_setopt(x->easy, CURLOPT_TIMEOUT_MS, (long) (OTLP_POST_TIMEOUT_USEC / USEC_PER_MSEC)) != CURLE_OK ||
            curl_easy_setopt(x->easy, CURLOPT_PROTOCOLS_STR, "http,https") != CURLE_OK ||
            curl_easy_setopt(x->easy, CURLOPT_USERAGENT, "sdloop/" SDLOOP_VERSION) != CURLE_OK)
                return -EIO;
        /* CL_TRACING_TLS_CERT_PATH: the collector's certificate is checked against this CA, not the system's. */
        if (ca_path && curl_easy_setopt(x->easy, CURLOPT_CAINFO, ca_path) != CURLE_OK)
                return -EIO;
        if (ca_path && strncmp(x->url, "https://", 8) != 0)
                log_warning("CL_TRACING_TLS_CERT_PATH=%s is set, but the collector %s is not https://: no TLS.",
                            ca_path, target);

        r = sd_event_add_time_relative(event, &x->flush_timer, CLOCK_MONOTONIC, OTLP_FLUSH_USEC, 0, on_flush_timer, x);
        if (r < 0)
                return r;

        log_info("Spans from the journal go to %s.", x->url);
        *ret = TAKE_PTR(x);
        return 0;
}

void otlp_exporter_get_stats(OtlpExporter *x, OtlpStats *ret) {
        *ret = x->stats;
}
