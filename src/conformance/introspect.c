/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* Live introspection of the plugin's objects against the contract's XML (the installed
 * dbus-1/interfaces files), by the same checker the project's tests use. */

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "macro.h"
#include "tool.h"

#define MAX_OBJECTS 16

typedef struct Object {
        char *file, *path, *expect;
} Object;

struct ToolIntrospection {
        const ToolOptions *options;
        Object objects[MAX_OBJECTS];
        size_t n_objects;
};

ToolIntrospection *tool_introspection_new(const ToolOptions *o) {
        ToolIntrospection *i = new0(ToolIntrospection, 1);

        if (i)
                i->options = o;
        return i;
}

ToolIntrospection *tool_introspection_free(ToolIntrospection *i) {
        if (!i)
                return NULL;
        for (size_t k = 0; k < i->n_objects; k++) {
                (void) unlink(i->objects[k].file);
                free(i->objects[k].file);
                free(i->objects[k].path);
                free(i->objects[k].expect);
        }
        return mfree(i);
}

void tool_introspection_add(ToolIntrospection *i, Tap *t, SdloopPeer *peer, const char *path, const char *expect) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_free_ char *name = NULL;
        Object *obj;
        const char *xml;
        FILE *f;
        int r;

        if (asprintf(&name, "Introspect() of %s", path) < 0)
                return;
        r = sdloop_peer_call_method(peer, path, "org.freedesktop.DBus.Introspectable", "Introspect", &reply, &error,
                                    NULL);
        if (r >= 0)
                r = sd_bus_message_read(reply, "s", &xml);
        if (r < 0 || i->n_objects >= MAX_OBJECTS) {
                tap_check_call(t, r < 0 ? r : -E2BIG, &error, name);
                return;
        }

        obj = &i->objects[i->n_objects];
        if (asprintf(&obj->file, "%s/introspection-%zu.xml", i->options->tmpdir, i->n_objects) < 0) {
                obj->file = NULL;
                return;
        }
        obj->path = strdup(path);
        obj->expect = strdup(expect);
        f = fopen(obj->file, "we");
        if (!f || fputs(xml, f) < 0 || fclose(f) != 0 || !obj->path || !obj->expect) {
                tap_check(t, false, name, "cannot save it in %s", obj->file);
                return;
        }
        i->n_objects++;
}

static int run_checker(const ToolOptions *o, const Object *obj) {
        const char *argv[] = {
                "python3", o->introspection_checker, "--dbus-dir", o->dbus_dir, "--object", obj->file, obj->expect,
                NULL,
        };
        pid_t pid;
        int status;

        fflush(NULL);
        pid = fork();
        if (pid < 0)
                return -errno;
        if (pid == 0) {
                /* The checker's findings go with the plugin's output; stdout is the report. */
                (void) dup2(STDERR_FILENO, STDOUT_FILENO);
                execvp(argv[0], (char **) argv);
                _exit(127);
        }
        if (waitpid(pid, &status, 0) != pid)
                return -errno;
        if (WIFEXITED(status) && WEXITSTATUS(status) == 127)
                return -ENOEXEC;
        return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -EBADMSG;
}

void tool_introspection_check(ToolIntrospection *i, Tap *t) {
        for (size_t k = 0; k < i->n_objects; k++) {
                const Object *obj = &i->objects[k];
                _cleanup_free_ char *name = NULL;
                int r;

                if (asprintf(&name, "introspection of %s (%s) matches %s", obj->path, obj->expect,
                             i->options->dbus_dir) < 0)
                        return;
                r = run_checker(i->options, obj);
                tap_check(t, r >= 0, name, r == -ENOEXEC ? "python3 %s could not be run" :
                          "differences from the contract are listed above (%s)", i->options->introspection_checker);
        }
}
