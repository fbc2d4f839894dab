/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* The call context across the wire (LOOP's ContextValues and a W3C trace context): a caller ("sdloopd")
 * calls a provider through a proxy, as the host passes a relayer's provider to a median plugin:
 *
 *   caller --(socketpair)--> proxy on the host --(socketpair)--> provider
 *
 * The provider's operation sees the caller's values and trace, logs, defers, makes a call of its own
 * without a context (to an object on the caller's side), and answers from that call's reply handler,
 * logging again: both log lines carry the caller's JOB_ID … TRANSMITTER_ID and TRACE_ID. With tracing on,
 * every call is a span, and the spans chain: root → caller's client span → proxy's client span → the
 * provider's server span → its own client span → the caller's server span. Log lines are read from the
 * stderr target, where the fields follow the message. */

#include <check.h>
#include <stdio.h>
#include <sys/socket.h>

#include "macro.h"
#include "util.h"
#include "test-util.h"
#include "sdloop.h"

#define PROVIDER_PATH "/org/sdloop1/provider/1"
#define PROXY_PATH    "/org/sdloop1/host/provider/1"
#define UPSTREAM_PATH "/org/sdloop1/host/data_source/1"

static sd_event *event;
static SdloopPeer *caller, *host_in, *host_out, *provider;
static SdloopProxy *proxy;
static SdloopCall *pending;
static FILE *log_file;
static char seen_job[64], seen_trace[SDLOOP_TRACE_ID_SIZE], upstream_job[64], upstream_trace[SDLOOP_TRACE_ID_SIZE];

static void on_upstream_reply(SdloopPeer *peer, int r, sd_bus_message *reply, sd_bus_error *error, void *userdata) {
        ck_assert_int_eq(r, 0);
        /* Still the provider's call: its context is current in the reply handler. */
        sdloop_log_full_errno(LOG_INFO, 0, "answering later");
        ck_assert_int_eq(sdloop_data_source_observe_return(pending, "42"), 0);
        pending = sdloop_call_unref(pending);
}

/* The provider: sees the caller's context, asks upstream without passing one, answers later. */
static int provider_observe(void *userdata, const SdloopReportTimestamp *ts, char **ret, sd_bus_error *error) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL;
        SdloopContext *c = sdloop_call_get_context(sdloop_call_current());
        SdloopReportTimestamp up = { .epoch = 9 };

        ck_assert_ptr_eq(c, sdloop_context_current());
        (void) snprintf(seen_job, sizeof(seen_job), "%s", strempty(sdloop_context_get_value(c, SDLOOP_LOG_JOB_ID)));
        if (sdloop_context_get_trace_id(c, seen_trace) < 0)
                seen_trace[0] = 0;
        sdloop_log_full_errno(LOG_INFO, 0, "observing");

        pending = sdloop_call_defer();
        ck_assert_ptr_nonnull(pending);
        ck_assert_int_eq(sdloop_peer_new_call(provider, UPSTREAM_PATH, "org.sdloop1.DataSource", "Observe", &m), 0);
        ck_assert_int_eq(sdloop_append_report_timestamp(m, &up), 0);
        ck_assert_int_eq(sdloop_peer_call_async(provider, m, NULL, on_upstream_reply, NULL, NULL), 0);
        return 0;
}

/* The caller's own data source, which the provider asks. */
static int upstream_observe(void *userdata, const SdloopReportTimestamp *ts, char **ret, sd_bus_error *error) {
        SdloopContext *c = sdloop_context_current();

        (void) snprintf(upstream_job, sizeof(upstream_job), "%s",
                        strempty(sdloop_context_get_value(c, SDLOOP_LOG_JOB_ID)));
        if (sdloop_context_get_trace_id(c, upstream_trace) < 0)
                upstream_trace[0] = 0;
        *ret = test_strdup("7");
        return 0;
}

static const SdloopDataSourceOps provider_ops = { .observe = provider_observe };
static const SdloopDataSourceOps upstream_ops = { .observe = upstream_observe };

typedef struct Reply {
        unsigned n;
        int r;
} Reply;

static void on_reply(SdloopPeer *peer, int r, sd_bus_message *reply, sd_bus_error *error, void *userdata) {
        Reply *x = userdata;

        x->n++;
        x->r = r;
}

#define RUN_UNTIL(cond)                                                                                   \
        do {                                                                                              \
                uint64_t _give_up = now_monotonic_usec() + 30 * USEC_PER_SEC;                             \
                while (!(cond)) {                                                                         \
                        ck_assert_msg(now_monotonic_usec() < _give_up, "gave up waiting for " #cond);     \
                        ck_assert_int_ge(sd_event_run(event, 100 * USEC_PER_MSEC), 0);                    \
                }                                                                                         \
        } while (0)

static void setup(void) {
        SdloopObject *o;
        int a[2], b[2];

        /* Log lines to a file of ours, fields and all. */
        log_file = tmpfile();
        ck_assert_ptr_nonnull(log_file);
        ck_assert_int_ge(dup2(fileno(log_file), STDERR_FILENO), 0);
        setvbuf(stderr, NULL, _IONBF, 0);
        sdloop_log_set_target(SDLOOP_LOG_TARGET_STDERR);
        sdloop_log_set_max_level(LOG_INFO);

        ck_assert_int_eq(sd_event_new(&event), 0);
        ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, a), 0);
        ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, b), 0);
        ck_assert_int_eq(sdloop_peer_new_server(event, a[0], &host_in), 0);
        ck_assert_int_eq(sdloop_peer_new_client(event, a[1], &caller), 0);
        ck_assert_int_eq(sdloop_peer_new_server(event, b[0], &provider), 0);
        ck_assert_int_eq(sdloop_peer_new_client(event, b[1], &host_out), 0);

        ck_assert_int_eq(sdloop_object_new_at(provider, NULL, PROVIDER_PATH, NULL, NULL, &o), 0);
        ck_assert_int_eq(sdloop_data_source_export(o, &provider_ops, NULL), 0);
        /* The provider's upstream, served on the host's connection to it. */
        ck_assert_int_eq(sdloop_object_new_at(host_out, NULL, UPSTREAM_PATH, NULL, NULL, &o), 0);
        ck_assert_int_eq(sdloop_data_source_export(o, &upstream_ops, NULL), 0);
        ck_assert_int_eq(sdloop_proxy_new(host_in, PROXY_PATH, host_out, PROVIDER_PATH, &proxy), 0);
}

static void teardown(void) {
        proxy = sdloop_proxy_free(proxy);
        caller = sdloop_peer_unref(caller);
        host_in = sdloop_peer_unref(host_in);
        host_out = sdloop_peer_unref(host_out);
        provider = sdloop_peer_unref(provider);
        event = sd_event_unref(event);
        fclose(log_file);
}

static char *read_log(void) {
        char *buf;
        long n;

        fflush(log_file);
        n = ftell(log_file);
        ck_assert_int_ge(n, 0);
        buf = new0(char, n + 1);
        ck_assert_ptr_nonnull(buf);
        rewind(log_file);
        ck_assert_uint_eq(fread(buf, 1, n, log_file), (size_t) n);
        return buf;
}

/* The line containing @needle, copied (NULL: none). */
static char *find_line(const char *log, const char *needle) {
        const char *p = strstr(log, needle), *b, *e;
        char *l;

        if (!p)
                return NULL;
        for (b = p; b > log && b[-1] != '\n'; b--)
                ;
        e = strchrnul(p, '\n');
        l = strndup(b, e - b);
        ck_assert_ptr_nonnull(l);
        return l;
}

/* The value of FIELD= in a line (up to the next space or brace), copied. */
static char *field(const char *line, const char *name) {
        _cleanup_free_ char *key = NULL;
        const char *p;

        ck_assert_int_ge(asprintf(&key, " %s=", name), 0);
        p = strstr(line, key);
        if (!p) {
                key[0] = '{';
                p = strstr(line, key);
        }
        if (!p)
                return NULL;
        p += strlen(key);
        return strndup(p, strcspn(p, " }"));
}

static void call_through_proxy(SdloopContext *ctx, Reply *reply) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL;
        SdloopReportTimestamp ts = { .epoch = 1 };

        ck_assert_int_eq(sdloop_peer_new_call(caller, PROXY_PATH, "org.sdloop1.DataSource", "Observe", &m), 0);
        ck_assert_int_eq(sdloop_append_report_timestamp(m, &ts), 0);
        ck_assert_int_eq(sdloop_peer_call_async(caller, m, ctx, on_reply, reply, NULL), 0);
}

static void assert_context_fields(const char *line, const char *trace_id) {
        static const struct { const char *name, *value; } expected[] = {
                { "JOB_ID", "job-7" },
                { "JOB_NAME", "eth-usd median" },
                { "CONTRACT_ID", "0xfeed" },
                { "FEED_ID", "eth-usd" },
                { "TRANSMITTER_ID", "0xt1" },
        };

        ck_assert_ptr_nonnull(line);
        for (size_t i = 0; i < ELEMENTSOF(expected); i++) {
                _cleanup_free_ char *v = field(line, expected[i].name);

                /* JOB_NAME has a space: compare its start. */
                ck_assert_msg(v && strncmp(expected[i].value, v, strlen(v)) == 0, "%s: %s in %s", expected[i].name,
                              strempty(v), line);
        }
        {
                _cleanup_free_ char *t = field(line, "TRACE_ID");

                ck_assert_msg(t && streq(t, trace_id), "TRACE_ID %s, expected %s in %s", strempty(t), trace_id, line);
        }
}

START_TEST(test_values_and_trace_through_the_proxy) {
        _cleanup_(sdloop_context_unrefp) SdloopContext *ctx = NULL;
        _cleanup_free_ char *log = NULL, *l1 = NULL, *l2 = NULL;
        char trace_id[SDLOOP_TRACE_ID_SIZE];
        Reply reply = {};

        setup();
        ck_assert_int_eq(sdloop_context_new(&ctx), 0);
        ck_assert_int_eq(sdloop_context_set_value(ctx, SDLOOP_LOG_JOB_ID, "job-7"), 0);
        ck_assert_int_eq(sdloop_context_set_value(ctx, SDLOOP_LOG_JOB_NAME, "eth-usd median"), 0);
        ck_assert_int_eq(sdloop_context_set_value(ctx, SDLOOP_LOG_CONTRACT_ID, "0xfeed"), 0);
        ck_assert_int_eq(sdloop_context_set_value(ctx, SDLOOP_LOG_FEED_ID, "eth-usd"), 0);
        ck_assert_int_eq(sdloop_context_set_value(ctx, SDLOOP_LOG_TRANSMITTER_ID, "0xt1"), 0);
        ck_assert_int_eq(sdloop_context_start_trace(ctx, 0), 0); /* not sampled: no spans, ids still travel */
        ck_assert_int_eq(sdloop_context_get_trace_id(ctx, trace_id), 0);

        call_through_proxy(ctx, &reply);
        RUN_UNTIL(reply.n == 1);
        ck_assert_int_eq(reply.r, 0);

        ck_assert_str_eq(seen_job, "job-7");
        ck_assert_str_eq(seen_trace, trace_id);
        /* The provider's own call, made with no context, carried its caller's. */
        ck_assert_str_eq(upstream_job, "job-7");
        ck_assert_str_eq(upstream_trace, trace_id);

        log = read_log();
        l1 = find_line(log, "observing");
        l2 = find_line(log, "answering later");
        assert_context_fields(l1, trace_id);
        assert_context_fields(l2, trace_id);
        ck_assert_msg(!strstr(log, "span "), "spans of an unsampled trace in\n%s", log);
        teardown();
}
END_TEST

/* The span line of @name and @kind. */
static char *span_line(const char *log, const char *name, const char *kind) {
        _cleanup_free_ char *needle = NULL;

        ck_assert_int_ge(asprintf(&needle, "span %s %s ", name, kind), 0);
        return find_line(log, needle);
}

START_TEST(test_spans_chain) {
        _cleanup_(sdloop_context_unrefp) SdloopContext *ctx = NULL;
        _cleanup_free_ char *log = NULL, *c1 = NULL, *p1 = NULL, *s1 = NULL, *c2 = NULL, *s2 = NULL, *root = NULL;
        char trace_id[SDLOOP_TRACE_ID_SIZE], tp[SDLOOP_TRACEPARENT_SIZE];
        Reply reply = {};
        uint64_t start;

        setup();
        sdloop_tracing_set_enabled(true);
        ck_assert_int_eq(sdloop_context_new(&ctx), 0);
        ck_assert_int_eq(sdloop_context_start_trace(ctx, 1), 0);
        ck_assert(sdloop_context_is_sampled(ctx));
        ck_assert_int_eq(sdloop_context_get_trace_id(ctx, trace_id), 0);
        ck_assert_int_eq(sdloop_context_get_traceparent(ctx, tp), 0);
        ck_assert(strncmp(tp + 3, trace_id, 32) == 0);
        ck_assert_str_eq(tp + 52, "-01");
        start = now_monotonic_usec();

        call_through_proxy(ctx, &reply);
        RUN_UNTIL(reply.n == 1);
        ck_assert_int_eq(reply.r, 0);
        ck_assert_int_eq(sdloop_context_end_span(ctx, "feed.round", start, NULL), 0);

        log = read_log();
        /* Every process of the real thing is one process here: client spans of the caller and the proxy, in
         * the order they end: the upstream call's server and client spans, the provider's server span, the
         * proxy's and the caller's client spans, and the root. */
        s2 = span_line(log, "org.sdloop1.DataSource.Observe", "server");
        c1 = NULL;
        {
                /* Two client spans of Observe end before the caller's: the provider's own, then the proxy's. */
                const char *p = log;
                char *lines[3] = {};
                size_t n = 0;

                while ((p = strstr(p, "span org.sdloop1.DataSource.Observe client ")) && n < 3) {
                        lines[n++] = find_line(p, "span org.sdloop1.DataSource.Observe client ");
                        p++;
                }
                ck_assert_msg(n == 3, "expected 3 client spans in\n%s", log);
                c2 = lines[0]; /* the provider's call upstream */
                p1 = lines[1]; /* the proxy's */
                c1 = lines[2]; /* the caller's */
        }
        {
                const char *p = log;
                char *lines[2] = {};
                size_t n = 0;

                while ((p = strstr(p, "span org.sdloop1.DataSource.Observe server ")) && n < 2) {
                        lines[n++] = find_line(p, "span org.sdloop1.DataSource.Observe server ");
                        p++;
                }
                ck_assert_msg(n == 2, "expected 2 server spans in\n%s", log);
                free(s2);
                s2 = lines[0]; /* the upstream's */
                s1 = lines[1]; /* the provider's */
        }
        root = span_line(log, "feed.round", "internal");
        ck_assert_ptr_nonnull(root);

#define ID(line, f) ({ char *_v = field(line, f); ck_assert_msg(_v, "no %s in %s", f, line); _v; })
        {
                _cleanup_free_ char *root_id = ID(root, "SPAN_ID"), *c1_id = ID(c1, "SPAN_ID"),
                        *c1_parent = ID(c1, "PARENT_SPAN_ID"), *p1_id = ID(p1, "SPAN_ID"),
                        *p1_parent = ID(p1, "PARENT_SPAN_ID"), *s1_id = ID(s1, "SPAN_ID"),
                        *s1_parent = ID(s1, "PARENT_SPAN_ID"), *c2_id = ID(c2, "SPAN_ID"),
                        *c2_parent = ID(c2, "PARENT_SPAN_ID"), *s2_parent = ID(s2, "PARENT_SPAN_ID");
                char *lines[] = { root, c1, p1, s1, c2, s2 };

                ck_assert_ptr_null(field(root, "PARENT_SPAN_ID"));
                ck_assert_str_eq(c1_parent, root_id);
                ck_assert_str_eq(p1_parent, c1_id);
                ck_assert_str_eq(s1_parent, p1_id);
                ck_assert_str_eq(c2_parent, s1_id);
                ck_assert_str_eq(s2_parent, c2_id);
                for (size_t i = 0; i < ELEMENTSOF(lines); i++) {
                        _cleanup_free_ char *t = ID(lines[i], "TRACE_ID"), *o = ID(lines[i], "SPAN_OUTCOME");

                        ck_assert_str_eq(t, trace_id);
                        ck_assert_str_eq(o, "ok");
                }
        }
#undef ID
        teardown();
}
END_TEST

START_TEST(test_values_and_traceparent_checked) {
        _cleanup_(sdloop_context_unrefp) SdloopContext *ctx = NULL;
        char big[300];

        ck_assert_int_eq(sdloop_context_new(&ctx), 0);
        memset(big, 'x', sizeof(big) - 1);
        big[sizeof(big) - 1] = 0;
        ck_assert_int_eq(sdloop_context_set_value(ctx, SDLOOP_LOG_JOB_ID, big), -EINVAL);
        ck_assert_int_eq(sdloop_context_set_value(ctx, SDLOOP_LOG_JOB_ID, "\xff"), -EINVAL);
        ck_assert_int_eq(sdloop_context_set_value(ctx, _SDLOOP_LOG_CONTEXT_MAX, "x"), -EINVAL);
        ck_assert_int_eq(sdloop_context_start_trace(ctx, 1.5), -EINVAL);
        ck_assert_int_eq(sdloop_context_start_trace(ctx, -0.1), -EINVAL);

        ck_assert_int_eq(sdloop_context_set_traceparent(ctx, "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"), 0);
        ck_assert(sdloop_context_is_sampled(ctx));
        ck_assert_int_eq(sdloop_context_set_traceparent(ctx, "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00"), 0);
        ck_assert(!sdloop_context_is_sampled(ctx));
        /* Uppercase, all-zero ids, another version, the wrong length. */
        ck_assert_int_eq(sdloop_context_set_traceparent(ctx, "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01"), -EINVAL);
        ck_assert_int_eq(sdloop_context_set_traceparent(ctx, "00-00000000000000000000000000000000-00f067aa0ba902b7-01"), -EINVAL);
        ck_assert_int_eq(sdloop_context_set_traceparent(ctx, "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01"), -EINVAL);
        ck_assert_int_eq(sdloop_context_set_traceparent(ctx, "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"), -EINVAL);
        ck_assert_int_eq(sdloop_context_set_traceparent(ctx, "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-1"), -EINVAL);
}
END_TEST

int main(void) {
        Suite *s = suite_create("context");
        TCase *tc = tcase_create("context");
        SRunner *sr;
        int failed;

        tcase_set_timeout(tc, 60);
        tcase_add_test(tc, test_values_and_trace_through_the_proxy);
        tcase_add_test(tc, test_spans_chain);
        tcase_add_test(tc, test_values_and_traceparent_checked);
        suite_add_tcase(s, tc);
        sr = srunner_create(s);
        srunner_run_all(sr, CK_NORMAL);
        failed = srunner_ntests_failed(sr);
        srunner_free(sr);
        return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
