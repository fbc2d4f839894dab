/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* SdloopProxy with three parties in one process, on one sd-event loop:
 *
 *   median (plugin) ──p2p── host_median [exports the proxy]      host_relayer ──p2p── relayer (plugin)
 *                                              └──── forwards to ─────┘              [exports PROVIDER_PATH]
 *
 * The median side calls PROXY_PATH and must see exactly what the relayer's object answers, or
 * org.sdloop1.Error.PluginUnavailable when the relayer is not there; the relayer sees the caller's
 * context come with each call; the signals of the relayer's object reach the median side from PROXY_PATH,
 * and no others do. */

#include <check.h>
#include <sys/socket.h>

#include "macro.h"
#include "test-util.h"
#include "util.h"
#include "sdloop.h"

#define PROVIDER_PATH  "/org/sdloop1/provider/1"
#define PROXY_PATH     "/org/sdloop1/host/provider/1"
#define TEST_INTERFACE "org.sdloop1.test.Echo"
#define CUSTOM_ERROR   "org.example.Error.Custom"

static sd_event *event;
static SdloopPeer *relayer, *host_relayer, *median, *host_median;
static SdloopProxy *proxy;

/* What the relayer's object does on Hang(), once the call is parked there. */
typedef enum HangAction {
        HANG_DISCONNECT_RELAYER,      /* the relayer process dies */
        HANG_DISCONNECT_HOST_SIDE,    /* the host drops its connection and says the target is down */
        HANG_FREE_PROXY,              /* the host drops the proxy */
} HangAction;

/* What to do when the host sees a call arrive for the proxy (a bus filter sees it first). */
typedef enum ArrivalAction {
        ARRIVAL_NOTHING,
        ARRIVAL_ARM_SET_TARGET_TIMER,
        ARRIVAL_FREE_PROXY,
} ArrivalAction;

static struct {
        unsigned n_echo;
        unsigned n_hang;
        sd_bus_message *hung; /* the parked Hang() call */
        HangAction hang_action;
        ArrivalAction arrival_action;
        unsigned n_arrivals;
        unsigned n_target_set;
        uint64_t t_target_set; /* CLOCK_MONOTONIC, when the timer set the target */

        /* The deadline of the Context.Set the relayer last received, and that of the last call it got. */
        uint64_t next_deadline, seen_deadline;

        /* Signals that reached the median side, and the last one. */
        unsigned n_signals;
        sd_bus_message *signal;
} state;

static sd_bus_slot *arrival_filter, *median_signals;

/* --- the relayer's object ---------------------------------------------------------------------------- */

static int method_echo(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        int r;

        state.n_echo++;
        r = sd_bus_message_new_method_return(m, &reply);
        if (r < 0)
                return r;
        r = sd_bus_message_copy(reply, m, true);
        if (r < 0)
                return r;
        return sd_bus_send(NULL, reply, NULL);
}

static int method_fail(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        const char *what;
        int r;

        r = sd_bus_message_read(m, "s", &what);
        if (r < 0)
                return r;
        return sd_bus_error_setf(error, CUSTOM_ERROR, "custom failure: %s", what);
}

static int on_hang_action(sd_event_source *s, void *userdata) {
        switch (state.hang_action) {
        case HANG_DISCONNECT_RELAYER:
                sdloop_peer_disconnect(relayer);
                break;
        case HANG_DISCONNECT_HOST_SIDE:
                sdloop_peer_disconnect(host_relayer);
                ck_assert_int_ge(sdloop_proxy_set_target(proxy, NULL, NULL), 0);
                break;
        case HANG_FREE_PROXY:
                proxy = sdloop_proxy_free(proxy);
                break;
        }
        return 0;
}

static int method_hang(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        int r;

        /* Never answered: park the call, and act once this dispatch is over. */
        state.n_hang++;
        sd_bus_message_unref(state.hung);
        state.hung = sd_bus_message_ref(m);
        r = sd_event_add_defer(event, NULL, on_hang_action, NULL);
        if (r < 0)
                return r;
        return 1;
}

static int property_answer(sd_bus *bus, const char *path, const char *interface, const char *property,
                           sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        return sd_bus_message_append(reply, "i", 42);
}

static const sd_bus_vtable echo_vtable[] = {
        SD_BUS_VTABLE_START(0),
        SD_BUS_PROPERTY("Answer", "i", property_answer, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_METHOD_WITH_ARGS("Echo",
                                SD_BUS_ARGS("s", text, "i", number, "a(sv)", items, "(tay)", record,
                                            "a{ss}", map),
                                SD_BUS_RESULT("s", text, "i", number, "a(sv)", items, "(tay)", record,
                                              "a{ss}", map),
                                method_echo, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("Fail", SD_BUS_ARGS("s", what), SD_BUS_NO_RESULT, method_fail,
                                SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("Hang", SD_BUS_NO_ARGS, SD_BUS_NO_RESULT, method_hang, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_VTABLE_END,
};

static const SdloopObjectOps provider_ops = {
        .name = "test-provider",
};

/* Filters run before object callbacks: the context that came with a call to the provider, off the wire. */
static int on_relayer_message(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        const char *key;
        int r;

        if (sd_bus_message_is_method_call(m, "org.sdloop1.Context", "Set")) {
                ck_assert_int_gt(sd_bus_message_enter_container(m, 'a', "{sv}"), 0);
                while ((r = sd_bus_message_enter_container(m, 'e', "sv")) > 0) {
                        ck_assert_int_gt(sd_bus_message_read(m, "s", &key), 0);
                        if (streq(key, "deadline_usec"))
                                ck_assert_int_gt(sd_bus_message_read(m, "v", "t", &state.next_deadline), 0);
                        else
                                ck_assert_int_ge(sd_bus_message_skip(m, "v"), 0);
                        ck_assert_int_gt(sd_bus_message_exit_container(m), 0);
                }
                ck_assert_int_ge(r, 0);
                ck_assert_int_ge(sd_bus_message_rewind(m, true), 0);
        } else if (sd_bus_message_is_method_call(m, NULL, NULL) &&
                   streq_ptr(sd_bus_message_get_path(m), PROVIDER_PATH)) {
                state.seen_deadline = state.next_deadline;
                state.next_deadline = SDLOOP_DEADLINE_NONE;
        }
        return 0;
}

/* A relayer plugin and the host's connection to it, with the provider object exported. */
static void relayer_start(SdloopPeer **ret_relayer, SdloopPeer **ret_host_relayer) {
        SdloopObject *o;
        int fds[2];

        ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds), 0);
        ck_assert_int_ge(sdloop_peer_new_server(event, fds[0], ret_relayer), 0);
        ck_assert_int_ge(sdloop_peer_new_client(event, fds[1], ret_host_relayer), 0);
        ck_assert_int_ge(sdloop_peer_set_description(*ret_relayer, "relayer"), 0);
        ck_assert_int_ge(sdloop_peer_set_description(*ret_host_relayer, "host→relayer"), 0);

        ck_assert_int_ge(sdloop_object_new_at(*ret_relayer, NULL, PROVIDER_PATH, &provider_ops, NULL, &o), 0);
        ck_assert_int_ge(sdloop_object_add_interface(o, TEST_INTERFACE, echo_vtable, NULL, NULL), 0);
        ck_assert_int_ge(sd_bus_add_filter(sdloop_peer_get_bus(*ret_relayer), NULL, on_relayer_message, NULL), 0);
}

/* --- the host: arrival filter and the timer that sets the target ------------------------------------- */

static int on_set_target_timer(sd_event_source *s, uint64_t usec, void *userdata) {
        state.n_target_set++;
        state.t_target_set = now_monotonic_usec();
        ck_assert_int_ge(sdloop_proxy_set_target(proxy, host_relayer, PROVIDER_PATH), 0);
        return 0;
}

static int on_free_proxy(sd_event_source *s, void *userdata) {
        proxy = sdloop_proxy_free(proxy);
        return 0;
}

/* Filters run before object callbacks: by the time a source armed here fires, the proxy has seen the call. */
static int on_arrival(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        if (!sd_bus_message_is_method_call(m, NULL, NULL) || !streq_ptr(sd_bus_message_get_path(m), PROXY_PATH))
                return 0;

        state.n_arrivals++;
        switch (state.arrival_action) {
        case ARRIVAL_NOTHING:
                break;
        case ARRIVAL_ARM_SET_TARGET_TIMER:
                ck_assert_int_ge(sd_event_add_time_relative(event, NULL, CLOCK_MONOTONIC, 1 * USEC_PER_MSEC, 1,
                                                            on_set_target_timer, NULL), 0);
                break;
        case ARRIVAL_FREE_PROXY:
                ck_assert_int_ge(sd_event_add_defer(event, NULL, on_free_proxy, NULL), 0);
                break;
        }
        state.arrival_action = ARRIVAL_NOTHING;
        return 0;
}

/* --- the median side: every signal that reaches it ---------------------------------------------------- */

static int on_median_signal(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        /* The connection's own Disconnected does not come from the other side. */
        if (sd_bus_message_is_signal(m, "org.freedesktop.DBus.Local", NULL))
                return 0;

        state.n_signals++;
        sd_bus_message_unref(state.signal);
        state.signal = sd_bus_message_ref(m);
        return 0;
}

static void setup(void) {
        int fds[2];

        memset(&state, 0, sizeof(state));
        state.next_deadline = state.seen_deadline = SDLOOP_DEADLINE_NONE;
        ck_assert_int_ge(sd_event_new(&event), 0);

        relayer_start(&relayer, &host_relayer);

        ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds), 0);
        ck_assert_int_ge(sdloop_peer_new_server(event, fds[0], &median), 0);
        ck_assert_int_ge(sdloop_peer_new_client(event, fds[1], &host_median), 0);
        ck_assert_int_ge(sdloop_peer_set_description(median, "median"), 0);
        ck_assert_int_ge(sdloop_peer_set_description(host_median, "host→median"), 0);
        ck_assert_int_ge(sd_bus_add_filter(sdloop_peer_get_bus(host_median), &arrival_filter, on_arrival, NULL), 0);
        ck_assert_int_ge(sd_bus_match_signal(sdloop_peer_get_bus(median), &median_signals, NULL, NULL, NULL, NULL,
                                             on_median_signal, NULL), 0);

        ck_assert_int_ge(sdloop_proxy_new(host_median, PROXY_PATH, host_relayer, PROVIDER_PATH, &proxy), 0);
        ck_assert_str_eq(sdloop_proxy_get_path(proxy), PROXY_PATH);
}

static void teardown(void) {
        proxy = sdloop_proxy_free(proxy);
        arrival_filter = sd_bus_slot_unref(arrival_filter);
        median_signals = sd_bus_slot_unref(median_signals);
        state.hung = sd_bus_message_unref(state.hung);
        state.signal = sd_bus_message_unref(state.signal);
        median = sdloop_peer_unref(median);
        host_median = sdloop_peer_unref(host_median);
        host_relayer = sdloop_peer_unref(host_relayer);
        relayer = sdloop_peer_unref(relayer);
        event = sd_event_unref(event);
}

/* --- calls from the median side ---------------------------------------------------------------------- */

/* Echo()'s arguments, also those of the signals the relayer's object emits. */
static void append_echo_args(sd_bus_message *m) {
        static const uint8_t blob[] = { 0, 1, 2, 254, 255 };

        ck_assert_int_ge(sd_bus_message_append(m, "si", "héllo", -7), 0);
        ck_assert_int_ge(sd_bus_message_append(m, "a(sv)", 3, "int", "x", (int64_t) -42, "str", "s", "forty-two",
                                               "list", "as", 2, "a", "b"), 0);
        ck_assert_int_ge(sd_bus_message_open_container(m, 'r', "tay"), 0);
        ck_assert_int_ge(sd_bus_message_append(m, "t", UINT64_MAX - 1), 0);
        ck_assert_int_ge(sd_bus_message_append_array(m, 'y', blob, sizeof(blob)), 0);
        ck_assert_int_ge(sd_bus_message_close_container(m), 0);
        ck_assert_int_ge(sd_bus_message_append(m, "a{ss}", 2, "k1", "v1", "k2", ""), 0);
}

static int call_echo_timeout(uint64_t timeout_usec, sd_bus_message **ret_reply, sd_bus_error *error) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL;

        ck_assert_int_ge(sdloop_peer_new_call(median, PROXY_PATH, TEST_INTERFACE, "Echo", &m), 0);
        append_echo_args(m);
        return sdloop_peer_call(median, m, timeout_usec, ret_reply, error);
}

static int call_echo(sd_bus_message **ret_reply, sd_bus_error *error) {
        return call_echo_timeout(0, ret_reply, error);
}

static void check_echo_reply(sd_bus_message *reply) {
        const char *s, *k1, *v1, *k2, *v2, *name, *a, *b, *str;
        const void *blob;
        size_t blob_size;
        int64_t x;
        uint64_t t;
        int32_t i;

        ck_assert_int_gt(sd_bus_message_read(reply, "si", &s, &i), 0);
        ck_assert_str_eq(s, "héllo");
        ck_assert_int_eq(i, -7);

        ck_assert_int_gt(sd_bus_message_enter_container(reply, 'a', "(sv)"), 0);
        ck_assert_int_gt(sd_bus_message_read(reply, "(sv)", &name, "x", &x), 0);
        ck_assert_str_eq(name, "int");
        ck_assert_int_eq(x, -42);
        ck_assert_int_gt(sd_bus_message_read(reply, "(sv)", &name, "s", &str), 0);
        ck_assert_str_eq(name, "str");
        ck_assert_str_eq(str, "forty-two");
        ck_assert_int_gt(sd_bus_message_read(reply, "(sv)", &name, "as", 2, &a, &b), 0);
        ck_assert_str_eq(name, "list");
        ck_assert_str_eq(a, "a");
        ck_assert_str_eq(b, "b");
        ck_assert_int_gt(sd_bus_message_exit_container(reply), 0);

        ck_assert_int_gt(sd_bus_message_enter_container(reply, 'r', "tay"), 0);
        ck_assert_int_gt(sd_bus_message_read(reply, "t", &t), 0);
        ck_assert_uint_eq(t, UINT64_MAX - 1);
        ck_assert_int_gt(sd_bus_message_read_array(reply, 'y', &blob, &blob_size), 0);
        ck_assert_uint_eq(blob_size, 5);
        ck_assert_mem_eq(blob, ((const uint8_t[]) { 0, 1, 2, 254, 255 }), 5);
        ck_assert_int_gt(sd_bus_message_exit_container(reply), 0);

        ck_assert_int_gt(sd_bus_message_read(reply, "a{ss}", 2, &k1, &v1, &k2, &v2), 0);
        ck_assert_str_eq(k1, "k1");
        ck_assert_str_eq(v1, "v1");
        ck_assert_str_eq(k2, "k2");
        ck_assert_str_eq(v2, "");

        ck_assert(sd_bus_message_at_end(reply, true) > 0);
}

static void assert_echo_works(void) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        int r;

        r = call_echo(&reply, &error);
        ck_assert_msg(r >= 0, "Echo through the proxy: %s: %s", strempty(error.name), strempty(error.message));
        check_echo_reply(reply);
}

/* --- tests ------------------------------------------------------------------------------------------- */

START_TEST(test_replies_copied) {
        assert_echo_works();
        ck_assert_uint_eq(state.n_echo, 1);
        /* Again: the proxy keeps working and keeps nothing between calls. */
        assert_echo_works();
        ck_assert_uint_eq(state.n_echo, 2);
        ck_assert_uint_eq(state.n_arrivals, 2);
}
END_TEST

START_TEST(test_errors_kept) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        int r;

        r = sdloop_peer_call_method(median, PROXY_PATH, TEST_INTERFACE, "Fail", NULL, &error, "s", "boom");
        test_assert_error(r, &error, CUSTOM_ERROR, "custom failure: boom");

        /* The relayer refuses what its object does not take, with the contract's names; the proxy passes
         * that on too. */
        r = sdloop_peer_call_method(median, PROXY_PATH, TEST_INTERFACE, "NoSuchMethod", NULL, &error, NULL);
        ck_assert_ptr_nonnull(strstr(strempty(error.message), "NoSuchMethod"));
        test_assert_error(r, &error, SDLOOP_ERROR_INVALID_ARGUMENT, "member: ");
        r = sdloop_peer_call_method(median, PROXY_PATH, TEST_INTERFACE, "Fail", NULL, &error, "i", 1);
        ck_assert_ptr_nonnull(strstr(strempty(error.message), "takes 's', got 'i'"));
        test_assert_error(r, &error, SDLOOP_ERROR_INVALID_ARGUMENT, "arguments: ");

        /* Forwarded to a path where the relayer has nothing. */
        ck_assert_int_ge(sdloop_proxy_set_target(proxy, host_relayer, "/org/sdloop1/provider/404"), 0);
        r = sdloop_peer_call_method(median, PROXY_PATH, TEST_INTERFACE, "Fail", NULL, &error, "s", "x");
        test_assert_error(r, &error, SDLOOP_ERROR_NOT_FOUND, NULL);
}
END_TEST

START_TEST(test_standard_interfaces_forwarded) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        const char *xml, *k, *v;
        int32_t answer;
        int r;

        r = sdloop_peer_call_method(median, PROXY_PATH, "org.freedesktop.DBus.Introspectable", "Introspect", &reply,
                                    &error, NULL);
        ck_assert_msg(r >= 0, "Introspect: %s", strempty(error.message));
        ck_assert_int_gt(sd_bus_message_read(reply, "s", &xml), 0);
        /* The host's own bus knows nothing of these interfaces: only the relayer's object can have said so. */
        ck_assert_ptr_nonnull(strstr(xml, "<interface name=\"" TEST_INTERFACE "\">"));
        ck_assert_ptr_nonnull(strstr(xml, "<interface name=\"org.sdloop1.Service\">"));
        ck_assert_ptr_nonnull(strstr(xml, "name=\"Hang\""));
        reply = sd_bus_message_unref(reply);

        r = sdloop_peer_call_method(median, PROXY_PATH, "org.freedesktop.DBus.Properties", "Get", &reply, &error, "ss",
                                    TEST_INTERFACE, "Answer");
        ck_assert_msg(r >= 0, "Properties.Get: %s", strempty(error.message));
        ck_assert_int_gt(sd_bus_message_read(reply, "v", "i", &answer), 0);
        ck_assert_int_eq(answer, 42);
        reply = sd_bus_message_unref(reply);

        r = sdloop_peer_call_method(median, PROXY_PATH, "org.freedesktop.DBus.Properties", "Get", &reply, &error, "ss",
                                    "org.sdloop1.Service", "Name");
        ck_assert_msg(r >= 0, "Properties.Get: %s", strempty(error.message));
        ck_assert_int_gt(sd_bus_message_read(reply, "v", "s", &v), 0);
        ck_assert_str_eq(v, "test-provider");
        reply = sd_bus_message_unref(reply);

        r = sdloop_peer_call_method(median, PROXY_PATH, "org.sdloop1.Service", "HealthReport", &reply, &error, NULL);
        ck_assert_msg(r >= 0, "HealthReport: %s", strempty(error.message));
        ck_assert_int_gt(sd_bus_message_read(reply, "a{ss}", 1, &k, &v), 0);
        ck_assert_str_eq(k, "test-provider");
        ck_assert_str_eq(v, "");
        reply = sd_bus_message_unref(reply);

        r = sdloop_peer_call_method(median, PROXY_PATH, "org.sdloop1.Service", "Ready", NULL, &error, NULL);
        ck_assert_msg(r >= 0, "Ready: %s", strempty(error.message));
}
END_TEST

START_TEST(test_waits_for_target) {
        ck_assert_int_ge(sdloop_proxy_set_target(proxy, NULL, NULL), 0);

        /* The call arrives while there is no target; a timer then sets one and the call goes through. */
        state.arrival_action = ARRIVAL_ARM_SET_TARGET_TIMER;
        assert_echo_works();
        ck_assert_uint_eq(state.n_arrivals, 1);
        ck_assert_uint_eq(state.n_target_set, 1);
        ck_assert_uint_eq(state.n_echo, 1);

        /* Straight through once the target is there. */
        assert_echo_works();
        ck_assert_uint_eq(state.n_echo, 2);
}
END_TEST

START_TEST(test_deadline) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        int r;

        /* The exporting peer's call timeout bounds the wait; the caller's own is the 25 s default. */
        sdloop_peer_set_call_timeout(host_median, 20 * USEC_PER_MSEC);
        ck_assert_int_ge(sdloop_proxy_set_target(proxy, NULL, NULL), 0);

        r = call_echo(&reply, &error);
        test_assert_error(r, &error, SDLOOP_ERROR_PLUGIN_UNAVAILABLE, "provider unavailable: " PROXY_PATH);
        ck_assert_int_eq(r, -EHOSTDOWN);
        ck_assert_uint_eq(state.n_echo, 0);

        /* A target set later is not haunted by the expired call. */
        ck_assert_int_ge(sdloop_proxy_set_target(proxy, host_relayer, PROVIDER_PATH), 0);
        assert_echo_works();
        ck_assert_uint_eq(state.n_echo, 1);
}
END_TEST

START_TEST(test_target_dies_mid_call) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        int r;

        /* A call lost with its target waits for the target to come back, until the proxy's deadline. */
        sdloop_peer_set_call_timeout(host_median, 200 * USEC_PER_MSEC);

        state.hang_action = HANG_DISCONNECT_RELAYER;
        r = sdloop_peer_call_method(median, PROXY_PATH, TEST_INTERFACE, "Hang", NULL, &error, NULL);
        test_assert_error(r, &error, SDLOOP_ERROR_PLUGIN_UNAVAILABLE, "provider unavailable: " PROXY_PATH);
        ck_assert_uint_eq(state.n_hang, 1);
        ck_assert(!sdloop_peer_is_connected(host_relayer));

        /* The host restarts the relayer and points the proxy at the new one. */
        host_relayer = sdloop_peer_unref(host_relayer);
        relayer = sdloop_peer_unref(relayer);
        relayer_start(&relayer, &host_relayer);
        ck_assert_int_ge(sdloop_proxy_set_target(proxy, host_relayer, PROVIDER_PATH), 0);
        assert_echo_works();
}
END_TEST

START_TEST(test_host_drops_target_mid_call) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        int r;

        /* The call waits for a new target, until the proxy's deadline. */
        sdloop_peer_set_call_timeout(host_median, 200 * USEC_PER_MSEC);

        /* Closed from the host's side, sd-bus never answers the forwarded call: the proxy must. */
        state.hang_action = HANG_DISCONNECT_HOST_SIDE;
        r = sdloop_peer_call_method(median, PROXY_PATH, TEST_INTERFACE, "Hang", NULL, &error, NULL);
        test_assert_error(r, &error, SDLOOP_ERROR_PLUGIN_UNAVAILABLE, "provider unavailable: " PROXY_PATH);
        ck_assert_uint_eq(state.n_hang, 1);
}
END_TEST

START_TEST(test_free_answers_calls) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        int r;

        /* A forwarded call in flight. */
        state.hang_action = HANG_FREE_PROXY;
        r = sdloop_peer_call_method(median, PROXY_PATH, TEST_INTERFACE, "Hang", NULL, &error, NULL);
        test_assert_error(r, &error, SDLOOP_ERROR_PLUGIN_UNAVAILABLE, "provider unavailable: " PROXY_PATH);
        ck_assert_ptr_null(proxy);

        /* The path is gone with the proxy. */
        r = call_echo(&reply, &error);
        test_assert_error(r, &error, SDLOOP_ERROR_NOT_FOUND, NULL);

        /* A queued call. */
        ck_assert_int_ge(sdloop_proxy_new(host_median, PROXY_PATH, NULL, NULL, &proxy), 0);
        state.arrival_action = ARRIVAL_FREE_PROXY;
        r = call_echo(&reply, &error);
        test_assert_error(r, &error, SDLOOP_ERROR_PLUGIN_UNAVAILABLE, "provider unavailable: " PROXY_PATH);
        ck_assert_ptr_null(proxy);
        ck_assert_uint_eq(state.n_echo, 0);
}
END_TEST

START_TEST(test_bad_arguments) {
        SdloopProxy *p = NULL;

        ck_assert_int_eq(sdloop_proxy_new(host_median, "not/a/path", host_relayer, PROVIDER_PATH, &p), -EINVAL);
        ck_assert_int_eq(sdloop_proxy_new(host_median, PROXY_PATH "/x", host_relayer, "bad", &p), -EINVAL);
        ck_assert_int_eq(sdloop_proxy_new(NULL, PROXY_PATH "/x", host_relayer, PROVIDER_PATH, &p), -EINVAL);
        ck_assert_ptr_null(p);
        ck_assert_int_eq(sdloop_proxy_set_target(proxy, host_relayer, NULL), -EINVAL);
        /* A refused target leaves the old one in place. */
        assert_echo_works();
}
END_TEST

START_TEST(test_context_forwarded) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        uint64_t t0, t1;
        int r;

        /* The caller's deadline, sooner than the proxy's own 25 s, reaches the relayer unchanged. */
        t0 = now_monotonic_usec();
        r = call_echo_timeout(5 * USEC_PER_SEC, &reply, &error);
        t1 = now_monotonic_usec();
        ck_assert_msg(r >= 0, "Echo: %s", strempty(error.message));
        ck_assert_uint_ge(state.seen_deadline, t0 + 5 * USEC_PER_SEC);
        ck_assert_uint_le(state.seen_deadline, t1 + 5 * USEC_PER_SEC);
        reply = sd_bus_message_unref(reply);

        /* The proxy's own timeout, sooner than the caller's (its announced default of 25 s). */
        sdloop_peer_set_call_timeout(host_median, 2 * USEC_PER_SEC);
        t0 = now_monotonic_usec();
        r = call_echo(&reply, &error);
        t1 = now_monotonic_usec();
        ck_assert_msg(r >= 0, "Echo: %s", strempty(error.message));
        ck_assert_uint_ge(state.seen_deadline, t0 + 2 * USEC_PER_SEC);
        ck_assert_uint_le(state.seen_deadline, t1 + 2 * USEC_PER_SEC);
}
END_TEST

START_TEST(test_context_kept_while_queued) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        uint64_t t0;
        int r;

        /* The deadline the call came with, not a new one counted from when it left the queue. */
        ck_assert_int_ge(sdloop_proxy_set_target(proxy, NULL, NULL), 0);
        state.arrival_action = ARRIVAL_ARM_SET_TARGET_TIMER;
        t0 = now_monotonic_usec();
        r = call_echo_timeout(5 * USEC_PER_SEC, &reply, &error);
        ck_assert_msg(r >= 0, "Echo: %s", strempty(error.message));
        ck_assert_uint_eq(state.n_target_set, 1);
        ck_assert_uint_ge(state.seen_deadline, t0 + 5 * USEC_PER_SEC);
        ck_assert_uint_lt(state.seen_deadline, state.t_target_set + 5 * USEC_PER_SEC);
        reply = sd_bus_message_unref(reply);

        /* The same when the proxy's own timeout is the sooner one. */
        sdloop_peer_set_call_timeout(host_median, 2 * USEC_PER_SEC);
        ck_assert_int_ge(sdloop_proxy_set_target(proxy, NULL, NULL), 0);
        state.arrival_action = ARRIVAL_ARM_SET_TARGET_TIMER;
        t0 = now_monotonic_usec();
        r = call_echo(&reply, &error);
        ck_assert_msg(r >= 0, "Echo: %s", strempty(error.message));
        ck_assert_uint_eq(state.n_target_set, 2);
        ck_assert_uint_ge(state.seen_deadline, t0 + 2 * USEC_PER_SEC);
        ck_assert_uint_lt(state.seen_deadline, state.t_target_set + 2 * USEC_PER_SEC);
}
END_TEST

/* --- signals ------------------------------------------------------------------------------------------ */

static void emit_from(SdloopPeer *from, const char *path, const char *member) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *s = NULL;

        ck_assert_int_ge(sd_bus_message_new_signal(sdloop_peer_get_bus(from), &s, path, TEST_INTERFACE, member), 0);
        append_echo_args(s);
        ck_assert_int_ge(sd_bus_send(NULL, s, NULL), 0);
}

/* When this returns, whatever @peer's other side sent before has been dispatched: it answers Peer.Ping
 * only after what came first. */
static void sync_with(SdloopPeer *peer) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        int r;

        r = sdloop_peer_call_method(peer, "/", "org.freedesktop.DBus.Peer", "Ping", NULL, &error, NULL);
        ck_assert_msg(r >= 0, "Ping: %s", strempty(error.message));
}

/* The signals @host_side's relayer emitted so far have reached the host, and what the proxy made of them
 * has reached the median side. */
static void sync_signals(SdloopPeer *host_side) {
        sync_with(host_side);
        sync_with(median);
}

static void assert_last_signal(const char *member) {
        ck_assert_ptr_nonnull(state.signal);
        ck_assert_str_eq(sd_bus_message_get_path(state.signal), PROXY_PATH);
        ck_assert_str_eq(sd_bus_message_get_interface(state.signal), TEST_INTERFACE);
        ck_assert_str_eq(sd_bus_message_get_member(state.signal), member);
        ck_assert_int_ge(sd_bus_message_rewind(state.signal, true), 0);
        check_echo_reply(state.signal);
}

static struct {
        unsigned n;
        uint64_t block;
        uint8_t digest[SDLOOP_DIGEST_SIZE];
} config_changed;

static int on_config_changed(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        const void *digest;
        size_t size;

        ck_assert_int_gt(sd_bus_message_read(m, "t", &config_changed.block), 0);
        ck_assert_int_gt(sd_bus_message_read_array(m, 'y', &digest, &size), 0);
        ck_assert_uint_eq(size, SDLOOP_DIGEST_SIZE);
        memcpy(config_changed.digest, digest, size);
        config_changed.n++;
        return 0;
}

START_TEST(test_signals_forwarded) {
        static const uint8_t digest[SDLOOP_DIGEST_SIZE] = { 0x5d, 0x10, 0x42, [31] = 0xff };
        _cleanup_(sd_bus_slot_unrefp) sd_bus_slot *watch = NULL;

        emit_from(relayer, PROVIDER_PATH, "Changed");
        sync_signals(host_relayer);
        ck_assert_uint_eq(state.n_signals, 1);
        assert_last_signal("Changed");

        /* Any interface, with or without arguments: ConfigChanged as a provider sends it, seen by the
         * library's own watch on the proxy's path. */
        memset(&config_changed, 0, sizeof(config_changed));
        ck_assert_int_ge(sdloop_contract_config_tracker_watch(median, PROXY_PATH, &watch, on_config_changed, NULL), 0);
        ck_assert_int_ge(sdloop_contract_config_tracker_emit_config_changed(sdloop_peer_find_object(relayer,
                                                                                                    PROVIDER_PATH),
                                                                            4242, digest), 0);
        ck_assert_int_ge(sd_bus_emit_signal(sdloop_peer_get_bus(relayer), PROVIDER_PATH, "org.example.Other", "Poke",
                                            NULL), 0);
        sync_signals(host_relayer);
        ck_assert_uint_eq(state.n_signals, 3);
        ck_assert_uint_eq(config_changed.n, 1);
        ck_assert_uint_eq(config_changed.block, 4242);
        ck_assert_mem_eq(config_changed.digest, digest, SDLOOP_DIGEST_SIZE);
        ck_assert_str_eq(sd_bus_message_get_path(state.signal), PROXY_PATH);
        ck_assert(sd_bus_message_is_signal(state.signal, "org.example.Other", "Poke"));
        ck_assert_str_eq(sd_bus_message_get_signature(state.signal, true), "");

        /* Calls still work in between. */
        assert_echo_works();
        emit_from(relayer, PROVIDER_PATH, "Again");
        sync_signals(host_relayer);
        ck_assert_uint_eq(state.n_signals, 4);
        assert_last_signal("Again");
}
END_TEST

START_TEST(test_signals_of_other_objects_dropped) {
        emit_from(relayer, "/org/sdloop1/provider/2", "Changed");
        emit_from(relayer, PROVIDER_PATH "/child", "Changed");
        emit_from(relayer, "/org/sdloop1/provider", "Changed");
        emit_from(relayer, SDLOOP_ROOT_PATH, "Changed");
        sync_signals(host_relayer);
        ck_assert_uint_eq(state.n_signals, 0);

        /* The relayer connection's traffic did pass: the provider's own signal does come through. */
        emit_from(relayer, PROVIDER_PATH, "Changed");
        sync_signals(host_relayer);
        ck_assert_uint_eq(state.n_signals, 1);
}
END_TEST

START_TEST(test_signals_follow_target) {
        _cleanup_(sdloop_peer_unrefp) SdloopPeer *relayer2 = NULL, *host_relayer2 = NULL;

        /* Down: nothing comes through. */
        ck_assert_int_ge(sdloop_proxy_set_target(proxy, NULL, NULL), 0);
        emit_from(relayer, PROVIDER_PATH, "WhileDown");
        sync_signals(host_relayer);
        ck_assert_uint_eq(state.n_signals, 0);

        /* The relayer restarted: a new connection with the same object path. Only the new one is heard. */
        relayer_start(&relayer2, &host_relayer2);
        ck_assert_int_ge(sdloop_proxy_set_target(proxy, host_relayer2, PROVIDER_PATH), 0);
        emit_from(relayer, PROVIDER_PATH, "Old");
        emit_from(relayer2, PROVIDER_PATH, "New");
        sync_signals(host_relayer);
        sync_signals(host_relayer2);
        ck_assert_uint_eq(state.n_signals, 1);
        assert_last_signal("New");

        /* Another object on the same connection, set twice: one match, on the new path only. */
        ck_assert_int_ge(sdloop_proxy_set_target(proxy, host_relayer2, "/org/sdloop1/provider/2"), 0);
        ck_assert_int_ge(sdloop_proxy_set_target(proxy, host_relayer2, "/org/sdloop1/provider/2"), 0);
        emit_from(relayer2, PROVIDER_PATH, "Old");
        emit_from(relayer2, "/org/sdloop1/provider/2", "Moved");
        sync_signals(host_relayer2);
        ck_assert_uint_eq(state.n_signals, 2);
        assert_last_signal("Moved");

        /* A refused target keeps the old match. */
        ck_assert_int_eq(sdloop_proxy_set_target(proxy, host_relayer, "bad"), -EINVAL);
        emit_from(relayer2, "/org/sdloop1/provider/2", "Kept");
        sync_signals(host_relayer2);
        ck_assert_uint_eq(state.n_signals, 3);
        assert_last_signal("Kept");

        /* Gone with the proxy. */
        proxy = sdloop_proxy_free(proxy);
        emit_from(relayer2, "/org/sdloop1/provider/2", "Late");
        sync_signals(host_relayer2);
        ck_assert_uint_eq(state.n_signals, 3);
}
END_TEST

START_TEST(test_signals_dropped_without_proxy_side) {
        /* The median connection is gone (the plugin restarts): the signal goes nowhere, quietly. */
        sdloop_peer_disconnect(host_median);
        emit_from(relayer, PROVIDER_PATH, "Changed");
        sync_with(host_relayer);
        ck_assert_uint_eq(state.n_signals, 0);
}
END_TEST

static Suite *proxy_suite(void) {
        Suite *s = suite_create("proxy");
        TCase *tc = tcase_create("proxy");

        tcase_add_checked_fixture(tc, setup, teardown);
        tcase_add_test(tc, test_replies_copied);
        tcase_add_test(tc, test_errors_kept);
        tcase_add_test(tc, test_standard_interfaces_forwarded);
        tcase_add_test(tc, test_waits_for_target);
        tcase_add_test(tc, test_deadline);
        tcase_add_test(tc, test_target_dies_mid_call);
        tcase_add_test(tc, test_host_drops_target_mid_call);
        tcase_add_test(tc, test_free_answers_calls);
        tcase_add_test(tc, test_bad_arguments);
        tcase_add_test(tc, test_context_forwarded);
        tcase_add_test(tc, test_context_kept_while_queued);
        tcase_add_test(tc, test_signals_forwarded);
        tcase_add_test(tc, test_signals_of_other_objects_dropped);
        tcase_add_test(tc, test_signals_follow_target);
        tcase_add_test(tc, test_signals_dropped_without_proxy_side);
        suite_add_tcase(s, tc);
        return s;
}

int main(void) {
        SRunner *sr = srunner_create(proxy_suite());
        int failed;

        srunner_run_all(sr, CK_NORMAL);
        failed = srunner_ntests_failed(sr);
        srunner_free(sr);
        return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
