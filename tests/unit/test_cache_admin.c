/* Key cache, administrative side: wiping of released memory, allocation failures, counters,
 * metadata for the admin views.  Expected values come from each test's own inputs. */
#include <stdlib.h>
#include <unistd.h>

#include "test_cache.h"

/* ---- wiping ---- */

/* The key bytes of make_value(v, WIPE_SEED, ...): if they are still inside memory that the
 * cache gives back, the wipe failed. */
#define WIPE_SEED 0xc3

struct tracker {
    size_t allocs, frees, dirty;
    size_t fail_next; /* make the n-th next allocation fail (1 = the next one); 0 = never */
    uint8_t pattern[32];
};

static void *track_alloc(void *ctx, size_t size)
{
    struct tracker *t = ctx;

    if (t->fail_next > 0 && --t->fail_next == 0)
        return NULL;
    t->allocs++;
    return malloc(size);
}

static void track_free(void *ctx, void *ptr, size_t size)
{
    struct tracker *t = ctx;
    const uint8_t *p = ptr;

    t->frees++;
    for (size_t i = 0; i + sizeof(t->pattern) <= size; i++)
        if (memcmp(p + i, t->pattern, sizeof(t->pattern)) == 0)
            t->dirty++;
    free(ptr);
}

static saef_cache_t *tracked_cache(struct tracker *t, size_t capacity)
{
    static saef_cache_allocator_t a = {track_alloc, track_free, NULL};
    saef_cache_params_t p = {
        .capacity = capacity, .max_flights = 8, .flight_timeout_ms = 1000, .negative_ttl_ms = 1000};
    saef_cache_value_t v;
    saef_cache_t *c = NULL;

    memset(t, 0, sizeof(*t));
    make_value(&v, WIPE_SEED, 0);
    memcpy(t->pattern, v.psk, sizeof(t->pattern));
    a.ctx = t;
    p.allocator = &a;
    assert_int_equal(saef_cache_new(&p, &c), SAEF_OK);
    return c;
}

void test_value_clear_zeroes(void **state)
{
    saef_cache_value_t v;
    static const saef_cache_value_t zero;

    make_value(&v, WIPE_SEED, T0);
    saef_cache_value_clear(&v);
    assert_memory_equal(&v, &zero, sizeof(v));
}

void test_internal_memory_is_wiped(void **state)
{
    struct tracker t;
    saef_cache_t *c = tracked_cache(&t, 2);
    struct timespec now = ts(T0, 0), later = ts(T0 + 100, 0);
    saef_cache_flight_t *leader = NULL, *waiter = NULL;
    saef_cache_value_t v, other;
    uint8_t probe_block[64];
    saef_rc_t rc = SAEF_OK;

    /* the instrument itself: a block that still holds the key is noticed */
    memset(probe_block, 0, sizeof(probe_block));
    memcpy(probe_block + 5, t.pattern, sizeof(t.pattern));
    track_free(&t, memcpy(malloc(sizeof(probe_block)), probe_block, sizeof(probe_block)),
               sizeof(probe_block));
    assert_int_equal(t.dirty, 1);
    t.dirty = 0;
    t.frees = 0;

    make_value(&v, WIPE_SEED, T0 + 50);
    make_value(&other, 1, T0 + 50);
    /* LRU eviction (capacity 2) */
    put_key(c, "a@m.example", &now, &v);
    put_key(c, "b@m.example", &now, &v);
    put_key(c, "c@m.example", &now, &other);
    /* admin evict */
    assert_int_equal(saef_cache_evict(c, "b@m.example", 11), SAEF_OK);
    /* expiry on lookup */
    put_key(c, "d@m.example", &now, &v);
    assert_int_equal(probe(c, "d@m.example", &later, NULL, NULL), SAEF_CACHE_MISS_FETCH);
    /* expiry by sweep */
    put_key(c, "e@m.example", &now, &v);
    assert_int_equal(saef_cache_sweep(c, &later, NULL), SAEF_OK);
    /* late answers (their flight timed out and a second one stored the key): one replaces
     * the stored entry once it has expired, one is thrown away while it is live */
    for (int i = 0; i < 2; i++) {
        const char *id = i == 0 ? "f@m.example" : "h@m.example";
        struct timespec due = ts(T0 + 1, 0), when = i == 0 ? ts(T0 + 60, 0) : due;
        saef_cache_flight_t *second = NULL;
        saef_cache_value_t lasting;
        saef_cache_meta_t m;

        make_value(&lasting, WIPE_SEED, T0 + 500);
        assert_int_equal(saef_cache_lookup(c, id, 11, &now, NULL, NULL, &leader),
                         SAEF_CACHE_MISS_FETCH);
        assert_int_equal(saef_cache_lookup(c, id, 11, &due, NULL, NULL, &second),
                         SAEF_CACHE_MISS_FETCH);
        assert_int_equal(saef_cache_complete(c, second, SAEF_OK, &v, false, &due), SAEF_OK);
        saef_cache_flight_release(second);
        assert_int_equal(saef_cache_complete(c, leader, SAEF_OK, &lasting, false, &when), SAEF_OK);
        saef_cache_flight_release(leader);
        assert_int_equal(saef_cache_get_meta(c, id, 11, &when, &m), SAEF_OK);
        assert_int_equal(m.kc_expiry.tv_sec, i == 0 ? T0 + 500 : T0 + 50);
    }
    /* a flight's copy of the result, released by every holder */
    assert_int_equal(saef_cache_lookup(c, "g@m.example", 11, &now, NULL, NULL, &leader),
                     SAEF_CACHE_MISS_FETCH);
    assert_int_equal(saef_cache_lookup(c, "g@m.example", 11, &now, NULL, NULL, &waiter),
                     SAEF_CACHE_MISS_PENDING);
    assert_int_equal(saef_cache_complete(c, leader, SAEF_OK, &v, false, &now), SAEF_OK);
    saef_cache_flight_release(leader);
    assert_true(saef_cache_flight_poll(waiter, NULL, &rc, &other));
    assert_memory_equal(other.psk, v.psk, 32);
    saef_cache_value_clear(&other);
    saef_cache_flight_release(waiter);
    /* and everything left at free */
    saef_cache_free(c);

    assert_true(t.frees >= 10);
    assert_int_equal(t.allocs, t.frees); /* nothing leaked */
    assert_int_equal(t.dirty, 0);
}

void test_allocation_failures(void **state)
{
    struct tracker t;
    saef_cache_t *c = tracked_cache(&t, 4);
    struct timespec now = ts(T0, 0);
    saef_cache_flight_t *leader = NULL, *waiter = NULL;
    saef_cache_value_t v, got;
    saef_rc_t rc = SAEF_OK;

    /* no flight can be allocated */
    t.fail_next = 1;
    assert_int_equal(saef_cache_lookup(c, "k@m.example", 11, &now, NULL, &rc, &leader),
                     SAEF_CACHE_ERROR);
    assert_int_equal(rc, SAEF_E_NOMEM);
    assert_null(leader);
    assert_int_equal(stats_of(c).flights, 0);

    /* the entry cannot be allocated: waiters still get the key, it is just not kept */
    make_value(&v, 3, T0 + 60);
    assert_int_equal(saef_cache_lookup(c, "k@m.example", 11, &now, NULL, NULL, &leader),
                     SAEF_CACHE_MISS_FETCH);
    assert_int_equal(saef_cache_lookup(c, "k@m.example", 11, &now, NULL, NULL, &waiter),
                     SAEF_CACHE_MISS_PENDING);
    t.fail_next = 1;
    assert_int_equal(saef_cache_complete(c, leader, SAEF_OK, &v, false, &now), SAEF_E_NOMEM);
    assert_true(saef_cache_flight_poll(waiter, NULL, &rc, &got));
    assert_int_equal(rc, SAEF_OK);
    assert_memory_equal(got.psk, v.psk, 32);
    saef_cache_value_clear(&got);
    assert_int_equal(stats_of(c).entries, 0);
    assert_int_equal(probe(c, "k@m.example", &now, NULL, NULL), SAEF_CACHE_MISS_FETCH);
    saef_cache_flight_release(leader);
    saef_cache_flight_release(waiter);
    saef_cache_free(c);
    assert_int_equal(t.allocs, t.frees);
}

/* ---- statistics ---- */

void test_stats_counts(void **state)
{
    saef_cache_t *c = new_cache(2, 1, 10000, 1000);
    struct timespec now = ts(T0, 0), late = ts(T0 + 30, 0);
    saef_cache_flight_t *f = NULL, *g = NULL;
    saef_cache_value_t v;
    saef_cache_stats_t st;

    make_value(&v, 1, T0 + 20);
    /* 2 misses that fetch, 3 hits, 2 negative hits, a third fetch, a miss that joins it and a
     * miss refused for max_flights */
    put_key(c, "a@m.example", &now, &v);
    put_refusal(c, "b@m.example", &now, SAEF_E_MAF_REFUSED);
    for (int i = 0; i < 3; i++)
        assert_int_equal(probe(c, "a@m.example", &now, NULL, NULL), SAEF_CACHE_HIT);
    for (int i = 0; i < 2; i++)
        assert_int_equal(probe(c, "b@m.example", &now, NULL, NULL), SAEF_CACHE_NEGATIVE);
    assert_int_equal(saef_cache_lookup(c, "c@m.example", 11, &now, NULL, NULL, &f),
                     SAEF_CACHE_MISS_FETCH);
    assert_int_equal(saef_cache_lookup(c, "c@m.example", 11, &now, NULL, NULL, &g),
                     SAEF_CACHE_MISS_PENDING);
    assert_int_equal(probe(c, "d@m.example", &now, NULL, NULL), SAEF_CACHE_BUSY);

    st = stats_of(c);
    assert_int_equal(st.hits, 3);
    assert_int_equal(st.negative_hits, 2);
    assert_int_equal(st.misses, 5);
    assert_int_equal(st.fetches, 3);
    assert_int_equal(st.busy, 1);
    assert_int_equal(st.flights, 1);
    assert_int_equal(st.entries, 2);
    assert_int_equal(st.negative_entries, 1);
    assert_int_equal(st.evictions, 0);

    /* recency now b a (the negative hits came last); storing c pushes a out */
    assert_int_equal(saef_cache_complete(c, f, SAEF_OK, &v, false, &now), SAEF_OK);
    assert_false(present(c, "a@m.example", &now));
    assert_true(present(c, "b@m.example", &now));
    assert_int_equal(saef_cache_evict(c, "c@m.example", 11), SAEF_OK);
    /* b's refusal lived 10 s */
    assert_int_equal(probe(c, "b@m.example", &late, NULL, NULL), SAEF_CACHE_MISS_FETCH);
    st = stats_of(c);
    assert_int_equal(st.evictions, 1);
    assert_int_equal(st.removals, 1);
    assert_int_equal(st.expirations, 1);
    assert_int_equal(st.entries, 0);
    assert_int_equal(st.flights, 0);
    assert_int_equal(st.flight_timeouts, 0);
    saef_cache_flight_release(f);
    saef_cache_flight_release(g);
    saef_cache_free(c);
}

/* ---- metadata ---- */

struct seen {
    saef_cache_t *cache;
    const struct timespec *now;
    uint8_t keys[8][32];
    size_t nkeys;
    size_t calls, stop_after, leaks, negatives;
    char ids[128][32];
};

static int collect(void *arg, const saef_cache_meta_t *m)
{
    struct seen *s = arg;
    saef_cache_meta_t again;
    const uint8_t *p = (const uint8_t *)m;

    /* no lock is held: calling back into the cache must work (alarm() catches a deadlock) */
    assert_int_equal(saef_cache_get_meta(s->cache, m->key_id, m->key_id_len, s->now, &again),
                     SAEF_OK);
    for (size_t k = 0; k < s->nkeys; k++)
        for (size_t i = 0; i + 32 <= sizeof(*m); i++)
            s->leaks += memcmp(p + i, s->keys[k], 32) == 0;
    assert_int_equal(strlen(m->key_id), m->key_id_len);
    /* the test's identities are short; a longer one would show up as a mismatch */
    if (s->calls < 128)
        snprintf(s->ids[s->calls], sizeof(s->ids[0]), "%.31s", m->key_id);
    s->negatives += m->negative;
    s->calls++;
    return s->stop_after != 0 && s->calls == s->stop_after;
}

void test_foreach_meta_never_exposes_keys(void **state)
{
    saef_cache_t *c = new_cache(64, 4, 60000, 1000);
    struct timespec now = ts(T0, 0), later = ts(T0 + 10, 0);
    struct seen s = {.cache = c, .now = &later};
    saef_cache_meta_t m;
    saef_cache_value_t v;
    char id[32];

    alarm(20);
    for (int i = 0; i < 5; i++) {
        make_value(&v, (uint8_t)(0x40 + i), T0 + 3600);
        memcpy(s.keys[s.nkeys++], v.psk, 32);
        snprintf(id, sizeof(id), "p%d@m.example", i);
        put_key(c, id, &now, &v);
    }
    put_refusal(c, "n0@m.example", &now, SAEF_E_MAF_REFUSED);
    put_refusal(c, "n1@m.example", &now, SAEF_E_MAF_SUID);
    make_value(&v, 0x70, T0 + 5); /* expired at `later`: not listed */
    memcpy(s.keys[s.nkeys++], v.psk, 32);
    put_key(c, "gone@m.example", &now, &v);

    assert_int_equal(saef_cache_foreach_meta(c, &later, collect, &s), SAEF_OK);
    assert_int_equal(s.calls, 7);
    assert_int_equal(s.negatives, 2);
    assert_int_equal(s.leaks, 0);
    for (size_t i = 0; i < s.calls; i++) {
        assert_string_not_equal(s.ids[i], "gone@m.example");
        for (size_t j = i + 1; j < s.calls; j++)
            assert_string_not_equal(s.ids[i], s.ids[j]);
    }

    /* one entry's metadata is what the MAF said */
    assert_int_equal(saef_cache_get_meta(c, "p2@m.example", 12, &later, &m), SAEF_OK);
    make_value(&v, 0x42, T0 + 3600);
    assert_false(m.negative);
    assert_int_equal(m.refusal, SAEF_OK);
    assert_int_equal(m.psk_len, 32);
    assert_int_equal(m.suid, 32);
    assert_int_equal(m.kc_expiry.tv_sec, T0 + 3600);
    assert_int_equal(m.inserted.tv_sec, T0);
    assert_string_equal(m.source_id, v.source_id);
    assert_string_equal(m.admin_fqdn, v.admin_fqdn);
    assert_int_equal(saef_cache_get_meta(c, "n1@m.example", 12, &later, &m), SAEF_OK);
    assert_true(m.negative);
    assert_int_equal(m.refusal, SAEF_E_MAF_SUID);
    assert_int_equal(m.psk_len, 0);
    assert_int_equal(saef_cache_get_meta(c, "gone@m.example", 14, &later, &m), SAEF_E_NOT_FOUND);

    /* stopping early */
    memset(s.ids, 0, sizeof(s.ids));
    s.calls = 0;
    s.stop_after = 3;
    assert_int_equal(saef_cache_foreach_meta(c, &later, collect, &s), SAEF_OK);
    assert_int_equal(s.calls, 3);
    alarm(0);
    saef_cache_free(c);
}

void test_foreach_meta_many_entries(void **state)
{
    saef_cache_params_t p = {.capacity = 200, .max_flights = 4, .flight_timeout_ms = 1000};
    struct timespec now = ts(T0, 0);
    struct seen s = {.now = &now};
    saef_cache_value_t v;
    saef_cache_t *c = NULL;
    char id[32];

    /* one shard, so that 100 entries must come in several batches */
    p.shards = 1;
    assert_int_equal(saef_cache_new(&p, &c), SAEF_OK);
    s.cache = c;
    make_value(&v, 1, T0 + 60);
    for (int i = 0; i < 100; i++) {
        snprintf(id, sizeof(id), "id%03d@m.example", i);
        put_key(c, id, &now, &v);
    }
    alarm(20);
    assert_int_equal(saef_cache_foreach_meta(c, &now, collect, &s), SAEF_OK);
    alarm(0);
    assert_int_equal(s.calls, 100);
    for (int i = 0; i < 100; i++) {
        int found = 0;

        snprintf(id, sizeof(id), "id%03d@m.example", i);
        for (size_t k = 0; k < s.calls; k++)
            found += strcmp(s.ids[k], id) == 0;
        assert_int_equal(found, 1);
    }
    /* metadata reads did not count as hits */
    assert_int_equal(stats_of(c).hits, 0);
    saef_cache_free(c);
}
