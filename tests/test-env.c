/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* EnvConfig (sdloop-env.h): every variable round-trips through to_env() and parse(); every bad value is
 * refused with the variable's name; and a plugin started with a bad one refuses to start, saying so. */

#include <check.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/wait.h>

#include "macro.h"
#include "test-util.h"
#include "sdloop.h"

START_TEST(test_round_trip) {
        _cleanup_(sdloop_env_config_done) SdloopEnvConfig c = {}, back = {};
        _cleanup_strv_free_ char **env = NULL;
        char *attributes[] = { "node=oracle-1", "region.zone=eu-1 a", NULL };

        sdloop_env_config_init(&c);
        c.instance = test_strdup("median-1");
        c.log_level = LOG_DEBUG;
        c.metrics = false;
        c.call_timeout_usec = 2500000;
        c.tracing_enabled = true;
        c.tracing_collector_target = test_strdup("collector.example:4318");
        c.tracing_sampling_ratio = 0.1;
        c.tracing_tls_cert_path = test_strdup("/etc/ssl/collector.pem");
        c.tracing_attributes = calloc(3, sizeof(char *));
        ck_assert_ptr_nonnull(c.tracing_attributes);
        for (size_t i = 0; attributes[i]; i++)
                c.tracing_attributes[i] = test_strdup(attributes[i]);

        ck_assert_int_eq(sdloop_env_config_to_env(&c, &env), 0);
        ck_assert_int_eq(sdloop_env_config_parse(env, &back, NULL), 0);
        ck_assert_str_eq(back.instance, "median-1");
        ck_assert_int_eq(back.log_level, LOG_DEBUG);
        ck_assert(!back.metrics);
        ck_assert_uint_eq(back.call_timeout_usec, 2500000);
        ck_assert(back.tracing_enabled);
        ck_assert_str_eq(back.tracing_collector_target, "collector.example:4318");
        ck_assert(back.tracing_sampling_ratio == 0.1);
        ck_assert_str_eq(back.tracing_tls_cert_path, "/etc/ssl/collector.pem");
        ck_assert_ptr_nonnull(back.tracing_attributes);
        ck_assert_str_eq(back.tracing_attributes[0], "node=oracle-1");
        ck_assert_str_eq(back.tracing_attributes[1], "region.zone=eu-1 a");
        ck_assert_ptr_null(back.tracing_attributes[2]);

        /* A value that would not read back is not written. */
        c.tracing_sampling_ratio = 1.5;
        strv_free(env);
        env = NULL;
        ck_assert_int_eq(sdloop_env_config_to_env(&c, &env), -EINVAL);
}
END_TEST

START_TEST(test_defaults) {
        _cleanup_(sdloop_env_config_done) SdloopEnvConfig c = {};
        char *env[] = { "PATH=/usr/bin", "SDLOOP_CRASH_AFTER=3", "CL_SOMETHING_ELSE=x", NULL };

        ck_assert_int_eq(sdloop_env_config_parse(env, &c, NULL), 0);
        ck_assert_ptr_null(c.instance);
        ck_assert_int_eq(c.log_level, -1);
        ck_assert(c.metrics);
        ck_assert(!c.tracing_enabled);
        ck_assert(c.tracing_sampling_ratio < 0);
        ck_assert_ptr_null(c.tracing_attributes);
}
END_TEST

static const struct {
        const char *entry, *name;
} bad[] = {
        { "SDLOOP_PLUGIN=", "SDLOOP_PLUGIN" },
        { "SDLOOP_PLUGIN=a/b", "SDLOOP_PLUGIN" },
        { "SDLOOP_LOG_LEVEL=loud", "SDLOOP_LOG_LEVEL" },
        { "SDLOOP_LOG_LEVEL=8", "SDLOOP_LOG_LEVEL" },
        { "SDLOOP_METRICS=yes", "SDLOOP_METRICS" },
        { "SDLOOP_CALL_TIMEOUT_USEC=0", "SDLOOP_CALL_TIMEOUT_USEC" },
        { "SDLOOP_CALL_TIMEOUT_USEC=-5", "SDLOOP_CALL_TIMEOUT_USEC" },
        { "SDLOOP_CALL_TIMEOUT_USEC=1s", "SDLOOP_CALL_TIMEOUT_USEC" },
        { "CL_TRACING_ENABLED=on", "CL_TRACING_ENABLED" },
        { "CL_TRACING_COLLECTOR_TARGET=", "CL_TRACING_COLLECTOR_TARGET" },
        { "CL_TRACING_COLLECTOR_TARGET=no port", "CL_TRACING_COLLECTOR_TARGET" },
        { "CL_TRACING_SAMPLING_RATIO=1.5", "CL_TRACING_SAMPLING_RATIO" },
        { "CL_TRACING_SAMPLING_RATIO=-0.1", "CL_TRACING_SAMPLING_RATIO" },
        { "CL_TRACING_SAMPLING_RATIO=half", "CL_TRACING_SAMPLING_RATIO" },
        { "CL_TRACING_SAMPLING_RATIO=nan", "CL_TRACING_SAMPLING_RATIO" },
        { "CL_TRACING_SAMPLING_RATIO=", "CL_TRACING_SAMPLING_RATIO" },
        { "CL_TRACING_TLS_CERT_PATH=relative.pem", "CL_TRACING_TLS_CERT_PATH" },
        { "CL_TRACING_ATTRIBUTE_=x", "CL_TRACING_ATTRIBUTE_" },
        { "CL_TRACING_ATTRIBUTE_a b=x", "CL_TRACING_ATTRIBUTE_a b" },
};

START_TEST(test_bad_values_named) {
        _cleanup_(sdloop_env_config_done) SdloopEnvConfig c = {};
        _cleanup_free_ char *error = NULL;
        char *env[] = { "SDLOOP_PLUGIN=ok", (char *) bad[_i].entry, NULL };
        size_t l = strlen(bad[_i].name);

        ck_assert_int_eq(sdloop_env_config_parse(env, &c, &error), -EINVAL);
        ck_assert_ptr_nonnull(error);
        ck_assert_msg(strncmp(error, bad[_i].name, l) == 0 && error[l] == ':', "%s: %s", bad[_i].entry, error);
        /* Nothing half-read is left. */
        ck_assert_ptr_null(c.instance);
}
END_TEST

/* A plugin with a bad value refuses to start, and says which. */
START_TEST(test_plugin_refuses) {
        char log_path[] = "/tmp/test-env-log-XXXXXX", buf[4096] = "";
        int fd, status;
        ssize_t n;
        pid_t pid;

        fd = mkstemp(log_path);
        ck_assert_int_ge(fd, 0);
        (void) unlink(log_path);
        pid = fork();
        ck_assert_int_ge(pid, 0);
        if (pid == 0) {
                (void) dup2(fd, STDERR_FILENO);
                (void) setenv("SDLOOP_LOG_TARGET", "stderr", 1);
                (void) setenv("CL_TRACING_SAMPLING_RATIO", "2", 1);
                execl(getenv("SDLOOP_EXAMPLE_PLUGIN"), "sdloop-example-plugin", "--listen", "/tmp/test-env-never.sock", NULL);
                _exit(127);
        }
        ck_assert_int_eq(waitpid(pid, &status, 0), pid);
        ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == EXIT_FAILURE);
        n = pread(fd, buf, sizeof(buf) - 1, 0);
        ck_assert_int_gt(n, 0);
        ck_assert_msg(strstr(buf, "CL_TRACING_SAMPLING_RATIO: \"2\" must be a number in [0, 1]"), "%s", buf);
        close(fd);
}
END_TEST

int main(void) {
        Suite *s = suite_create("env");
        TCase *tc = tcase_create("env");
        SRunner *sr;
        int failed;

        tcase_add_test(tc, test_round_trip);
        tcase_add_test(tc, test_defaults);
        tcase_add_loop_test(tc, test_bad_values_named, 0, ELEMENTSOF(bad));
        tcase_add_test(tc, test_plugin_refuses);
        suite_add_tcase(s, tc);
        sr = srunner_create(s);
        srunner_run_all(sr, CK_NORMAL);
        failed = srunner_ntests_failed(sr);
        srunner_free(sr);
        return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
