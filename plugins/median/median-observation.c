/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* ReportingPlugin.Query and Observation. Observation asks both data sources at once — both are asked even
 * if one fails, as libocr asks both, so that the ErrorLog hears of both. Once both have answered, each
 * failure goes to the host's ErrorLog, and the caller is answered when the ErrorLog has taken them: it
 * learns of a failure only after the error log did. */

#include "median-codec.h"
#include "median-internal.h"

typedef struct ObservationJob ObservationJob;

/* One data source: its outstanding call (Observe, then SaveError) and what came of it. */
typedef struct ObservationSource {
        ObservationJob *job;
        const char *path; /* the factory's */
        const char *what; /* how the failure names it */
        sd_bus_slot *slot;
        bool observed;
        SdloopInt value;
        char *failure; /* as saved in the ErrorLog */
} ObservationSource;

struct ObservationJob {
        SdloopCall *call;
        MedianPlugin *plugin;
        ObservationSource sources[2]; /* the value, the juels per fee coin */
};

static ObservationJob *observation_job_free(ObservationJob *j) {
        if (!j)
                return NULL;
        for (size_t i = 0; i < ELEMENTSOF(j->sources); i++) {
                sd_bus_slot_unref(j->sources[i].slot);
                free(j->sources[i].failure);
        }
        sdloop_call_unref(j->call);
        return mfree(j);
}

static void observation_job_freep(ObservationJob **j) {
        observation_job_free(*j);
}

static void observation_job_cancel(SdloopCall *call, void *userdata) {
        observation_job_free(userdata);
}

static bool observation_job_observed(const ObservationJob *j) {
        for (size_t i = 0; i < ELEMENTSOF(j->sources); i++)
                if (!j->sources[i].observed)
                        return false;
        return true;
}

static bool observation_job_waiting(const ObservationJob *j) {
        for (size_t i = 0; i < ELEMENTSOF(j->sources); i++)
                if (j->sources[i].slot)
                        return true;
        return false;
}

static void observation_finish(ObservationJob *j) {
        const ObservationSource *v = j->sources, *u = j->sources + 1;
        _cleanup_(sd_bus_error_free) sd_bus_error e = SD_BUS_ERROR_NULL;
        _cleanup_(sdloop_bytes_done) SdloopBytes observation = {};
        int r;

        if (v->failure || u->failure) {
                (void) sdloop_error_setf(&e, SDLOOP_ERROR_INTERNAL, "error in Observation: %s%s%s",
                                         strempty(v->failure), v->failure && u->failure ? "; " : "",
                                         strempty(u->failure));
                (void) sdloop_call_return_error(j->call, &e);
        } else {
                r = median_observation_encode((uint32_t) (median_now_nsec() / 1000000000), &v->value, &u->value,
                                              &observation);
                if (r < 0) {
                        (void) sdloop_error_setf(&e, SDLOOP_ERROR_INTERNAL,
                                                 "failed to encode the observation: %s", strerror(-r));
                        (void) sdloop_call_return_error(j->call, &e);
                } else
                        (void) sdloop_reporting_plugin_observation_return(j->call, &observation);
        }
        observation_job_free(j);
}

static void on_error_saved(SdloopPeer *peer, int r, sd_bus_error *error, void *userdata) {
        ObservationSource *s = userdata;
        ObservationJob *j = s->job;

        s->slot = sd_bus_slot_unref(s->slot);
        if (r < 0)
                log_warning_errno(r, "%s: failed to save the error in ErrorLog %s, ignoring: %s", j->plugin->path,
                                  j->plugin->factory->error_log,
                                  error && error->message ? error->message : strerror(-r));
        if (!observation_job_waiting(j))
                observation_finish(j);
}

/* Both sources answered: tell the ErrorLog of each failure, in the sources' order. */
static void observation_save_errors(ObservationJob *j) {
        MedianPlugin *p = j->plugin;
        int r;

        for (size_t i = 0; i < ELEMENTSOF(j->sources); i++) {
                ObservationSource *s = j->sources + i;

                if (!s->failure)
                        continue;

                log_warning("%s: %s", p->path, s->failure);
                r = sdloop_error_log_save_error_async(p->factory->peer, p->factory->error_log, s->failure,
                                                      sdloop_call_get_context(j->call), on_error_saved, s, &s->slot);
                if (r < 0)
                        log_warning_errno(r, "%s: failed to save the error in ErrorLog %s, ignoring: %s", p->path,
                                          p->factory->error_log, strerror(-r));
        }
        if (!observation_job_waiting(j))
                observation_finish(j);
}

/* What one Observe gave: a value that fits the observation's int192, or a failure for the ErrorLog.
 * @cause may be NULL (the call could not be sent). */
static int observation_source_done(ObservationSource *s, int r, const char *value, const sd_bus_error *cause) {
        _cleanup_(sd_bus_error_free) sd_bus_error e = SD_BUS_ERROR_NULL;
        uint8_t encoded[SDLOOP_INT192_BYTES];
        SdloopInt v = {};

        s->observed = true;
        if (r >= 0 && (!value || sdloop_int_from_decimal(value, &v) < 0))
                r = sdloop_error_invalid(&e, "value", "not a decimal: %s", strempty(value));
        if (r >= 0 && sdloop_int_to_int192(&v, encoded) < 0)
                r = sdloop_error_invalid(&e, "value", "%s does not fit in a signed 192-bit integer", value);
        if (r >= 0) {
                s->value = v;
                return 0;
        }

        if (sd_bus_error_is_set(&e))
                cause = &e;
        if (asprintf(&s->failure, "%s.Observe returned an error: %s", s->what,
                     cause && cause->message ? cause->message :
                     cause && cause->name ? cause->name : strerror(-r)) < 0) {
                s->failure = NULL;
                return log_oom();
        }
        if (strlen(s->failure) >= SDLOOP_ERROR_LOG_MESSAGE_MAX)
                s->failure[SDLOOP_ERROR_LOG_MESSAGE_MAX - 1] = '\0';
        return 0;
}

static void on_observed(SdloopPeer *peer, int r, char **value, sd_bus_error *error, void *userdata) {
        ObservationSource *s = userdata;
        ObservationJob *j = s->job;

        s->slot = sd_bus_slot_unref(s->slot);
        r = observation_source_done(s, r, r >= 0 && value ? *value : NULL, error);
        if (r < 0) {
                median_call_fail(j->call, r, NULL, NULL);
                observation_job_free(j);
                return;
        }

        if (observation_job_observed(j))
                observation_save_errors(j);
}

int median_plugin_query(void *userdata, const SdloopReportTimestamp *ts, SdloopBytes *ret_query,
                        sd_bus_error *error) {
        /* The median protocol needs no query: the leader asks everybody for the same thing. */
        *ret_query = (SdloopBytes) {};
        return 0;
}

int median_plugin_observation(void *userdata, const SdloopReportTimestamp *ts, const SdloopBytes *query,
                              SdloopBytes *ret_observation, sd_bus_error *error) {
        _cleanup_(observation_job_freep) ObservationJob *job = NULL;
        MedianPlugin *p = userdata;
        ObservationJob *j;
        int r;

        if (query->size != 0)
                return sdloop_error_invalid(error, "query", "expected an empty query, got %zu bytes",
                                            query->size);

        job = new0(ObservationJob, 1);
        if (!job)
                return -ENOMEM;
        job->plugin = p;
        job->sources[0] = (ObservationSource) {
                .job = job,
                .path = p->factory->data_source,
                .what = "DataSource",
        };
        job->sources[1] = (ObservationSource) {
                .job = job,
                .path = p->factory->juels_data_source,
                .what = "JuelsPerFeeCoinDataSource",
        };

        job->call = sdloop_call_defer();
        if (!job->call)
                return -ENOMEM;
        /* From here on the call is answered through the job. */
        j = TAKE_PTR(job);
        sdloop_call_set_cancel_handler(j->call, observation_job_cancel, j);

        for (size_t i = 0; i < ELEMENTSOF(j->sources); i++) {
                ObservationSource *s = j->sources + i;

                r = sdloop_data_source_observe_async(p->factory->peer, s->path, ts, sdloop_call_get_context(j->call),
                                                     on_observed, s, &s->slot);
                if (r < 0)
                        r = observation_source_done(s, r, NULL, NULL);
                if (r < 0) {
                        median_call_fail(j->call, r, NULL, NULL);
                        observation_job_free(j);
                        return 0;
                }
        }

        /* Neither could be sent: nothing to wait for but the ErrorLog. */
        if (observation_job_observed(j))
                observation_save_errors(j);
        return 0;
}
