/* The key cache's shared internals: the table (cache.c), flights (cache_flight.c), the hash
 * (cache_hash.c).  Not for other subsystems. */
#ifndef SAEF_CACHE_INTERNAL_H
#define SAEF_CACHE_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "saef_cache.h"

/* One cached answer: positive (value != NULL) or negative (value == NULL, refusal set).  One
 * allocation holds the header, the key bytes and (positive only) the value, so that a single
 * OPENSSL_cleanse wipes all of it and a negative entry costs a few hundred bytes, not a key's
 * worth of metadata. */
struct cache_entry {
    struct cache_entry *hnext;    /* bucket chain, or a victim list once unlinked */
    struct cache_entry *lru_prev; /* towards the most recently used */
    struct cache_entry *lru_next; /* towards the least recently used */
    uint64_t hash;
    struct timespec expires; /* leaves the cache when now >= expires */
    struct timespec inserted;
    uint64_t hits;
    saef_rc_t refusal;         /* negative entries; SAEF_OK otherwise */
    saef_cache_value_t *value; /* owned: inside this allocation; NULL when negative */
    size_t alloc_size;         /* of the whole allocation */
    size_t key_len;
    char key[]; /* key_len bytes and a NUL */
};

/*
 * Kc's lifetime is over (TS-0003 8.2.2.3 step 15) for a positive entry whose value->expiry <= now:
 * turn it, under the shard lock, into a refusal SAEF_E_KEY_EXPIRED for the negative TTL (key
 * wiped), so that handshakes fail with that reason and nobody asks the MAF about a key that is
 * gone.  Returns true when converted; false (nothing done) when the entry is not a Kc past its
 * lifetime or refusals are not cached.  Defined in cache.c.
 */
struct cache_shard;
struct saef_cache;
bool saef_cache_entry_expire_kc(struct saef_cache *cache, struct cache_shard *s,
                                struct cache_entry *e, const struct timespec *now);

/* A shard: the unit of locking.  Aligned to a cache line so that two shards' locks and
 * counters never share one. */
struct cache_shard {
    _Alignas(64) pthread_mutex_t lock;
    struct cache_entry **buckets;        /* owned: mask + 1 chains */
    struct saef_cache_flight **fbuckets; /* owned: mask + 1 chains of attached flights */
    size_t mask;
    struct cache_entry *lru_head; /* most recently used */
    struct cache_entry *lru_tail; /* next to evict */
    size_t count;                 /* entries, <= cap */
    size_t negative;              /* of which negative */
    size_t cap;
    uint64_t hits, negative_hits, misses, fetches, busy, evictions, expirations, removals;
};

struct saef_cache {
    struct cache_shard *shards; /* owned: nshards, aligned */
    unsigned nshards;
    size_t capacity;
    size_t max_flights;
    uint64_t negative_ttl_ms;
    bool expired_as_refusal;
    uint64_t flight_timeout_ms;
    uint64_t max_ttl_ms;
    atomic_size_t flights; /* attached flights over all shards, <= max_flights */
    atomic_uint_fast64_t flight_timeouts;
    uint8_t hash_key[16]; /* secret: keeps bucket placement unpredictable */
    saef_cache_allocator_t mem;
};

/* A subscription: the caller's number (to unsubscribe by) and our duplicate (what we write to
 * and close). */
struct flight_fd {
    int fd;  /* borrowed number */
    int dup; /* owned */
};

struct saef_cache_flight {
    /* Fixed at creation: */
    saef_cache_t *cache; /* borrowed: attached flights never outlive the cache */
    uint64_t hash;
    struct timespec deadline;
    saef_cache_allocator_t mem; /* a copy, so that the last release works after cache_free */
    size_t alloc_size;
    atomic_uint refs; /* the table's (while attached) plus one per handle handed out */

    /* Guarded by the shard lock: */
    struct saef_cache_flight *hnext; /* chain while attached; private lists once detached */
    bool attached;

    /* Guarded by lock: */
    pthread_mutex_t lock;
    pthread_cond_t cond; /* result ready, or signalling over */
    bool done;           /* the result is final */
    bool completed;      /* saef_cache_complete() has been called */
    unsigned signalling; /* finish is writing to descriptors outside the lock */
    saef_rc_t rc;
    saef_cache_value_t value; /* the result when rc == SAEF_OK: secret */
    struct flight_fd *fds;    /* owned (malloc) */
    size_t nfds;
    size_t fds_cap;

    size_t key_len;
    char key[]; /* key_len bytes and a NUL */
};

/* SipHash-2-4 of data under a 128-bit key. */
uint64_t saef_cache_siphash(const uint8_t key[16], const void *data, size_t len);

/* Table primitives shared by cache.c and cache_admin.c.  Functions taking a shard expect its
 * lock held; the others expect no lock held. */
uint64_t saef_cache_hash_of(const saef_cache_t *cache, const char *key, size_t len);
struct cache_shard *saef_cache_shard_for(const saef_cache_t *cache, uint64_t hash);
/* The link that points at the entry for key, or at the NULL that ends its chain. */
struct cache_entry **saef_cache_entry_link(struct cache_shard *s, uint64_t hash, const char *key,
                                           size_t len);
/* Take the entry at *link out of the table and push it onto *victims (through hnext), to be
 * wiped and freed with saef_cache_free_victims() once the lock is dropped. */
void saef_cache_entry_unlink(struct cache_shard *s, struct cache_entry **link,
                             struct cache_entry **victims);
void saef_cache_free_victims(const saef_cache_t *cache, struct cache_entry *victims);
/* Take the attached flight at *link out of the table; the table's reference passes to the
 * caller. */
saef_cache_flight_t *saef_cache_flight_detach(saef_cache_t *cache, saef_cache_flight_t **link);
/* Finish detached overdue flights (a private list through hnext) with SAEF_E_TIMEOUT and drop
 * the table references they carry. */
void saef_cache_end_stale(saef_cache_t *cache, saef_cache_flight_t *stale);

/* A new flight for key with two references (the table's and the leader's), deadline = now +
 * flight_timeout_ms.  Not yet attached.  NULL when the allocator fails. */
saef_cache_flight_t *saef_cache_flight_create(saef_cache_t *cache, const char *key, size_t len,
                                              uint64_t hash, const struct timespec *now);

/* Free a flight that was never shared (lost a race during lookup). */
void saef_cache_flight_discard(saef_cache_flight_t *flight);

/* Make rc (and value when rc == SAEF_OK) the flight's final result, wake waiters, signal and
 * close the subscribed descriptors.  The caller holds a reference and no shard lock.  Returns
 * false when the flight was already finished (nothing changes). */
bool saef_cache_flight_finish(saef_cache_flight_t *flight, saef_rc_t rc,
                              const saef_cache_value_t *value);

/* End an overdue flight: detach it from its table (when still attached) and finish it with
 * SAEF_E_TIMEOUT.  The caller holds a reference and no lock.  (In cache.c: it needs the table.) */
void saef_cache_flight_expire(saef_cache_flight_t *flight);

static inline bool cache_ts_valid(const struct timespec *t)
{
    return t != NULL && t->tv_nsec >= 0 && t->tv_nsec < 1000000000L;
}

/* <0, 0, >0 as a is before, equal to, after b. */
static inline int cache_ts_cmp(const struct timespec *a, const struct timespec *b)
{
    if (a->tv_sec != b->tv_sec)
        return a->tv_sec < b->tv_sec ? -1 : 1;
    if (a->tv_nsec != b->tv_nsec)
        return a->tv_nsec < b->tv_nsec ? -1 : 1;
    return 0;
}

/* t + ms (t valid), saturating at the end of time_t instead of overflowing. */
static inline struct timespec cache_ts_add_ms(const struct timespec *t, uint64_t ms)
{
    const int64_t tmax = sizeof(time_t) == 8 ? INT64_MAX : INT32_MAX;
    struct timespec r = *t;
    uint64_t secs = ms / 1000u;
    long nsec = t->tv_nsec + (long)(ms % 1000u) * 1000000L;

    if (nsec >= 1000000000L) {
        nsec -= 1000000000L;
        secs++;
    }
    if ((int64_t)t->tv_sec >= 0 && secs > (uint64_t)(tmax - (int64_t)t->tv_sec)) {
        r.tv_sec = (time_t)tmax;
        r.tv_nsec = 999999999L;
        return r;
    }
    r.tv_sec = (time_t)((int64_t)t->tv_sec + (int64_t)secs);
    r.tv_nsec = nsec;
    return r;
}

#endif /* SAEF_CACHE_INTERNAL_H */
