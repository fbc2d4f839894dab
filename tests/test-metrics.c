/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* Metrics (sdloop-metrics.h): the call metrics of both sides counted exactly for known calls over a real
 * p2p connection (answered at once, failed, answered later, cancelled with the connection), the public
 * API for plugin authors, the exposition format (and `promtool check metrics` on it, where installed), and
 * org.sdloop1.Metrics.Collect() on the connection. */

#include <check.h>
#include <stdio.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include "macro.h"
#include "util.h"
#include "test-util.h"
#include "sdloop.h"

#define OBJECT_PATH "/org/sdloop1/test/metrics"

static sd_event *event;
static SdloopPeer *server, *client;
static SdloopObject *object;
static SdloopCall *later[4];
static unsigned n_later;

/* Epoch 1: answered at once. 2: NotFound at once. 3: answered later. 4: Timeout later. 5: never. */
static int observe(void *userdata, const SdloopReportTimestamp *ts, char **ret_value, sd_bus_error *error) {
        switch (ts->epoch) {
        case 1:
                *ret_value = test_strdup("1");
                return 0;
        case 2:
                return sdloop_error_setf(error, SDLOOP_ERROR_NOT_FOUND, "no observation");
        default:
                ck_assert_uint_lt(n_later, ELEMENTSOF(later));
                later[n_later] = sdloop_call_defer();
                ck_assert_ptr_nonnull(later[n_later]);
                n_later++;
                return 0;
        }
}

static const SdloopDataSourceOps data_source_ops = {
        .observe = observe,
};

typedef struct Reply {
        unsigned n;
        int r;
        sd_bus_message *message;
} Reply;

static void on_reply(SdloopPeer *peer, int r, sd_bus_message *message, sd_bus_error *error, void *userdata) {
        Reply *reply = userdata;

        reply->n++;
        reply->r = r;
        if (r >= 0)
                reply->message = sd_bus_message_ref(message);
}

#define RUN_UNTIL(cond)                                                                                   \
        do {                                                                                              \
                uint64_t _give_up = now_monotonic_usec() + 30 * USEC_PER_SEC;                             \
                while (!(cond)) {                                                                         \
                        ck_assert_msg(now_monotonic_usec() < _give_up, "gave up waiting for " #cond);     \
                        ck_assert_int_ge(sd_event_run(event, 100 * USEC_PER_MSEC), 0);                    \
                }                                                                                         \
        } while (0)

static void observe_async(uint32_t epoch, Reply *reply) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL;
        SdloopReportTimestamp ts = { .epoch = epoch };

        ck_assert_int_eq(sdloop_peer_new_call(client, OBJECT_PATH, "org.sdloop1.DataSource", "Observe", &m), 0);
        ck_assert_int_eq(sdloop_append_report_timestamp(m, &ts), 0);
        ck_assert_int_eq(sdloop_peer_call_async(client, m, NULL, on_reply, reply, NULL), 0);
}

static void setup(void) {
        int fds[2];

        ck_assert_int_eq(sd_event_new(&event), 0);
        ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds), 0);
        ck_assert_int_eq(sdloop_peer_new_server(event, fds[0], &server), 0);
        ck_assert_int_eq(sdloop_peer_new_client(event, fds[1], &client), 0);
        ck_assert_int_eq(sdloop_object_new_at(server, NULL, OBJECT_PATH, NULL, NULL, &object), 0);
        ck_assert_int_eq(sdloop_data_source_export(object, &data_source_ops, NULL), 0);
}

static void teardown(void) {
        for (unsigned i = 0; i < n_later; i++)
                later[i] = sdloop_call_unref(later[i]);
        client = sdloop_peer_unref(client);
        server = sdloop_peer_unref(server);
        event = sd_event_unref(event);
}

static char *render(void) {
        char *text = NULL;

        ck_assert_int_eq(sdloop_metrics_render(&text), 0);
        ck_assert_ptr_nonnull(text);
        return text;
}

/* The value of the sample line that starts with @series (name and labels, exactly), or -1 if none. */
static double sample(const char *text, const char *series) {
        size_t n = strlen(series);

        for (const char *l = text; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL)
                if (strncmp(l, series, n) == 0 && l[n] == ' ')
                        return strtod(l + n + 1, NULL);
        return -1;
}

#define OBSERVE_LABELS(side) "{side=\"" side "\",interface=\"org.sdloop1.DataSource\",member=\"Observe\""

static void assert_calls(const char *text, const char *side_labels, const char *outcome, double expected) {
        _cleanup_free_ char *series = NULL;

        ck_assert_int_ge(asprintf(&series, "sdloop_calls_total%s,outcome=\"%s\"}", side_labels, outcome), 0);
        ck_assert_msg(sample(text, series) == expected, "%s: expected %g, got %g in\n%s", series, expected,
                      sample(text, series), text);
}

/* promtool, where installed, checks the exposition as Prometheus reads it. */
static void promtool_check(const char *text) {
        FILE *f;
        int status;

        if (access("/usr/bin/promtool", X_OK) < 0) {
                fprintf(stderr, "promtool not installed: exposition checked by this test's own parsing only\n");
                return;
        }
        f = popen("/usr/bin/promtool check metrics", "w");
        ck_assert_ptr_nonnull(f);
        ck_assert_int_ge(fputs(text, f), 0);
        status = pclose(f);
        ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "promtool check metrics failed on\n%s", text);
}

START_TEST(test_call_counts) {
        _cleanup_free_ char *text = NULL;
        Reply r1[3] = {}, r2 = {}, r3 = {}, r4 = {}, r5 = {};

        setup();
        for (unsigned i = 0; i < ELEMENTSOF(r1); i++)
                observe_async(1, &r1[i]);
        observe_async(2, &r2);
        observe_async(3, &r3);
        observe_async(4, &r4);
        RUN_UNTIL(r1[2].n == 1 && r2.n == 1 && n_later == 2);

        /* Two calls wait on each side. */
        text = render();
        ck_assert(sample(text, "sdloop_calls_in_flight" OBSERVE_LABELS("server") "}") == 2);
        ck_assert_msg(sample(text, "sdloop_calls_in_flight" OBSERVE_LABELS("client") "}") == 2, "%.2000s", strstr(text, "in_flight") ?: text);
        assert_calls(text, OBSERVE_LABELS("server"), "ok", 3);
        assert_calls(text, OBSERVE_LABELS("server"), SDLOOP_ERROR_NOT_FOUND, 1);
        assert_calls(text, OBSERVE_LABELS("client"), "ok", 3);
        assert_calls(text, OBSERVE_LABELS("client"), SDLOOP_ERROR_NOT_FOUND, 1);
        text = mfree(text);

        ck_assert_int_eq(sdloop_data_source_observe_return(later[0], "3"), 0);
        ck_assert_int_eq(sdloop_call_return_errno(later[1], -ETIMEDOUT, "the node is slow"), 0);
        RUN_UNTIL(r3.n == 1 && r4.n == 1);
        ck_assert_int_eq(r3.r, 0);
        ck_assert_int_lt(r4.r, 0);

        /* A call still waiting when the connection goes is cancelled on both sides. */
        observe_async(5, &r5);
        RUN_UNTIL(n_later == 3);
        server = sdloop_peer_unref(server);
        RUN_UNTIL(r5.n == 1);

        text = render();
        assert_calls(text, OBSERVE_LABELS("server"), "ok", 4);
        assert_calls(text, OBSERVE_LABELS("server"), SDLOOP_ERROR_NOT_FOUND, 1);
        assert_calls(text, OBSERVE_LABELS("server"), SDLOOP_ERROR_TIMEOUT, 1);
        assert_calls(text, OBSERVE_LABELS("server"), "cancelled", 1);
        assert_calls(text, OBSERVE_LABELS("client"), "ok", 4);
        assert_calls(text, OBSERVE_LABELS("client"), SDLOOP_ERROR_NOT_FOUND, 1);
        assert_calls(text, OBSERVE_LABELS("client"), SDLOOP_ERROR_TIMEOUT, 1);
        assert_calls(text, OBSERVE_LABELS("client"), SDLOOP_ERROR_PLUGIN_UNAVAILABLE, 1);
        ck_assert(sample(text, "sdloop_calls_in_flight" OBSERVE_LABELS("server") "}") == 0);
        ck_assert(sample(text, "sdloop_calls_in_flight" OBSERVE_LABELS("client") "}") == 0);
        /* Every answered call is in the histogram, in the +Inf bucket at least. */
        ck_assert(sample(text, "sdloop_call_duration_seconds_count" OBSERVE_LABELS("server") "}") == 7);
        ck_assert(sample(text, "sdloop_call_duration_seconds_bucket" OBSERVE_LABELS("server") ",le=\"+Inf\"}") == 7);
        ck_assert(sample(text, "sdloop_call_duration_seconds_bucket" OBSERVE_LABELS("client") ",le=\"120\"}") == 7);
        promtool_check(text);

        for (unsigned i = 0; i < ELEMENTSOF(r1); i++)
                sd_bus_message_unref(r1[i].message);
        sd_bus_message_unref(r3.message);
        teardown();
}
END_TEST

START_TEST(test_collect_on_the_connection) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL;
        Reply rc = {}, r1 = {};
        const char *text;

        setup();
        observe_async(1, &r1);
        RUN_UNTIL(r1.n == 1);

        ck_assert_int_eq(sdloop_peer_new_call(client, SDLOOP_ROOT_PATH, "org.sdloop1.Metrics", "Collect", &m), 0);
        ck_assert_int_eq(sdloop_peer_call_async(client, m, NULL, on_reply, &rc, NULL), 0);
        RUN_UNTIL(rc.n == 1);
        ck_assert_int_eq(rc.r, 0);
        ck_assert_int_gt(sd_bus_message_read(rc.message, "s", &text), 0);
        assert_calls(text, OBSERVE_LABELS("server"), "ok", 1);
        ck_assert(sample(text, "sdloop_connections") == 2);
        ck_assert(sample(text, "sdloop_objects") >= 1);
        promtool_check(text);

        sd_bus_message_unref(rc.message);
        sd_bus_message_unref(r1.message);
        teardown();
}
END_TEST

START_TEST(test_public_api) {
        static const char * const labels[] = { "source", "reason", NULL };
        static const double buckets[] = { 0.5, 1, 2 };
        SdloopMetric *failures, *again, *latest, *size;
        SdloopMetricSeries *s, *g, *h;
        _cleanup_free_ char *text = NULL;

        ck_assert_int_eq(sdloop_metric_register(SDLOOP_METRIC_COUNTER, "feed_source_failures_total",
                                                "Data source failures.\nBy source.", labels, NULL, 0, &failures), 0);
        ck_assert_int_eq(sdloop_metric_register(SDLOOP_METRIC_COUNTER, "feed_source_failures_total", "",
                                                labels, NULL, 0, &again), 0);
        ck_assert_ptr_eq(failures, again);
        /* The same name with another type, or other labels: refused. */
        ck_assert_int_eq(sdloop_metric_register(SDLOOP_METRIC_GAUGE, "feed_source_failures_total", "", labels, NULL,
                                                0, &again), -EEXIST);
        ck_assert_int_eq(sdloop_metric_register(SDLOOP_METRIC_COUNTER, "feed_source_failures_total", "", NULL, NULL,
                                                0, &again), -EEXIST);
        ck_assert_int_eq(sdloop_metric_register(SDLOOP_METRIC_COUNTER, "2bad", "", NULL, NULL, 0, &again), -EINVAL);
        ck_assert_int_eq(sdloop_metric_register(SDLOOP_METRIC_COUNTER, "bad-name", "", NULL, NULL, 0, &again), -EINVAL);
        ck_assert_int_eq(sdloop_metric_register(SDLOOP_METRIC_COUNTER, "x_total", "",
                                                (const char * const[]) { "le", NULL }, NULL, 0, &again), -EINVAL);
        ck_assert_int_eq(sdloop_metric_register(SDLOOP_METRIC_COUNTER, "x_total", "",
                                                (const char * const[]) { "__x", NULL }, NULL, 0, &again), -EINVAL);
        ck_assert_int_eq(sdloop_metric_register(SDLOOP_METRIC_HISTOGRAM, "x_seconds", "", NULL,
                                                (const double[]) { 2, 1 }, 2, &again), -EINVAL);
        ck_assert_int_eq(sdloop_metric_register(SDLOOP_METRIC_GAUGE, "x", "", NULL, buckets, 3, &again), -EINVAL);

        s = sdloop_metric_series(failures, (const char * const[]) { "http \"A\"\\", "timeout\n", NULL });
        ck_assert_ptr_nonnull(s);
        ck_assert_ptr_eq(s, sdloop_metric_series(failures, (const char * const[]) { "http \"A\"\\", "timeout\n", NULL }));
        sdloop_metric_add(s, 2);
        sdloop_metric_add(s, -5); /* counters only go up */
        sdloop_metric_set(s, 100); /* …and are not set */
        ck_assert(sdloop_metric_get(s) == 2);
        ck_assert_ptr_null(sdloop_metric_series(failures, NULL));

        ck_assert_int_eq(sdloop_metric_register(SDLOOP_METRIC_GAUGE, "feed_latest_answer", "The latest answer.",
                                                NULL, NULL, 0, &latest), 0);
        g = sdloop_metric_series(latest, NULL);
        sdloop_metric_set(g, 1.5);
        sdloop_metric_add(g, -3);

        ck_assert_int_eq(sdloop_metric_register(SDLOOP_METRIC_HISTOGRAM, "feed_round_duration_seconds", "Rounds.",
                                                NULL, buckets, ELEMENTSOF(buckets), &size), 0);
        h = sdloop_metric_series(size, NULL);
        sdloop_metric_observe(h, 0.25);
        sdloop_metric_observe(h, 0.5); /* le is inclusive */
        sdloop_metric_observe(h, 1.5);
        sdloop_metric_observe(h, 7);
        /* Wrong kinds are ignored, NULL is fine. */
        sdloop_metric_observe(g, 1);
        sdloop_metric_add(NULL, 1);

        text = render();
        ck_assert_ptr_nonnull(strstr(text, "# HELP feed_source_failures_total Data source failures.\\nBy source.\n"
                                           "# TYPE feed_source_failures_total counter\n"
                                           "feed_source_failures_total{source=\"http \\\"A\\\"\\\\\",reason=\"timeout\\n\"} 2\n"));
        ck_assert_ptr_nonnull(strstr(text, "# TYPE feed_latest_answer gauge\nfeed_latest_answer -1.5\n"));
        ck_assert_ptr_nonnull(strstr(text, "feed_round_duration_seconds_bucket{le=\"0.5\"} 2\n"
                                           "feed_round_duration_seconds_bucket{le=\"1\"} 2\n"
                                           "feed_round_duration_seconds_bucket{le=\"2\"} 3\n"
                                           "feed_round_duration_seconds_bucket{le=\"+Inf\"} 4\n"
                                           "feed_round_duration_seconds_sum 9.25\n"
                                           "feed_round_duration_seconds_count 4\n"));
        promtool_check(text);
}
END_TEST

int main(void) {
        Suite *s = suite_create("metrics");
        TCase *tc = tcase_create("metrics");
        SRunner *sr;
        int failed;

        tcase_set_timeout(tc, 60);
        tcase_add_test(tc, test_call_counts);
        tcase_add_test(tc, test_collect_on_the_connection);
        tcase_add_test(tc, test_public_api);
        suite_add_tcase(s, tc);
        sr = srunner_create(s);
        srunner_run_all(sr, CK_NORMAL);
        failed = srunner_ntests_failed(sr);
        srunner_free(sr);
        return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
