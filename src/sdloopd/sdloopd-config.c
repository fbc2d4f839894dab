/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* The whole configuration: the main file, then the drop-ins, then the checks that need every file. */

#include <dirent.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include "listen-address.h"
#include "sdloopd-config-internal.h"

/* --- the whole configuration ---------------------------------------------------------------------------- */

static int loader_add_file(Loader *l, ConfigFile *f) {
        ConfigFile **files = reallocarray(l->c->files, l->c->n_files + 1, sizeof(ConfigFile *));

        if (!files)
                return -ENOMEM;
        l->c->files = files;
        l->c->files[l->c->n_files++] = f;
        return 0;
}

static const char * const metrics_keys[] = { "listen", "scrape_timeout_sec", NULL };

static int parse_metrics(Parser *p, const char *field, json_object *v, DaemonConfig *c) {
        int r;

        if (!json_object_is_type(v, json_type_object))
                return type_error(p, field, "an object");
        json_object_object_foreach(v, key, value) {
                _cleanup_free_ char *sub = path_member(field, key);

                if (!sub)
                        return -ENOMEM;
                if (!key_is_known(key, metrics_keys))
                        return unknown_key(p, sub, metrics_keys);
                if (streq(key, "listen")) {
                        const char *s;

                        r = get_string(p, sub, value, "an address and port, as \"127.0.0.1:9466\" or \"[::1]:9466\"", &s);
                        if (r < 0)
                                return r;
                        ListenAddress a;

                        if (listen_address_parse(s, &a) < 0)
                                return field_error(p, sub, "expected a numeric address and port, as "
                                                   "\"127.0.0.1:9466\" or \"[::1]:9466\", got \"%s\"", s);
                        r = free_and_strdup(&c->metrics_listen, s);
                } else
                        r = get_seconds(p, sub, value, false, &c->metrics_timeout_usec);
                if (r < 0)
                        return r;
        }
        return 0;
}

static int load_section(Loader *l, ConfigFile *f, const char *section, json_object *v,
                        int (*load)(Loader *l, ConfigFile *f, const char *name, json_object *obj)) {
        Parser p = { .f = f, .error = l->error };
        int r;

        if (!json_object_is_type(v, json_type_object))
                return type_error(&p, section, "an object of name: {…}");
        json_object_object_foreach(v, name, obj) {
                r = load(l, f, name, obj);
                if (r < 0)
                        return r;
        }
        return 0;
}

static int get_directory(Parser *p, const char *field, json_object *v, char **ret) {
        const char *s;
        char *d;
        size_t n;
        int r;

        r = get_string(p, field, v, "an absolute path", &s);
        if (r < 0)
                return r;
        if (s[0] != '/')
                return field_error(p, field, "\"%s\" is not an absolute path", s);
        d = strdup(s);
        if (!d)
                return -ENOMEM;
        n = strlen(d);
        while (n > 1 && d[n - 1] == '/')
                d[--n] = 0;
        free(*ret);
        *ret = d;
        return 0;
}

static const char * const main_keys[] = {
        "backend", "socket_directory", "state_directory", "metrics", "defaults", "plugins", "feeds", NULL,
};
static const char * const dropin_keys[] = { "plugins", "feeds", NULL };

/* Globals first: the socket directory goes into every plugin's settings. */
static int load_main_globals(Loader *l, ConfigFile *f) {
        Parser p = { .f = f, .error = l->error };
        int r;

        json_object_object_foreach(f->root, key, v) {
                if (!key_is_known(key, main_keys))
                        return unknown_key(&p, key, main_keys);

                if (streq(key, "backend")) {
                        const char *s;

                        r = get_string(&p, key, v, "one of \"auto\", \"system\", \"user\", \"exec\"", &s);
                        if (r < 0)
                                return r;
                        if (!streq(s, "auto") && !streq(s, "system") && !streq(s, "user") && !streq(s, "exec"))
                                return field_error(&p, key, "expected one of \"auto\", \"system\", \"user\", "
                                                   "\"exec\", got \"%s\"", s);
                        r = free_and_strdup(&l->c->backend, s);
                } else if (streq(key, "socket_directory"))
                        r = get_directory(&p, key, v, &l->c->socket_directory);
                else if (streq(key, "state_directory"))
                        r = get_directory(&p, key, v, &l->c->state_directory);
                else if (streq(key, "metrics"))
                        r = parse_metrics(&p, key, v, l->c);
                else if (streq(key, "defaults")) {
                        DaemonPluginConfig probe;

                        /* Check the defaults even if no plugin uses them. */
                        plugin_config_init(&probe);
                        r = parse_settings(&p, "defaults", v, IN_DEFAULTS, &probe);
                        plugin_config_done(&probe);
                        l->defaults = v;
                        l->defaults_file = f;
                } else
                        r = 0;
                if (r < 0)
                        return r;
        }
        return 0;
}

static int load_sections(Loader *l, ConfigFile *f, const char * const *keys) {
        Parser p = { .f = f, .error = l->error };
        json_object *v;
        int r;

        if (keys == dropin_keys) {
                json_object_object_foreach(f->root, key, value) {
                        (void) value;
                        if (key_is_known(key, main_keys) && !key_is_known(key, dropin_keys))
                                return key_error(&p, key, "only allowed in the main configuration file");
                        if (!key_is_known(key, keys))
                                return unknown_key(&p, key, keys);
                }
        }

        if (json_object_object_get_ex(f->root, "plugins", &v)) {
                r = load_section(l, f, "plugins", v, load_plugin);
                if (r < 0)
                        return r;
        }
        if (json_object_object_get_ex(f->root, "feeds", &v)) {
                r = load_section(l, f, "feeds", v, load_feed);
                if (r < 0)
                        return r;
        }
        return 0;
}

static int dropin_compare(const struct dirent **a, const struct dirent **b) {
        /* Lexical by bytes, whatever the locale. */
        return strcmp((*a)->d_name, (*b)->d_name);
}

static int dropin_filter(const struct dirent *d) {
        size_t n = strlen(d->d_name);

        return d->d_name[0] != '.' && n > 5 && streq(d->d_name + n - 5, ".json");
}

static int load_dropins(Loader *l, const char *dir) {
        struct dirent **list = NULL;
        int n, r = 0;

        n = scandir(dir, &list, dropin_filter, dropin_compare);
        if (n < 0) {
                if (errno == ENOENT)
                        return 0;
                r = -errno;
                errorf(l->error, "%s: cannot read the directory: %s", dir, strerror(-r));
                return r;
        }

        for (int i = 0; i < n; i++) {
                _cleanup_free_ char *path = NULL;
                ConfigFile *f = NULL;
                struct stat st;

                if (r < 0)
                        goto next;
                if (asprintf(&path, "%s/%s", dir, list[i]->d_name) < 0) {
                        r = -ENOMEM;
                        goto next;
                }
                /* A drop-in linked to /dev/null is masked, as with systemd's. */
                if (stat(path, &st) >= 0 && S_ISCHR(st.st_mode) && st.st_rdev == makedev(1, 3))
                        goto next;

                r = config_file_read(path, &f, l->error);
                if (r < 0)
                        goto next;
                r = loader_add_file(l, f);
                if (r < 0) {
                        config_file_free(f);
                        goto next;
                }
                r = load_sections(l, f, dropin_keys);
        next:
                free(list[i]);
        }
        free(list);
        return r;
}

static int plugin_compare(const void *a, const void *b) {
        return strcmp(((const DaemonPluginConfig *) a)->settings.name, ((const DaemonPluginConfig *) b)->settings.name);
}

static int feed_compare(const void *a, const void *b) {
        return strcmp(((const DaemonFeedConfig *) a)->name, ((const DaemonFeedConfig *) b)->name);
}

int daemon_config_load(const char *path, DaemonScope scope, DaemonConfig **ret, char **ret_error) {
        _cleanup_(daemon_config_freep) DaemonConfig *c = NULL;
        _cleanup_free_ char *error = NULL, *dir = NULL;
        ConfigFile *main_file = NULL;
        Loader l;
        char *slash;
        int r;

        assert(ret);
        assert(ret_error);

        c = new0(DaemonConfig, 1);
        if (!c)
                return -ENOMEM;
        l = (Loader) { .c = c, .error = &error, .scope = scope };

        if (path)
                c->path = strdup(path);
        else {
                r = daemon_config_default_path(scope, &c->path);
                if (r < 0) {
                        *ret_error = strdup("cannot tell where the configuration is: set $HOME or use --config");
                        return r;
                }
        }
        if (!c->path)
                return -ENOMEM;

        if (path || access(c->path, F_OK) >= 0 || errno != ENOENT) {
                r = config_file_read(c->path, &main_file, &error);
                if (r < 0)
                        goto fail;
                r = loader_add_file(&l, main_file);
                if (r < 0) {
                        config_file_free(main_file);
                        goto fail;
                }
                r = load_main_globals(&l, main_file);
                if (r < 0)
                        goto fail;
        }

        if (!c->socket_directory) {
                r = default_socket_directory(scope, &c->socket_directory);
                if (r < 0)
                        goto fail;
        }
        if (!c->state_directory) {
                r = default_state_directory(scope, &c->state_directory);
                if (r < 0) {
                        errorf(&error, "cannot tell where to keep state: set $HOME or \"state_directory\"");
                        goto fail;
                }
        }

        if (main_file) {
                r = load_sections(&l, main_file, main_keys);
                if (r < 0)
                        goto fail;
        }

        dir = strdup(c->path);
        if (!dir) {
                r = -ENOMEM;
                goto fail;
        }
        slash = strrchr(dir, '/');
        if (slash)
                slash[slash == dir ? 1 : 0] = 0;
        else
                (void) free_and_strdup(&dir, ".");
        {
                _cleanup_free_ char *dropins = NULL;

                if (!dir || asprintf(&dropins, "%s/" DAEMON_CONFIG_DROPIN_DIR, dir) < 0) {
                        r = -ENOMEM;
                        goto fail;
                }
                r = load_dropins(&l, dropins);
                if (r < 0)
                        goto fail;
        }

        /* In the order the files define them, so that the first bad feed is the one reported; the plugins
         * they name may come from any file. */
        r = check_feeds(&l);
        if (r < 0)
                goto fail;

        /* Each plugin's own persistent directory, for backends that do not make one (the exec backend; the
         * systemd ones give StateDirectory=sdloop-<name>). Known only now: "state_directory" may come after
         * "plugins" in the file. */
        for (size_t i = 0; i < c->n_plugins; i++) {
                HostPluginSettings *ps = &c->plugins[i].settings;

                ps->state_directory = mfree(ps->state_directory);
                if (asprintf(&ps->state_directory, "%s/plugin/%s", c->state_directory, ps->name) < 0) {
                        r = -ENOMEM;
                        goto fail;
                }
        }

        if (c->n_plugins > 1)
                qsort(c->plugins, c->n_plugins, sizeof(DaemonPluginConfig), plugin_compare);
        if (c->n_feeds > 1)
                qsort(c->feeds, c->n_feeds, sizeof(DaemonFeedConfig), feed_compare);

        *ret = TAKE_PTR(c);
        return 0;

fail:
        if (r == -ENOMEM && !error)
                error = strdup("out of memory");
        else if (!error && asprintf(&error, "%s: %s", c->path, strerror(-r)) < 0)
                error = NULL;
        *ret_error = TAKE_PTR(error);
        return r;
}

DaemonConfig *daemon_config_free(DaemonConfig *c) {
        if (!c)
                return NULL;
        for (size_t i = 0; i < c->n_plugins; i++)
                plugin_config_done(c->plugins + i);
        free(c->plugins);
        for (size_t i = 0; i < c->n_feeds; i++) {
                free(c->feeds[i].name);
                json_object_put(c->feeds[i].json);
                feed_config_free(c->feeds[i].config);
        }
        free(c->feeds);
        for (size_t i = 0; i < c->n_files; i++)
                config_file_free(c->files[i]);
        free(c->files);
        free(c->path);
        free(c->backend);
        free(c->socket_directory);
        free(c->metrics_listen);
        free(c->state_directory);
        return mfree(c);
}

void daemon_config_resolve(DaemonConfig *c, const char *backend) {
        for (size_t i = 0; i < c->n_plugins; i++) {
                DaemonPluginConfig *pc = c->plugins + i;

                if (pc->dynamic_user >= 0)
                        pc->settings.dynamic_user = pc->dynamic_user;
                else
                        pc->settings.dynamic_user = streq_ptr(backend, "system") && !pc->settings.user;
        }
}

const DaemonPluginConfig *daemon_config_find_plugin(const DaemonConfig *c, const char *name) {
        for (size_t i = 0; c && i < c->n_plugins; i++)
                if (streq(c->plugins[i].settings.name, name))
                        return c->plugins + i;
        return NULL;
}
