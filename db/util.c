/* Small helpers of the store: array literals for unnest(), input checks, result fields. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "saef_db_internal.h"
#include "saef_ascii.h"

void buf_init(db_buf_t *b)
{
    memset(b, 0, sizeof(*b));
}

void buf_free(db_buf_t *b)
{
    free(b->p);
    buf_init(b);
}

static bool buf_grow(db_buf_t *b, size_t extra)
{
    size_t cap;
    char *p;

    if (b->failed)
        return false;
    if (b->len + extra + 1 <= b->cap)
        return true;
    cap = b->cap ? b->cap : 256;
    while (cap < b->len + extra + 1)
        cap *= 2;
    p = realloc(b->p, cap);
    if (p == NULL) {
        b->failed = true;
        return false;
    }
    b->p = p;
    b->cap = cap;
    return true;
}

void buf_putc(db_buf_t *b, char c)
{
    if (!buf_grow(b, 1))
        return;
    b->p[b->len++] = c;
    b->p[b->len] = '\0';
}

void buf_puts(db_buf_t *b, const char *s)
{
    size_t n = strlen(s);

    if (!buf_grow(b, n))
        return;
    memcpy(b->p + b->len, s, n + 1);
    b->len += n;
}

const char *buf_str(db_buf_t *b)
{
    if (b->failed)
        return NULL;
    if (b->p == NULL && !buf_grow(b, 0))
        return NULL;
    b->p[b->len] = '\0';
    return b->p;
}

void arr_open(db_buf_t *b)
{
    buf_putc(b, '{');
}

static void arr_sep(db_buf_t *b)
{
    if (b->len > 0 && b->p[b->len - 1] != '{')
        buf_putc(b, ',');
}

void arr_text(db_buf_t *b, const char *s)
{
    arr_sep(b);
    if (s == NULL) {
        buf_puts(b, "NULL");
        return;
    }
    /* Always quoted: an unquoted NULL, an empty string, braces, commas and white space would
     * otherwise mean something to the array parser. */
    if (!buf_grow(b, 2 * strlen(s) + 2))
        return;
    buf_putc(b, '"');
    for (; *s != '\0'; s++) {
        if (*s == '"' || *s == '\\')
            buf_putc(b, '\\');
        buf_putc(b, *s);
    }
    buf_putc(b, '"');
}

void arr_int(db_buf_t *b, int64_t v)
{
    char num[24];

    arr_sep(b);
    snprintf(num, sizeof(num), "%" PRId64, v);
    buf_puts(b, num);
}

void arr_close(db_buf_t *b)
{
    buf_putc(b, '}');
}

bool db_text_ok(const char *s, size_t max, bool optional)
{
    size_t i;

    if (s == NULL)
        return optional;
    for (i = 0; s[i] != '\0'; i++)
        if (i >= max || (unsigned char)s[i] < 0x20 || (unsigned char)s[i] > 0x7e)
            return false;
    return i > 0 || optional;
}

void db_copy_field(const PGresult *r, int row, int col, char *dst, size_t cap)
{
    const char *v;

    if (cap == 0)
        return;
    v = PQgetisnull(r, row, col) ? "" : PQgetvalue(r, row, col);
    snprintf(dst, cap, "%s", v);
}

int64_t db_int_field(const PGresult *r, int row, int col)
{
    if (PQgetisnull(r, row, col))
        return 0;
    return strtoll(PQgetvalue(r, row, col), NULL, 10);
}

bool db_bytea_field(const PGresult *r, int row, int col, uint8_t *dst, size_t cap, size_t *len)
{
    const char *v;
    size_t n;

    if (PQgetisnull(r, row, col))
        return false;
    v = PQgetvalue(r, row, col);
    n = strlen(v);
    /* bytea_output = hex (the default since 9.0); the escape format is refused, not guessed. */
    if (n < 2 || v[0] != '\\' || v[1] != 'x' || (n - 2) % 2 != 0 || (n - 2) / 2 > cap)
        return false;
    if (!saef_hex_decode(v + 2, n - 2, dst, (n - 2) / 2))
        return false;
    *len = (n - 2) / 2;
    return true;
}

int64_t db_affected(const PGresult *r)
{
    const char *s = PQcmdTuples((PGresult *)r);

    return (s != NULL && *s != '\0') ? strtoll(s, NULL, 10) : 0;
}
