/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* The feed definitions of "feeds": kept as written, parsed by the feed driver's own parser once every file
 * is read, and checked against the plugins they name. */

#include "sdloop-log.h"
#include "sdloopd-config-internal.h"

int load_feed(Loader *l, ConfigFile *f, const char *name, json_object *obj) {
        Parser p = { .f = f, .error = l->error };
        _cleanup_free_ char *field = NULL;
        DaemonFeedConfig *list;
        char *n;

        if (asprintf(&field, "feeds.%s", name) < 0)
                return -ENOMEM;
        if (!daemon_plugin_name_is_valid(name))
                return key_error(&p, field, "\"%s\" is not a valid feed name ([a-z0-9][a-z0-9_-]{0,63})", name);
        for (size_t i = 0; i < l->c->n_feeds; i++)
                if (streq(l->c->feeds[i].name, name)) {
                        _cleanup_free_ char *where = NULL;
                        int r = position_describe(l->c->feeds[i].file, field, &where);

                        if (r < 0)
                                return r;
                        return key_error(&p, field, "feed \"%s\" is already defined at %s", name, where);
                }
        if (!json_object_is_type(obj, json_type_object))
                return type_error(&p, field, "an object");

        list = reallocarray(l->c->feeds, l->c->n_feeds + 1, sizeof(DaemonFeedConfig));
        if (!list)
                return -ENOMEM;
        l->c->feeds = list;
        n = strdup(name);
        if (!n)
                return -ENOMEM;
        l->c->feeds[l->c->n_feeds++] = (DaemonFeedConfig) {
                .name = n,
                .json = json_object_get(obj),
                .file = f,
        };
        return 0;
}

/* A refusal of feed_config_parse(), "FIELD: reason", placed in @f like our own errors. */
static int feed_parse_error(Parser *p, const char *name, const char *message) {
        _cleanup_free_ char *field = NULL;
        const char *colon = message ? strstr(message, ": ") : NULL;

        if (!colon) {
                /* Not in the agreed form: point at the feed as a whole. */
                if (asprintf(&field, "feeds.%s", name) < 0)
                        return -ENOMEM;
                return field_error(p, field, "%s", message ?: "not a valid feed");
        }
        field = strndup(message, (size_t) (colon - message));
        if (!field)
                return -ENOMEM;
        colon += 2;
        /* As for our own keys: an unknown key is pointed at itself, everything else at the value. */
        if (strncmp(colon, "unknown key", strlen("unknown key")) == 0)
                return key_error(p, field, "%s", colon);
        return field_error(p, field, "%s", colon);
}

/* The plugin @plugin that feed @fc names in @key must be configured, of @kind, and (relayers) create a
 * relayer: the feed's provider is made from it. */
static int check_feed_plugin(Loader *l, DaemonFeedConfig *fc, const char *key, const char *plugin,
                             const char *kind) {
        Parser p = { .f = fc->file, .error = l->error };
        _cleanup_free_ char *field = NULL;
        const DaemonPluginConfig *pc;

        if (asprintf(&field, "feeds.%s.%s", fc->name, key) < 0)
                return -ENOMEM;
        pc = daemon_config_find_plugin(l->c, plugin);
        if (!pc)
                return field_error(&p, field, "no plugin named \"%s\" is configured", plugin);
        if (!streq_ptr(pc->settings.kind, kind))
                return field_error(&p, field, "plugin \"%s\" is of kind \"%s\", a feed needs one of kind \"%s\"",
                                   plugin, pc->settings.kind, kind);
        if (streq(kind, SDLOOP_KIND_RELAYER) && !pc->relayer_config)
                return field_error(&p, field, "plugin \"%s\" has no \"relayer\" configuration, so it has no relayer "
                                   "to make the feed's provider with", plugin);
        return 0;
}

/* Once every file is read: each feed parsed by the feed driver's own parser, and its plugins checked. */
int check_feeds(Loader *l) {
        int r;

        for (size_t i = 0; i < l->c->n_feeds; i++) {
                DaemonFeedConfig *fc = l->c->feeds + i;
                Parser p = { .f = fc->file, .error = l->error };
                _cleanup_free_ char *message = NULL;

                r = feed_config_parse(fc->json, fc->name, &fc->config, &message);
                if (r == -ENOMEM)
                        return r;
                if (r < 0)
                        return feed_parse_error(&p, fc->name, message);

                r = check_feed_plugin(l, fc, "relayer", fc->config->relayer, SDLOOP_KIND_RELAYER);
                if (r < 0)
                        return r;
                r = check_feed_plugin(l, fc, "median", fc->config->median, SDLOOP_KIND_MEDIAN);
                if (r < 0)
                        return r;

                /* Two feeds on one contract would each configure it with their own keys, in turn. */
                for (size_t k = 0; k < i; k++) {
                        const FeedConfig *other = l->c->feeds[k].config;
                        _cleanup_free_ char *field = NULL;

                        if (!streq(other->relayer, fc->config->relayer) ||
                            !streq(other->contract_id, fc->config->contract_id))
                                continue;
                        if (asprintf(&field, "feeds.%s.contract_id", fc->name) < 0)
                                return -ENOMEM;
                        return field_error(&p, field, "contract \"%s\" of plugin %s is already fed by feed \"%s\"",
                                           fc->config->contract_id, fc->config->relayer, l->c->feeds[k].name);
                }
        }
        return 0;
}

int daemon_feed_config_instantiate(const DaemonFeedConfig *fc, FeedConfig **ret) {
        _cleanup_free_ char *message = NULL;
        int r;

        assert(fc);
        assert(ret);

        r = feed_config_parse(fc->json, fc->name, ret, &message);
        if (r < 0 && r != -ENOMEM)
                /* It was accepted when the configuration was loaded. */
                log_error("Feed %s: the configuration no longer parses: %s", fc->name, strempty(message));
        return r;
}
