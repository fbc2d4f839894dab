/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <stdarg.h>

#include "sdloopctl.h"
#include "table.h"

/* A last column is not squeezed below this; the line overflows instead. */
#define TABLE_MIN_LAST_COLUMN 12U

typedef struct Cell {
        char *text;
        const char *color;
} Cell;

struct Table {
        size_t n_columns;
        Cell *cells; /* headers first, then the rows, row-major */
        size_t n_cells;
        size_t allocated;
        TableAlign *align;
};

/* Columns on screen: UTF-8 code points. Good enough for the names and messages shown here. */
static size_t text_width(const char *s) {
        size_t n = 0;

        for (; *s; s++)
                if (((unsigned char) *s & 0xC0) != 0x80)
                        n++;
        return n;
}

/* Byte length of the first @n code points of @s. */
static size_t text_prefix_bytes(const char *s, size_t n) {
        size_t i = 0;

        for (; s[i]; i++)
                if (((unsigned char) s[i] & 0xC0) != 0x80) {
                        if (n == 0)
                                break;
                        n--;
                }
        return i;
}

static int table_append(Table *t, const char *text, const char *color) {
        char *copy;

        if (t->n_cells >= t->allocated) {
                size_t n = MAX(t->allocated * 2, t->n_columns * 8);
                Cell *c = realloc(t->cells, n * sizeof(Cell));

                if (!c)
                        return -ENOMEM;
                t->cells = c;
                t->allocated = n;
        }

        copy = strdup(isempty(text) ? "-" : text);
        if (!copy)
                return -ENOMEM;
        /* Multi-line error messages would break the rows. */
        for (char *p = copy; *p; p++)
                if ((unsigned char) *p < ' ' || *p == 0x7F)
                        *p = ' ';

        t->cells[t->n_cells++] = (Cell) { .text = copy, .color = color };
        return 0;
}

Table *table_new(const char * const *headers) {
        Table *t;
        size_t n = 0;

        while (headers[n])
                n++;
        assert(n > 0);

        t = new0(Table, 1);
        if (!t)
                return NULL;
        t->n_columns = n;
        t->align = new0(TableAlign, n);
        if (!t->align)
                return table_free(t);
        for (size_t i = 0; i < n; i++)
                if (table_append(t, headers[i], NULL) < 0)
                        return table_free(t);
        return t;
}

Table *table_free(Table *t) {
        if (!t)
                return NULL;
        for (size_t i = 0; i < t->n_cells; i++)
                free(t->cells[i].text);
        free(t->cells);
        free(t->align);
        free(t);
        return NULL;
}

void table_set_align(Table *t, size_t column, TableAlign align) {
        assert(t);
        assert(column < t->n_columns);

        t->align[column] = align;
}

int table_add_cell(Table *t, const char *text, const char *color) {
        assert(t);

        return table_append(t, text, color);
}

int table_add_cellf(Table *t, const char *color, const char *format, ...) {
        _cleanup_free_ char *s = NULL;
        va_list ap;
        int r;

        va_start(ap, format);
        r = vasprintf(&s, format, ap);
        va_end(ap);
        if (r < 0)
                return -ENOMEM;
        return table_append(t, s, color);
}

size_t table_get_rows(const Table *t) {
        return t->n_cells / t->n_columns - 1;
}

static void print_cell(FILE *f, const Cell *c, size_t width, TableAlign align, bool last, bool header) {
        size_t w = text_width(c->text), pad = width > w ? width - w : 0, left, right;
        _cleanup_free_ char *cut = NULL;
        const char *text = c->text;

        if (w > width) {
                /* Only the last column is ever narrower than its text. */
                const char *ell = glyph_ellipsis();
                size_t ell_width = text_width(ell), keep = width > ell_width ? width - ell_width : 0;
                size_t bytes = text_prefix_bytes(c->text, keep);

                if (asprintf(&cut, "%.*s%s", (int) bytes, c->text, ell) >= 0)
                        text = cut;
                pad = 0;
        }
        left = align == TABLE_ALIGN_RIGHT ? pad : 0;
        right = align == TABLE_ALIGN_LEFT && !last ? pad : 0;

        if (header) /* underlined across the whole column, as in systemd's tables */
                fprintf(f, "%s%*s%s%*s%s", ansi(ANSI_UNDERLINE), (int) left, "", text, (int) right, "",
                        ansi(ANSI_NORMAL));
        else
                fprintf(f, "%*s%s%s%s%*s", (int) left, "", ansi(c->color), text,
                        c->color ? ansi(ANSI_NORMAL) : "", (int) right, "");
}

int table_print(const Table *t, FILE *f, bool header, size_t width) {
        _cleanup_free_ size_t *widths = NULL;
        size_t n = t->n_columns, n_rows = t->n_cells / n, total = 0;

        assert(t->n_cells % n == 0);

        widths = new0(size_t, n);
        if (!widths)
                return -ENOMEM;
        for (size_t row = header ? 0 : 1; row < n_rows; row++)
                for (size_t col = 0; col < n; col++)
                        widths[col] = MAX(widths[col], text_width(t->cells[row * n + col].text));

        for (size_t col = 0; col < n; col++)
                total += widths[col] + (col > 0);
        if (width != SIZE_MAX && total > width) {
                size_t others = total - widths[n - 1];

                /* Squeeze the last column (names come first, free text last), never below a minimum. */
                if (others + TABLE_MIN_LAST_COLUMN <= width)
                        widths[n - 1] = width - others;
                else
                        widths[n - 1] = MIN(widths[n - 1], TABLE_MIN_LAST_COLUMN);
        }

        for (size_t row = header ? 0 : 1; row < n_rows; row++) {
                for (size_t col = 0; col < n; col++) {
                        if (col > 0)
                                fprintf(f, "%s %s", row == 0 ? ansi(ANSI_UNDERLINE) : "",
                                        row == 0 ? ansi(ANSI_NORMAL) : "");
                        print_cell(f, &t->cells[row * n + col], widths[col], t->align[col], col == n - 1,
                                   row == 0);
                }
                fputc('\n', f);
        }
        return 0;
}
