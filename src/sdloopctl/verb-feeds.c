/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* feeds: Manager.ListFeeds, each feed's latest answer, and Manager.GetFeedStatus, its counters. */

#include "sdloopctl.h"
#include "table.h"

typedef struct Feed {
        char *name;
        char *answer; /* decimal string, kept as text: it may not fit any C integer */
        uint32_t epoch;
        uint8_t round;
        uint64_t timestamp_usec;
        uint64_t reports_transmitted;
        char *state;
        json_object *status; /* GetFeedStatus; NULL from a daemon without it */
} Feed;

static void feeds_free(Feed *feeds, size_t n) {
        for (size_t i = 0; feeds && i < n; i++) {
                free(feeds[i].name);
                free(feeds[i].answer);
                free(feeds[i].state);
                if (feeds[i].status)
                        json_object_put(feeds[i].status);
        }
        free(feeds);
}

static int feed_compare(const void *a, const void *b) {
        return strcmp(((const Feed *) a)->name, ((const Feed *) b)->name);
}

static int feeds_list(sd_bus *bus, Feed **ret, size_t *ret_n, sd_bus_error *error) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        Feed *feeds = NULL;
        size_t n = 0;
        int r;

        r = sd_bus_call_method(bus, SDLOOP_SERVICE, SDLOOP_MANAGER_PATH, SDLOOP_MANAGER_INTERFACE, "ListFeeds",
                               error, &reply, NULL);
        if (r < 0)
                return r;

        r = sd_bus_message_enter_container(reply, 'a', "(ssuytts)");
        if (r < 0)
                goto bad_reply;
        for (;;) {
                const char *name, *answer, *state;
                Feed f = {}, *b;

                r = sd_bus_message_read(reply, "(ssuytts)", &name, &answer, &f.epoch, &f.round, &f.timestamp_usec,
                                        &f.reports_transmitted, &state);
                if (r < 0)
                        goto bad_reply;
                if (r == 0)
                        break;

                b = reallocarray(feeds, n + 1, sizeof(Feed));
                if (!b) {
                        r = -ENOMEM;
                        goto fail;
                }
                feeds = b;
                f.name = strdup(name);
                f.answer = strdup(answer);
                f.state = strdup(state);
                feeds[n++] = f;
                if (!f.name || !f.answer || !f.state) {
                        r = -ENOMEM;
                        goto fail;
                }
        }
        r = sd_bus_message_exit_container(reply);
        if (r < 0)
                goto bad_reply;

        if (n > 0)
                qsort(feeds, n, sizeof(Feed), feed_compare);

        for (size_t i = 0; i < n; i++) {
                _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL;
                _cleanup_(sd_bus_error_free) sd_bus_error e = SD_BUS_ERROR_NULL;
                const char *text;

                /* A feed removed meanwhile, or a daemon that does not know the method: the list as it is. */
                if (sd_bus_call_method(bus, SDLOOP_SERVICE, SDLOOP_MANAGER_PATH, SDLOOP_MANAGER_INTERFACE,
                                       "GetFeedStatus", &e, &m, "s", feeds[i].name) < 0)
                        continue;
                if (sd_bus_message_read(m, "s", &text) < 0)
                        continue;
                feeds[i].status = json_tokener_parse(text);
                if (feeds[i].status && !json_object_is_type(feeds[i].status, json_type_object)) {
                        json_object_put(feeds[i].status);
                        feeds[i].status = NULL;
                }
        }
        *ret = feeds;
        *ret_n = n;
        return 0;

bad_reply:
        sd_bus_error_setf(error, SD_BUS_ERROR_INVALID_ARGS, "Malformed ListFeeds reply: %s", strerror(-r));
fail:
        feeds_free(feeds, n);
        return r;
}

/* A member of the feed's status, NULL if absent or null. */
static json_object *status_get(const Feed *f, const char *key) {
        json_object *v = NULL;

        if (!f->status || !json_object_object_get_ex(f->status, key, &v))
                return NULL;
        return v;
}

static int64_t status_count(const Feed *f, const char *key) {
        json_object *v = status_get(f, key), *t = NULL;

        if (v && json_object_is_type(v, json_type_object) && json_object_object_get_ex(v, "total", &t))
                v = t;
        return v && json_object_is_type(v, json_type_int) ? json_object_get_int64(v) : -1;
}

static int print_feeds_json(const Feed *feeds, size_t n) {
        json_object *a = json_object_new_array();
        int ret;

        if (!a)
                return log_oom();
        for (size_t i = 0; i < n; i++) {
                const Feed *f = &feeds[i];
                json_object *o = json_object_new_object();

                if (!o || json_object_array_add(a, o) < 0) {
                        json_object_put(o);
                        json_object_put(a);
                        return log_oom();
                }
                /* The answer stays a string, as on the bus: JSON numbers lose big integers in many readers. */
                if (json_add(o, "name", json_object_new_string(f->name)) < 0 ||
                    json_add(o, "state", json_object_new_string(f->state)) < 0 ||
                    json_add(o, "latest_answer", json_object_new_string(f->answer)) < 0 ||
                    json_add(o, "epoch", json_object_new_int64(f->epoch)) < 0 ||
                    json_add(o, "round", json_object_new_int64(f->round)) < 0 ||
                    json_add(o, "latest_timestamp_usec", json_object_new_uint64(f->timestamp_usec)) < 0 ||
                    json_add(o, "reports_transmitted", json_object_new_uint64(f->reports_transmitted)) < 0) {
                        json_object_put(a);
                        return log_oom();
                }
                /* Then the counters, as the daemon has them (docs/feeds.md). */
                if (f->status) {
                        json_object_object_foreach(f->status, key, value)
                                if (!json_object_object_get_ex(o, key, NULL) &&
                                    json_add(o, key, value ? json_object_get(value) : NULL) < 0) {
                                        json_object_put(a);
                                        return log_oom();
                                }
                }
        }
        ret = json_print(a);
        json_object_put(a);
        return ret;
}

int verb_feeds(sd_bus *bus, char **args) {
        static const char * const headers[] = {
                "FEED", "STATE", "ANSWER", "EPOCH", "ROUND", "UPDATED", "REPORTS", "STARTED", "SKIPPED", "FAILED",
                "LAST REASON", NULL
        };
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_(table_freep) Table *t = NULL;
        Feed *feeds = NULL;
        size_t n = 0;
        int r, ret = EXIT_OK;

        r = feeds_list(bus, &feeds, &n, &error);
        if (r < 0)
                return log_bus_error(&error, r, "Failed to list feeds");

        if (arg_json != JSON_OFF) {
                ret = print_feeds_json(feeds, n);
                goto finish;
        }

        t = table_new(headers);
        if (!t) {
                ret = log_oom();
                goto finish;
        }
        for (size_t col = 2; col <= 9; col++)
                if (col != 5)
                        table_set_align(t, col, TABLE_ALIGN_RIGHT);

        for (size_t i = 0; i < n; i++) {
                const Feed *f = &feeds[i];
                char stamp[FORMAT_TIMESTAMP_MAX], counts[3][32];
                const char * const keys[3] = { "rounds_started", "rounds_skipped", "rounds_failed" };
                json_object *decimal = status_get(f, "latest_answer_decimal"), *reason = status_get(f, "last_reason");
                const char *answer = f->answer;

                /* With the value source's decimals, when the daemon knows them. */
                if (decimal && json_object_is_type(decimal, json_type_string))
                        answer = json_object_get_string(decimal);
                for (size_t k = 0; k < 3; k++) {
                        int64_t c = status_count(f, keys[k]);

                        if (c < 0)
                                strcpy(counts[k], "-");
                        else
                                snprintf(counts[k], sizeof(counts[k]), "%" PRIi64, c);
                }

                if (table_add_cell(t, f->name, ANSI_HIGHLIGHT) < 0 ||
                    table_add_cell(t, f->state, state_color(f->state)) < 0 ||
                    table_add_cell(t, answer, NULL) < 0 ||
                    table_add_cellf(t, NULL, "%" PRIu32, f->epoch) < 0 ||
                    table_add_cellf(t, NULL, "%u", (unsigned) f->round) < 0 ||
                    table_add_cell(t, format_timestamp(stamp, sizeof(stamp), f->timestamp_usec), NULL) < 0 ||
                    table_add_cellf(t, NULL, "%" PRIu64, f->reports_transmitted) < 0 ||
                    table_add_cell(t, counts[0], NULL) < 0 ||
                    table_add_cell(t, counts[1], NULL) < 0 ||
                    table_add_cell(t, counts[2], NULL) < 0 ||
                    table_add_cell(t, reason && json_object_is_type(reason, json_type_string) ?
                                   json_object_get_string(reason) : "-", NULL) < 0) {
                        ret = log_oom();
                        goto finish;
                }
        }

        if (n > 0 || arg_legend)
                (void) table_print(t, stdout, arg_legend, output_columns());
        if (arg_legend)
                printf("\n%zu feed%s listed.\n", n, n == 1 ? "" : "s");

finish:
        feeds_free(feeds, n);
        return ret;
}
