/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* Operations that answer later (sdloop-call.h), across a real p2p connection: a socketpair with a server
 * peer (the objects) and a client peer (asynchronous calls) on one sd-event loop that the test turns at top
 * level. The operations defer on an sd-event timer that stands for a chain node: every call waits for the
 * node's next block, which the test "mines" when it wants the answers to go out. */

#include <check.h>
#include <sys/socket.h>

#include "macro.h"
#include "util.h"
#include "test-util.h"
#include "sdloop.h"

#define OBJECT_PATH  "/org/sdloop1/test/deferred"
#define N_CONCURRENT 64U
#define WORKS_MAX    (N_CONCURRENT + 8U)

typedef enum Answer {
        ANSWER_AT_ONCE,     /* no deferring: the immediate path */
        ANSWER_VALUE,       /* the right value, later */
        ANSWER_NOT_FOUND,   /* sdloop_call_return_errno(-ENOENT), later */
        ANSWER_BAD_DECIMAL, /* a result the library refuses, later */
        ANSWER_NULL_DIGEST, /* LatestConfigDigestAndEpoch without a digest, later */
} Answer;

typedef enum WorkKind {
        WORK_OBSERVE,
        WORK_DIGEST,
        WORK_NEW_RELAYER,
} WorkKind;

/* One deferred call, waiting for the node's next block. */
typedef struct Work {
        WorkKind kind;
        SdloopCall *call;
        sd_event_source *timer;
        uint32_t epoch;
        unsigned n_cancel;
        bool finished;
        int r;       /* what the late *_return() said */
        int r_again; /* …and a second one */
} Work;

static struct {
        Answer answer;
        /* what the operations saw */
        unsigned in_flight, max_in_flight, n_ops, n_cancel, n_ready;
        uint64_t seen_deadline;
        Work *works[WORKS_MAX];
        unsigned n_works;
        /* what reached the client */
        unsigned n_client_replies;
} st;

static sd_event *event;
static SdloopPeer *server, *client;
static SdloopObject *object;
static sd_bus_slot *client_filter;

static char *value_for(uint32_t epoch) {
        char *s;

        ck_assert_int_ge(asprintf(&s, "%" PRIu32, epoch * 10 + 1), 0);
        return s;
}

/* --- the chain node ------------------------------------------------------------------------------------ */

static void work_finish(Work *w, int r, int r_again) {
        w->finished = true;
        w->r = r;
        w->r_again = r_again;
        if (w->n_cancel == 0)
                st.in_flight--;
        w->call = sdloop_call_unref(w->call);
}

static int on_block(sd_event_source *s, uint64_t usec, void *userdata) {
        static const uint8_t digest[SDLOOP_DIGEST_SIZE] = { 0xd1, 0x9e, 0x57 };
        _cleanup_free_ char *value = NULL;
        Work *w = userdata;
        SdloopObject *relayer = NULL;
        int r = 0, r_again = 0;

        switch (w->kind) {
        case WORK_OBSERVE:
                if (st.answer == ANSWER_NOT_FOUND)
                        r = sdloop_call_return_errno(w->call, -ENOENT, "no observation for epoch %" PRIu32, w->epoch);
                else if (st.answer == ANSWER_BAD_DECIMAL)
                        r = sdloop_data_source_observe_return(w->call, "0042");
                else {
                        value = value_for(w->epoch);
                        r = sdloop_data_source_observe_return(w->call, value);
                }
                r_again = sdloop_data_source_observe_return(w->call, "1");
                break;
        case WORK_DIGEST:
                r = sdloop_contract_transmitter_latest_config_digest_and_epoch_return(
                                w->call, st.answer == ANSWER_NULL_DIGEST ? NULL : digest, 7);
                r_again = sdloop_contract_transmitter_latest_config_digest_and_epoch_return(w->call, digest, 7);
                break;
        case WORK_NEW_RELAYER:
                /* A cancelled call has forgotten its object: make the relayer only for one still waiting. */
                if (sdloop_call_is_pending(w->call))
                        ck_assert_int_eq(sdloop_object_new(server, sdloop_call_get_object(w->call), "relayer", NULL,
                                                           NULL, &relayer), 0);
                r = sdloop_plugin_relayer_new_relayer_return(w->call, relayer);
                r_again = sdloop_plugin_relayer_new_relayer_return(w->call, relayer);
                break;
        }
        work_finish(w, r, r_again);
        return 0;
}

static void on_cancel(SdloopCall *call, void *userdata) {
        Work *w = userdata;

        ck_assert_ptr_eq(call, w->call);
        ck_assert(!sdloop_call_is_pending(call));
        w->n_cancel++;
        st.n_cancel++;
        st.in_flight--;
        /* The work keeps its reference: its block still comes, and its late answer must go nowhere. */
}

/* Defer the call being served until the next block. */
static Work *work_new(WorkKind kind, uint32_t epoch) {
        Work *w;

        ck_assert_uint_lt(st.n_works, WORKS_MAX);
        w = new0(Work, 1);
        ck_assert_ptr_nonnull(w);
        w->kind = kind;
        w->epoch = epoch;
        w->call = sdloop_call_defer();
        ck_assert_ptr_nonnull(w->call);
        ck_assert(sdloop_call_is_pending(w->call));
        sdloop_call_set_cancel_handler(w->call, on_cancel, w);
        /* No block yet: the timer waits until node_mine(). */
        ck_assert_int_eq(sd_event_add_time(event, &w->timer, CLOCK_MONOTONIC, UINT64_MAX, 0, on_block, w), 0);
        ck_assert_int_eq(sd_event_source_set_enabled(w->timer, SD_EVENT_OFF), 0);

        st.works[st.n_works++] = w;
        st.in_flight++;
        st.max_in_flight = MAX(st.max_in_flight, st.in_flight);
        return w;
}

/* The next block is in: every waiting call gets its answer from the loop. */
static void node_mine(void) {
        for (unsigned i = 0; i < st.n_works; i++)
                if (!st.works[i]->finished) {
                        ck_assert_int_eq(sd_event_source_set_time(st.works[i]->timer, now_monotonic_usec()), 0);
                        ck_assert_int_eq(sd_event_source_set_enabled(st.works[i]->timer, SD_EVENT_ONESHOT), 0);
                }
}

static bool works_finished(void) {
        for (unsigned i = 0; i < st.n_works; i++)
                if (!st.works[i]->finished)
                        return false;
        return true;
}

static void works_free(void) {
        for (unsigned i = 0; i < st.n_works; i++) {
                sd_event_source_disable_unref(st.works[i]->timer);
                sdloop_call_unref(st.works[i]->call);
                free(st.works[i]);
        }
        st.n_works = 0;
}

/* --- the operations ------------------------------------------------------------------------------------ */

static int observe(void *userdata, const SdloopReportTimestamp *ts, char **ret_value, sd_bus_error *error) {
        st.n_ops++;
        st.seen_deadline = sdloop_call_get_deadline(sdloop_call_current());

        if (st.answer == ANSWER_AT_ONCE) {
                *ret_value = value_for(ts->epoch);
                return 0;
        }

        (void) work_new(WORK_OBSERVE, ts->epoch);
        /* Ignored once deferred, and still freed by the library. */
        *ret_value = test_strdup("999");
        return sdloop_error_setf(error, SDLOOP_ERROR_INTERNAL, "ignored");
}

static int latest_config_digest_and_epoch(void *userdata, uint8_t ret_digest[static SDLOOP_DIGEST_SIZE],
                                          uint32_t *ret_epoch, sd_bus_error *error) {
        st.n_ops++;
        (void) work_new(WORK_DIGEST, 0);
        return 0;
}

static int new_relayer(void *userdata, SdloopObject *parent, const char *config, const char *keystore_path,
                       SdloopObject **ret, sd_bus_error *error) {
        st.n_ops++;
        (void) work_new(WORK_NEW_RELAYER, 0);
        return 0;
}

static int ready(void *userdata, sd_bus_error *error) {
        st.n_ready++;
        return 0;
}

static const SdloopDataSourceOps data_source_ops = {
        .observe = observe,
};

static const SdloopContractTransmitterOps contract_transmitter_ops = {
        .latest_config_digest_and_epoch = latest_config_digest_and_epoch,
};

static const SdloopPluginRelayerOps plugin_relayer_ops = {
        .new_relayer = new_relayer,
};

static const SdloopObjectOps object_ops = {
        .ready = ready,
};

/* --- the client ---------------------------------------------------------------------------------------- */

typedef struct Reply {
        unsigned n;
        int r;
        sd_bus_message *message;
        sd_bus_error error;
} Reply;

static void reply_done(Reply *reply) {
        reply->message = sd_bus_message_unref(reply->message);
        sd_bus_error_free(&reply->error);
}

static void on_reply(SdloopPeer *peer, int r, sd_bus_message *message, sd_bus_error *error, void *userdata) {
        Reply *reply = userdata;

        reply->n++;
        reply->r = r;
        if (r < 0)
                (void) sd_bus_error_copy(&reply->error, error); /* returns the error's errno */
        else
                reply->message = sd_bus_message_ref(message);
}

/* Everything the server sends back, whether or not a call still waits for it. */
static int on_client_message(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        uint8_t type;

        ck_assert_int_ge(sd_bus_message_get_type(m, &type), 0);
        if (type == SD_BUS_MESSAGE_METHOD_RETURN || type == SD_BUS_MESSAGE_METHOD_ERROR)
                st.n_client_replies++;
        return 0;
}

static void call_async(const char *path, const char *interface, const char *member, const SdloopReportTimestamp *ts,
                       SdloopContext *ctx, Reply *reply) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL;

        ck_assert_int_eq(sdloop_peer_new_call(client, path, interface, member, &m), 0);
        if (ts)
                ck_assert_int_eq(sdloop_append_report_timestamp(m, ts), 0);
        if (streq(member, "NewRelayer"))
                ck_assert_int_ge(sd_bus_message_append(m, "so", "", "/org/sdloop1/host/keystore"), 0);
        ck_assert_int_eq(sdloop_peer_call_async(client, m, ctx, on_reply, reply, NULL), 0);
}

static void observe_async(uint32_t epoch, SdloopContext *ctx, Reply *reply) {
        SdloopReportTimestamp ts = { .epoch = epoch, .round = 3 };

        call_async(OBJECT_PATH, "org.sdloop1.DataSource", "Observe", &ts, ctx, reply);
}

/* Turn the loop until @cond holds; the bound only keeps a broken test from hanging. */
#define RUN_UNTIL(cond)                                                                                   \
        do {                                                                                              \
                uint64_t _give_up = now_monotonic_usec() + 30 * USEC_PER_SEC;                             \
                while (!(cond)) {                                                                         \
                        ck_assert_msg(now_monotonic_usec() < _give_up, "gave up waiting for " #cond);     \
                        ck_assert_int_ge(sd_event_run(event, 100 * USEC_PER_MSEC), 0);                    \
                }                                                                                         \
        } while (0)

static void assert_value(const Reply *reply, uint32_t epoch) {
        _cleanup_free_ char *expected = value_for(epoch);
        const char *value;

        ck_assert_int_eq(reply->n, 1);
        ck_assert_msg(reply->r == 0, "Observe(%" PRIu32 ") failed: %s", epoch, strempty(reply->error.message));
        ck_assert_int_gt(sd_bus_message_read(reply->message, "s", &value), 0);
        ck_assert_str_eq(value, expected);
}

/* --- fixture --------------------------------------------------------------------------------------------- */

static void setup(void) {
        SdloopObject *root;
        int fds[2];

        memset(&st, 0, sizeof(st));
        ck_assert_int_eq(sd_event_new(&event), 0);
        ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds), 0);
        ck_assert_int_eq(sdloop_peer_new_server(event, fds[0], &server), 0);
        ck_assert_int_eq(sdloop_peer_new_client(event, fds[1], &client), 0);
        ck_assert_int_eq(sd_bus_add_filter(sdloop_peer_get_bus(client), &client_filter, on_client_message, NULL), 0);

        ck_assert_int_eq(sdloop_object_new_at(server, NULL, OBJECT_PATH, &object_ops, NULL, &object), 0);
        ck_assert_int_eq(sdloop_data_source_export(object, &data_source_ops, NULL), 0);
        ck_assert_int_eq(sdloop_contract_transmitter_export(object, &contract_transmitter_ops, NULL), 0);

        ck_assert_int_eq(sdloop_object_new_at(server, NULL, SDLOOP_ROOT_PATH, NULL, NULL, &root), 0);
        ck_assert_int_eq(sdloop_plugin_relayer_export(root, &plugin_relayer_ops, NULL), 0);
}

static void teardown(void) {
        client_filter = sd_bus_slot_unref(client_filter);
        client = sdloop_peer_unref(client);
        /* Cancels what still waits; the works keep their references until freed. */
        server = sdloop_peer_unref(server);
        works_free();
        event = sd_event_unref(event);
        object = NULL;
}

/* --- tests ----------------------------------------------------------------------------------------------- */

START_TEST(test_concurrent) {
        Reply replies[N_CONCURRENT] = {}, ready_reply = {};

        st.answer = ANSWER_VALUE;
        for (uint32_t i = 0; i < N_CONCURRENT; i++)
                observe_async(i, NULL, &replies[i]);

        /* All of them reach the operation, none is answered: the node has no block yet. */
        RUN_UNTIL(st.n_ops == N_CONCURRENT);
        ck_assert_uint_eq(st.in_flight, N_CONCURRENT);
        ck_assert_uint_eq(st.max_in_flight, N_CONCURRENT);

        /* The object still answers what it can answer at once. */
        call_async(OBJECT_PATH, "org.sdloop1.Service", "Ready", NULL, NULL, &ready_reply);
        RUN_UNTIL(ready_reply.n == 1);
        ck_assert_int_eq(ready_reply.r, 0);
        ck_assert_uint_eq(st.n_ready, 1);
        ck_assert_uint_eq(st.in_flight, N_CONCURRENT);
        for (unsigned i = 0; i < N_CONCURRENT; i++)
                ck_assert_uint_eq(replies[i].n, 0);

        node_mine();
        RUN_UNTIL(works_finished());
        RUN_UNTIL(st.n_client_replies == N_CONCURRENT + 1);
        for (uint32_t i = 0; i < N_CONCURRENT; i++) {
                RUN_UNTIL(replies[i].n > 0);
                assert_value(&replies[i], i);
                ck_assert_int_eq(st.works[i]->r, 0);
                ck_assert_int_eq(st.works[i]->r_again, -ESTALE);
                reply_done(&replies[i]);
        }
        ck_assert_uint_eq(st.in_flight, 0);
        ck_assert_uint_eq(st.max_in_flight, N_CONCURRENT);
        ck_assert_uint_eq(st.n_cancel, 0);
        reply_done(&ready_reply);
}
END_TEST

START_TEST(test_deferred_error) {
        Reply reply = {};

        st.answer = ANSWER_NOT_FOUND;
        observe_async(5, NULL, &reply);
        RUN_UNTIL(st.in_flight == 1);
        node_mine();
        RUN_UNTIL(reply.n == 1);

        test_assert_error(reply.r, &reply.error, SDLOOP_ERROR_NOT_FOUND,
                          "DataSource.Observe: no observation for epoch 5");
        ck_assert_int_eq(st.works[0]->r, 0);
        ck_assert_int_eq(st.works[0]->r_again, -ESTALE);
        reply_done(&reply);
}
END_TEST

START_TEST(test_deferred_result_refused) {
        Reply bad_decimal = {}, no_digest = {}, good_digest = {};
        const void *digest;
        size_t size;
        uint32_t epoch;

        /* A malformed decimal, checked as an immediate answer is. */
        st.answer = ANSWER_BAD_DECIMAL;
        observe_async(1, NULL, &bad_decimal);
        RUN_UNTIL(st.in_flight == 1);
        node_mine();
        RUN_UNTIL(bad_decimal.n == 1);
        test_assert_error(bad_decimal.r, &bad_decimal.error, SDLOOP_ERROR_INTERNAL,
                          "DataSource.Observe: implementation returned malformed decimal");
        ck_assert_int_eq(st.works[0]->r, -EIO);
        ck_assert_int_eq(st.works[0]->r_again, -ESTALE);

        /* A digest that is not there. */
        st.answer = ANSWER_NULL_DIGEST;
        call_async(OBJECT_PATH, "org.sdloop1.ContractTransmitter", "LatestConfigDigestAndEpoch", NULL, NULL,
                   &no_digest);
        RUN_UNTIL(st.in_flight == 1);
        node_mine();
        RUN_UNTIL(no_digest.n == 1);
        test_assert_error(no_digest.r, &no_digest.error, SDLOOP_ERROR_INTERNAL,
                          "ContractTransmitter.LatestConfigDigestAndEpoch: implementation returned no digest");
        ck_assert_int_eq(st.works[1]->r, -EIO);
        ck_assert_int_eq(st.works[1]->r_again, -ESTALE);

        /* …and one that is. */
        st.answer = ANSWER_VALUE;
        call_async(OBJECT_PATH, "org.sdloop1.ContractTransmitter", "LatestConfigDigestAndEpoch", NULL, NULL,
                   &good_digest);
        RUN_UNTIL(st.in_flight == 1);
        node_mine();
        RUN_UNTIL(good_digest.n == 1);
        ck_assert_int_eq(good_digest.r, 0);
        ck_assert_int_gt(sd_bus_message_read_array(good_digest.message, 'y', &digest, &size), 0);
        ck_assert_uint_eq(size, SDLOOP_DIGEST_SIZE);
        ck_assert_uint_eq(((const uint8_t *) digest)[0], 0xd1);
        ck_assert_int_gt(sd_bus_message_read(good_digest.message, "u", &epoch), 0);
        ck_assert_uint_eq(epoch, 7);
        ck_assert_int_eq(st.works[2]->r, 0);

        reply_done(&bad_decimal);
        reply_done(&no_digest);
        reply_done(&good_digest);
}
END_TEST

START_TEST(test_deferred_object) {
        Reply reply = {};
        const char *path;

        call_async(SDLOOP_ROOT_PATH, "org.sdloop1.PluginRelayer", "NewRelayer", NULL, NULL, &reply);
        RUN_UNTIL(st.in_flight == 1);
        node_mine();
        RUN_UNTIL(reply.n == 1);
        ck_assert_msg(reply.r == 0, "NewRelayer failed: %s", strempty(reply.error.message));
        ck_assert_int_gt(sd_bus_message_read(reply.message, "o", &path), 0);
        ck_assert(test_startswith(path, "/org/sdloop1/relayer/"));
        ck_assert_ptr_nonnull(sdloop_peer_find_object(server, path));
        ck_assert_int_eq(st.works[0]->r, 0);
        reply_done(&reply);
}
END_TEST

START_TEST(test_cancel_on_disconnect) {
        Reply reply = {}, relayer = {};

        st.answer = ANSWER_VALUE;
        observe_async(2, NULL, &reply);
        call_async(SDLOOP_ROOT_PATH, "org.sdloop1.PluginRelayer", "NewRelayer", NULL, NULL, &relayer);
        RUN_UNTIL(st.in_flight == 2);

        sdloop_peer_disconnect(client);
        RUN_UNTIL(st.n_cancel == 2 && reply.n == 1 && relayer.n == 1);
        test_assert_error(reply.r, &reply.error, SDLOOP_ERROR_PLUGIN_UNAVAILABLE, NULL);
        test_assert_error(relayer.r, &relayer.error, SDLOOP_ERROR_PLUGIN_UNAVAILABLE, NULL);
        ck_assert_uint_eq(st.in_flight, 0);

        /* The answers come too late: nothing is sent. */
        node_mine();
        RUN_UNTIL(works_finished());
        for (unsigned i = 0; i < st.n_works; i++) {
                ck_assert_uint_eq(st.works[i]->n_cancel, 1);
                ck_assert_int_eq(st.works[i]->r, -ECANCELED);
                ck_assert_int_eq(st.works[i]->r_again, -ECANCELED);
        }
        ck_assert_uint_eq(st.n_cancel, 2);
        ck_assert_uint_eq(st.n_client_replies, 0);
        reply_done(&reply);
        reply_done(&relayer);
}
END_TEST

START_TEST(test_cancel_on_close) {
        Reply reply = {}, digest = {};

        st.answer = ANSWER_VALUE;
        observe_async(3, NULL, &reply);
        call_async(OBJECT_PATH, "org.sdloop1.ContractTransmitter", "LatestConfigDigestAndEpoch", NULL, NULL, &digest);
        RUN_UNTIL(st.in_flight == 2);

        sdloop_object_close(object);
        object = NULL;
        ck_assert_uint_eq(st.n_cancel, 2);
        ck_assert_uint_eq(st.in_flight, 0);

        /* The caller still listens: it learns at once that no answer will come. */
        RUN_UNTIL(reply.n == 1 && digest.n == 1);
        test_assert_error(reply.r, &reply.error, SDLOOP_ERROR_NOT_FOUND, "DataSource.Observe: ");
        test_assert_error(digest.r, &digest.error, SDLOOP_ERROR_NOT_FOUND,
                          "ContractTransmitter.LatestConfigDigestAndEpoch: ");
        ck_assert_uint_eq(st.n_client_replies, 2);

        node_mine();
        RUN_UNTIL(works_finished());
        for (unsigned i = 0; i < st.n_works; i++) {
                ck_assert_uint_eq(st.works[i]->n_cancel, 1);
                ck_assert_int_eq(st.works[i]->r, -ECANCELED);
        }

        /* Nothing more went out: a call that answers at once now gets its reply, and only that. */
        call_async(SDLOOP_ROOT_PATH, "org.sdloop1.Service", "Ready", NULL, NULL, &digest);
        RUN_UNTIL(digest.n == 2);
        ck_assert_int_eq(digest.r, 0);
        ck_assert_uint_eq(st.n_client_replies, 3);
        ck_assert_uint_eq(st.n_cancel, 2);
        reply_done(&reply);
        reply_done(&digest);
}
END_TEST

START_TEST(test_deadline_passes) {
        _cleanup_(sdloop_context_unrefp) SdloopContext *ctx = NULL;
        Reply reply = {};

        st.answer = ANSWER_VALUE;
        ck_assert_int_eq(sdloop_context_new(&ctx), 0);
        sdloop_context_set_timeout(ctx, 50 * USEC_PER_MSEC);
        observe_async(4, ctx, &reply);

        /* No block comes in time. */
        RUN_UNTIL(reply.n == 1 && st.n_cancel == 1 && st.n_client_replies == 1);
        test_assert_error(reply.r, &reply.error, SDLOOP_ERROR_TIMEOUT, NULL);
        ck_assert_uint_eq(st.works[0]->n_cancel, 1);
        ck_assert_uint_eq(st.in_flight, 0);

        node_mine();
        RUN_UNTIL(works_finished());
        ck_assert_int_eq(st.works[0]->r, -ECANCELED);
        ck_assert_uint_eq(st.n_cancel, 1);
        reply_done(&reply);
}
END_TEST

START_TEST(test_deadline_visible) {
        _cleanup_(sdloop_context_unrefp) SdloopContext *ctx = NULL;
        _cleanup_(sdloop_call_unrefp) SdloopCall *kept = NULL;
        Reply with_ctx = {}, without = {}, deferred = {};
        uint64_t deadline, before, after, timeout = 7 * USEC_PER_SEC;

        /* The caller's announced default: a call without a context still has a finite deadline. */
        sdloop_peer_set_call_timeout(client, timeout);
        st.answer = ANSWER_AT_ONCE;
        before = now_monotonic_usec();
        observe_async(1, NULL, &without);
        RUN_UNTIL(without.n == 1);
        after = now_monotonic_usec();
        assert_value(&without, 1);
        ck_assert_uint_ne(st.seen_deadline, SDLOOP_DEADLINE_NONE);
        ck_assert_uint_ge(st.seen_deadline, before + timeout);
        ck_assert_uint_le(st.seen_deadline, after + timeout);

        /* A context's deadline arrives as it was sent. */
        ck_assert_int_eq(sdloop_context_new(&ctx), 0);
        deadline = now_monotonic_usec() + 5 * USEC_PER_SEC;
        sdloop_context_set_deadline(ctx, deadline);
        observe_async(2, ctx, &with_ctx);
        RUN_UNTIL(with_ctx.n == 1);
        assert_value(&with_ctx, 2);
        ck_assert_uint_eq(st.seen_deadline, deadline);

        /* …and stays with the call once deferred. */
        st.answer = ANSWER_VALUE;
        observe_async(3, ctx, &deferred);
        RUN_UNTIL(st.in_flight == 1);
        ck_assert_uint_eq(st.seen_deadline, deadline);
        ck_assert_uint_eq(sdloop_call_get_deadline(st.works[0]->call), deadline);
        ck_assert_uint_eq(sdloop_context_get_deadline(sdloop_call_get_context(st.works[0]->call)), deadline);
        ck_assert_ptr_eq(sdloop_call_get_object(st.works[0]->call), object);
        ck_assert_ptr_eq(sdloop_call_get_peer(st.works[0]->call), server);
        kept = sdloop_call_ref(st.works[0]->call);
        node_mine();
        RUN_UNTIL(deferred.n == 1);
        assert_value(&deferred, 3);
        /* Finished: the call forgets where it came from, and keeps what it was. */
        ck_assert(!sdloop_call_is_pending(kept));
        ck_assert_ptr_null(sdloop_call_get_object(kept));
        ck_assert_ptr_null(sdloop_call_get_peer(kept));
        ck_assert_uint_eq(sdloop_call_get_deadline(kept), deadline);
        ck_assert_int_eq(sdloop_data_source_observe_return(kept, "1"), -ESTALE);

        reply_done(&without);
        reply_done(&with_ctx);
        reply_done(&deferred);
}
END_TEST

static Suite *deferred_suite(void) {
        Suite *s = suite_create("deferred");
        TCase *tc = tcase_create("deferred");

        tcase_add_checked_fixture(tc, setup, teardown);
        tcase_add_test(tc, test_concurrent);
        tcase_add_test(tc, test_deferred_error);
        tcase_add_test(tc, test_deferred_result_refused);
        tcase_add_test(tc, test_deferred_object);
        tcase_add_test(tc, test_cancel_on_disconnect);
        tcase_add_test(tc, test_cancel_on_close);
        tcase_add_test(tc, test_deadline_passes);
        tcase_add_test(tc, test_deadline_visible);
        suite_add_tcase(s, tc);
        return s;
}

int main(void) {
        SRunner *sr = srunner_create(deferred_suite());
        int failed;

        sdloop_log_parse_environment();
        srunner_run_all(sr, CK_NORMAL);
        failed = srunner_ntests_failed(sr);
        srunner_free(sr);
        return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
