/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* Families in the order first seen; each keeps its sample lines as rendered. A merge parses into a
 * MetricsText of its own first and joins it only when all of it parsed, so that a bad plugin leaves no
 * half of its figures behind. */

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "macro.h"
#include "metrics-text.h"

typedef struct Family {
        char *name, *type, *help;
        char **lines;
        size_t n_lines, n_allocated;
} Family;

struct MetricsText {
        Family *families;
        size_t n_families, n_allocated;
};

int metrics_text_new(MetricsText **ret) {
        *ret = new0(MetricsText, 1);
        return *ret ? 0 : -ENOMEM;
}

static void family_done(Family *f) {
        free(f->name);
        free(f->type);
        free(f->help);
        for (size_t i = 0; i < f->n_lines; i++)
                free(f->lines[i]);
        free(f->lines);
}

MetricsText *metrics_text_free(MetricsText *t) {
        if (!t)
                return NULL;
        for (size_t i = 0; i < t->n_families; i++)
                family_done(&t->families[i]);
        free(t->families);
        return mfree(t);
}

static Family *family_find(MetricsText *t, const char *name, size_t len) {
        for (size_t i = 0; i < t->n_families; i++)
                if (strlen(t->families[i].name) == len && memcmp(t->families[i].name, name, len) == 0)
                        return &t->families[i];
        return NULL;
}

static bool type_is_valid(const char *type) {
        return streq(type, "counter") || streq(type, "gauge") || streq(type, "histogram") ||
                streq(type, "summary") || streq(type, "untyped");
}

static int family_get(MetricsText *t, const char *name, size_t len, Family **ret) {
        Family *f = family_find(t, name, len);

        if (!f) {
                if (t->n_families == t->n_allocated) {
                        size_t n = MAX(t->n_allocated * 2, 16U);
                        Family *a = reallocarray(t->families, n, sizeof(Family));

                        if (!a)
                                return -ENOMEM;
                        t->families = a;
                        t->n_allocated = n;
                }
                f = &t->families[t->n_families];
                *f = (Family) { .name = strndup(name, len) };
                if (!f->name)
                        return -ENOMEM;
                t->n_families++;
        }
        *ret = f;
        return 0;
}

static int family_set(Family *f, const char *type, const char *help) {
        if (type) {
                if (f->type && !streq(f->type, type))
                        return -EEXIST;
                if (!f->type && free_and_strdup(&f->type, type) < 0)
                        return -ENOMEM;
        }
        if (help && !f->help && free_and_strdup(&f->help, help) < 0)
                return -ENOMEM;
        return 0;
}

int metrics_text_family(MetricsText *t, const char *name, const char *type, const char *help) {
        Family *f;
        int r;

        if (!type_is_valid(type))
                return -EINVAL;
        r = family_get(t, name, strlen(name), &f);
        if (r < 0)
                return r;
        return family_set(f, type, help);
}

static int family_add_line(Family *f, char *line) {
        if (f->n_lines == f->n_allocated) {
                size_t n = MAX(f->n_allocated * 2, 8U);
                char **a = reallocarray(f->lines, n, sizeof(char *));

                if (!a) {
                        free(line);
                        return -ENOMEM;
                }
                f->lines = a;
                f->n_allocated = n;
        }
        f->lines[f->n_lines++] = line;
        return 0;
}

static void format_value(double v, char *buf, size_t size) {
        if (isnan(v))
                snprintf(buf, size, "NaN");
        else if (isinf(v))
                snprintf(buf, size, v > 0 ? "+Inf" : "-Inf");
        else if (v == (double) (long long) v && fabs(v) < 1e15)
                snprintf(buf, size, "%lld", (long long) v);
        else
                snprintf(buf, size, "%.17g", v);
}

int metrics_text_sample(MetricsText *t, const char *family, const char *sample, const char *labels, double value) {
        char v[64], *line;
        Family *f;

        f = family_find(t, family, strlen(family));
        if (!f)
                return -ENOENT;
        format_value(value, v, sizeof(v));
        if (asprintf(&line, "%s%s%s%s %s", sample, isempty(labels) ? "" : "{", strempty(labels),
                     isempty(labels) ? "" : "}", v) < 0)
                return -ENOMEM;
        return family_add_line(f, line);
}

const char *metrics_label_escape(const char *s, char *buf, size_t size) {
        size_t k = 0;

        assert(size > 0);
        for (; *s && k + 2 < size; s++) {
                if (*s == '\\' || *s == '"') {
                        buf[k++] = '\\';
                        buf[k++] = *s;
                } else if (*s == '\n') {
                        buf[k++] = '\\';
                        buf[k++] = 'n';
                } else
                        buf[k++] = *s;
        }
        buf[k] = 0;
        return buf;
}

/* --- parsing a plugin's exposition ------------------------------------------------------------------------ */

static bool is_name_start(char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':';
}

static bool is_name_char(char c) {
        return is_name_start(c) || (c >= '0' && c <= '9');
}

static size_t name_length(const char *s, const char *end, bool colon) {
        size_t n = 0;

        if (s >= end || !is_name_start(*s) || (!colon && *s == ':'))
                return 0;
        while (s + n < end && is_name_char(s[n]) && (colon || s[n] != ':'))
                n++;
        return n;
}

/* The labels between the braces, rewritten with @label_name="@label_value" first. *@pos is after '{' and
 * moves past '}'. */
static int parse_labels(const char **pos, const char *end, const char *label_name, const char *label_value,
                        char **ret) {
        _cleanup_free_ char *out = NULL;
        size_t n = 0, cap = 0;
        const char *s = *pos;
        char esc[512];

        metrics_label_escape(label_value, esc, sizeof(esc));
#define APPEND(p, l)                                                            \
        do {                                                                    \
                if (n + (l) + 1 > cap) {                                        \
                        size_t c = MAX(cap * 2, n + (l) + 64);                  \
                        char *a = realloc(out, c);                              \
                        if (!a)                                                 \
                                return -ENOMEM;                                 \
                        out = a;                                                \
                        cap = c;                                                \
                }                                                               \
                memcpy(out + n, (p), (l));                                      \
                n += (l);                                                       \
                out[n] = 0;                                                     \
        } while (0)

        APPEND(label_name, strlen(label_name));
        APPEND("=\"", 2);
        APPEND(esc, strlen(esc));
        APPEND("\"", 1);

        for (;;) {
                size_t l;
                const char *v;

                while (s < end && *s == ' ')
                        s++;
                if (s < end && *s == '}') {
                        s++;
                        break;
                }
                l = name_length(s, end, false);
                if (l == 0)
                        return -EBADMSG;
                APPEND(",", 1);
                if (l == strlen(label_name) && memcmp(s, label_name, l) == 0)
                        APPEND("exported_", 9);
                APPEND(s, l);
                s += l;
                while (s < end && *s == ' ')
                        s++;
                if (s + 1 >= end || s[0] != '=' || s[1] != '"')
                        return -EBADMSG;
                s += 2;
                v = s;
                while (s < end && *s != '"') {
                        if (*s == '\\') {
                                if (s + 1 >= end || (s[1] != '\\' && s[1] != '"' && s[1] != 'n'))
                                        return -EBADMSG;
                                s++;
                        }
                        s++;
                }
                if (s >= end)
                        return -EBADMSG;
                APPEND("=\"", 2);
                APPEND(v, (size_t) (s - v));
                APPEND("\"", 1);
                s++;
                while (s < end && *s == ' ')
                        s++;
                if (s < end && *s == ',')
                        s++;
                else if (!(s < end && *s == '}'))
                        return -EBADMSG;
        }
#undef APPEND
        *pos = s;
        *ret = TAKE_PTR(out);
        return 0;
}

static int parse_value(const char *s, const char *end, double *ret) {
        char buf[64], *e;
        size_t l = 0;

        while (s + l < end && s[l] != ' ')
                l++;
        if (l == 0 || l >= sizeof(buf))
                return -EBADMSG;
        memcpy(buf, s, l);
        buf[l] = 0;
        if (streq(buf, "+Inf") || streq(buf, "Inf")) {
                *ret = INFINITY;
                return 0;
        }
        if (streq(buf, "-Inf")) {
                *ret = -INFINITY;
                return 0;
        }
        if (streq(buf, "NaN")) {
                *ret = NAN;
                return 0;
        }
        /* strtod() would take "inf", "nan(…)" and hex floats too; the format has none of them. */
        for (size_t i = 0; i < l; i++)
                if (!strchr("0123456789+-.eE", buf[i]))
                        return -EBADMSG;
        errno = 0;
        *ret = strtod(buf, &e);
        if (*e || errno == ERANGE)
                return -EBADMSG;
        /* A timestamp may follow; sdloopd's scrape time is what counts. */
        s += l;
        while (s < end && *s == ' ')
                s++;
        while (s < end && *s >= '0' && *s <= '9')
                s++;
        return s == end ? 0 : -EBADMSG;
}

/* The family a sample belongs to: its own name, or the name without a suffix its type allows. */
static Family *sample_family(MetricsText *t, const char *name, size_t l) {
        static const char * const suffixes[] = { "_bucket", "_sum", "_count", "_created", "_total" };
        Family *f = family_find(t, name, l);

        if (f)
                return f;
        for (size_t i = 0; i < ELEMENTSOF(suffixes); i++) {
                size_t sl = strlen(suffixes[i]);

                if (l > sl && memcmp(name + l - sl, suffixes[i], sl) == 0) {
                        f = family_find(t, name, l - sl);
                        if (f)
                                return f;
                }
        }
        return NULL;
}

static int parse_comment(MetricsText *t, const char *s, const char *end) {
        bool help;
        size_t l;
        Family *f;
        int r;

        /* "# HELP name text", "# TYPE name type"; any other comment is ignored. */
        s++;
        while (s < end && *s == ' ')
                s++;
        if (end - s >= 5 && memcmp(s, "HELP ", 5) == 0)
                help = true;
        else if (end - s >= 5 && memcmp(s, "TYPE ", 5) == 0)
                help = false;
        else
                return 0;
        s += 5;
        l = name_length(s, end, true);
        if (l == 0 || (s + l < end && s[l] != ' '))
                return -EBADMSG;
        r = family_get(t, s, l, &f);
        if (r < 0)
                return r;
        s += l;
        while (s < end && *s == ' ')
                s++;
        {
                _cleanup_free_ char *rest = strndup(s, (size_t) (end - s));

                if (!rest)
                        return -ENOMEM;
                if (help)
                        return family_set(f, NULL, rest);
                if (!type_is_valid(rest) || f->n_lines > 0)
                        return -EBADMSG;
                return family_set(f, rest, NULL);
        }
}

static int parse_sample(MetricsText *t, const char *s, const char *end, const char *label_name,
                        const char *label_value) {
        _cleanup_free_ char *labels = NULL, *line = NULL;
        const char *name = s;
        char v[64];
        double value;
        size_t l;
        Family *f;
        int r;

        l = name_length(s, end, true);
        if (l == 0)
                return -EBADMSG;
        s += l;
        if (s < end && *s == '{') {
                s++;
                r = parse_labels(&s, end, label_name, label_value, &labels);
        } else {
                const char *none = "}";

                r = parse_labels(&none, none + 1, label_name, label_value, &labels);
        }
        if (r < 0)
                return r;
        if (s >= end || *s != ' ')
                return -EBADMSG;
        while (s < end && *s == ' ')
                s++;
        r = parse_value(s, end, &value);
        if (r < 0)
                return r;

        f = sample_family(t, name, l);
        if (!f) {
                r = family_get(t, name, l, &f);
                if (r < 0)
                        return r;
        }
        format_value(value, v, sizeof(v));
        if (asprintf(&line, "%.*s{%s} %s", (int) l, name, labels, v) < 0)
                return -ENOMEM;
        return family_add_line(f, TAKE_PTR(line));
}

static int merge_into(MetricsText *t, MetricsText *from) {
        for (size_t i = 0; i < from->n_families; i++) {
                Family *src = &from->families[i], *dst;
                int r;

                r = family_get(t, src->name, strlen(src->name), &dst);
                if (r < 0)
                        return r;
                r = family_set(dst, src->type ?: "untyped", src->help);
                if (r < 0)
                        return r;
                for (size_t k = 0; k < src->n_lines; k++) {
                        r = family_add_line(dst, TAKE_PTR(src->lines[k]));
                        if (r < 0)
                                return r;
                }
                src->n_lines = 0;
        }
        return 0;
}

int metrics_text_merge(MetricsText *t, const char *text, size_t size, const char *label_name, const char *label_value,
                       unsigned *ret_line) {
        _cleanup_(metrics_text_freep) MetricsText *parsed = NULL;
        const char *s = text, *end = text + size;
        unsigned line = 0;
        int r;

        if (size > METRICS_TEXT_SOURCE_MAX)
                return -E2BIG;
        if (memchr(text, 0, size))
                return -EBADMSG;
        r = metrics_text_new(&parsed);
        if (r < 0)
                return r;

        while (s < end) {
                const char *e = memchr(s, '\n', (size_t) (end - s)) ?: end;

                line++;
                if (e > s && e[-1] == '\r')
                        r = -EBADMSG;
                else if (e == s)
                        r = 0;
                else if (*s == '#')
                        r = parse_comment(parsed, s, e);
                else
                        r = parse_sample(parsed, s, e, label_name, label_value);
                if (r < 0) {
                        if (ret_line)
                                *ret_line = line;
                        return r == -ENOMEM ? r : -EBADMSG;
                }
                s = e < end ? e + 1 : end;
        }
        /* A family this text declares with a type another source gave otherwise is refused whole. */
        for (size_t i = 0; i < parsed->n_families; i++) {
                Family *o = family_find(t, parsed->families[i].name, strlen(parsed->families[i].name));

                if (o && o->type && parsed->families[i].type && !streq(o->type, parsed->families[i].type)) {
                        if (ret_line)
                                *ret_line = 0;
                        return -EBADMSG;
                }
        }
        return merge_into(t, parsed);
}

int metrics_text_render(MetricsText *t, char **ret, size_t *ret_size) {
        _cleanup_free_ char *buf = NULL;
        size_t size = 0;
        FILE *f;

        f = open_memstream(&buf, &size);
        if (!f)
                return -ENOMEM;
        for (size_t i = 0; i < t->n_families; i++) {
                Family *fam = &t->families[i];

                if (fam->n_lines == 0)
                        continue;
                if (fam->help) {
                        fprintf(f, "# HELP %s ", fam->name);
                        /* HELP escapes backslash and newline only. */
                        for (const char *h = fam->help; *h; h++)
                                if (*h == '\\')
                                        fputs("\\\\", f);
                                else if (*h == '\n')
                                        fputs("\\n", f);
                                else
                                        fputc(*h, f);
                        fputc('\n', f);
                }
                fprintf(f, "# TYPE %s %s\n", fam->name, fam->type ?: "untyped");
                for (size_t k = 0; k < fam->n_lines; k++) {
                        fputs(fam->lines[k], f);
                        fputc('\n', f);
                }
        }
        if (fclose(f) != 0)
                return -ENOMEM;
        *ret = TAKE_PTR(buf);
        if (ret_size)
                *ret_size = size;
        return 0;
}
