/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Aligned text tables in systemctl's style: a header row (underlined on a terminal), columns one space
 * apart, no padding after the last column, and the last column ellipsized to fit the terminal. */

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

typedef struct Table Table;

typedef enum TableAlign {
        TABLE_ALIGN_LEFT,
        TABLE_ALIGN_RIGHT,
} TableAlign;

/* @headers: NULL-terminated, one per column. */
Table *table_new(const char * const *headers);
Table *table_free(Table *t);
static inline void table_freep(Table **t) {
        if (*t)
                table_free(*t);
}

void table_set_align(Table *t, size_t column, TableAlign align);

/* Append a cell to the current row; a row is complete after one cell per column. @color is an ANSI
 * sequence (used only when colors are on) or NULL; control characters in @text become spaces; NULL or
 * empty text is shown as "-". */
int table_add_cell(Table *t, const char *text, const char *color);
int table_add_cellf(Table *t, const char *color, const char *format, ...) __attribute__((format(printf, 3, 4)));

size_t table_get_rows(const Table *t);

/* @header: print the header row. @width: columns available (SIZE_MAX: no limit). */
int table_print(const Table *t, FILE *f, bool header, size_t width);
