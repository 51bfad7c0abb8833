/* Credential map: pattern table, precedence, wildcard matching and the published holder. */
#include "saef_credmap.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "saef_id.h"

typedef struct entry {
    char *pattern;  /* owned: as added */
    char *lower;    /* owned: ASCII lower case, the key of ordering and duplicate checks */
    char *target;   /* owned */
    size_t len;     /* of pattern */
    size_t literal; /* non-'*' characters */
    bool wildcard;
    saef_peer_kind_t kind;
} entry_t;

struct saef_credmap {
    entry_t *v; /* owned; exact entries first (sorted by lower), then wildcards by precedence */
    size_t n, cap;
    size_t n_exact; /* valid once finished */
    bool finished;
    unsigned refs; /* lookups using it; guarded by the holder's mutex */
};

/*
 * Why a mutex and reference counts rather than a read-write lock: glibc's default rwlock
 * prefers readers, so a steady stream of lookups from handshake threads could keep a reload
 * waiting for ever.  Here the mutex is held only to take or drop a reference (a few
 * instructions); matching runs outside it, and a replaced table is freed by whoever drops its
 * last reference.
 */
struct saef_credmap_live {
    pthread_mutex_t mu;
    saef_credmap_t *cur; /* owned */
};

static char lc(char c)
{
    return (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
}

static bool pattern_char(char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' ||
           c == '_' || c == '@' || c == '-' || c == '*';
}

saef_rc_t saef_credmap_pattern_check(const char *pattern)
{
    size_t len, i;

    if (pattern == NULL)
        return SAEF_E_INVALID_ARG;
    len = strnlen(pattern, SAEF_CREDMAP_PATTERN_MAX + 1);
    if (len == 0)
        return SAEF_E_ID_EMPTY;
    if (len > SAEF_CREDMAP_PATTERN_MAX)
        return SAEF_E_ID_TOO_LONG;
    for (i = 0; i < len; i++)
        if (!pattern_char(pattern[i]))
            return SAEF_E_ID_CREDID_VALUE;
    return SAEF_OK;
}

saef_rc_t saef_credmap_target_check(const char *target, saef_peer_kind_t *kind)
{
    saef_m2m_id_t id;
    saef_rc_t rc;

    if (target == NULL)
        return SAEF_E_INVALID_ARG;
    rc = saef_id_m2m_classify(target, strnlen(target, SAEF_ID_MAX), &id);
    if (rc != SAEF_OK)
        return rc;
    if (kind != NULL)
        *kind = (id.kind == SAEF_M2M_ID_CSE_SP_RELATIVE || id.kind == SAEF_M2M_ID_CSE_ABSOLUTE)
                    ? SAEF_PEER_CSE_ID
                    : SAEF_PEER_AE_ID;
    return SAEF_OK;
}

saef_rc_t saef_credmap_new(saef_credmap_t **out)
{
    if (out == NULL)
        return SAEF_E_INVALID_ARG;
    *out = calloc(1, sizeof(**out));
    return *out != NULL ? SAEF_OK : SAEF_E_NOMEM;
}

static void entry_clear(entry_t *e)
{
    free(e->pattern);
    free(e->lower);
    free(e->target);
}

saef_rc_t saef_credmap_add(saef_credmap_t *map, const char *pattern, const char *target)
{
    saef_peer_kind_t kind;
    entry_t e = {0};
    size_t i;
    saef_rc_t rc;

    if (map == NULL)
        return SAEF_E_INVALID_ARG;
    if (map->finished)
        return SAEF_E_STATE;
    if ((rc = saef_credmap_pattern_check(pattern)) != SAEF_OK ||
        (rc = saef_credmap_target_check(target, &kind)) != SAEF_OK)
        return rc;
    e.len = strlen(pattern);
    e.kind = kind;
    e.pattern = strdup(pattern);
    e.lower = strdup(pattern);
    e.target = strdup(target);
    if (e.pattern == NULL || e.lower == NULL || e.target == NULL) {
        entry_clear(&e);
        return SAEF_E_NOMEM;
    }
    for (i = 0; i < e.len; i++) {
        e.lower[i] = lc(e.lower[i]);
        if (e.lower[i] == '*')
            e.wildcard = true;
        else
            e.literal++;
    }
    /* Linear duplicate check: tables are loaded rarely and are small; the database's unique
     * index on lower(pattern) already guarantees this for loaded tables. */
    for (i = 0; i < map->n; i++) {
        if (strcmp(map->v[i].lower, e.lower) == 0) {
            entry_clear(&e);
            return SAEF_E_INVALID_ARG;
        }
    }
    if (map->n == map->cap) {
        size_t cap = map->cap ? 2 * map->cap : 16;
        entry_t *v = realloc(map->v, cap * sizeof(*v));

        if (v == NULL) {
            entry_clear(&e);
            return SAEF_E_NOMEM;
        }
        map->v = v;
        map->cap = cap;
    }
    map->v[map->n++] = e;
    return SAEF_OK;
}

/* Exact entries first, ordered by their lower-case text (for bsearch); then wildcards in
 * precedence order: more literal characters first, then lower-case text. */
static int entry_order(const void *pa, const void *pb)
{
    const entry_t *a = pa, *b = pb;

    if (a->wildcard != b->wildcard)
        return a->wildcard ? 1 : -1;
    if (a->wildcard && a->literal != b->literal)
        return a->literal > b->literal ? -1 : 1;
    return strcmp(a->lower, b->lower);
}

saef_rc_t saef_credmap_finish(saef_credmap_t *map)
{
    size_t i;

    if (map == NULL)
        return SAEF_E_INVALID_ARG;
    if (map->finished)
        return SAEF_OK;
    if (map->n > 1)
        qsort(map->v, map->n, sizeof(*map->v), entry_order);
    for (i = 0; i < map->n && !map->v[i].wildcard; i++)
        ;
    map->n_exact = i;
    map->finished = true;
    return SAEF_OK;
}

size_t saef_credmap_count(const saef_credmap_t *map)
{
    return map != NULL ? map->n : 0;
}

/* Compare a lower-case pattern with len bytes of s, folding s. */
static int cmp_folded(const char *lower, const char *s, size_t len)
{
    size_t i;

    for (i = 0; i < len; i++) {
        unsigned char a = (unsigned char)lower[i], b = (unsigned char)lc(s[i]);

        if (a != b)
            return a < b ? -1 : 1;
    }
    return lower[len] == '\0' ? 0 : 1;
}

/* '*' matches any run (possibly empty).  Greedy with one backtrack point: the last star
 * seen absorbs one more character when the rest fails.  O(len(p) * len(s)) at worst, and
 * both are at most 255 bytes. */
static bool glob_match(const char *p, size_t pn, const char *s, size_t sn)
{
    size_t pi = 0, si = 0, star = (size_t)-1, mark = 0;

    while (si < sn) {
        if (pi < pn && p[pi] == '*') {
            star = pi++;
            mark = si;
        } else if (pi < pn && p[pi] == lc(s[si])) {
            pi++;
            si++;
        } else if (star != (size_t)-1) {
            pi = star + 1;
            si = ++mark;
        } else {
            return false;
        }
    }
    while (pi < pn && p[pi] == '*')
        pi++;
    return pi == pn;
}

static void fill_hit(const entry_t *e, saef_credmap_hit_t *hit)
{
    hit->kind = e->kind;
    /* Both were checked to be at most 255 bytes when added. */
    memcpy(hit->target, e->target, strlen(e->target) + 1);
    memcpy(hit->pattern, e->pattern, e->len + 1);
}

saef_rc_t saef_credmap_match(const saef_credmap_t *map, const char *cred_id, size_t len,
                             saef_credmap_hit_t *hit)
{
    size_t lo, hi, i;

    if (map == NULL || hit == NULL || (cred_id == NULL && len > 0) || len > SAEF_ID_MAX - 1)
        return SAEF_E_INVALID_ARG;
    if (!map->finished)
        return SAEF_E_STATE;
    /* A Credential-ID never holds NUL; refusing it here also keeps the comparisons below
     * from running past a pattern's terminator. */
    if (len == 0 || memchr(cred_id, '\0', len) != NULL)
        return SAEF_E_NOT_FOUND;
    lo = 0;
    hi = map->n_exact;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = cmp_folded(map->v[mid].lower, cred_id, len);

        if (c == 0) {
            fill_hit(&map->v[mid], hit);
            return SAEF_OK;
        }
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    for (i = map->n_exact; i < map->n; i++) {
        if (glob_match(map->v[i].lower, map->v[i].len, cred_id, len)) {
            fill_hit(&map->v[i], hit);
            return SAEF_OK;
        }
    }
    return SAEF_E_NOT_FOUND;
}

void saef_credmap_free(saef_credmap_t *map)
{
    size_t i;

    if (map == NULL)
        return;
    for (i = 0; i < map->n; i++)
        entry_clear(&map->v[i]);
    free(map->v);
    free(map);
}

saef_rc_t saef_credmap_live_new(saef_credmap_live_t **out)
{
    saef_credmap_live_t *live;
    saef_rc_t rc;

    if (out == NULL)
        return SAEF_E_INVALID_ARG;
    live = calloc(1, sizeof(*live));
    if (live == NULL)
        return SAEF_E_NOMEM;
    rc = saef_credmap_new(&live->cur);
    if (rc != SAEF_OK) {
        free(live);
        return rc;
    }
    saef_credmap_finish(live->cur);
    if (pthread_mutex_init(&live->mu, NULL) != 0) {
        saef_credmap_free(live->cur);
        free(live);
        return SAEF_E_INTERNAL;
    }
    *out = live;
    return SAEF_OK;
}

saef_rc_t saef_credmap_live_replace(saef_credmap_live_t *live, saef_credmap_t *map)
{
    saef_credmap_t *old;
    bool unused;

    if (live == NULL || map == NULL) {
        saef_credmap_free(map);
        return SAEF_E_INVALID_ARG;
    }
    saef_credmap_finish(map);
    map->refs = 0;
    pthread_mutex_lock(&live->mu);
    old = live->cur;
    live->cur = map;
    unused = old->refs == 0;
    pthread_mutex_unlock(&live->mu);
    /* Otherwise the last lookup still using it frees it. */
    if (unused)
        saef_credmap_free(old);
    return SAEF_OK;
}

/* Take a reference to the current table. */
static saef_credmap_t *acquire(saef_credmap_live_t *live)
{
    saef_credmap_t *t;

    pthread_mutex_lock(&live->mu);
    t = live->cur;
    t->refs++;
    pthread_mutex_unlock(&live->mu);
    return t;
}

static void release(saef_credmap_live_t *live, saef_credmap_t *t)
{
    bool last;

    pthread_mutex_lock(&live->mu);
    /* A replaced table never becomes current again, so the check cannot race. */
    last = --t->refs == 0 && t != live->cur;
    pthread_mutex_unlock(&live->mu);
    if (last)
        saef_credmap_free(t);
}

saef_rc_t saef_credmap_live_match(saef_credmap_live_t *live, const char *cred_id, size_t len,
                                  saef_credmap_hit_t *hit)
{
    saef_credmap_t *t;
    saef_rc_t rc;

    if (live == NULL)
        return SAEF_E_INVALID_ARG;
    t = acquire(live);
    rc = saef_credmap_match(t, cred_id, len, hit);
    release(live, t);
    return rc;
}

size_t saef_credmap_live_count(saef_credmap_live_t *live)
{
    size_t n;

    if (live == NULL)
        return 0;
    pthread_mutex_lock(&live->mu);
    n = live->cur->n;
    pthread_mutex_unlock(&live->mu);
    return n;
}

void saef_credmap_live_free(saef_credmap_live_t *live)
{
    if (live == NULL)
        return;
    pthread_mutex_destroy(&live->mu);
    saef_credmap_free(live->cur);
    free(live);
}
