/* The key cache: a sharded hash table with one LRU list per shard, and single-flight misses. */
#include "cache_internal.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/rand.h>

static void *default_alloc(void *ctx, size_t size)
{
    (void)ctx;
    return malloc(size);
}

static void default_free(void *ctx, void *ptr, size_t size)
{
    (void)ctx;
    (void)size;
    free(ptr);
}

void saef_cache_value_clear(saef_cache_value_t *v)
{
    if (v != NULL)
        OPENSSL_cleanse(v, sizeof(*v));
}

bool saef_cache_rc_transient(saef_rc_t rc)
{
    switch (rc) {
    case SAEF_E_MAF_UNREACHABLE:
    case SAEF_E_MAF_TIMEOUT:
    case SAEF_E_MAF_CIRCUIT_OPEN:
    case SAEF_E_TIMEOUT:
    case SAEF_E_BUSY:
    case SAEF_E_NOMEM:
    case SAEF_E_IO:
    case SAEF_E_INTERNAL:
    case SAEF_E_STATE:
    case SAEF_E_INVALID_ARG:
        return true;
    default:
        return false;
    }
}

/* ---- table primitives (shard lock held) ---- */

struct cache_shard *saef_cache_shard_for(const saef_cache_t *c, uint64_t h)
{
    /* High bits pick the shard, low bits the bucket, so the two choices are independent. */
    return &c->shards[(h >> 48) & (c->nshards - 1u)];
}

uint64_t saef_cache_hash_of(const saef_cache_t *c, const char *key, size_t len)
{
    return saef_cache_siphash(c->hash_key, key, len);
}

struct cache_entry **saef_cache_entry_link(struct cache_shard *s, uint64_t h, const char *key,
                                           size_t len)
{
    struct cache_entry **l = &s->buckets[h & s->mask];

    while (*l != NULL &&
           !((*l)->hash == h && (*l)->key_len == len && memcmp((*l)->key, key, len) == 0))
        l = &(*l)->hnext;
    return l;
}

static saef_cache_flight_t **flight_link(struct cache_shard *s, uint64_t h, const char *key,
                                         size_t len)
{
    saef_cache_flight_t **l = &s->fbuckets[h & s->mask];

    while (*l != NULL &&
           !((*l)->hash == h && (*l)->key_len == len && memcmp((*l)->key, key, len) == 0))
        l = &(*l)->hnext;
    return l;
}

/* The link pointing at this very flight (which is attached). */
static saef_cache_flight_t **flight_link_of(struct cache_shard *s, const saef_cache_flight_t *f)
{
    saef_cache_flight_t **l = &s->fbuckets[f->hash & s->mask];

    while (*l != f)
        l = &(*l)->hnext;
    return l;
}

saef_cache_flight_t *saef_cache_flight_detach(saef_cache_t *c, saef_cache_flight_t **link)
{
    saef_cache_flight_t *f = *link;

    *link = f->hnext;
    f->hnext = NULL;
    f->attached = false;
    atomic_fetch_sub_explicit(&c->flights, 1u, memory_order_relaxed);
    return f;
}

static void lru_unlink(struct cache_shard *s, struct cache_entry *e)
{
    if (e->lru_prev != NULL)
        e->lru_prev->lru_next = e->lru_next;
    else
        s->lru_head = e->lru_next;
    if (e->lru_next != NULL)
        e->lru_next->lru_prev = e->lru_prev;
    else
        s->lru_tail = e->lru_prev;
    e->lru_prev = e->lru_next = NULL;
}

static void lru_push_front(struct cache_shard *s, struct cache_entry *e)
{
    e->lru_prev = NULL;
    e->lru_next = s->lru_head;
    if (s->lru_head != NULL)
        s->lru_head->lru_prev = e;
    else
        s->lru_tail = e;
    s->lru_head = e;
}

void saef_cache_entry_unlink(struct cache_shard *s, struct cache_entry **link,
                             struct cache_entry **victims)
{
    struct cache_entry *e = *link;

    *link = e->hnext;
    lru_unlink(s, e);
    s->count--;
    if (e->value == NULL)
        s->negative--;
    e->hnext = *victims;
    *victims = e;
}

static void entry_insert(struct cache_shard *s, struct cache_entry *e)
{
    struct cache_entry **head = &s->buckets[e->hash & s->mask];

    e->hnext = *head;
    *head = e;
    lru_push_front(s, e);
    s->count++;
    if (e->value == NULL)
        s->negative++;
}

static bool reserve_flight(saef_cache_t *c)
{
    size_t n = atomic_load_explicit(&c->flights, memory_order_relaxed);

    do {
        if (n >= c->max_flights)
            return false;
    } while (!atomic_compare_exchange_weak_explicit(&c->flights, &n, n + 1u, memory_order_relaxed,
                                                    memory_order_relaxed));
    return true;
}

/* ---- objects (no lock held) ---- */

static struct cache_entry *entry_new(saef_cache_t *c, const char *key, size_t len, uint64_t h,
                                     bool positive)
{
    const size_t align = _Alignof(saef_cache_value_t);
    size_t key_end = sizeof(struct cache_entry) + len + 1;
    size_t value_off = (key_end + align - 1) / align * align;
    size_t size = positive ? value_off + sizeof(saef_cache_value_t) : key_end;
    struct cache_entry *e = c->mem.alloc(c->mem.ctx, size);

    if (e == NULL)
        return NULL;
    memset(e, 0, size);
    e->hash = h;
    e->alloc_size = size;
    e->key_len = len;
    memcpy(e->key, key, len);
    if (positive)
        e->value = (saef_cache_value_t *)((char *)e + value_off);
    return e;
}

static void entry_destroy(const saef_cache_t *c, struct cache_entry *e)
{
    size_t size = e->alloc_size;

    OPENSSL_cleanse(e, size);
    c->mem.free(c->mem.ctx, e, size);
}

void saef_cache_free_victims(const saef_cache_t *c, struct cache_entry *v)
{
    while (v != NULL) {
        struct cache_entry *next = v->hnext;

        entry_destroy(c, v);
        v = next;
    }
}

void saef_cache_end_stale(saef_cache_t *c, saef_cache_flight_t *f)
{
    while (f != NULL) {
        saef_cache_flight_t *next = f->hnext;

        f->hnext = NULL;
        if (saef_cache_flight_finish(f, SAEF_E_TIMEOUT, NULL))
            atomic_fetch_add_explicit(&c->flight_timeouts, 1u, memory_order_relaxed);
        saef_cache_flight_release(f);
        f = next;
    }
}

void saef_cache_flight_expire(saef_cache_flight_t *f)
{
    struct cache_shard *s;
    saef_cache_flight_t *stale = NULL;
    bool done;

    /* A finished flight has nothing to detach, and after saef_cache_free() its cache is gone:
     * look at nothing but the flight. */
    pthread_mutex_lock(&f->lock);
    done = f->done;
    pthread_mutex_unlock(&f->lock);
    if (done)
        return;

    s = saef_cache_shard_for(f->cache, f->hash);
    pthread_mutex_lock(&s->lock);
    if (f->attached)
        stale = saef_cache_flight_detach(f->cache, flight_link_of(s, f));
    pthread_mutex_unlock(&s->lock);
    if (stale != NULL) {
        saef_cache_end_stale(f->cache, stale);
    } else if (saef_cache_flight_finish(f, SAEF_E_TIMEOUT, NULL)) {
        /* Detached by a completion that has not finished it yet: the deadline still wins. */
        atomic_fetch_add_explicit(&f->cache->flight_timeouts, 1u, memory_order_relaxed);
    }
}

/* ---- life cycle ---- */

static size_t pow2_at_least(size_t n)
{
    size_t p = 1;

    while (p < n)
        p <<= 1;
    return p;
}

/* Enough shards that concurrent handshakes rarely meet on one lock, few enough that every
 * shard's LRU list sees at least 128 entries and so stays close to a global LRU order. */
static unsigned auto_shards(size_t capacity)
{
    unsigned n = 1;

    while (n < 64 && capacity / ((size_t)n * 2u) >= 128)
        n *= 2;
    return n;
}

static void shard_fini(struct cache_shard *s)
{
    free(s->buckets);
    free(s->fbuckets);
    pthread_mutex_destroy(&s->lock);
}

static bool shard_init(struct cache_shard *s, size_t cap)
{
    size_t nb = pow2_at_least(cap < 8 ? 8 : cap);

    s->cap = cap;
    s->mask = nb - 1;
    s->buckets = calloc(nb, sizeof(*s->buckets));
    s->fbuckets = calloc(nb, sizeof(*s->fbuckets));
    if (s->buckets == NULL || s->fbuckets == NULL || pthread_mutex_init(&s->lock, NULL) != 0) {
        free(s->buckets);
        free(s->fbuckets);
        return false;
    }
    return true;
}

static bool params_ok(const saef_cache_params_t *p)
{
    unsigned n = p->shards;

    if (p->capacity < 1 || p->capacity > SAEF_CACHE_CAPACITY_MAX || p->max_flights < 1 ||
        p->max_flights > SAEF_CACHE_FLIGHTS_MAX || p->flight_timeout_ms == 0)
        return false;
    if (p->allocator != NULL && (p->allocator->alloc == NULL || p->allocator->free == NULL))
        return false;
    return n == 0 || ((n & (n - 1u)) == 0 && n <= SAEF_CACHE_SHARDS_MAX && n <= p->capacity);
}

saef_rc_t saef_cache_new(const saef_cache_params_t *params, saef_cache_t **out)
{
    saef_cache_t *c;
    size_t bytes;
    unsigned i;

    if (out != NULL)
        *out = NULL;
    if (params == NULL || out == NULL || !params_ok(params))
        return SAEF_E_INVALID_ARG;
    c = calloc(1, sizeof(*c));
    if (c == NULL)
        return SAEF_E_NOMEM;
    c->nshards = params->shards != 0 ? params->shards : auto_shards(params->capacity);
    c->capacity = params->capacity;
    c->max_flights = params->max_flights;
    c->negative_ttl_ms = params->negative_ttl_ms;
    c->expired_as_refusal = params->expired_as_refusal;
    c->flight_timeout_ms = params->flight_timeout_ms;
    c->max_ttl_ms = params->max_ttl_ms;
    atomic_init(&c->flights, 0u);
    atomic_init(&c->flight_timeouts, 0u);
    if (params->allocator != NULL) {
        c->mem = *params->allocator;
    } else {
        c->mem.alloc = default_alloc;
        c->mem.free = default_free;
    }
    if (RAND_bytes(c->hash_key, (int)sizeof(c->hash_key)) != 1) {
        free(c);
        return SAEF_E_INTERNAL;
    }
    bytes = c->nshards * sizeof(struct cache_shard); /* a multiple of the 64-byte alignment */
    c->shards = aligned_alloc(_Alignof(struct cache_shard), bytes);
    if (c->shards == NULL) {
        OPENSSL_cleanse(c, sizeof(*c));
        free(c);
        return SAEF_E_NOMEM;
    }
    memset(c->shards, 0, bytes);
    for (i = 0; i < c->nshards; i++) {
        /* Shares differ by at most one; together they are exactly the capacity. */
        size_t cap = c->capacity / c->nshards + (i < c->capacity % c->nshards ? 1u : 0u);

        if (!shard_init(&c->shards[i], cap))
            break;
    }
    if (i < c->nshards) {
        while (i-- > 0)
            shard_fini(&c->shards[i]);
        free(c->shards);
        OPENSSL_cleanse(c, sizeof(*c));
        free(c);
        return SAEF_E_NOMEM;
    }
    *out = c;
    return SAEF_OK;
}

void saef_cache_free(saef_cache_t *cache)
{
    if (cache == NULL)
        return;
    for (unsigned i = 0; i < cache->nshards; i++) {
        struct cache_shard *s = &cache->shards[i];
        struct cache_entry *e = s->lru_head;
        saef_cache_flight_t *flights = NULL;

        while (e != NULL) {
            struct cache_entry *next = e->lru_next;

            entry_destroy(cache, e);
            e = next;
        }
        for (size_t b = 0; b <= s->mask; b++) {
            while (s->fbuckets[b] != NULL) {
                saef_cache_flight_t *f = saef_cache_flight_detach(cache, &s->fbuckets[b]);

                f->hnext = flights;
                flights = f;
            }
        }
        /* Wake everyone still waiting; their handles outlive us. */
        while (flights != NULL) {
            saef_cache_flight_t *next = flights->hnext;

            flights->hnext = NULL;
            saef_cache_flight_finish(flights, SAEF_E_STATE, NULL);
            saef_cache_flight_release(flights);
            flights = next;
        }
        shard_fini(s);
    }
    free(cache->shards);
    OPENSSL_cleanse(cache, sizeof(*cache));
    free(cache);
}

/* ---- the handshake path ---- */

bool saef_cache_entry_expire_kc(struct saef_cache *cache, struct cache_shard *s,
                                struct cache_entry *e, const struct timespec *now)
{
    if (!cache->expired_as_refusal || e->value == NULL || cache->negative_ttl_ms == 0 ||
        cache_ts_cmp(now, &e->value->expiry) < 0)
        return false;
    OPENSSL_cleanse(e->value, sizeof(*e->value));
    e->value = NULL; /* the allocation keeps its size in alloc_size */
    e->refusal = SAEF_E_KEY_EXPIRED;
    e->expires = cache_ts_add_ms(now, cache->negative_ttl_ms);
    s->negative++;
    s->expirations++;
    return true;
}

saef_cache_status_t saef_cache_lookup(saef_cache_t *cache, const char *key_id, size_t key_id_len,
                                      const struct timespec *now, saef_cache_value_t *out_value,
                                      saef_rc_t *out_rc, saef_cache_flight_t **out_flight)
{
    struct cache_entry *victims = NULL;
    saef_cache_flight_t *stale = NULL, *spare = NULL;
    saef_cache_status_t st;
    saef_rc_t rc = SAEF_OK;
    struct cache_shard *s;
    uint64_t h;

    if (out_flight != NULL)
        *out_flight = NULL;
    if (cache == NULL || key_id == NULL || key_id_len == 0 || key_id_len > SAEF_CACHE_KEY_MAX ||
        !cache_ts_valid(now) || out_flight == NULL) {
        if (out_rc != NULL)
            *out_rc = SAEF_E_INVALID_ARG;
        return SAEF_CACHE_ERROR;
    }
    h = saef_cache_hash_of(cache, key_id, key_id_len);
    s = saef_cache_shard_for(cache, h);

    pthread_mutex_lock(&s->lock);
    for (;;) {
        struct cache_entry **el = saef_cache_entry_link(s, h, key_id, key_id_len);
        struct cache_entry *e = *el;
        saef_cache_flight_t **fl;

        if (e != NULL && cache_ts_cmp(now, &e->expires) < 0) {
            lru_unlink(s, e);
            lru_push_front(s, e);
            e->hits++;
            if (e->value != NULL) {
                if (out_value != NULL)
                    *out_value = *e->value;
                s->hits++;
                st = SAEF_CACHE_HIT;
            } else {
                s->negative_hits++;
                rc = e->refusal;
                st = SAEF_CACHE_NEGATIVE;
            }
            break;
        }
        if (e != NULL && saef_cache_entry_expire_kc(cache, s, e, now)) {
            lru_unlink(s, e);
            lru_push_front(s, e);
            s->negative_hits++;
            rc = SAEF_E_KEY_EXPIRED;
            st = SAEF_CACHE_NEGATIVE;
            break;
        }
        if (e != NULL) {
            saef_cache_entry_unlink(s, el, &victims);
            s->expirations++;
        }

        fl = flight_link(s, h, key_id, key_id_len);
        if (*fl != NULL && cache_ts_cmp(now, &(*fl)->deadline) < 0) {
            atomic_fetch_add_explicit(&(*fl)->refs, 1u, memory_order_relaxed);
            *out_flight = *fl;
            s->misses++;
            st = SAEF_CACHE_MISS_PENDING;
            break;
        }
        if (*fl != NULL) {
            /* Overdue: its leader is stuck.  Take it out (with the table's reference) and end
             * it once unlocked; this lookup starts a fresh one. */
            saef_cache_flight_t *f = saef_cache_flight_detach(cache, fl);

            f->hnext = stale;
            stale = f;
        }
        /* A slot is taken only when the flight goes in: many lookups of one new key may be
         * here at once, and all but one of them will join the first one's flight. */
        if (atomic_load_explicit(&cache->flights, memory_order_relaxed) >= cache->max_flights ||
            (spare != NULL && !reserve_flight(cache))) {
            s->misses++;
            s->busy++;
            rc = SAEF_E_BUSY;
            st = SAEF_CACHE_BUSY;
            break;
        }
        if (spare == NULL) {
            /* The allocator is a callback: call it unlocked, then look again, since another
             * lookup may have started the flight (or a completion stored the key) meanwhile. */
            pthread_mutex_unlock(&s->lock);
            spare = saef_cache_flight_create(cache, key_id, key_id_len, h, now);
            pthread_mutex_lock(&s->lock);
            if (spare == NULL) {
                rc = SAEF_E_NOMEM;
                st = SAEF_CACHE_ERROR;
                break;
            }
            continue;
        }
        fl = &s->fbuckets[h & s->mask];
        spare->hnext = *fl;
        *fl = spare;
        spare->attached = true;
        *out_flight = spare;
        spare = NULL;
        s->misses++;
        s->fetches++;
        st = SAEF_CACHE_MISS_FETCH;
        break;
    }
    pthread_mutex_unlock(&s->lock);

    saef_cache_flight_discard(spare);
    saef_cache_end_stale(cache, stale);
    saef_cache_free_victims(cache, victims);
    if (out_rc != NULL)
        *out_rc = rc;
    return st;
}

static bool value_ok(const saef_cache_value_t *v)
{
    return v->psk_len >= 1 && v->psk_len <= SAEF_CACHE_PSK_MAX && cache_ts_valid(&v->expiry) &&
           memchr(v->source_id, '\0', sizeof(v->source_id)) != NULL &&
           memchr(v->admin_fqdn, '\0', sizeof(v->admin_fqdn)) != NULL;
}

saef_rc_t saef_cache_complete(saef_cache_t *cache, saef_cache_flight_t *flight, saef_rc_t rc,
                              const saef_cache_value_t *value, bool cache_failure,
                              const struct timespec *now)
{
    struct cache_entry *e = NULL, *victims = NULL;
    saef_rc_t result = rc, ret = SAEF_OK;
    bool positive = false, negative = false, attached, stored = false;
    struct cache_shard *s;
    bool again;

    if (cache == NULL || flight == NULL || flight->cache != cache)
        return SAEF_E_INVALID_ARG;
    pthread_mutex_lock(&flight->lock);
    again = flight->completed;
    flight->completed = true;
    pthread_mutex_unlock(&flight->lock);
    if (again)
        return SAEF_E_STATE;

    if (!cache_ts_valid(now)) {
        result = ret = SAEF_E_INVALID_ARG;
    } else if (rc == SAEF_OK) {
        if (value == NULL || !value_ok(value))
            result = ret = SAEF_E_INVALID_ARG;
        else if (cache_ts_cmp(&value->expiry, now) <= 0)
            result = ret = SAEF_E_KEY_EXPIRED;
        else
            positive = true;
    } else {
        negative = cache_failure && !saef_cache_rc_transient(rc) && cache->negative_ttl_ms > 0;
    }

    if (positive || negative) {
        e = entry_new(cache, flight->key, flight->key_len, flight->hash, positive);
        if (e == NULL) {
            ret = SAEF_E_NOMEM; /* the waiters still get the result, it is just not kept */
        } else if (positive) {
            struct timespec cap = cache_ts_add_ms(now, cache->max_ttl_ms);

            *e->value = *value;
            e->expires = value->expiry;
            if (cache->max_ttl_ms > 0 && cache_ts_cmp(&cap, &e->expires) < 0)
                e->expires = cap;
            e->inserted = *now;
        } else {
            e->refusal = rc;
            e->expires = cache_ts_add_ms(now, cache->negative_ttl_ms);
            e->inserted = *now;
        }
    }

    s = saef_cache_shard_for(cache, flight->hash);
    pthread_mutex_lock(&s->lock);
    attached = flight->attached;
    if (attached)
        saef_cache_flight_detach(cache, flight_link_of(s, flight));
    if (e != NULL) {
        struct cache_entry **el = saef_cache_entry_link(s, e->hash, e->key, e->key_len);
        /* A late answer (the flight timed out) must not overwrite what a newer flight is
         * fetching or has already stored. */
        bool taken = !attached && (*flight_link(s, e->hash, e->key, e->key_len) != NULL ||
                                   (*el != NULL && cache_ts_cmp(now, &(*el)->expires) < 0));

        if (!taken) {
            if (*el != NULL)
                saef_cache_entry_unlink(s, el, &victims);
            entry_insert(s, e);
            while (s->count > s->cap) {
                struct cache_entry *old = s->lru_tail;

                saef_cache_entry_unlink(
                    s, saef_cache_entry_link(s, old->hash, old->key, old->key_len), &victims);
                s->evictions++;
            }
            stored = true;
        }
    }
    pthread_mutex_unlock(&s->lock);

    saef_cache_flight_finish(flight, result, result == SAEF_OK ? value : NULL);
    if (attached)
        saef_cache_flight_release(flight); /* the table's reference */
    if (e != NULL && !stored)
        entry_destroy(cache, e);
    saef_cache_free_victims(cache, victims);
    return ret;
}

/* ---- administration ---- */

saef_rc_t saef_cache_evict(saef_cache_t *cache, const char *key_id, size_t key_id_len)
{
    struct cache_entry *victims = NULL, **el;
    struct cache_shard *s;
    uint64_t h;

    if (cache == NULL || key_id == NULL || key_id_len == 0 || key_id_len > SAEF_CACHE_KEY_MAX)
        return SAEF_E_INVALID_ARG;
    h = saef_cache_hash_of(cache, key_id, key_id_len);
    s = saef_cache_shard_for(cache, h);
    pthread_mutex_lock(&s->lock);
    el = saef_cache_entry_link(s, h, key_id, key_id_len);
    if (*el != NULL) {
        saef_cache_entry_unlink(s, el, &victims);
        s->removals++;
    }
    pthread_mutex_unlock(&s->lock);
    if (victims == NULL)
        return SAEF_E_NOT_FOUND;
    saef_cache_free_victims(cache, victims);
    return SAEF_OK;
}
