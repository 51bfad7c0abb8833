/*
 * In-memory backend of mafd_store.h.  Registrations live in two arrays scanned linearly: a
 * reference MAF holds a few hundred at most.  The issued-ID set grows for the life of the
 * process (a MAF never issues an ID twice, 5.5) and is an open-addressing hash set; IDs come
 * from the CSPRNG or the TLS exporter, so their first bytes are already a uniform hash.
 */
#include <config.h>

#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "mafd_store.h"

typedef struct mem_store {
    mafd_store_t base;
    mafd_creg_t **cregs; /* owned, each owned */
    size_t n_cregs, cap_cregs;
    mafd_kreg_t **kregs; /* owned, each owned; keys wiped before free */
    size_t n_kregs, cap_kregs;
    uint8_t (*ids)[MAFD_ID_LEN]; /* owned hash set: slot i holds an ID when used[i] */
    bool *used;                  /* owned, parallel to ids */
    size_t n_ids, cap_ids;       /* cap_ids is a power of two */
} mem_store_t;

void mafd_kreg_wipe(mafd_kreg_t *k)
{
    if (k != NULL)
        OPENSSL_cleanse(k, sizeof(*k));
}

static size_t id_hash(const uint8_t id[MAFD_ID_LEN])
{
    uint64_t h = 0;
    for (int i = 0; i < 8; i++)
        h = (h << 8) | id[i];
    return (size_t)h;
}

static bool id_set_find(const mem_store_t *m, const uint8_t id[MAFD_ID_LEN])
{
    if (m->cap_ids == 0)
        return false;
    for (size_t i = id_hash(id) & (m->cap_ids - 1);; i = (i + 1) & (m->cap_ids - 1)) {
        if (!m->used[i])
            return false;
        if (memcmp(m->ids[i], id, MAFD_ID_LEN) == 0)
            return true;
    }
}

static void id_set_insert_slot(uint8_t (*ids)[MAFD_ID_LEN], bool *used, size_t cap,
                               const uint8_t id[MAFD_ID_LEN])
{
    size_t i = id_hash(id) & (cap - 1);
    while (used[i])
        i = (i + 1) & (cap - 1);
    memcpy(ids[i], id, MAFD_ID_LEN);
    used[i] = true;
}

static saef_rc_t id_set_grow(mem_store_t *m)
{
    size_t cap = m->cap_ids == 0 ? 64 : m->cap_ids * 2;
    uint8_t(*ids)[MAFD_ID_LEN] = calloc(cap, MAFD_ID_LEN);
    bool *used = calloc(cap, sizeof(*used));
    if (ids == NULL || used == NULL) {
        free(ids);
        free(used);
        return SAEF_E_NOMEM;
    }
    for (size_t i = 0; i < m->cap_ids; i++)
        if (m->used[i])
            id_set_insert_slot(ids, used, cap, m->ids[i]);
    free(m->ids);
    free(m->used);
    m->ids = ids;
    m->used = used;
    m->cap_ids = cap;
    return SAEF_OK;
}

static saef_rc_t mem_reserve_id(mafd_store_t *st, const uint8_t id[MAFD_ID_LEN], bool *fresh)
{
    mem_store_t *m = (mem_store_t *)st;
    if (id_set_find(m, id)) {
        *fresh = false;
        return SAEF_OK;
    }
    /* Keep the load factor at or below 1/2 so that probe sequences stay short. */
    if (2 * (m->n_ids + 1) > m->cap_ids) {
        saef_rc_t rc = id_set_grow(m);
        if (rc != SAEF_OK)
            return rc;
    }
    id_set_insert_slot(m->ids, m->used, m->cap_ids, id);
    m->n_ids++;
    *fresh = true;
    return SAEF_OK;
}

/* Grow an array of pointers to hold one more element. */
static saef_rc_t ptr_array_reserve(void ***arr, size_t n, size_t *cap)
{
    if (n < *cap)
        return SAEF_OK;
    size_t ncap = *cap == 0 ? 16 : *cap * 2;
    void **p = realloc(*arr, ncap * sizeof(*p));
    if (p == NULL)
        return SAEF_E_NOMEM;
    *arr = p;
    *cap = ncap;
    return SAEF_OK;
}

static mafd_creg_t *creg_by_id(mem_store_t *m, const uint8_t id[MAFD_ID_LEN], size_t *pos)
{
    for (size_t i = 0; i < m->n_cregs; i++)
        if (memcmp(m->cregs[i]->id, id, MAFD_ID_LEN) == 0) {
            if (pos != NULL)
                *pos = i;
            return m->cregs[i];
        }
    return NULL;
}

static mafd_kreg_t *kreg_by_id(mem_store_t *m, const uint8_t id[MAFD_ID_LEN], size_t *pos)
{
    for (size_t i = 0; i < m->n_kregs; i++)
        if (memcmp(m->kregs[i]->id, id, MAFD_ID_LEN) == 0) {
            if (pos != NULL)
                *pos = i;
            return m->kregs[i];
        }
    return NULL;
}

static saef_rc_t mem_creg_get(mafd_store_t *st, const uint8_t id[MAFD_ID_LEN], time_t now,
                              mafd_creg_t *out)
{
    const mafd_creg_t *c = creg_by_id((mem_store_t *)st, id, NULL);
    if (c == NULL || now >= c->expires)
        return SAEF_E_NOT_FOUND;
    *out = *c;
    return SAEF_OK;
}

static saef_rc_t mem_creg_find(mafd_store_t *st, const char *client_id, const char *admin_fqdn,
                               time_t now, mafd_creg_t *out)
{
    mem_store_t *m = (mem_store_t *)st;
    for (size_t i = 0; i < m->n_cregs; i++) {
        const mafd_creg_t *c = m->cregs[i];
        if (now < c->expires && strcmp(c->client_id, client_id) == 0 &&
            strcmp(c->admin_fqdn, admin_fqdn) == 0) {
            *out = *c;
            return SAEF_OK;
        }
    }
    return SAEF_E_NOT_FOUND;
}

static saef_rc_t mem_creg_put(mafd_store_t *st, const mafd_creg_t *rec)
{
    mem_store_t *m = (mem_store_t *)st;
    mafd_creg_t *c = creg_by_id(m, rec->id, NULL);
    if (c != NULL) {
        *c = *rec;
        return SAEF_OK;
    }
    if (ptr_array_reserve((void ***)&m->cregs, m->n_cregs, &m->cap_cregs) != SAEF_OK)
        return SAEF_E_NOMEM;
    c = malloc(sizeof(*c));
    if (c == NULL)
        return SAEF_E_NOMEM;
    *c = *rec;
    m->cregs[m->n_cregs++] = c;
    return SAEF_OK;
}

static void creg_remove_at(mem_store_t *m, size_t pos)
{
    free(m->cregs[pos]);
    m->cregs[pos] = m->cregs[--m->n_cregs];
}

static saef_rc_t mem_creg_del(mafd_store_t *st, const uint8_t id[MAFD_ID_LEN])
{
    mem_store_t *m = (mem_store_t *)st;
    size_t pos;
    if (creg_by_id(m, id, &pos) == NULL)
        return SAEF_E_NOT_FOUND;
    creg_remove_at(m, pos);
    return SAEF_OK;
}

static saef_rc_t mem_kreg_get(mafd_store_t *st, const uint8_t id[MAFD_ID_LEN], time_t now,
                              mafd_kreg_t *out)
{
    const mafd_kreg_t *k = kreg_by_id((mem_store_t *)st, id, NULL);
    if (k == NULL || now >= k->expires)
        return SAEF_E_NOT_FOUND;
    *out = *k;
    return SAEF_OK;
}

static saef_rc_t mem_kreg_put(mafd_store_t *st, const mafd_kreg_t *rec)
{
    mem_store_t *m = (mem_store_t *)st;
    mafd_kreg_t *k = kreg_by_id(m, rec->id, NULL);
    if (k != NULL) {
        *k = *rec;
        return SAEF_OK;
    }
    if (ptr_array_reserve((void ***)&m->kregs, m->n_kregs, &m->cap_kregs) != SAEF_OK)
        return SAEF_E_NOMEM;
    k = malloc(sizeof(*k));
    if (k == NULL)
        return SAEF_E_NOMEM;
    *k = *rec;
    m->kregs[m->n_kregs++] = k;
    return SAEF_OK;
}

static void kreg_remove_at(mem_store_t *m, size_t pos)
{
    mafd_kreg_wipe(m->kregs[pos]);
    free(m->kregs[pos]);
    m->kregs[pos] = m->kregs[--m->n_kregs];
}

static saef_rc_t mem_kreg_del(mafd_store_t *st, const uint8_t id[MAFD_ID_LEN])
{
    mem_store_t *m = (mem_store_t *)st;
    size_t pos;
    if (kreg_by_id(m, id, &pos) == NULL)
        return SAEF_E_NOT_FOUND;
    kreg_remove_at(m, pos);
    return SAEF_OK;
}

static saef_rc_t mem_purge(mafd_store_t *st, time_t now, size_t *purged)
{
    mem_store_t *m = (mem_store_t *)st;
    size_t n = 0;
    /* Swap-remove: re-examine position i after a removal. */
    for (size_t i = 0; i < m->n_cregs;) {
        if (now >= m->cregs[i]->expires) {
            creg_remove_at(m, i);
            n++;
        } else {
            i++;
        }
    }
    for (size_t i = 0; i < m->n_kregs;) {
        if (now >= m->kregs[i]->expires) {
            kreg_remove_at(m, i);
            n++;
        } else {
            i++;
        }
    }
    if (purged != NULL)
        *purged = n;
    return SAEF_OK;
}

static saef_rc_t mem_count(mafd_store_t *st, time_t now, size_t *cregs, size_t *kregs)
{
    mem_store_t *m = (mem_store_t *)st;
    size_t c = 0, k = 0;
    for (size_t i = 0; i < m->n_cregs; i++)
        c += now < m->cregs[i]->expires;
    for (size_t i = 0; i < m->n_kregs; i++)
        k += now < m->kregs[i]->expires;
    *cregs = c;
    *kregs = k;
    return SAEF_OK;
}

static void mem_free(mafd_store_t *st)
{
    mem_store_t *m = (mem_store_t *)st;
    for (size_t i = 0; i < m->n_cregs; i++)
        free(m->cregs[i]);
    for (size_t i = 0; i < m->n_kregs; i++) {
        mafd_kreg_wipe(m->kregs[i]);
        free(m->kregs[i]);
    }
    free(m->cregs);
    free(m->kregs);
    free(m->ids);
    free(m->used);
    free(m);
}

static const mafd_store_ops_t mem_ops = {
    .free = mem_free,
    .reserve_id = mem_reserve_id,
    .creg_get = mem_creg_get,
    .creg_find = mem_creg_find,
    .creg_put = mem_creg_put,
    .creg_del = mem_creg_del,
    .kreg_get = mem_kreg_get,
    .kreg_put = mem_kreg_put,
    .kreg_del = mem_kreg_del,
    .purge = mem_purge,
    .count = mem_count,
};

mafd_store_t *mafd_store_mem_new(void)
{
    mem_store_t *m = calloc(1, sizeof(*m));
    if (m == NULL)
        return NULL;
    m->base.ops = &mem_ops;
    return &m->base;
}
