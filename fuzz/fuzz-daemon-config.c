/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* sdloopd's configuration loader (src/sdloopd/sdloopd-config*.c) on a main file and a drop-in.
 *
 * Input: the main file (sdloopd.json), then optionally a NUL byte and the drop-in (plugins.d/10-fuzz.json),
 * both written to a private directory.
 *
 * Invariants: a refusal is -EINVAL with one line "FILE[:LINE:COLUMN]: FIELD: reason" naming one of the two
 * files, valid UTF-8 and bounded; an accepted configuration has its plugins and feeds sorted by name,
 * each feed instantiates again from its JSON (the one parser accepted it once), and resolving it for each
 * backend works. */

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "feed.h"
#include "fuzz-util.h"
#include "macro.h"
#include "sdloopd-config.h"

/* Longer errors mean a value was echoed whole. */
#define ERROR_MAX 2048U

static char dir[] = "/tmp/fuzz-daemon-config-XXXXXX";
static char main_path[64], dropin_dir[64], dropin_path[80];

static void write_file(const char *path, const uint8_t *data, size_t size) {
        int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

        fuzz_assert(fd >= 0, path);
        fuzz_assert(write(fd, data, size) == (ssize_t) size, path);
        fuzz_assert(close(fd) >= 0, path);
}

static void cleanup(void) {
        (void) unlink(dropin_path);
        (void) rmdir(dropin_dir);
        (void) unlink(main_path);
        (void) rmdir(dir);
}

static void setup(void) {
        static bool done;

        if (done)
                return;
        fuzz_assert(mkdtemp(dir), "mkdtemp");
        snprintf(main_path, sizeof main_path, "%s/sdloopd.json", dir);
        snprintf(dropin_dir, sizeof dropin_dir, "%s/plugins.d", dir);
        snprintf(dropin_path, sizeof dropin_path, "%s/10-fuzz.json", dropin_dir);
        fuzz_assert(mkdir(dropin_dir, 0700) >= 0, dropin_dir);
        fuzz_assert(atexit(cleanup) == 0, "atexit");
        done = true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        _cleanup_(daemon_config_freep) DaemonConfig *c = NULL;
        _cleanup_free_ char *error = NULL;
        const uint8_t *nul;
        int r;

        setup();
        nul = memchr(data, 0, size);
        write_file(main_path, data, nul ? (size_t) (nul - data) : size);
        if (nul)
                write_file(dropin_path, nul + 1, size - (size_t) (nul - data) - 1);
        else
                (void) unlink(dropin_path);

        r = daemon_config_load(main_path, DAEMON_SCOPE_SYSTEM, &c, &error);
        fuzz_note("%s", r < 0 ? error : "accepted");
        if (r < 0) {
                fuzz_assert(r == -EINVAL, error);
                fuzz_check_text_error(error, ERROR_MAX);
                fuzz_assert(strncmp(error, main_path, strlen(main_path)) == 0 ||
                            strncmp(error, dropin_path, strlen(dropin_path)) == 0, error);
                return 0;
        }
        fuzz_assert(!error, error);

        for (size_t i = 1; i < c->n_plugins; i++)
                fuzz_assert(strcmp(c->plugins[i - 1].settings.name, c->plugins[i].settings.name) < 0,
                            c->plugins[i].settings.name);
        for (size_t i = 0; i < c->n_feeds; i++) {
                FeedConfig *fc = NULL;

                if (i > 0)
                        fuzz_assert(strcmp(c->feeds[i - 1].name, c->feeds[i].name) < 0, c->feeds[i].name);
                fuzz_assert(daemon_feed_config_instantiate(&c->feeds[i], &fc) >= 0, c->feeds[i].name);
                feed_config_free(fc);
        }
        for (size_t i = 0; i < c->n_plugins; i++)
                fuzz_assert(daemon_config_find_plugin(c, c->plugins[i].settings.name) == &c->plugins[i],
                            c->plugins[i].settings.name);
        daemon_config_resolve(c, "system");
        daemon_config_resolve(c, "exec");
        return 0;
}
