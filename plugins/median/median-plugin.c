/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* org.sdloop1.PluginMedian on the root of every connection and the factories it creates, plus what the
 * operations of median-observation.c, median-report.c, median-accept.c and median-factory.c share. */

#include <stdarg.h>
#include <time.h>

#include "median-config-watch.h"
#include "median-internal.h"
#include "median-plugin.h"

int64_t median_now_nsec(void) {
        struct timespec ts = {};

        (void) clock_gettime(CLOCK_REALTIME, &ts);
        return (int64_t) ts.tv_sec * 1000000000 + ts.tv_nsec;
}

void median_digest_prefix(const uint8_t digest[static SDLOOP_DIGEST_SIZE], char buf[static 17]) {
        for (size_t i = 0; i < 8; i++)
                sprintf(buf + 2 * i, "%02x", digest[i]);
}

void median_call_fail(SdloopCall *call, int r, const sd_bus_error *cause, const char *format, ...) {
        _cleanup_(sd_bus_error_free) sd_bus_error e = SD_BUS_ERROR_NULL;
        _cleanup_free_ char *prefix = NULL;
        va_list ap;

        if (r >= 0)
                r = -EIO;
        if (format) {
                va_start(ap, format);
                if (vasprintf(&prefix, format, ap) < 0)
                        prefix = NULL;
                va_end(ap);
        }

        if (cause && sd_bus_error_is_set(cause)) {
                if (prefix)
                        (void) sd_bus_error_setf(&e, cause->name, "%s: %s", prefix, strempty(cause->message));
                else
                        (void) sd_bus_error_copy(&e, cause);
        } else if (prefix)
                (void) sdloop_error_ensure(&e, r, prefix);

        /* Without a message of our own the library names the method and the errno, as for an immediate
         * failure. */
        if (sd_bus_error_is_set(&e))
                (void) sdloop_call_return_error(call, &e);
        else
                (void) sdloop_call_return_errno(call, r, NULL);
}

int median_transmission_from_reply(const uint8_t digest[static SDLOOP_DIGEST_SIZE], uint32_t epoch, uint8_t round,
                                   const char *latest_answer, int64_t latest_timestamp_usec,
                                   MedianTransmission *ret, sd_bus_error *error) {
        MedianTransmission t = {
                .epoch_round = { epoch, round },
                .latest_timestamp_usec = latest_timestamp_usec,
        };

        memcpy(t.digest, digest, SDLOOP_DIGEST_SIZE);
        if (!latest_answer || sdloop_int_from_decimal(latest_answer, &t.latest_answer) < 0)
                return sdloop_error_invalid(error, "LatestTransmissionDetails reply.latest_answer",
                                            "not a decimal: %s", strempty(latest_answer));
        *ret = t;
        return 0;
}

/* --- PluginMedian ------------------------------------------------------------------------------------- */

static MedianFactory *median_factory_free(MedianFactory *f) {
        if (!f)
                return NULL;
        median_config_watch_free(f->config_watch);
        free(f->provider);
        free(f->data_source);
        free(f->juels_data_source);
        free(f->error_log);
        return mfree(f);
}

static void median_factory_freep(MedianFactory **f) {
        median_factory_free(*f);
}

static void factory_object_close(void *userdata) {
        median_factory_free(userdata);
}

static int plugin_median_new_median_factory(void *userdata, SdloopObject *parent, const SdloopMedianDeps *deps,
                                            SdloopObject **ret, sd_bus_error *error) {
        _cleanup_(median_factory_freep) MedianFactory *fac = NULL;
        SdloopObject *o = NULL;
        int r;

        fac = new0(MedianFactory, 1);
        if (!fac)
                return -ENOMEM;
        fac->peer = sdloop_object_get_peer(parent);
        fac->provider = strdup(deps->provider);
        fac->data_source = strdup(deps->data_source);
        fac->juels_data_source = strdup(deps->juels_data_source);
        fac->error_log = strdup(deps->error_log);
        if (!fac->provider || !fac->data_source || !fac->juels_data_source || !fac->error_log)
                return -ENOMEM;

        r = sdloop_object_new(fac->peer, parent, "factory",
                              &(SdloopObjectOps) { .close = factory_object_close }, fac, &o);
        if (r < 0)
                return sdloop_error_setf(error, SDLOOP_ERROR_INTERNAL, "failed to create the factory: %s",
                                         strerror(-r));
        MedianFactory *f = TAKE_PTR(fac);

        r = sdloop_reporting_plugin_factory_export(o, &median_factory_ops, f);
        if (r < 0) {
                sdloop_object_close(o);
                return sdloop_error_setf(error, SDLOOP_ERROR_INTERNAL, "failed to export the factory: %s",
                                         strerror(-r));
        }

        r = median_config_watch_new(f->peer, f->provider, sdloop_object_get_path(o), &f->config_watch);
        if (r < 0) {
                sdloop_object_close(o);
                return sdloop_error_setf(error, SDLOOP_ERROR_INTERNAL, "failed to watch %s for ConfigChanged: %s",
                                         f->provider, strerror(-r));
        }

        log_info("%s: median factory for provider %s, data sources %s and %s, error log %s.",
                 sdloop_object_get_path(o), f->provider, f->data_source, f->juels_data_source, f->error_log);
        *ret = o;
        return 0;
}

static const SdloopPluginMedianOps plugin_median_ops = {
        .new_median_factory = plugin_median_new_median_factory,
};

int median_plugin_connection_setup(SdloopPlugin *plugin, SdloopPeer *peer, SdloopObject *root, void *userdata) {
        return sdloop_plugin_median_export(root, &plugin_median_ops, NULL);
}
