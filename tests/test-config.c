/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* sdloopd's configuration reader: every key of a valid file, the defaults, and one test per kind of error,
 * each checking the whole message — file, line:column, field and what is wrong. */

#include <check.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdarg.h>
#include <sys/stat.h>

#include "config.h"
#include "macro.h"
#include "sdloopd-config.h"

static char dir[] = "/tmp/sdloop-test-config-XXXXXX";
static char *main_path, *binary;

static char *path_in(const char *name) {
        char *p;

        ck_assert_int_ge(asprintf(&p, "%s/%s", dir, name), 0);
        return p;
}

/* Write @name below the test directory; "@BIN@" in the text stands for the path of an executable. */
static char *write_file(const char *name, const char *text) {
        _cleanup_free_ char *expanded = NULL;
        const char *at;
        char *path = path_in(name);
        FILE *f;

        expanded = strdup("");
        for (const char *s = text; (at = strstr(s, "@BIN@")) || *s; s = at + 5) {
                char *n;

                if (!at) {
                        ck_assert_int_ge(asprintf(&n, "%s%s", expanded, s), 0);
                        free(expanded);
                        expanded = n;
                        break;
                }
                ck_assert_int_ge(asprintf(&n, "%s%.*s%s", expanded, (int) (at - s), s, binary), 0);
                free(expanded);
                expanded = n;
        }

        f = fopen(path, "we");
        ck_assert_ptr_nonnull(f);
        ck_assert_int_eq(fputs(expanded, f) >= 0, 1);
        ck_assert_int_eq(fclose(f), 0);
        return path;
}

static int remove_one(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
        return remove(path) < 0 ? -errno : 0;
}

static void remove_tree(const char *path) {
        ck_assert_int_eq(nftw(path, remove_one, 16, FTW_DEPTH | FTW_PHYS), 0);
}

static void setup(void) {
        _cleanup_free_ char *dropins = NULL;

        strcpy(dir, "/tmp/sdloop-test-config-XXXXXX");
        ck_assert_ptr_nonnull(mkdtemp(dir));
        main_path = path_in("sdloopd.json");
        dropins = path_in("plugins.d");
        ck_assert_int_eq(mkdir(dropins, 0755), 0);

        binary = path_in("plugin-bin");
        ck_assert_int_eq(close(open(binary, O_WRONLY | O_CREAT | O_CLOEXEC, 0755)), 0);

        unsetenv("SDLOOP_LIBEXECDIR");
        unsetenv("RUNTIME_DIRECTORY");
        unsetenv("STATE_DIRECTORY");
}

static void teardown(void) {
        remove_tree(dir);
        main_path = mfree(main_path);
        binary = mfree(binary);
}

static DaemonConfig *load_ok(void) {
        _cleanup_free_ char *error = NULL;
        DaemonConfig *c = NULL;
        int r;

        r = daemon_config_load(main_path, DAEMON_SCOPE_SYSTEM, &c, &error);
        if (r < 0)
                ck_abort_msg("loading failed: %s", strempty(error));
        ck_assert_ptr_nonnull(c);
        return c;
}

/* The message must be exactly "<file>:<where>: <rest>". */
static void expect_error(const char *file, const char *where, const char *rest) {
        _cleanup_free_ char *error = NULL, *expected = NULL;
        _cleanup_(daemon_config_freep) DaemonConfig *c = NULL;

        ck_assert_int_eq(daemon_config_load(main_path, DAEMON_SCOPE_SYSTEM, &c, &error), -EINVAL);
        ck_assert_ptr_null(c);
        ck_assert_ptr_nonnull(error);
        ck_assert_int_ge(asprintf(&expected, "%s:%s: %s", file, where, rest), 0);
        ck_assert_str_eq(error, expected);
}

/* A main file whose one plugin "p" has @settings (the text inside its object) on line 5. */
static void write_plugin(const char *settings) {
        _cleanup_free_ char *text = NULL;

        ck_assert_int_ge(asprintf(&text,
                                  "{\n"
                                  "        \"plugins\": {\n"
                                  "                \"p\": {\n"
                                  "                        \"kind\": \"example\", \"binary\": \"@BIN@\",\n"
                                  "                        %s\n"
                                  "                }\n"
                                  "        }\n"
                                  "}\n", settings), 0);
        free(write_file("sdloopd.json", text));
}

/* A feed on plugins "ledger" (kind relayer, with a relayer config) and "median", with @extra keys, all on one
 * line. */
#define FEED_BODY(extra) \
        "{ \"relayer\": \"ledger\", \"median\": \"median\", \"n\": 4, \"f\": 1, " \
        "\"onchain_config\": { \"min\": 0, \"max\": 1000 }, \"value\": { \"type\": \"constant\", \"value\": 5 }" extra " }"

/* The plugins a feed needs, in a main file; feeds go into drop-ins. */
static void write_feed_plugins(void) {
        free(write_file("sdloopd.json",
                        "{\n"
                        "  \"plugins\": {\n"
                        "    \"ledger\": { \"kind\": \"relayer\", \"binary\": \"@BIN@\", \"relayer\": { \"config\": {} } },\n"
                        "    \"bare\": { \"kind\": \"relayer\", \"binary\": \"@BIN@\" },\n"
                        "    \"median\": { \"kind\": \"median\", \"binary\": \"@BIN@\" }\n"
                        "  }\n"
                        "}\n"));
}

/* --- valid files ---------------------------------------------------------------------------------------- */

START_TEST(test_every_key) {
        _cleanup_(daemon_config_freep) DaemonConfig *c = NULL;
        const HostPluginSettings *s;
        const DaemonPluginConfig *pc;

        free(write_file("sdloopd.json",
                        "{\n"
                        "        \"backend\": \"exec\",\n"
                        "        \"socket_directory\": \"/run/test/sockets/\",\n"
                        "        \"state_directory\": \"/var/lib/test\",\n"
                        "        \"defaults\": { \"call_timeout_sec\": 3, \"environment\": { \"A\": \"1\", \"B\": \"2\" } },\n"
                        "        \"plugins\": {\n"
                        "                \"ledger\": {\n"
                        "                        \"kind\": \"relayer\",\n"
                        "                        \"binary\": \"@BIN@\",\n"
                        "                        \"args\": [\"--verbose\", \"x y\"],\n"
                        "                        \"environment\": { \"B\": \"two\", \"C\": \"3\" },\n"
                        "                        \"restart\": \"always\",\n"
                        "                        \"restart_sec\": 0.25,\n"
                        "                        \"start_limit_burst\": 7,\n"
                        "                        \"start_limit_interval_sec\": 30,\n"
                        "                        \"watchdog_sec\": 20,\n"
                        "                        \"call_timeout_sec\": 2.5,\n"
                        "                        \"probe_interval_sec\": 0.5,\n"
                        "                        \"probe_timeout_sec\": 0.2,\n"
                        "                        \"probe_failures\": 4,\n"
                        "                        \"memory_max\": \"64M\",\n"
                        "                        \"tasks_max\": 32,\n"
                        "                        \"cpu_quota\": \"50%\",\n"
                        "                        \"sandbox\": false,\n"
                        "                        \"dynamic_user\": false,\n"
                        "                        \"user\": \"sdloop-ledger\",\n"
                        "                        \"relayer\": { \"config\": { \"chain_id\": \"c1\", \"n\": [1, 2] } }\n"
                        "                },\n"
                        "                \"median\": { \"kind\": \"median\", \"binary\": \"@BIN@\" }\n"
                        "        },\n"
                        "        \"feeds\": { \"eth-usd\": " FEED_BODY(", \"contract_id\": \"c-eth\"") " }\n"
                        "}\n"));
        c = load_ok();

        ck_assert_str_eq(c->backend, "exec");
        ck_assert_str_eq(c->socket_directory, "/run/test/sockets");
        ck_assert_str_eq(c->state_directory, "/var/lib/test");
        ck_assert_uint_eq(c->n_plugins, 2);
        ck_assert_uint_eq(c->n_feeds, 1);
        ck_assert_str_eq(c->feeds[0].name, "eth-usd");
        ck_assert_ptr_nonnull(c->feeds[0].json);
        ck_assert_str_eq(config_file_get_path(c->feeds[0].file), main_path);
        /* Parsed by the feed driver's parser (its own tests cover every key). */
        ck_assert_ptr_nonnull(c->feeds[0].config);
        ck_assert_str_eq(c->feeds[0].config->relayer, "ledger");
        ck_assert_str_eq(c->feeds[0].config->median, "median");
        ck_assert_str_eq(c->feeds[0].config->contract_id, "c-eth");
        ck_assert_uint_eq(c->feeds[0].config->n, 4);
        ck_assert_uint_eq(c->feeds[0].config->f, 1);

        pc = daemon_config_find_plugin(c, "ledger");
        ck_assert_ptr_nonnull(pc);
        s = &pc->settings;
        ck_assert_str_eq(s->name, "ledger");
        ck_assert_str_eq(s->kind, "relayer");
        ck_assert_str_eq(s->binary, binary);
        ck_assert_uint_eq(strv_length(s->args), 2);
        ck_assert_str_eq(s->args[0], "--verbose");
        ck_assert_str_eq(s->args[1], "x y");
        /* Defaults' environment first, the plugin's own overriding it. */
        ck_assert_uint_eq(strv_length(s->environment), 3);
        ck_assert_str_eq(s->environment[0], "A=1");
        ck_assert_str_eq(s->environment[1], "B=two");
        ck_assert_str_eq(s->environment[2], "C=3");
        ck_assert_str_eq(s->socket_path, "/run/test/sockets/ledger.sock");
        ck_assert_int_eq(s->restart, HOST_RESTART_ALWAYS);
        ck_assert_uint_eq(s->restart_usec, 250 * USEC_PER_MSEC);
        ck_assert_uint_eq(s->start_limit_burst, 7);
        ck_assert_uint_eq(s->start_limit_interval_usec, 30 * USEC_PER_SEC);
        ck_assert_uint_eq(s->watchdog_usec, 20 * USEC_PER_SEC);
        ck_assert_uint_eq(s->call_timeout_usec, 2500 * USEC_PER_MSEC);
        ck_assert_uint_eq(s->probe_interval_usec, 500 * USEC_PER_MSEC);
        ck_assert_uint_eq(s->probe_timeout_usec, 200 * USEC_PER_MSEC);
        ck_assert_uint_eq(s->probe_failures, 4);
        ck_assert_uint_eq(s->memory_max, 64ULL << 20);
        ck_assert_uint_eq(s->tasks_max, 32);
        ck_assert_uint_eq(s->cpu_quota_per_sec_usec, 500 * USEC_PER_MSEC);
        ck_assert(!s->sandbox);
        ck_assert_str_eq(s->user, "sdloop-ledger");
        ck_assert_str_eq(pc->relayer_config, "{\"chain_id\":\"c1\",\"n\":[1,2]}");
        ck_assert_str_eq(config_file_get_path(pc->file), main_path);

        daemon_config_resolve(c, "system");
        ck_assert(!pc->settings.dynamic_user); /* given explicitly */
}
END_TEST

START_TEST(test_defaults) {
        _cleanup_(daemon_config_freep) DaemonConfig *c = NULL;
        const DaemonPluginConfig *a, *b, *u;

        free(write_file("sdloopd.json",
                        "{\n"
                        "  \"defaults\": { \"restart\": \"on-abnormal\", \"memory_max\": 1048576 },\n"
                        "  \"plugins\": {\n"
                        "    \"b\": { \"kind\": \"median\", \"binary\": \"@BIN@\" },\n"
                        "    \"a\": { \"kind\": \"example\", \"binary\": \"@BIN@\", \"restart\": \"no\" },\n"
                        "    \"u\": { \"kind\": \"example\", \"binary\": \"@BIN@\", \"user\": \"nobody\" }\n"
                        "  }\n"
                        "}\n"));
        c = load_ok();

        /* Not given: where a system instance keeps things. */
        ck_assert_ptr_null(c->backend);
        ck_assert_str_eq(c->socket_directory, "/run/sdloop/plugin");
        ck_assert_str_eq(c->state_directory, "/var/lib/sdloop");

        /* Sorted by name. */
        ck_assert_uint_eq(c->n_plugins, 3);
        ck_assert_str_eq(c->plugins[0].settings.name, "a");
        ck_assert_str_eq(c->plugins[1].settings.name, "b");
        ck_assert_str_eq(c->plugins[2].settings.name, "u");
        a = c->plugins + 0;
        b = c->plugins + 1;
        u = c->plugins + 2;

        /* The file's defaults, overridden per plugin. */
        ck_assert_int_eq(a->settings.restart, HOST_RESTART_NO);
        ck_assert_int_eq(b->settings.restart, HOST_RESTART_ON_ABNORMAL);
        ck_assert_uint_eq(a->settings.memory_max, 1048576);
        ck_assert_uint_eq(b->settings.memory_max, 1048576);

        /* The built-in defaults. */
        ck_assert_uint_eq(b->settings.restart_usec, 100 * USEC_PER_MSEC);
        ck_assert_uint_eq(b->settings.start_limit_burst, 5);
        ck_assert_uint_eq(b->settings.start_limit_interval_usec, 10 * USEC_PER_SEC);
        ck_assert_uint_eq(b->settings.call_timeout_usec, 10 * USEC_PER_SEC);
        ck_assert_uint_eq(b->settings.watchdog_usec, 10 * USEC_PER_SEC);
        ck_assert_uint_eq(b->settings.probe_interval_usec, 1 * USEC_PER_SEC);
        ck_assert_uint_eq(b->settings.probe_timeout_usec, 0); /* the interval */
        ck_assert_uint_eq(b->settings.probe_failures, 3);
        ck_assert_uint_eq(b->settings.tasks_max, 0);
        ck_assert_uint_eq(b->settings.cpu_quota_per_sec_usec, 0);
        ck_assert(b->settings.sandbox);
        ck_assert_ptr_null(b->settings.args);
        ck_assert_ptr_null(b->settings.user);
        ck_assert_ptr_null(b->relayer_config);
        ck_assert_str_eq(b->settings.socket_path, "/run/sdloop/plugin/b.sock");

        /* DynamicUser: with the system backend unless a user is named. */
        daemon_config_resolve(c, "system");
        ck_assert(a->settings.dynamic_user);
        ck_assert(!u->settings.dynamic_user);
        daemon_config_resolve(c, "exec");
        ck_assert(!a->settings.dynamic_user);
        daemon_config_resolve(c, "user");
        ck_assert(!a->settings.dynamic_user);
}
END_TEST

START_TEST(test_units_and_spellings) {
        _cleanup_(daemon_config_freep) DaemonConfig *c = NULL;

        free(write_file("sdloopd.json",
                        "{ \"plugins\": { \"p\": { \"kind\": \"relayer\", \"binary\": \"@BIN@\",\n"
                        "  \"memory_max\": \"1G\", \"tasks_max\": \"infinity\", \"cpu_quota\": \"250.5%\",\n"
                        "  \"restart_sec\": 0, \"start_limit_burst\": 0, \"relayer\": { \"config\": \"raw text\" } } } }\n"));
        c = load_ok();
        ck_assert_uint_eq(c->plugins[0].settings.memory_max, 1ULL << 30);
        ck_assert_uint_eq(c->plugins[0].settings.tasks_max, 0);
        ck_assert_uint_eq(c->plugins[0].settings.cpu_quota_per_sec_usec, 2505 * USEC_PER_MSEC);
        ck_assert_uint_eq(c->plugins[0].settings.restart_usec, 0);
        ck_assert_uint_eq(c->plugins[0].settings.start_limit_burst, 0);
        /* A string is passed as it is. */
        ck_assert_str_eq(c->plugins[0].relayer_config, "raw text");
}
END_TEST

START_TEST(test_bare_binary_name) {
        _cleanup_(daemon_config_freep) DaemonConfig *c = NULL;
        _cleanup_free_ char *expected = NULL;

        /* Bare names are looked up in the libexec directory ($SDLOOP_LIBEXECDIR overrides it). */
        setenv("SDLOOP_LIBEXECDIR", dir, 1);
        free(write_file("sdloopd.json", "{ \"plugins\": { \"p\": { \"kind\": \"example\", \"binary\": \"plugin-bin\" } } }"));
        c = load_ok();
        expected = path_in("plugin-bin");
        ck_assert_str_eq(c->plugins[0].settings.binary, expected);
}
END_TEST

START_TEST(test_missing_default_file) {
        _cleanup_(daemon_config_freep) DaemonConfig *c = NULL;
        _cleanup_free_ char *error = NULL, *config_home = path_in("config"), *state_home = path_in("state"),
                            *expected_path = NULL;

        /* The default file may be missing: no plugins. An explicit one may not (below). */
        setenv("XDG_CONFIG_HOME", config_home, 1);
        setenv("XDG_STATE_HOME", state_home, 1);
        setenv("XDG_RUNTIME_DIR", "/run/user/4242", 1);
        ck_assert_int_eq(daemon_config_load(NULL, DAEMON_SCOPE_USER, &c, &error), 0);
        ck_assert_uint_eq(c->n_plugins, 0);
        ck_assert_int_ge(asprintf(&expected_path, "%s/sdloop/sdloopd.json", config_home), 0);
        ck_assert_str_eq(c->path, expected_path);
        ck_assert_str_eq(c->socket_directory, "/run/user/4242/sdloop/plugin");
        ck_assert_int_ge(asprintf(&error, "%s/sdloop", state_home), 0);
        ck_assert_str_eq(c->state_directory, error);
        c = daemon_config_free(c);
        error = mfree(error);

        /* systemd's directories for the unit win. */
        setenv("RUNTIME_DIRECTORY", "/run/sdloop", 1);
        setenv("STATE_DIRECTORY", "/var/lib/sdloop:/var/lib/other", 1);
        ck_assert_int_eq(daemon_config_load(NULL, DAEMON_SCOPE_USER, &c, &error), 0);
        ck_assert_str_eq(c->socket_directory, "/run/sdloop/plugin");
        ck_assert_str_eq(c->state_directory, "/var/lib/sdloop");
}
END_TEST

START_TEST(test_missing_explicit_file) {
        _cleanup_(daemon_config_freep) DaemonConfig *c = NULL;
        _cleanup_free_ char *error = NULL, *expected = NULL;

        ck_assert_int_eq(daemon_config_load(main_path, DAEMON_SCOPE_SYSTEM, &c, &error), -ENOENT);
        ck_assert_int_ge(asprintf(&expected, "%s: cannot open: No such file or directory", main_path), 0);
        ck_assert_str_eq(error, expected);
}
END_TEST

/* --- drop-ins ------------------------------------------------------------------------------------------------ */

START_TEST(test_dropins_merged) {
        _cleanup_(daemon_config_freep) DaemonConfig *c = NULL;

        free(write_file("sdloopd.json",
                        "{ \"defaults\": { \"tasks_max\": 9 },\n"
                        "  \"plugins\": { \"main\": { \"kind\": \"example\", \"binary\": \"@BIN@\" } } }\n"));
        /* A feed may name plugins of other files, earlier or later ones. */
        free(write_file("plugins.d/20-b.json",
                        "{ \"plugins\": { \"ledger\": { \"kind\": \"relayer\", \"binary\": \"@BIN@\",\n"
                        "                           \"relayer\": { \"config\": \"x\" } } },\n"
                        "  \"feeds\": { \"f2\": " FEED_BODY("") " } }\n"));
        free(write_file("plugins.d/10-a.json",
                        "{ \"plugins\": { \"median\": { \"kind\": \"median\", \"binary\": \"@BIN@\" } },\n"
                        "  \"feeds\": { \"f1\": " FEED_BODY("") " } }\n"));
        /* Not *.json, or hidden: not read (they would not parse). */
        free(write_file("plugins.d/30-c.json.disabled", "garbage"));
        free(write_file("plugins.d/.40-d.json", "garbage"));
        free(write_file("plugins.d/README", "garbage"));

        c = load_ok();
        ck_assert_uint_eq(c->n_plugins, 3);
        ck_assert_ptr_nonnull(daemon_config_find_plugin(c, "main"));
        ck_assert_ptr_nonnull(daemon_config_find_plugin(c, "median"));
        ck_assert_ptr_nonnull(daemon_config_find_plugin(c, "ledger"));
        /* Defaults of the main file apply to drop-in plugins too. */
        ck_assert_uint_eq(daemon_config_find_plugin(c, "ledger")->settings.tasks_max, 9);
        ck_assert(strstr(config_file_get_path(daemon_config_find_plugin(c, "median")->file), "plugins.d/10-a.json"));
        ck_assert_uint_eq(c->n_feeds, 2);
        ck_assert_str_eq(c->feeds[0].name, "f1");
        ck_assert_str_eq(c->feeds[1].name, "f2");
        /* Read in lexical order: 10-a before 20-b. */
        ck_assert_uint_eq(c->n_files, 3);
        ck_assert(strstr(config_file_get_path(c->files[1]), "10-a.json"));
        ck_assert(strstr(config_file_get_path(c->files[2]), "20-b.json"));
}
END_TEST

START_TEST(test_dropin_masked) {
        _cleanup_(daemon_config_freep) DaemonConfig *c = NULL;
        _cleanup_free_ char *link = path_in("plugins.d/50-masked.json");

        free(write_file("sdloopd.json", "{}"));
        ck_assert_int_eq(symlink("/dev/null", link), 0);
        c = load_ok();
        ck_assert_uint_eq(c->n_plugins, 0);
}
END_TEST

START_TEST(test_dropin_duplicate_plugin) {
        _cleanup_free_ char *a = NULL, *b = NULL, *rest = NULL;

        free(write_file("sdloopd.json", "{}"));
        a = write_file("plugins.d/10-a.json",
                       "{\n"
                       "  \"plugins\": {\n"
                       "    \"ledger\": { \"kind\": \"relayer\", \"binary\": \"@BIN@\" }\n"
                       "  }\n"
                       "}\n");
        b = write_file("plugins.d/20-b.json",
                       "{ \"plugins\": {\n"
                       "      \"ledger\": { \"kind\": \"relayer\", \"binary\": \"@BIN@\" } } }\n");
        ck_assert_int_ge(asprintf(&rest, "plugins.ledger: plugin \"ledger\" is already defined at %s:3:5", a), 0);
        expect_error(b, "2:7", rest);
}
END_TEST

START_TEST(test_dropin_duplicate_with_main) {
        _cleanup_free_ char *b = NULL, *rest = NULL;

        free(write_file("sdloopd.json", "{ \"plugins\": { \"x\": { \"kind\": \"k\", \"binary\": \"@BIN@\" } } }"));
        b = write_file("plugins.d/b.json", "{ \"plugins\": { \"x\": { \"kind\": \"k\", \"binary\": \"@BIN@\" } } }");
        ck_assert_int_ge(asprintf(&rest, "plugins.x: plugin \"x\" is already defined at %s:1:16", main_path), 0);
        expect_error(b, "1:16", rest);
}
END_TEST

START_TEST(test_dropin_duplicate_feed) {
        _cleanup_free_ char *a = NULL, *b = NULL, *rest = NULL;

        free(write_file("sdloopd.json", "{}"));
        a = write_file("plugins.d/a.json", "{ \"feeds\": { \"eth\": {} } }");
        b = write_file("plugins.d/b.json", "{\n\"feeds\": {\n\"eth\": {} } }");
        ck_assert_int_ge(asprintf(&rest, "feeds.eth: feed \"eth\" is already defined at %s:1:14", a), 0);
        expect_error(b, "3:1", rest);
}
END_TEST

/* --- feeds ---------------------------------------------------------------------------------------------------- */

START_TEST(test_feed_equal) {
        _cleanup_(daemon_config_freep) DaemonConfig *c1 = NULL, *c2 = NULL, *c3 = NULL;
        FeedConfig *hc = NULL;

        write_feed_plugins();
        free(write_file("plugins.d/f.json", "{ \"feeds\": { \"eth\": " FEED_BODY("") " } }"));
        c1 = load_ok();
        /* Spelt differently, the same feed. */
        free(write_file("plugins.d/f.json", "{\n  \"feeds\": {\n    \"eth\": " FEED_BODY("") "\n  }\n}\n"));
        c2 = load_ok();
        ck_assert(daemon_feed_config_equal(c1->feeds, c2->feeds));
        free(write_file("plugins.d/f.json", "{ \"feeds\": { \"eth\": " FEED_BODY(", \"round_interval_sec\": 1") " } }"));
        c3 = load_ok();
        ck_assert(!daemon_feed_config_equal(c1->feeds, c3->feeds));
        ck_assert_uint_eq(c3->feeds[0].config->round_interval_usec, USEC_PER_SEC);

        /* A copy of its own for feed_new(). */
        ck_assert_int_eq(daemon_feed_config_instantiate(c3->feeds, &hc), 0);
        ck_assert_ptr_nonnull(hc);
        ck_assert_ptr_ne(hc, c3->feeds[0].config);
        ck_assert_str_eq(hc->name, "eth");
        ck_assert_uint_eq(hc->round_interval_usec, USEC_PER_SEC);
        feed_config_free(hc);
}
END_TEST

/* What feed_config_parse() refuses, "FIELD: reason", is placed in the file like every other error. */
START_TEST(test_error_feed_parse) {
        _cleanup_free_ char *f = NULL;

        write_feed_plugins();
        f = write_file("plugins.d/60-feeds.json",
                       "{\n"
                       "  \"feeds\": {\n"
                       "    \"eth-usd\": {\n"
                       "      \"relayer\": \"ledger\", \"median\": \"median\",\n"
                       "      \"n\": 3, \"f\": 1,\n"
                       "      \"onchain_config\": { \"min\": 0, \"max\": 1000 },\n"
                       "      \"value\": { \"type\": \"constant\", \"value\": 5 }\n"
                       "    }\n"
                       "  }\n"
                       "}\n");
        expect_error(f, "5:12", "feeds.eth-usd.n: must be at least 3f+1 = 4 (f = 1)");
}
END_TEST

START_TEST(test_error_feed_source) {
        _cleanup_free_ char *f = NULL;

        write_feed_plugins();
        f = write_file("plugins.d/60-feeds.json",
                       "{ \"feeds\": { \"eth-usd\": " FEED_BODY(",\n"
                       "  \"oracles\": [ null, { \"value\": { \"type\": \"pigeon\" } } ]") " } }\n");
        expect_error(f, "2:43", "feeds.eth-usd.oracles[1].value.type: unknown source type \"pigeon\" (constant, file, "
                     "command, http or random_walk)");
}
END_TEST

START_TEST(test_error_feed_unknown_key) {
        _cleanup_free_ char *f = NULL;

        write_feed_plugins();
        /* Pointed at the key, as for plugins. */
        f = write_file("plugins.d/60-feeds.json",
                       "{ \"feeds\": { \"eth-usd\": " FEED_BODY(",\n  \"interval\": 5") " } }\n");
        expect_error(f, "2:3", "feeds.eth-usd.interval: unknown key");
}
END_TEST

START_TEST(test_error_feed_missing) {
        _cleanup_free_ char *f = NULL;

        write_feed_plugins();
        /* Pointed at the object it is missing from. */
        f = write_file("plugins.d/60-feeds.json", "{ \"feeds\": {\n  \"eth-usd\": { \"median\": \"median\" } } }\n");
        expect_error(f, "2:14", "feeds.eth-usd: missing \"relayer\"");
}
END_TEST

START_TEST(test_error_feed_plugins) {
        _cleanup_free_ char *f = NULL;

        write_feed_plugins();
        f = write_file("plugins.d/60-feeds.json",
                       "{ \"feeds\": { \"eth-usd\": {\n"
                       "  \"relayer\": \"ledgr\", \"median\": \"median\", \"n\": 4, \"f\": 1,\n"
                       "  \"onchain_config\": { \"min\": 0, \"max\": 1000 }, \"value\": { \"type\": \"constant\", \"value\": 5 } } } }\n");
        expect_error(f, "2:14", "feeds.eth-usd.relayer: no plugin named \"ledgr\" is configured");

        f = mfree(f);
        f = write_file("plugins.d/60-feeds.json",
                       "{ \"feeds\": { \"eth-usd\": {\n"
                       "  \"relayer\": \"median\", \"median\": \"median\", \"n\": 4, \"f\": 1,\n"
                       "  \"onchain_config\": { \"min\": 0, \"max\": 1000 }, \"value\": { \"type\": \"constant\", \"value\": 5 } } } }\n");
        expect_error(f, "2:14", "feeds.eth-usd.relayer: plugin \"median\" is of kind \"median\", a feed needs one of "
                     "kind \"relayer\"");

        f = mfree(f);
        f = write_file("plugins.d/60-feeds.json",
                       "{ \"feeds\": { \"eth-usd\": {\n"
                       "  \"relayer\": \"bare\", \"median\": \"median\", \"n\": 4, \"f\": 1,\n"
                       "  \"onchain_config\": { \"min\": 0, \"max\": 1000 }, \"value\": { \"type\": \"constant\", \"value\": 5 } } } }\n");
        expect_error(f, "2:14", "feeds.eth-usd.relayer: plugin \"bare\" has no \"relayer\" configuration, so it has no "
                     "relayer to make the feed's provider with");

        f = mfree(f);
        f = write_file("plugins.d/60-feeds.json",
                       "{ \"feeds\": { \"eth-usd\": {\n"
                       "  \"relayer\": \"ledger\", \"median\": \"ledger\", \"n\": 4, \"f\": 1,\n"
                       "  \"onchain_config\": { \"min\": 0, \"max\": 1000 }, \"value\": { \"type\": \"constant\", \"value\": 5 } } } }\n");
        expect_error(f, "2:34", "feeds.eth-usd.median: plugin \"ledger\" is of kind \"relayer\", a feed needs one of "
                     "kind \"median\"");
}
END_TEST

START_TEST(test_error_feed_same_contract) {
        _cleanup_free_ char *f = NULL;

        write_feed_plugins();
        f = write_file("plugins.d/60-feeds.json",
                       "{ \"feeds\": {\n"
                       "  \"a\": " FEED_BODY(", \"contract_id\": \"eth\"") ",\n"
                       "  \"b\": " FEED_BODY(", \"contract_id\": \"eth\"") " } }\n");
        expect_error(f, "3:172", "feeds.b.contract_id: contract \"eth\" of plugin ledger is already fed by feed \"a\"");
}
END_TEST

START_TEST(test_dropin_main_only_key) {
        _cleanup_free_ char *b = NULL;

        free(write_file("sdloopd.json", "{}"));
        b = write_file("plugins.d/b.json", "{\n  \"plugins\": {},\n  \"backend\": \"exec\"\n}");
        expect_error(b, "3:3", "backend: only allowed in the main configuration file");
}
END_TEST

/* --- errors, one per kind --------------------------------------------------------------------------------- */

START_TEST(test_error_syntax) {
        free(write_file("sdloopd.json", "{\n  \"plugins\": {\n    \"a\": { \"kind\": \"x\" \"binary\": \"y\" }\n  }\n}\n"));
        expect_error(main_path, "3:24", "syntax error: object value separator ',' expected");
}
END_TEST

START_TEST(test_error_end_of_file) {
        free(write_file("sdloopd.json", "{\n  \"plugins\": {\n"));
        expect_error(main_path, "3:1", "syntax error: unexpected end of file");
}
END_TEST

START_TEST(test_error_trailing_comma) {
        free(write_file("sdloopd.json", "{\n  \"plugins\": {},\n}\n"));
        expect_error(main_path, "3:1", "syntax error: unexpected character");
}
END_TEST

START_TEST(test_error_trailing_garbage) {
        free(write_file("sdloopd.json", "{}\n{}\n"));
        expect_error(main_path, "2:1", "syntax error: unexpected character");
}
END_TEST

START_TEST(test_error_comment) {
        /* Strict JSON: comments are not JSON. */
        free(write_file("sdloopd.json", "{\n  // plugins\n}\n"));
        expect_error(main_path, "2:3", "syntax error: quoted object property name expected");
}
END_TEST

START_TEST(test_error_not_an_object) {
        free(write_file("sdloopd.json", "\n  [1, 2]\n"));
        expect_error(main_path, "2:3", "expected a JSON object at the top level");
}
END_TEST

START_TEST(test_error_nul) {
        free(write_file("sdloopd.json", "{ \"plugins\": { \"p\": { \"kind\": \"a\\u0000b\" } } }"));
        expect_error(main_path, "1:31", "plugins.p.kind: contains a NUL character");
}
END_TEST

START_TEST(test_error_duplicate_key) {
        free(write_file("sdloopd.json", "{\n  \"plugins\": {},\n  \"plugins\": {}\n}\n"));
        expect_error(main_path, "3:3", "plugins: duplicate key");
}
END_TEST

START_TEST(test_error_unknown_top_level_key) {
        free(write_file("sdloopd.json", "{\n    \"plugin\": {}\n}\n"));
        expect_error(main_path, "2:5",
                     "plugin: unknown key (known: backend, socket_directory, state_directory, metrics, defaults, plugins, feeds)");
}
END_TEST

START_TEST(test_metrics) {
        _cleanup_(daemon_config_freep) DaemonConfig *c = NULL;

        free(write_file("sdloopd.json", "{ \"metrics\": { \"listen\": \"[::1]:9466\", \"scrape_timeout_sec\": 0.25 } }\n"));
        c = load_ok();
        ck_assert_str_eq(c->metrics_listen, "[::1]:9466");
        ck_assert_uint_eq(c->metrics_timeout_usec, 250000);
        daemon_config_free(TAKE_PTR(c));

        free(write_file("sdloopd.json", "{}\n"));
        c = load_ok();
        ck_assert_ptr_null(c->metrics_listen);

        free(write_file("sdloopd.json", "{\n  \"metrics\": { \"listen\": \"localhost:9466\" }\n}\n"));
        expect_error(main_path, "2:26", "metrics.listen: expected a numeric address and port, as \"127.0.0.1:9466\" "
                     "or \"[::1]:9466\", got \"localhost:9466\"");
        free(write_file("sdloopd.json", "{\n  \"metrics\": { \"listen\": \"127.0.0.1:0\" }\n}\n"));
        expect_error(main_path, "2:26", "metrics.listen: expected a numeric address and port, as \"127.0.0.1:9466\" "
                     "or \"[::1]:9466\", got \"127.0.0.1:0\"");
        free(write_file("sdloopd.json", "{\n  \"metrics\": { \"port\": 1 }\n}\n"));
        expect_error(main_path, "2:16", "metrics.port: unknown key (known: listen, scrape_timeout_sec)");
}
END_TEST

START_TEST(test_error_unknown_plugin_key) {
        write_plugin("\"restart_secs\": 1");
        expect_error(main_path, "5:25",
                     "plugins.p.restart_secs: unknown key (known: kind, binary, binary_sha256, args, environment, restart, restart_sec, "
                     "start_limit_burst, start_limit_interval_sec, watchdog_sec, call_timeout_sec, "
                     "probe_interval_sec, probe_timeout_sec, probe_failures, memory_max, tasks_max, cpu_quota, "
                     "sandbox, dynamic_user, user, relayer)");
}
END_TEST

START_TEST(test_binary_sha256) {
        _cleanup_(daemon_config_freep) DaemonConfig *c = NULL;

        /* sha256sum's digits, in either case, kept in lower case. */
        write_plugin("\"binary_sha256\": \"E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855\"");
        c = load_ok();
        ck_assert_uint_eq(c->n_plugins, 1);
        ck_assert_str_eq(c->plugins[0].settings.binary_sha256,
                         "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}
END_TEST

START_TEST(test_error_binary_sha256) {
        write_plugin("\"binary_sha256\": \"e3b0\"");
        expect_error(main_path, "5:42",
                     "plugins.p.binary_sha256: expected the SHA-256 of the binary (64 hex digits), got \"e3b0\"");
        /* 64 characters, one of them not a hex digit. */
        write_plugin("\"binary_sha256\": \"g3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855\"");
        expect_error(main_path, "5:42",
                     "plugins.p.binary_sha256: expected the SHA-256 of the binary (64 hex digits), got "
                     "\"g3b0c44298fc1c149afbf4c8996fb92427ae…");
        write_plugin("\"binary_sha256\": true");
        expect_error(main_path, "5:42",
                     "plugins.p.binary_sha256: expected the SHA-256 of the binary (64 hex digits), got true");
        free(write_file("sdloopd.json", "{\n  \"defaults\": { \"binary_sha256\": \"\" }\n}\n"));
        expect_error(main_path, "2:17", "defaults.binary_sha256: not allowed in defaults: every plugin names its own");
}
END_TEST

START_TEST(test_error_seconds_type) {
        /* The example of the documentation. */
        write_plugin("\"restart_sec\": \"abc\"");
        expect_error(main_path, "5:40", "plugins.p.restart_sec: expected a number of seconds, got \"abc\"");
}
END_TEST

START_TEST(test_error_seconds_negative) {
        write_plugin("\"watchdog_sec\": -1");
        expect_error(main_path, "5:41", "plugins.p.watchdog_sec: expected a number of seconds, got -1");
}
END_TEST

START_TEST(test_error_call_timeout_zero) {
        write_plugin("\"call_timeout_sec\": 0");
        expect_error(main_path, "5:45", "plugins.p.call_timeout_sec: expected a number of seconds greater than 0, got 0");
}
END_TEST

START_TEST(test_error_probe_settings) {
        write_plugin("\"probe_failures\": 0");
        expect_error(main_path, "5:43", "plugins.p.probe_failures: 0 is out of range (1…1000)");
        write_plugin("\"probe_timeout_sec\": 0");
        expect_error(main_path, "5:46", "plugins.p.probe_timeout_sec: expected a number of seconds greater than 0, got 0");
        write_plugin("\"probe_interval_sec\": \"1s\"");
        expect_error(main_path, "5:47", "plugins.p.probe_interval_sec: expected a number of seconds, got \"1s\"");
}
END_TEST

START_TEST(test_error_integer_range) {
        write_plugin("\"tasks_max\": 99999999999999999999");
        expect_error(main_path, "5:38",
                     "plugins.p.tasks_max: 99999999999999999999 is out of range (1…18446744073709551614)");
}
END_TEST

START_TEST(test_error_integer_fraction) {
        write_plugin("\"start_limit_burst\": 2.5");
        expect_error(main_path, "5:46", "plugins.p.start_limit_burst: expected a number of starts, got 2.5");
}
END_TEST

START_TEST(test_error_restart_value) {
        write_plugin("\"restart\": \"sometimes\"");
        expect_error(main_path, "5:36",
                     "plugins.p.restart: expected one of \"no\", \"on-failure\", \"on-abnormal\", \"always\", "
                     "got \"sometimes\"");
}
END_TEST

START_TEST(test_error_bool) {
        write_plugin("\"sandbox\": \"yes\"");
        expect_error(main_path, "5:36", "plugins.p.sandbox: expected true or false, got \"yes\"");
}
END_TEST

START_TEST(test_error_memory_max) {
        write_plugin("\"memory_max\": \"64X\"");
        expect_error(main_path, "5:39",
                     "plugins.p.memory_max: expected bytes (an integer, or a string such as \"64M\" or \"1G\", or "
                     "\"infinity\"), got \"64X\"");
}
END_TEST

START_TEST(test_error_cpu_quota) {
        write_plugin("\"cpu_quota\": \"50\"");
        expect_error(main_path, "5:38", "plugins.p.cpu_quota: expected a percentage such as \"50%\", got \"50\"");
}
END_TEST

START_TEST(test_error_args) {
        write_plugin("\"args\": [\"--a\", 2]");
        expect_error(main_path, "5:41", "plugins.p.args[1]: expected a string, got 2");
}
END_TEST

START_TEST(test_error_environment_name) {
        write_plugin("\"environment\": { \"BAD-NAME\": \"x\" }");
        expect_error(main_path, "5:42", "plugins.p.environment.BAD-NAME: not a valid environment variable name");
}
END_TEST

START_TEST(test_error_environment_reserved) {
        write_plugin("\"environment\": { \"LISTEN_FDS\": \"3\" }");
        expect_error(main_path, "5:42", "plugins.p.environment.LISTEN_FDS: reserved: sdloopd sets it for the plugin");
}
END_TEST

START_TEST(test_error_plugin_name) {
        free(write_file("sdloopd.json", "{ \"plugins\": {\n  \"Bad.Name\": { \"kind\": \"k\", \"binary\": \"@BIN@\" } } }"));
        expect_error(main_path, "2:3",
                     "plugins.Bad.Name: \"Bad.Name\" is not a valid plugin name ([a-z0-9][a-z0-9_-]{0,63})");
}
END_TEST

START_TEST(test_error_missing_kind) {
        free(write_file("sdloopd.json", "{ \"plugins\": {\n  \"p\": { \"binary\": \"@BIN@\" } } }"));
        expect_error(main_path, "2:8", "plugins.p.kind: missing: every plugin needs a kind (\"relayer\", \"median\", …)");
}
END_TEST

START_TEST(test_error_missing_binary) {
        free(write_file("sdloopd.json", "{ \"plugins\": {\n  \"p\": { \"kind\": \"example\" } } }"));
        expect_error(main_path, "2:8", "plugins.p.binary: missing: every plugin needs the path of its executable");
}
END_TEST

START_TEST(test_error_binary_relative) {
        free(write_file("sdloopd.json", "{ \"plugins\": {\n  \"p\": { \"kind\": \"k\", \"binary\": \"bin/x\" } } }"));
        expect_error(main_path, "2:33",
                     "plugins.p.binary: \"bin/x\" is neither an absolute path nor a bare name (looked up in "
                     SDLOOP_LIBEXECDIR ")");
}
END_TEST

START_TEST(test_error_binary_missing) {
        free(write_file("sdloopd.json", "{ \"plugins\": {\n  \"p\": { \"kind\": \"k\", \"binary\": \"/nonexistent/x\" } } }"));
        expect_error(main_path, "2:33", "plugins.p.binary: /nonexistent/x: No such file or directory");
}
END_TEST

START_TEST(test_error_relayer_wrong_kind) {
        write_plugin("\"relayer\": { \"config\": {} }");
        expect_error(main_path, "5:25", "plugins.p.relayer: only for plugins of kind \"relayer\", this one is \"example\"");
}
END_TEST

START_TEST(test_error_relayer_unknown_key) {
        write_plugin("\"relayer\": { \"conf\": {} }");
        expect_error(main_path, "5:38", "plugins.p.relayer.conf: unknown key (known: config)");
}
END_TEST

START_TEST(test_error_relayer_without_config) {
        write_plugin("\"relayer\": {}");
        expect_error(main_path, "5:36", "plugins.p.relayer.config: missing: the configuration for PluginRelayer.NewRelayer");
}
END_TEST

START_TEST(test_error_defaults_kind) {
        free(write_file("sdloopd.json", "{\n  \"defaults\": { \"kind\": \"relayer\" }\n}\n"));
        expect_error(main_path, "2:17", "defaults.kind: not allowed in defaults: every plugin names its own");
}
END_TEST

START_TEST(test_error_defaults_value) {
        /* Reported at the defaults, even for a plugin in a drop-in. */
        free(write_file("sdloopd.json", "{\n  \"defaults\": { \"restart_sec\": true }\n}\n"));
        expect_error(main_path, "2:32", "defaults.restart_sec: expected a number of seconds, got true");
}
END_TEST

START_TEST(test_error_backend) {
        free(write_file("sdloopd.json", "{ \"backend\": \"docker\" }"));
        expect_error(main_path, "1:14", "backend: expected one of \"auto\", \"system\", \"user\", \"exec\", got \"docker\"");
}
END_TEST

START_TEST(test_error_directory) {
        free(write_file("sdloopd.json", "{ \"state_directory\": \"var/lib\" }"));
        expect_error(main_path, "1:22", "state_directory: \"var/lib\" is not an absolute path");
}
END_TEST

START_TEST(test_error_socket_path_too_long) {
        _cleanup_free_ char *text = NULL, *rest = NULL, *dirname = NULL;

        dirname = malloc(101);
        memset(dirname, 'd', 100);
        dirname[0] = '/';
        dirname[100] = 0;
        ck_assert_int_ge(asprintf(&text, "{ \"socket_directory\": \"%s\",\n"
                                  "  \"plugins\": { \"plugin\": { \"kind\": \"k\", \"binary\": \"@BIN@\" } } }", dirname), 0);
        free(write_file("sdloopd.json", text));
        ck_assert_int_ge(asprintf(&rest, "plugins.plugin: socket path %s/plugin.sock is too long for a UNIX socket "
                                  "(at most 107 bytes)", dirname), 0);
        expect_error(main_path, "2:16", rest);
}
END_TEST

START_TEST(test_error_column_counts_characters) {
        /* "é" is two bytes but one column. */
        free(write_file("sdloopd.json", "{ \"plugins\": { \"p\": { \"kind\": \"k\", \"binary\": \"@BIN@\",\n"
                                        "\"args\": [\"é\", 1] } } }"));
        expect_error(main_path, "2:15", "plugins.p.args[1]: expected a string, got 1");
}
END_TEST

START_TEST(test_error_long_value_shortened) {
        _cleanup_free_ char *settings = NULL, *rest = NULL, *euros = NULL;

        /* Cut at 37 bytes at most, and never inside a character ("€" is 3 bytes). */
        euros = strdup("");
        for (int k = 0; k < 20; k++) {
                char *n;

                ck_assert_int_ge(asprintf(&n, "%s€", euros), 0);
                free(euros);
                euros = n;
        }
        ck_assert_int_ge(asprintf(&settings, "\"restart_sec\": \"a%s\"", euros), 0);
        write_plugin(settings);
        ck_assert_int_ge(asprintf(&rest, "plugins.p.restart_sec: expected a number of seconds, got \"a%.*s…",
                                  11 * 3, euros), 0);
        expect_error(main_path, "5:40", rest);
}
END_TEST

/* --- comparing ------------------------------------------------------------------------------------------------ */

START_TEST(test_equal) {
        _cleanup_(daemon_config_freep) DaemonConfig *c1 = NULL, *c2 = NULL, *c3 = NULL;

        write_plugin("\"args\": [\"x\"]");
        c1 = load_ok();
        c2 = load_ok();
        ck_assert(daemon_plugin_config_equal(c1->plugins, c2->plugins));
        write_plugin("\"args\": [\"y\"]");
        c3 = load_ok();
        ck_assert(!daemon_plugin_config_equal(c1->plugins, c3->plugins));
}
END_TEST

START_TEST(test_names) {
        ck_assert(daemon_plugin_name_is_valid("a"));
        ck_assert(daemon_plugin_name_is_valid("0ledger_eth-1"));
        ck_assert(!daemon_plugin_name_is_valid(""));
        ck_assert(!daemon_plugin_name_is_valid("-a"));
        ck_assert(!daemon_plugin_name_is_valid("_a"));
        ck_assert(!daemon_plugin_name_is_valid("A"));
        ck_assert(!daemon_plugin_name_is_valid("a.b"));
        ck_assert(daemon_plugin_name_is_valid("a123456789012345678901234567890123456789012345678901234567890123"));
        ck_assert(!daemon_plugin_name_is_valid("a1234567890123456789012345678901234567890123456789012345678901234"));
}
END_TEST

static Suite *config_suite(void) {
        Suite *s = suite_create("config");
        TCase *tc;

        tc = tcase_create("valid");
        tcase_add_checked_fixture(tc, setup, teardown);
        tcase_add_test(tc, test_every_key);
        tcase_add_test(tc, test_defaults);
        tcase_add_test(tc, test_units_and_spellings);
        tcase_add_test(tc, test_bare_binary_name);
        tcase_add_test(tc, test_missing_default_file);
        tcase_add_test(tc, test_missing_explicit_file);
        tcase_add_test(tc, test_equal);
        tcase_add_test(tc, test_names);
        suite_add_tcase(s, tc);

        tc = tcase_create("dropins");
        tcase_add_checked_fixture(tc, setup, teardown);
        tcase_add_test(tc, test_dropins_merged);
        tcase_add_test(tc, test_dropin_masked);
        tcase_add_test(tc, test_dropin_duplicate_plugin);
        tcase_add_test(tc, test_dropin_duplicate_with_main);
        tcase_add_test(tc, test_dropin_duplicate_feed);
        tcase_add_test(tc, test_dropin_main_only_key);
        suite_add_tcase(s, tc);

        tc = tcase_create("feeds");
        tcase_add_checked_fixture(tc, setup, teardown);
        tcase_add_test(tc, test_feed_equal);
        tcase_add_test(tc, test_error_feed_parse);
        tcase_add_test(tc, test_error_feed_source);
        tcase_add_test(tc, test_error_feed_unknown_key);
        tcase_add_test(tc, test_error_feed_missing);
        tcase_add_test(tc, test_error_feed_plugins);
        tcase_add_test(tc, test_error_feed_same_contract);
        suite_add_tcase(s, tc);

        tc = tcase_create("errors");
        tcase_add_checked_fixture(tc, setup, teardown);
        tcase_add_test(tc, test_error_syntax);
        tcase_add_test(tc, test_error_end_of_file);
        tcase_add_test(tc, test_error_trailing_comma);
        tcase_add_test(tc, test_error_trailing_garbage);
        tcase_add_test(tc, test_error_comment);
        tcase_add_test(tc, test_error_not_an_object);
        tcase_add_test(tc, test_error_nul);
        tcase_add_test(tc, test_error_duplicate_key);
        tcase_add_test(tc, test_error_unknown_top_level_key);
        tcase_add_test(tc, test_metrics);
        tcase_add_test(tc, test_error_unknown_plugin_key);
        tcase_add_test(tc, test_error_seconds_type);
        tcase_add_test(tc, test_binary_sha256);
        tcase_add_test(tc, test_error_binary_sha256);
        tcase_add_test(tc, test_error_seconds_negative);
        tcase_add_test(tc, test_error_call_timeout_zero);
        tcase_add_test(tc, test_error_probe_settings);
        tcase_add_test(tc, test_error_integer_range);
        tcase_add_test(tc, test_error_integer_fraction);
        tcase_add_test(tc, test_error_restart_value);
        tcase_add_test(tc, test_error_bool);
        tcase_add_test(tc, test_error_memory_max);
        tcase_add_test(tc, test_error_cpu_quota);
        tcase_add_test(tc, test_error_args);
        tcase_add_test(tc, test_error_environment_name);
        tcase_add_test(tc, test_error_environment_reserved);
        tcase_add_test(tc, test_error_plugin_name);
        tcase_add_test(tc, test_error_missing_kind);
        tcase_add_test(tc, test_error_missing_binary);
        tcase_add_test(tc, test_error_binary_relative);
        tcase_add_test(tc, test_error_binary_missing);
        tcase_add_test(tc, test_error_relayer_wrong_kind);
        tcase_add_test(tc, test_error_relayer_unknown_key);
        tcase_add_test(tc, test_error_relayer_without_config);
        tcase_add_test(tc, test_error_defaults_kind);
        tcase_add_test(tc, test_error_defaults_value);
        tcase_add_test(tc, test_error_backend);
        tcase_add_test(tc, test_error_directory);
        tcase_add_test(tc, test_error_socket_path_too_long);
        tcase_add_test(tc, test_error_column_counts_characters);
        tcase_add_test(tc, test_error_long_value_shortened);
        suite_add_tcase(s, tc);

        return s;
}

int main(void) {
        SRunner *sr = srunner_create(config_suite());
        int failed;

        srunner_run_all(sr, CK_NORMAL);
        failed = srunner_ntests_failed(sr);
        srunner_free(sr);
        return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
