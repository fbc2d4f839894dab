/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* What a reload compares to tell which plugins and feeds it may leave alone, and copies of plugin settings. */

#include "sdloopd-config-internal.h"

static bool strv_equal(char * const *a, char * const *b) {
        size_t n = strv_length(a);

        if (n != strv_length(b))
                return false;
        for (size_t i = 0; i < n; i++)
                if (!streq(a[i], b[i]))
                        return false;
        return true;
}

bool daemon_feed_config_equal(const DaemonFeedConfig *a, const DaemonFeedConfig *b) {
        return streq_ptr(a->name, b->name) && json_object_equal(a->json, b->json);
}

bool daemon_plugin_config_equal(const DaemonPluginConfig *a, const DaemonPluginConfig *b) {
        const HostPluginSettings *x = &a->settings, *y = &b->settings;

        return streq_ptr(x->name, y->name) &&
                streq_ptr(x->kind, y->kind) &&
                streq_ptr(x->binary, y->binary) &&
                streq_ptr(x->binary_sha256, y->binary_sha256) &&
                strv_equal(x->args, y->args) &&
                strv_equal(x->environment, y->environment) &&
                streq_ptr(x->socket_path, y->socket_path) &&
                streq_ptr(x->state_directory, y->state_directory) &&
                x->restart == y->restart &&
                x->restart_usec == y->restart_usec &&
                x->start_limit_burst == y->start_limit_burst &&
                x->start_limit_interval_usec == y->start_limit_interval_usec &&
                x->watchdog_usec == y->watchdog_usec &&
                x->call_timeout_usec == y->call_timeout_usec &&
                x->probe_interval_usec == y->probe_interval_usec &&
                x->probe_timeout_usec == y->probe_timeout_usec &&
                x->probe_failures == y->probe_failures &&
                x->memory_max == y->memory_max &&
                x->tasks_max == y->tasks_max &&
                x->cpu_quota_per_sec_usec == y->cpu_quota_per_sec_usec &&
                x->dynamic_user == y->dynamic_user &&
                streq_ptr(x->user, y->user) &&
                x->sandbox == y->sandbox &&
                x->crash_after_step == y->crash_after_step &&
                streq_ptr(a->relayer_config, b->relayer_config);
}

static int strv_copy(char * const *src, char ***dst) {
        size_t n = strv_length(src);
        char **l;

        if (!src) {
                *dst = NULL;
                return 0;
        }
        l = new0(char *, n + 1);
        if (!l)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++) {
                l[i] = strdup(src[i]);
                if (!l[i]) {
                        strv_free(l);
                        return -ENOMEM;
                }
        }
        *dst = l;
        return 0;
}

int daemon_plugin_settings_copy(const HostPluginSettings *src, HostPluginSettings *dst) {
        HostPluginSettings s = *src;

        s.name = s.kind = s.binary = s.binary_sha256 = s.socket_path = s.user = s.state_directory = NULL;
        s.args = s.environment = NULL;
        if ((src->name && !(s.name = strdup(src->name))) ||
            (src->kind && !(s.kind = strdup(src->kind))) ||
            (src->binary && !(s.binary = strdup(src->binary))) ||
            (src->binary_sha256 && !(s.binary_sha256 = strdup(src->binary_sha256))) ||
            (src->socket_path && !(s.socket_path = strdup(src->socket_path))) ||
            (src->state_directory && !(s.state_directory = strdup(src->state_directory))) ||
            (src->user && !(s.user = strdup(src->user))) ||
            strv_copy(src->args, &s.args) < 0 ||
            strv_copy(src->environment, &s.environment) < 0) {
                host_plugin_settings_done(&s);
                return -ENOMEM;
        }
        *dst = s;
        return 0;
}
