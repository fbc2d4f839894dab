/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* Transparent recovery with the exec backend (LOOP's RelayerService/MedianService tests): the conformance
 * suite runs through the host's long-lived handles while the plugin processes crash on purpose — after N
 * calls with N growing per restart, and by kill -9 in a loop — and callers see nothing but success or a
 * clean PluginUnavailable after their deadline. */

#include <check.h>
#include <signal.h>
#include <sys/stat.h>

#include "fixtures.h"
#include "host-backend.h"
#include "host-handle.h"
#include "host-plugin.h"
#include "macro.h"
#include "static.h"
#include "suite.h"

typedef struct Fixture {
        char tmpdir[64];
        Host *host;
        HostPlugin *relayer, *median;
        HostHandle *relayer_h, *provider_h, *factory_h;

        /* The host objects of the median plugin's current connection. */
        SdloopProxy *proxy;
        char *data_source, *juels_data_source, *error_log;
} Fixture;

static Fixture F;

static int relayer_on_connect(HostPlugin *p, SdloopPeer *peer, void *userdata) {
        return static_keystore_new(peer, NULL);
}

static int median_on_connect(HostPlugin *p, SdloopPeer *peer, void *userdata) {
        Fixture *f = userdata;
        SdloopObject *ds, *juels, *el;
        int r;

        r = static_data_source_new(peer, FIXTURE_VALUE, &ds);
        if (r < 0)
                return r;
        r = static_data_source_new(peer, FIXTURE_JUELS_PER_FEE_COIN, &juels);
        if (r < 0)
                return r;
        r = static_error_log_new(peer, &el);
        if (r < 0)
                return r;
        free(f->data_source);
        free(f->juels_data_source);
        free(f->error_log);
        f->data_source = strdup(sdloop_object_get_path(ds));
        f->juels_data_source = strdup(sdloop_object_get_path(juels));
        f->error_log = strdup(sdloop_object_get_path(el));

        /* The relayer's provider, handed over by proxy and kept pointed at wherever it lives now. */
        if (f->proxy) {
                host_handle_unwatch(f->provider_h, f->proxy);
                f->proxy = sdloop_proxy_free(f->proxy);
        }
        r = sdloop_proxy_new(peer, "/org/sdloop1/host/provider/1", NULL, NULL, &f->proxy);
        if (r < 0)
                return r;
        return host_handle_watch(f->provider_h, f->proxy);
}

static int relayer_create(HostHandle *h, SdloopPeer *peer, const char *parent_path, sd_bus_slot **ret_slot) {
        return sdloop_plugin_relayer_new_relayer_async(peer, FIXTURE_CONFIG_TOML, STATIC_KEYSTORE_PATH, NULL, host_handle_created_reply, h,
                                                       ret_slot);
}

static int provider_create(HostHandle *h, SdloopPeer *peer, const char *parent_path, sd_bus_slot **ret_slot) {
        return sdloop_relayer_new_plugin_provider_async(peer, parent_path, &fixture_relay_args, &fixture_plugin_args,
                                                        NULL, host_handle_created_reply, h, ret_slot);
}

static int factory_create(HostHandle *h, SdloopPeer *peer, const char *parent_path, sd_bus_slot **ret_slot) {
        Fixture *f = h->data;
        SdloopMedianDeps deps = {
                .provider = sdloop_proxy_get_path(f->proxy),
                .data_source = f->data_source,
                .juels_data_source = f->juels_data_source,
                .error_log = f->error_log,
        };

        return sdloop_plugin_median_new_median_factory_async(peer, &deps, NULL, host_handle_created_reply, h, ret_slot);
}

/* The factory is handed the relayer's provider: declared once, so the host orders its re-creation. */
static HostHandle *factory_needs(HostHandle *h) {
        Fixture *f = h->data;

        return f->provider_h;
}

static const HostHandleOps relayer_ops = { .kind = "relayer", .create = relayer_create };
static const HostHandleOps provider_ops = { .kind = "provider", .create = provider_create };
static const HostHandleOps factory_ops = { .kind = "factory", .create = factory_create, .needs = factory_needs };

static HostPlugin *add_plugin(const char *name, const char *mode, uint64_t crash_after_step) {
        HostPluginSettings s;
        HostPlugin *p;
        char arg[64];

        host_plugin_settings_init(&s);
        s.name = strdup(name);
        s.kind = strdup(streq(mode, "relayer") ? SDLOOP_KIND_RELAYER : SDLOOP_KIND_MEDIAN);
        s.binary = strdup(getenv("SDLOOP_TEST_PLUGIN"));
        snprintf(arg, sizeof(arg), "--mode=%s", mode);
        s.args = new0(char *, 2);
        s.args[0] = strdup(arg);
        ck_assert_int_ge(asprintf(&s.socket_path, "%s/%s.sock", F.tmpdir, name), 0);
        s.call_timeout_usec = 10 * USEC_PER_SEC;
        s.restart_usec = 20 * USEC_PER_MSEC;
        s.start_limit_burst = 60;
        s.crash_after_step = crash_after_step;

        ck_assert_int_eq(host_plugin_new(F.host, &s, &p), 0);
        return p;
}

static void setup_plugins(uint64_t crash_after_step) {
        sd_bus_error error = SD_BUS_ERROR_NULL;

        memset(&F, 0, sizeof(F));
        strcpy(F.tmpdir, "/tmp/sdloop-recovery-XXXXXX");
        ck_assert_ptr_nonnull(mkdtemp(F.tmpdir));
        ck_assert_int_eq(host_new(NULL, &host_backend_exec, &F.host), 0);

        F.relayer = add_plugin("relayer", "relayer", crash_after_step);
        F.relayer->on_connect = relayer_on_connect;
        ck_assert_msg(host_plugin_start(F.relayer, &error) == 0, "start relayer: %s", error.message);
        ck_assert_msg(host_handle_new(F.relayer, NULL, &relayer_ops, NULL, &F.relayer_h, &error) == 0,
                      "relayer: %s", error.message);
        ck_assert_msg(host_handle_new(F.relayer, F.relayer_h, &provider_ops, NULL, &F.provider_h, &error) == 0,
                      "provider: %s", error.message);

        F.median = add_plugin("median", "median", crash_after_step);
        F.median->on_connect = median_on_connect;
        F.median->on_connect_userdata = &F;
        ck_assert_msg(host_plugin_start(F.median, &error) == 0, "start median: %s", error.message);
        ck_assert_msg(host_handle_new(F.median, NULL, &factory_ops, &F, &F.factory_h, &error) == 0,
                      "factory: %s", error.message);
}

static void teardown_plugins(void) {
        if (F.proxy) {
                host_handle_unwatch(F.provider_h, F.proxy);
                F.proxy = sdloop_proxy_free(F.proxy);
        }
        F.host = host_free(F.host);
        free(F.data_source);
        free(F.juels_data_source);
        free(F.error_log);
        unlink(F.tmpdir);
        rmdir(F.tmpdir);
}

static int run_relayer(SdloopPeer *peer, const char *path, void *userdata, sd_bus_error *error) {
        return conformance_run_relayer(peer, path, NULL, error);
}

static int run_provider(SdloopPeer *peer, const char *path, void *userdata, sd_bus_error *error) {
        return conformance_check_median_provider(peer, path, error);
}

static int run_factory(SdloopPeer *peer, const char *path, void *userdata, sd_bus_error *error) {
        return conformance_run_reporting_plugin_factory(peer, path, error);
}

/* The whole suite through the handles; every call must succeed. */
static void run_suites(const char *when) {
        sd_bus_error error = SD_BUS_ERROR_NULL;

        ck_assert_msg(host_handle_call(F.relayer_h, run_relayer, NULL, &error) == 0, "%s: relayer: %s: %s", when,
                      error.name, error.message);
        sd_bus_error_free(&error);
        ck_assert_msg(host_handle_call(F.provider_h, run_provider, NULL, &error) == 0, "%s: provider: %s: %s", when,
                      error.name, error.message);
        sd_bus_error_free(&error);
        ck_assert_msg(host_handle_call(F.factory_h, run_factory, NULL, &error) == 0, "%s: factory: %s: %s", when,
                      error.name, error.message);
        sd_bus_error_free(&error);
}

START_TEST(test_kill_and_recover) {
        const char *relayer_path, *median_path;
        uint32_t pid;

        setup_plugins(0);
        run_suites("control");

        relayer_path = F.relayer_h->stable_path;
        median_path = F.factory_h->stable_path;

        pid = F.relayer->main_pid;
        ck_assert_uint_gt(pid, 0);
        ck_assert_int_eq(kill(pid, SIGKILL), 0);
        run_suites("after killing the relayer");
        ck_assert_uint_ne(F.relayer->main_pid, pid);
        ck_assert_uint_ge(F.relayer->n_restarts, 1);

        pid = F.median->main_pid;
        ck_assert_int_eq(kill(pid, SIGKILL), 0);
        run_suites("after killing the median plugin");
        ck_assert_uint_ge(F.median->n_restarts, 1);

        /* Both at once. */
        ck_assert_int_eq(kill(F.relayer->main_pid, SIGKILL), 0);
        ck_assert_int_eq(kill(F.median->main_pid, SIGKILL), 0);
        run_suites("after killing both");

        /* Callers kept their handles. */
        ck_assert_str_eq(F.relayer_h->stable_path, relayer_path);
        ck_assert_str_eq(F.factory_h->stable_path, median_path);
        ck_assert_int_eq(F.relayer->state, HOST_PLUGIN_RUNNING);
        ck_assert_int_eq(F.median->state, HOST_PLUGIN_RUNNING);
        ck_assert_uint_gt(F.relayer->last_recovery_usec, 0);

        teardown_plugins();
}
END_TEST

START_TEST(test_crash_after_n_calls) {
        /* Each process generation exits after 12, 24, 36, … calls, replay included (LOOP's -limit). */
        setup_plugins(12);
        for (int i = 0; i < 4; i++)
                run_suites("crash-after");
        ck_assert_uint_ge(F.relayer->n_restarts, 1);
        ck_assert_uint_ge(F.median->n_restarts, 1);
        teardown_plugins();
}
END_TEST

static unsigned kills;

static int on_kill_timer(sd_event_source *s, uint64_t usec, void *userdata) {
        HostPlugin *p = kills % 2 == 0 ? F.relayer : F.median;

        if (p->main_pid > 0 && kill(p->main_pid, SIGKILL) >= 0)
                kills++;
        return sd_event_source_set_time_relative(s, 150 * USEC_PER_MSEC) < 0 ? 0 :
               sd_event_source_set_enabled(s, SD_EVENT_ONESHOT);
}

START_TEST(test_kill_loop) {
        _cleanup_(sd_event_source_unrefp) sd_event_source *timer = NULL;
        unsigned ok = 0, unavailable = 0;

        setup_plugins(0);
        ck_assert_int_eq(sd_event_add_time_relative(F.host->event, &timer, CLOCK_MONOTONIC, 150 * USEC_PER_MSEC, 0,
                                                    on_kill_timer, NULL), 0);

        /* Until enough kills have landed mid-call (bounded, should the timer starve). */
        uint64_t give_up = host_now() + 60 * USEC_PER_SEC;
        for (int i = 0; kills < 10 && host_now() < give_up; i++) {
                static const struct {
                        HostHandle **h;
                        host_call_fn fn;
                } calls[] = {
                        { &F.relayer_h, run_relayer },
                        { &F.provider_h, run_provider },
                        { &F.factory_h, run_factory },
                };

                for (size_t k = 0; k < ELEMENTSOF(calls); k++) {
                        sd_bus_error error = SD_BUS_ERROR_NULL;
                        uint64_t started = host_now();
                        int r = host_handle_call(*calls[k].h, calls[k].fn, NULL, &error);

                        if (r >= 0)
                                ok++;
                        else {
                                ck_assert_msg(sd_bus_error_has_name(&error, SDLOOP_ERROR_PLUGIN_UNAVAILABLE),
                                              "call %d/%zu failed with %s: %s", i, k, error.name, error.message);
                                /* A clean PluginUnavailable comes only after the caller's deadline. */
                                ck_assert_uint_ge(host_now() - started, F.relayer->settings.call_timeout_usec);
                                unavailable++;
                        }
                        sd_bus_error_free(&error);
                }
        }

        timer = sd_event_source_disable_unref(timer);
        ck_assert_uint_ge(kills, 10);
        ck_assert_uint_gt(ok, 0);
        /* With the killing over, everything works again. */
        run_suites("after the kill loop");
        teardown_plugins();
}
END_TEST

/* Both plugins killed within the same loop iteration, again and again: each recovers on its own (both
 * connect before either has re-created an object: neither waited for the other), the factory is created
 * again only once the relayer's provider exists (HostHandleOps.needs), and nothing ever times out. */
START_TEST(test_kill_both_together) {
        setup_plugins(0);
        run_suites("control");

        for (int round = 0; round < 8; round++) {
                uint32_t relayer_pid = F.relayer->main_pid, median_pid = F.median->main_pid;
                sd_bus_error error = SD_BUS_ERROR_NULL;
                uint64_t killed = host_now();
                int r;

                ck_assert_uint_gt(relayer_pid, 0);
                ck_assert_uint_gt(median_pid, 0);
                ck_assert_int_eq(kill(relayer_pid, SIGKILL), 0);
                ck_assert_int_eq(kill(median_pid, SIGKILL), 0);

                /* The dependent's handle: waits for both to come back, then answers. */
                r = host_handle_call(F.factory_h, run_factory, NULL, &error);
                ck_assert_msg(r >= 0 || sd_bus_error_has_name(&error, SDLOOP_ERROR_PLUGIN_UNAVAILABLE),
                              "round %d: factory: %s: %s", round, error.name, error.message);
                ck_assert_msg(r >= 0, "round %d: factory unavailable: %s", round, error.message);
                sd_bus_error_free(&error);

                ck_assert_uint_ne(F.relayer->main_pid, relayer_pid);
                ck_assert_uint_ne(F.median->main_pid, median_pid);
                ck_assert_uint_gt(F.relayer->connected_usec, killed);
                ck_assert_uint_gt(F.median->connected_usec, killed);
                ck_assert_uint_gt(F.provider_h->created_usec, killed);
                ck_assert_uint_gt(F.factory_h->created_usec, killed);
                /* In parallel: each started reconnecting before the other's objects were back. */
                ck_assert_msg(F.median->reconnect_usec > killed && F.median->reconnect_usec < F.provider_h->created_usec,
                              "round %d: the median plugin reconnected only after the provider was back", round);
                ck_assert_msg(F.relayer->reconnect_usec > killed && F.relayer->reconnect_usec < F.factory_h->created_usec,
                              "round %d: the relayer reconnected only after the factory was back", round);
                /* The declared dependency: the factory after the provider it is handed. */
                ck_assert_uint_ge(F.factory_h->created_usec, F.provider_h->created_usec);

                run_suites("after killing both");
        }

        ck_assert_uint_eq(F.relayer->n_timeouts, 0);
        ck_assert_uint_eq(F.median->n_timeouts, 0);
        teardown_plugins();
}
END_TEST

START_TEST(test_start_limit) {
        _cleanup_free_ char *sock = NULL;
        sd_bus_error error = SD_BUS_ERROR_NULL;
        HostPluginSettings s;
        HostPlugin *bad;

        setup_plugins(0);

        host_plugin_settings_init(&s);
        s.name = strdup("crashloop");
        s.kind = strdup(SDLOOP_KIND_RELAYER);
        s.binary = strdup("/bin/false");
        ck_assert_int_ge(asprintf(&s.socket_path, "%s/crashloop.sock", F.tmpdir), 0);
        s.restart_usec = 10 * USEC_PER_MSEC;
        s.start_limit_burst = 3;
        s.start_limit_interval_usec = 10 * USEC_PER_SEC;
        s.call_timeout_usec = 5 * USEC_PER_SEC;
        ck_assert_int_eq(host_plugin_new(F.host, &s, &bad), 0);

        ck_assert_int_lt(host_plugin_start(bad, &error), 0);
        ck_assert(sd_bus_error_has_name(&error, SDLOOP_ERROR_PLUGIN_UNAVAILABLE));
        sd_bus_error_free(&error);
        ck_assert_int_eq(bad->state, HOST_PLUGIN_FAILED);
        ck_assert_ptr_nonnull(bad->last_error);
        ck_assert_msg(strstr(bad->last_error, "start limit"), "last error: %s", bad->last_error);

        /* The others keep serving. */
        run_suites("next to a failed plugin");
        teardown_plugins();
}
END_TEST

static Suite *recovery_suite(void) {
        Suite *s = suite_create("recovery");
        TCase *tc = tcase_create("exec");

        tcase_set_timeout(tc, 180);
        tcase_add_test(tc, test_kill_and_recover);
        tcase_add_test(tc, test_crash_after_n_calls);
        tcase_add_test(tc, test_kill_loop);
        tcase_add_test(tc, test_kill_both_together);
        tcase_add_test(tc, test_start_limit);
        suite_add_tcase(s, tc);
        return s;
}

int main(void) {
        SRunner *sr = srunner_create(recovery_suite());
        int failed;

        sdloop_log_set_max_level(LOG_NOTICE);
        srunner_run_all(sr, CK_NORMAL);
        failed = srunner_ntests_failed(sr);
        srunner_free(sr);
        return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
