/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "macro.h"
#include "tool.h"

typedef struct TapCase {
        char *name;
        char *diagnostic;
        bool ok, skipped;
} TapCase;

struct Tap {
        char *suite;
        TapCase *cases;
        size_t n_cases;
        unsigned n_failed;
};

Tap *tap_new(const char *suite) {
        Tap *t = new0(Tap, 1);

        if (!t)
                return NULL;
        t->suite = strdup(suite);
        if (!t->suite)
                return mfree(t);
        return t;
}

Tap *tap_free(Tap *t) {
        if (!t)
                return NULL;
        for (size_t i = 0; i < t->n_cases; i++) {
                free(t->cases[i].name);
                free(t->cases[i].diagnostic);
        }
        free(t->cases);
        free(t->suite);
        return mfree(t);
}

/* Each line of @s as a TAP diagnostic. */
static void print_diagnostic(const char *s) {
        while (s && *s) {
                const char *nl = strchr(s, '\n');
                int n = nl ? (int) (nl - s) : (int) strlen(s);

                printf("# %.*s\n", n, s);
                s = nl ? nl + 1 : NULL;
        }
}

static void tap_add(Tap *t, bool ok, bool skipped, const char *name, char *diagnostic) {
        TapCase *c;

        c = reallocarray(t->cases, t->n_cases + 1, sizeof(TapCase));
        if (c) {
                t->cases = c;
                t->cases[t->n_cases++] = (TapCase) {
                        .name = strdup(name), .diagnostic = diagnostic, .ok = ok, .skipped = skipped,
                };
        } else
                free(diagnostic);
        if (!ok)
                t->n_failed++;

        if (skipped)
                printf("ok %zu - %s # SKIP %s\n", t->n_cases, name, strempty(diagnostic));
        else {
                printf("%s %zu - %s\n", ok ? "ok" : "not ok", t->n_cases, name);
                if (!ok)
                        print_diagnostic(diagnostic);
        }
        fflush(stdout);
}

bool tap_check(Tap *t, bool ok, const char *name, const char *diagnostic_format, ...) {
        char *d = NULL;
        va_list ap;

        if (diagnostic_format) {
                va_start(ap, diagnostic_format);
                if (vasprintf(&d, diagnostic_format, ap) < 0)
                        d = NULL;
                va_end(ap);
        }
        tap_add(t, ok, false, name, d);
        return ok;
}

bool tap_check_call(Tap *t, int r, const sd_bus_error *error, const char *name) {
        if (r >= 0)
                return tap_check(t, true, name, NULL);
        return tap_check(t, false, name, "%s: %s", error && error->name ? error->name : "errno",
                         error && error->message ? error->message : strerror(-r));
}

void tap_skip(Tap *t, const char *name, const char *reason) {
        tap_add(t, true, true, name, reason ? strdup(reason) : NULL);
}

void tap_note(Tap *t, const char *format, ...) {
        _cleanup_free_ char *s = NULL;
        va_list ap;

        va_start(ap, format);
        if (vasprintf(&s, format, ap) < 0)
                s = NULL;
        va_end(ap);
        print_diagnostic(s);
        fflush(stdout);
}

static void xml_escaped(FILE *f, const char *s) {
        for (; s && *s; s++)
                switch (*s) {
                case '<': fputs("&lt;", f); break;
                case '>': fputs("&gt;", f); break;
                case '&': fputs("&amp;", f); break;
                case '"': fputs("&quot;", f); break;
                default:
                        /* XML 1.0 has no other control characters than these three. */
                        if ((unsigned char) *s < 0x20 && *s != '\n' && *s != '\t' && *s != '\r')
                                fputc('?', f);
                        else
                                fputc(*s, f);
                }
}

static int write_junit(Tap *t, const char *path) {
        _cleanup_fclose_ FILE *f = NULL;
        unsigned n_skipped = 0;

        f = fopen(path, "we");
        if (!f)
                return -errno;
        for (size_t i = 0; i < t->n_cases; i++)
                n_skipped += t->cases[i].skipped;

        fputs("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n", f);
        fprintf(f, "<testsuites>\n  <testsuite name=\"");
        xml_escaped(f, t->suite);
        fprintf(f, "\" tests=\"%zu\" failures=\"%u\" skipped=\"%u\">\n", t->n_cases, t->n_failed, n_skipped);
        for (size_t i = 0; i < t->n_cases; i++) {
                const TapCase *c = &t->cases[i];

                fputs("    <testcase classname=\"", f);
                xml_escaped(f, t->suite);
                fputs("\" name=\"", f);
                xml_escaped(f, c->name);
                if (c->ok && !c->skipped) {
                        fputs("\"/>\n", f);
                        continue;
                }
                fputs("\">\n", f);
                fputs(c->skipped ? "      <skipped message=\"" : "      <failure message=\"", f);
                xml_escaped(f, c->diagnostic);
                fputs("\"/>\n    </testcase>\n", f);
        }
        fputs("  </testsuite>\n</testsuites>\n", f);
        return fflush(f) == 0 && !ferror(f) ? 0 : -EIO;
}

unsigned tap_finish(Tap *t, const char *junit) {
        printf("1..%zu\n", t->n_cases);
        printf("# %s: %zu checks, %zu passed, %u failed\n", t->suite, t->n_cases, t->n_cases - t->n_failed,
               t->n_failed);
        fflush(stdout);
        if (junit) {
                int r = write_junit(t, junit);

                if (r < 0) {
                        fprintf(stderr, "Failed to write %s: %s\n", junit, strerror(-r));
                        return t->n_failed + 1;
                }
        }
        return t->n_failed;
}
