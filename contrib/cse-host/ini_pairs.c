/* INI -> module configuration pairs, with inih. */
#include "ini_pairs.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ini.h>

#define MODULE_SECTION "saef"

typedef struct load_ctx {
    ini_pairs_t *out;
    int failed;
} load_ctx_t;

static int add_pair(ini_pairs_t *p, const char *section, const char *key, const char *value)
{
    saef_config_pair_t *pair;

    if (p->n == p->cap) {
        size_t cap = p->cap ? p->cap * 2 : 16;
        saef_config_pair_t *grown = realloc(p->pairs, cap * sizeof(*grown));

        if (grown == NULL)
            return -1;
        p->pairs = grown;
        p->cap = cap;
    }
    pair = &p->pairs[p->n];
    pair->section = strdup(section);
    pair->key = strdup(key);
    pair->value = strdup(value);
    if (pair->section == NULL || pair->key == NULL || pair->value == NULL) {
        free((char *)pair->section);
        free((char *)pair->key);
        free((char *)pair->value);
        return -1;
    }
    p->n++;
    return 0;
}

/* inih callback: 1 to go on, 0 to report an error on this line. */
static int on_entry(void *user, const char *section, const char *name, const char *value)
{
    load_ctx_t *ctx = user;
    size_t plen = strlen(MODULE_SECTION);

    if (strncmp(section, MODULE_SECTION, plen) != 0)
        return 1; /* the host's own section */
    if (section[plen] == '\0')
        section = "";
    else if (section[plen] == '.')
        section += plen + 1;
    else
        return 1; /* e.g. [saefx]: not ours */
    if (add_pair(ctx->out, section, name, value) != 0) {
        ctx->failed = 1;
        return 0;
    }
    return 1;
}

int ini_pairs_load(const char *path, ini_pairs_t *out, char *err, size_t errlen)
{
    load_ctx_t ctx = {.out = out, .failed = 0};
    int line;

    memset(out, 0, sizeof(*out));
    line = ini_parse(path, on_entry, &ctx);
    if (line == -1) {
        snprintf(err, errlen, "%s: cannot open: %s", path, strerror(errno));
    } else if (ctx.failed) {
        snprintf(err, errlen, "%s: out of memory", path);
        line = -2;
    } else if (line != 0) {
        snprintf(err, errlen, "%s:%d: INI syntax error", path, line);
    }
    if (line != 0) {
        ini_pairs_free(out);
        return -1;
    }
    return 0;
}

void ini_pairs_free(ini_pairs_t *p)
{
    size_t i;

    if (p == NULL)
        return;
    for (i = 0; i < p->n; i++) {
        free((char *)p->pairs[i].section);
        free((char *)p->pairs[i].key);
        free((char *)p->pairs[i].value);
    }
    free(p->pairs);
    memset(p, 0, sizeof(*p));
}
