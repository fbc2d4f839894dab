/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* ReportingPluginFactory.NewReportingPlugin: check the config, have the relayer's OnchainConfigCodec decode
 * the onchain config and its ReportCodec say how long reports get, then create the ReportingPlugin. */

#include "median-codec.h"
#include "median-internal.h"

static const SdloopReportingPluginOps reporting_plugin_ops = {
        .query = median_plugin_query,
        .observation = median_plugin_observation,
        .report = median_plugin_report,
        .should_accept_finalized_report = median_plugin_should_accept_finalized_report,
        .should_transmit_accepted_report = median_plugin_should_transmit_accepted_report,
};

static MedianPlugin *median_plugin_free(MedianPlugin *p) {
        if (!p)
                return NULL;
        free(p->path);
        return mfree(p);
}

static void plugin_object_close(void *userdata) {
        MedianPlugin *p = userdata;

        log_debug("%s: closed.", p->path);
        median_plugin_free(p);
}

/* One NewReportingPlugin() while the provider is asked: the plugin's state until its object owns it. */
typedef struct FactoryJob {
        SdloopCall *call;
        MedianFactory *factory;
        SdloopObject *factory_object; /* valid while the call is: closing it cancels the call first */
        sd_bus_slot *slot;
        MedianPlugin *plugin;
} FactoryJob;

static FactoryJob *factory_job_free(FactoryJob *j) {
        if (!j)
                return NULL;
        sd_bus_slot_unref(j->slot);
        median_plugin_free(j->plugin);
        sdloop_call_unref(j->call);
        return mfree(j);
}

static void factory_job_freep(FactoryJob **j) {
        factory_job_free(*j);
}

static void factory_job_cancel(SdloopCall *call, void *userdata) {
        factory_job_free(userdata);
}

static void factory_job_fail(FactoryJob *j, int r, const sd_bus_error *cause, const char *what) {
        if (what)
                median_call_fail(j->call, r, cause, "%s", what);
        else
                median_call_fail(j->call, r, cause, NULL);
        factory_job_free(j);
}

static int factory_check_config(const SdloopReportingPluginConfig *config, sd_bus_error *error) {
        /* Oracle ids are one byte; libocr tolerates at most f faulty oracles out of n > 3f. */
        if (config->n == 0 || config->n > UINT8_MAX + 1)
                return sdloop_error_invalid(error, "config.n", "%" PRIu32 " oracles, expected 1…256",
                                            config->n);
        if (config->oracle_id >= config->n)
                return sdloop_error_invalid(error, "config.oracle_id", "%u is not below n=%" PRIu32,
                                            config->oracle_id, config->n);
        if ((uint64_t) config->f * 3 >= config->n)
                return sdloop_error_invalid(error, "config.f",
                                            "f=%" PRIu32 " needs more than 3f oracles, n=%" PRIu32, config->f,
                                            config->n);
        return 0;
}

/* Everything is known: create the object, which owns the plugin's state from here on. */
static void factory_create_plugin(FactoryJob *j) {
        static char name[] = MEDIAN_PLUGIN_NAME;
        char digest[17], min[SDLOOP_INT_DECIMAL_MAX], max[SDLOOP_INT_DECIMAL_MAX];
        _cleanup_(sd_bus_error_free) sd_bus_error e = SD_BUS_ERROR_NULL;
        SdloopObject *o = NULL;
        MedianPlugin *q;
        int r;

        r = sdloop_object_new(j->factory->peer, j->factory_object, "reporting_plugin",
                              &(SdloopObjectOps) { .close = plugin_object_close }, j->plugin, &o);
        if (r < 0) {
                (void) sdloop_error_setf(&e, SDLOOP_ERROR_INTERNAL, "failed to create the reporting plugin: %s",
                                         strerror(-r));
                factory_job_fail(j, r, &e, NULL);
                return;
        }
        q = TAKE_PTR(j->plugin);
        q->path = strdup(sdloop_object_get_path(o));
        if (!q->path) {
                sdloop_object_close(o);
                factory_job_fail(j, -ENOMEM, NULL, NULL);
                return;
        }
        r = sdloop_reporting_plugin_export(o, &reporting_plugin_ops, q);
        if (r < 0) {
                sdloop_object_close(o);
                (void) sdloop_error_setf(&e, SDLOOP_ERROR_INTERNAL, "failed to export the reporting plugin: %s",
                                         strerror(-r));
                factory_job_fail(j, r, &e, NULL);
                return;
        }

        median_digest_prefix(q->config_digest, digest);
        log_info("%s: config %s…, oracle %u of n=%" PRIu32 ", f=%" PRIu32 ", alpha_report %s%" PRIu64 " ppb, "
                 "alpha_accept %s%" PRIu64 " ppb, deltaC %" PRIu64 " ns, answers in [%s, %s], "
                 "reports up to %" PRIu64 " bytes.", q->path, digest, q->oracle_id, q->n, q->f,
                 q->offchain.alpha_report_infinite ? "infinite, " : "", q->offchain.alpha_report_ppb,
                 q->offchain.alpha_accept_infinite ? "infinite, " : "", q->offchain.alpha_accept_ppb,
                 q->offchain.delta_c_nsec, sdloop_int_to_decimal(&q->onchain.min, min),
                 sdloop_int_to_decimal(&q->onchain.max, max), q->max_report_length);

        r = sdloop_reporting_plugin_factory_new_reporting_plugin_return(j->call, o,
                &(SdloopReportingPluginInfo) {
                        .name = name,
                        .unique_reports = false,
                        .max_query_length = 0,
                        .max_observation_length = MEDIAN_MAX_OBSERVATION_LENGTH,
                        .max_report_length = q->max_report_length,
                });
        /* A plugin the library refused it closed itself; one it never got to is ours to close, or nobody
         * ever will. */
        if (r == -ECANCELED || r == -ESTALE) {
                log_debug_errno(r, "%s: NewReportingPlugin is no longer answered, closing: %m", q->path);
                sdloop_object_close(o);
        }
        factory_job_free(j);
}

static void on_max_report_length(SdloopPeer *peer, int r, int64_t max, sd_bus_error *error, void *userdata) {
        _cleanup_(sd_bus_error_free) sd_bus_error e = SD_BUS_ERROR_NULL;
        FactoryJob *j = userdata;

        j->slot = sd_bus_slot_unref(j->slot);
        if (r < 0) {
                factory_job_fail(j, r, error, "ReportCodec.MaxReportLength failed");
                return;
        }
        if (max < 0 || (uint64_t) max > SDLOOP_PAYLOAD_MAX) {
                r = sdloop_error_setf(&e, SDLOOP_ERROR_INTERNAL,
                                      "ReportCodec.MaxReportLength(%" PRIu32 ") returned %" PRIi64
                                      ", outside 0…%u", j->plugin->n, max, SDLOOP_PAYLOAD_MAX);
                factory_job_fail(j, r, &e, NULL);
                return;
        }
        j->plugin->max_report_length = (uint64_t) max;

        factory_create_plugin(j);
}

static void on_onchain_config_decoded(SdloopPeer *peer, int r, SdloopOnchainConfig *config, sd_bus_error *error,
                                      void *userdata) {
        _cleanup_(sd_bus_error_free) sd_bus_error e = SD_BUS_ERROR_NULL;
        FactoryJob *j = userdata;
        MedianOnchainConfig c;

        j->slot = sd_bus_slot_unref(j->slot);
        if (r < 0) {
                /* The encoding belongs to the chain: the relayer's codec knows it, its refusal comes back. */
                factory_job_fail(j, r, error, "config.onchain_config: OnchainConfigCodec.Decode failed");
                return;
        }
        if (!config->min || !config->max || sdloop_int_from_decimal(config->min, &c.min) < 0 ||
            sdloop_int_from_decimal(config->max, &c.max) < 0) {
                r = sdloop_error_invalid(&e, "config.onchain_config", "min or max is not a decimal");
                factory_job_fail(j, r, &e, NULL);
                return;
        }
        if (sdloop_int_compare(&c.min, &c.max) > 0) {
                r = sdloop_error_invalid(&e, "config.onchain_config", "min %s is greater than max %s",
                                         config->min, config->max);
                factory_job_fail(j, r, &e, NULL);
                return;
        }
        j->plugin->onchain = c;

        r = sdloop_report_codec_max_report_length_async(j->factory->peer, j->factory->provider, j->plugin->n,
                                                        sdloop_call_get_context(j->call), on_max_report_length, j,
                                                        &j->slot);
        if (r < 0)
                factory_job_fail(j, r, NULL, "ReportCodec.MaxReportLength failed");
}

static int factory_new_reporting_plugin(void *userdata, SdloopObject *factory,
                                        const SdloopReportingPluginConfig *config, SdloopObject **ret,
                                        SdloopReportingPluginInfo *ret_info, sd_bus_error *error) {
        _cleanup_(factory_job_freep) FactoryJob *job = NULL;
        MedianFactory *fac = userdata;
        const char *reason = NULL;
        MedianPlugin *p;
        FactoryJob *j;
        int r;

        r = factory_check_config(config, error);
        if (r < 0)
                return r;

        job = new0(FactoryJob, 1);
        if (!job)
                return -ENOMEM;
        job->factory = fac;
        job->factory_object = factory;
        job->plugin = p = new0(MedianPlugin, 1);
        if (!p)
                return -ENOMEM;
        p->factory = fac;
        memcpy(p->config_digest, config->digest, SDLOOP_DIGEST_SIZE);
        p->oracle_id = config->oracle_id;
        p->n = config->n;
        p->f = config->f;

        r = sdloop_median_offchain_config_decode(config->offchain_config.data, config->offchain_config.size,
                                                 &p->offchain, &reason);
        if (r < 0)
                return sdloop_error_invalid(error, "config.offchain_config", "%s", reason);
        if (r > 0)
                log_warning("NewReportingPlugin: the offchain config carries fields this plugin does not know, "
                            "ignoring them.");

        job->call = sdloop_call_defer();
        if (!job->call)
                return -ENOMEM;
        /* From here on the call is answered through the job. */
        j = TAKE_PTR(job);
        sdloop_call_set_cancel_handler(j->call, factory_job_cancel, j);

        r = sdloop_onchain_config_codec_decode_async(fac->peer, fac->provider, config->onchain_config.data,
                                                     config->onchain_config.size, sdloop_call_get_context(j->call),
                                                     on_onchain_config_decoded, j, &j->slot);
        if (r < 0)
                factory_job_fail(j, r, NULL, "config.onchain_config: OnchainConfigCodec.Decode failed");
        return 0;
}

const SdloopReportingPluginFactoryOps median_factory_ops = {
        .new_reporting_plugin = factory_new_reporting_plugin,
};
