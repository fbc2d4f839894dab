/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* sdloopd's exposition merger (src/sdloopd/metrics-text.c) on what plugins may hand it: families grouped
 * across plugins, the plugin label ahead of theirs (a plugin's own "plugin" label renamed), and every kind of
 * malformed text refused whole, with the line named. */

#include <check.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "macro.h"
#include "metrics-text.h"

static char *render(MetricsText *t) {
        char *s = NULL;
        size_t n;

        ck_assert_int_eq(metrics_text_render(t, &s, &n), 0);
        ck_assert_uint_eq(strlen(s), n);
        return s;
}

static int merge(MetricsText *t, const char *text, const char *plugin, unsigned *line) {
        return metrics_text_merge(t, text, strlen(text), "plugin", plugin, line);
}

START_TEST(test_grouped) {
        _cleanup_(metrics_text_freep) MetricsText *t = NULL;
        _cleanup_free_ char *out = NULL;
        const char *a = "# HELP calls_total Calls.\n# TYPE calls_total counter\ncalls_total{member=\"Observation\"} 3\n"
                        "# TYPE lat_seconds histogram\nlat_seconds_bucket{le=\"0.001\"} 1\nlat_seconds_bucket{le=\"+Inf\"} 2\n"
                        "lat_seconds_sum 0.5\nlat_seconds_count 2\n";
        const char *b = "# TYPE calls_total counter\ncalls_total{member=\"Report\"} 7 1700000000000\n";

        ck_assert_int_eq(metrics_text_new(&t), 0);
        ck_assert_int_eq(merge(t, a, "median", NULL), 0);
        ck_assert_int_eq(merge(t, b, "led\"ger", NULL), 0);
        out = render(t);
        ck_assert_str_eq(out,
                         "# HELP calls_total Calls.\n# TYPE calls_total counter\n"
                         "calls_total{plugin=\"median\",member=\"Observation\"} 3\n"
                         "calls_total{plugin=\"led\\\"ger\",member=\"Report\"} 7\n"
                         "# TYPE lat_seconds histogram\n"
                         "lat_seconds_bucket{plugin=\"median\",le=\"0.001\"} 1\n"
                         "lat_seconds_bucket{plugin=\"median\",le=\"+Inf\"} 2\n"
                         "lat_seconds_sum{plugin=\"median\"} 0.5\nlat_seconds_count{plugin=\"median\"} 2\n");
}
END_TEST

START_TEST(test_own_label_renamed) {
        _cleanup_(metrics_text_freep) MetricsText *t = NULL;
        _cleanup_free_ char *out = NULL;

        ck_assert_int_eq(metrics_text_new(&t), 0);
        ck_assert_int_eq(merge(t, "x{plugin=\"other\",a=\"b\\\\c\"} NaN\ny +Inf\n", "p", NULL), 0);
        out = render(t);
        ck_assert_str_eq(out, "# TYPE x untyped\nx{plugin=\"p\",exported_plugin=\"other\",a=\"b\\\\c\"} NaN\n"
                              "# TYPE y untyped\ny{plugin=\"p\"} +Inf\n");
}
END_TEST

START_TEST(test_refused_whole) {
        static const struct {
                const char *text;
                unsigned line;
        } bad[] = {
                { "ok 1\n1bad 2\n", 2 },
                { "ok 1\nx{a=\"unterminated} 1\n", 2 },
                { "x{a=b} 1\n", 1 },
                { "x{a=\"\\q\"} 1\n", 1 },
                { "x 1 2 3\n", 1 },
                { "x inf\n", 1 },
                { "x 0x10\n", 1 },
                { "x\n", 1 },
                { "x{a=\"1\"}1\n", 1 },
                { "# TYPE x bogus\n", 1 },
                { "x 1\n# TYPE x counter\n", 2 },
                { "x 1\r\n", 1 },
                { "# TYPE 9x counter\n", 1 },
        };

        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                _cleanup_(metrics_text_freep) MetricsText *t = NULL;
                _cleanup_free_ char *out = NULL;
                unsigned line = 99;

                ck_assert_int_eq(metrics_text_new(&t), 0);
                ck_assert_int_eq(metrics_text_family(t, "mine", "gauge", "Mine."), 0);
                ck_assert_int_eq(metrics_text_sample(t, "mine", "mine", NULL, 1), 0);
                ck_assert_msg(merge(t, bad[i].text, "p", &line) == -EBADMSG, "accepted: %s", bad[i].text);
                ck_assert_msg(line == bad[i].line, "%s: line %u, expected %u", bad[i].text, line, bad[i].line);
                /* Nothing of it was taken. */
                out = render(t);
                ck_assert_str_eq(out, "# HELP mine Mine.\n# TYPE mine gauge\nmine 1\n");
        }
}
END_TEST

START_TEST(test_type_conflict_and_bounds) {
        _cleanup_(metrics_text_freep) MetricsText *t = NULL;
        _cleanup_free_ char *big = NULL;
        unsigned line;

        ck_assert_int_eq(metrics_text_new(&t), 0);
        ck_assert_int_eq(metrics_text_family(t, "sdloop_plugin_memory_bytes", "gauge", "Memory."), 0);
        /* A plugin cannot redeclare sdloopd's families with another type… */
        ck_assert_int_eq(merge(t, "# TYPE sdloop_plugin_memory_bytes counter\nsdloop_plugin_memory_bytes 1\n", "p",
                               &line), -EBADMSG);
        ck_assert_int_eq(metrics_text_family(t, "sdloop_plugin_memory_bytes", "counter", NULL), -EEXIST);
        ck_assert_int_eq(metrics_text_family(t, "x", "nonsense", NULL), -EINVAL);
        /* …nor hand over more than the bound, nor a NUL. */
        big = malloc(METRICS_TEXT_SOURCE_MAX + 1);
        ck_assert_ptr_nonnull(big);
        memset(big, '#', METRICS_TEXT_SOURCE_MAX + 1);
        ck_assert_int_eq(metrics_text_merge(t, big, METRICS_TEXT_SOURCE_MAX + 1, "plugin", "p", &line), -E2BIG);
        ck_assert_int_eq(metrics_text_merge(t, "x 1\0y 2\n", 8, "plugin", "p", &line), -EBADMSG);
        /* Comments other than HELP and TYPE are nobody's business. */
        ck_assert_int_eq(merge(t, "# anything at all\n\nz 1\n", "p", &line), 0);
}
END_TEST

START_TEST(test_label_escape) {
        char buf[16];

        ck_assert_str_eq(metrics_label_escape("a\"b\\c\nd", buf, sizeof(buf)), "a\\\"b\\\\c\\nd");
        /* Cut short, never in the middle of an escape. */
        ck_assert_str_eq(metrics_label_escape("\"\"\"\"\"\"\"\"\"\"", buf, 8), "\\\"\\\"\\\"");
}
END_TEST

int main(void) {
        Suite *s = suite_create("metrics-text");
        TCase *tc = tcase_create("merge");
        SRunner *sr;
        int n_failed;

        tcase_add_test(tc, test_grouped);
        tcase_add_test(tc, test_own_label_renamed);
        tcase_add_test(tc, test_refused_whole);
        tcase_add_test(tc, test_type_conflict_and_bounds);
        tcase_add_test(tc, test_label_escape);
        suite_add_tcase(s, tc);

        sr = srunner_create(s);
        srunner_run_all(sr, CK_ENV);
        n_failed = srunner_ntests_failed(sr);
        srunner_free(sr);
        return n_failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
