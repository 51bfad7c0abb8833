/* The key cache's administrative side: housekeeping, counters, metadata for the admin views.
 * Nothing here is on the handshake path. */
#include "cache_internal.h"

#include <stdlib.h>
#include <string.h>

saef_rc_t saef_cache_sweep(saef_cache_t *cache, const struct timespec *now, size_t *removed)
{
    size_t n = 0;

    if (removed != NULL)
        *removed = 0;
    if (cache == NULL || !cache_ts_valid(now))
        return SAEF_E_INVALID_ARG;
    for (unsigned i = 0; i < cache->nshards; i++) {
        struct cache_shard *s = &cache->shards[i];
        struct cache_entry *victims = NULL, *e, *next;
        saef_cache_flight_t *stale = NULL;

        pthread_mutex_lock(&s->lock);
        for (e = s->lru_head; e != NULL; e = next) {
            next = e->lru_next;
            if (cache_ts_cmp(now, &e->expires) >= 0 &&
                !saef_cache_entry_expire_kc(cache, s, e, now)) {
                saef_cache_entry_unlink(s, saef_cache_entry_link(s, e->hash, e->key, e->key_len),
                                        &victims);
                s->expirations++;
                n++;
            }
        }
        for (size_t b = 0; b <= s->mask; b++) {
            saef_cache_flight_t **l = &s->fbuckets[b];

            while (*l != NULL) {
                if (cache_ts_cmp(now, &(*l)->deadline) >= 0) {
                    saef_cache_flight_t *f = saef_cache_flight_detach(cache, l);

                    f->hnext = stale;
                    stale = f;
                } else {
                    l = &(*l)->hnext;
                }
            }
        }
        pthread_mutex_unlock(&s->lock);
        saef_cache_end_stale(cache, stale);
        saef_cache_free_victims(cache, victims);
    }
    if (removed != NULL)
        *removed = n;
    return SAEF_OK;
}

saef_rc_t saef_cache_stats(saef_cache_t *cache, saef_cache_stats_t *out)
{
    if (cache == NULL || out == NULL)
        return SAEF_E_INVALID_ARG;
    memset(out, 0, sizeof(*out));
    for (unsigned i = 0; i < cache->nshards; i++) {
        struct cache_shard *s = &cache->shards[i];

        pthread_mutex_lock(&s->lock);
        out->hits += s->hits;
        out->negative_hits += s->negative_hits;
        out->misses += s->misses;
        out->fetches += s->fetches;
        out->busy += s->busy;
        out->evictions += s->evictions;
        out->expirations += s->expirations;
        out->removals += s->removals;
        out->entries += s->count;
        out->negative_entries += s->negative;
        pthread_mutex_unlock(&s->lock);
    }
    out->flight_timeouts = atomic_load_explicit(&cache->flight_timeouts, memory_order_relaxed);
    out->flights = atomic_load_explicit(&cache->flights, memory_order_relaxed);
    out->capacity = cache->capacity;
    return SAEF_OK;
}

static void copy_str(char *dst, size_t cap, const char *src)
{
    size_t n = strnlen(src, cap - 1);

    memcpy(dst, src, n);
    dst[n] = '\0';
}

/* Only named fields are copied, never the value as a whole: the meta must not be able to
 * carry key bytes, not even through a stray memcpy. */
static void meta_fill(saef_cache_meta_t *m, const struct cache_entry *e)
{
    memset(m, 0, sizeof(*m));
    memcpy(m->key_id, e->key, e->key_len);
    m->key_id_len = e->key_len;
    m->negative = e->value == NULL;
    m->refusal = e->refusal;
    m->inserted = e->inserted;
    m->expires = e->expires;
    m->hits = e->hits;
    if (e->value != NULL) {
        m->kc_expiry = e->value->expiry;
        m->psk_len = e->value->psk_len;
        m->suid = e->value->suid;
        m->source_kind = e->value->source_kind;
        copy_str(m->source_id, sizeof(m->source_id), e->value->source_id);
        copy_str(m->admin_fqdn, sizeof(m->admin_fqdn), e->value->admin_fqdn);
    }
}

saef_rc_t saef_cache_get_meta(saef_cache_t *cache, const char *key_id, size_t key_id_len,
                              const struct timespec *now, saef_cache_meta_t *out)
{
    struct cache_entry *e;
    struct cache_shard *s;
    saef_rc_t rc = SAEF_E_NOT_FOUND;
    uint64_t h;

    if (cache == NULL || key_id == NULL || key_id_len == 0 || key_id_len > SAEF_CACHE_KEY_MAX ||
        !cache_ts_valid(now) || out == NULL)
        return SAEF_E_INVALID_ARG;
    h = saef_cache_hash_of(cache, key_id, key_id_len);
    s = saef_cache_shard_for(cache, h);
    pthread_mutex_lock(&s->lock);
    e = *saef_cache_entry_link(s, h, key_id, key_id_len);
    if (e != NULL && cache_ts_cmp(now, &e->expires) < 0) {
        meta_fill(out, e);
        rc = SAEF_OK;
    }
    pthread_mutex_unlock(&s->lock);
    return rc;
}

saef_rc_t saef_cache_foreach_meta(saef_cache_t *cache, const struct timespec *now,
                                  saef_cache_meta_fn fn, void *arg)
{
    size_t cap = 32;
    saef_cache_meta_t *batch;

    if (cache == NULL || !cache_ts_valid(now) || fn == NULL)
        return SAEF_E_INVALID_ARG;
    batch = malloc(cap * sizeof(*batch));
    if (batch == NULL)
        return SAEF_E_NOMEM;
    /* Whole buckets are copied under the lock and handed to fn unlocked.  Entries never move
     * between buckets, so a bucket index is a cursor that survives the unlocked gaps. */
    for (unsigned i = 0; i < cache->nshards; i++) {
        struct cache_shard *s = &cache->shards[i];
        size_t b = 0;

        while (b <= s->mask) {
            size_t n = 0;

            pthread_mutex_lock(&s->lock);
            for (; b <= s->mask; b++) {
                const struct cache_entry *e;
                size_t chain = 0;

                for (e = s->buckets[b]; e != NULL; e = e->hnext)
                    chain += cache_ts_cmp(now, &e->expires) < 0;
                if (n + chain > cap) {
                    saef_cache_meta_t *bigger;

                    if (n > 0)
                        break; /* hand over what we have; this bucket comes next round */
                    bigger = realloc(batch, chain * sizeof(*batch));
                    if (bigger == NULL) {
                        pthread_mutex_unlock(&s->lock);
                        free(batch);
                        return SAEF_E_NOMEM;
                    }
                    batch = bigger;
                    cap = chain;
                }
                for (e = s->buckets[b]; e != NULL; e = e->hnext)
                    if (cache_ts_cmp(now, &e->expires) < 0)
                        meta_fill(&batch[n++], e);
            }
            pthread_mutex_unlock(&s->lock);
            for (size_t k = 0; k < n; k++) {
                if (fn(arg, &batch[k]) != 0) {
                    free(batch);
                    return SAEF_OK;
                }
            }
        }
    }
    free(batch);
    return SAEF_OK;
}
