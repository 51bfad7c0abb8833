/* Helpers shared by the key cache tests (test_cache.c, test_cache_threads.c). */
#ifndef TEST_CACHE_H
#define TEST_CACHE_H

#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "saef_cache.h"

/* A fixed wall-clock origin for the deterministic tests (2023-11-14T22:13:20Z). */
#define T0 ((time_t)1700000000)

static inline struct timespec ts(time_t sec, long nsec)
{
    struct timespec t = {sec, nsec};

    return t;
}

static inline struct timespec realtime_plus_ms(long ms)
{
    struct timespec t;

    clock_gettime(CLOCK_REALTIME, &t);
    t.tv_sec += ms / 1000;
    t.tv_nsec += (ms % 1000) * 1000000L;
    if (t.tv_nsec >= 1000000000L) {
        t.tv_sec++;
        t.tv_nsec -= 1000000000L;
    }
    return t;
}

/* A recognisable 32-byte key: psk[i] = seed ^ (0x5a + 3 i).  Distinct seeds give distinct
 * keys, so a test can tell whose key it got back. */
static inline void make_value(saef_cache_value_t *v, uint8_t seed, time_t expiry_sec)
{
    memset(v, 0, sizeof(*v));
    for (size_t i = 0; i < 32; i++)
        v->psk[i] = (uint8_t)(seed ^ (0x5a + 3 * i));
    v->psk_len = 32;
    v->expiry = ts(expiry_sec, 0);
    v->suid = 32;
    v->source_kind = 1;
    snprintf(v->source_id, sizeof(v->source_id), "/cse-%u", (unsigned)seed);
    snprintf(v->admin_fqdn, sizeof(v->admin_fqdn), "admin%u.maf.example", (unsigned)seed);
}

static inline saef_cache_t *new_cache(size_t capacity, size_t max_flights, uint64_t negative_ttl_ms,
                                      uint64_t flight_timeout_ms)
{
    saef_cache_params_t p = {0};
    saef_cache_t *c = NULL;

    p.capacity = capacity;
    p.max_flights = max_flights;
    p.negative_ttl_ms = negative_ttl_ms;
    p.flight_timeout_ms = flight_timeout_ms;
    assert_int_equal(saef_cache_new(&p, &c), SAEF_OK);
    assert_non_null(c);
    return c;
}

/* Miss as the leader and store v (the usual path of a cold key). */
static inline void put_key(saef_cache_t *c, const char *id, const struct timespec *now,
                           const saef_cache_value_t *v)
{
    saef_cache_flight_t *f = NULL;
    saef_rc_t rc = -999;

    assert_int_equal(saef_cache_lookup(c, id, strlen(id), now, NULL, &rc, &f),
                     SAEF_CACHE_MISS_FETCH);
    assert_int_equal(rc, SAEF_OK);
    assert_non_null(f);
    assert_int_equal(saef_cache_complete(c, f, SAEF_OK, v, false, now), SAEF_OK);
    saef_cache_flight_release(f);
}

/* Miss as the leader and record the refusal rc. */
static inline void put_refusal(saef_cache_t *c, const char *id, const struct timespec *now,
                               saef_rc_t refusal)
{
    saef_cache_flight_t *f = NULL;

    assert_int_equal(saef_cache_lookup(c, id, strlen(id), now, NULL, NULL, &f),
                     SAEF_CACHE_MISS_FETCH);
    assert_int_equal(saef_cache_complete(c, f, refusal, NULL, true, now), SAEF_OK);
    saef_cache_flight_release(f);
}

/* Look id up and return the status; a flight handed out is completed as a transient failure
 * (caches nothing) and released, so the check leaves no flight behind. */
static inline saef_cache_status_t probe(saef_cache_t *c, const char *id, const struct timespec *now,
                                        saef_cache_value_t *out, saef_rc_t *rc)
{
    saef_cache_flight_t *f = NULL;
    saef_cache_status_t st = saef_cache_lookup(c, id, strlen(id), now, out, rc, &f);

    if (st == SAEF_CACHE_MISS_FETCH)
        assert_int_equal(saef_cache_complete(c, f, SAEF_E_MAF_UNREACHABLE, NULL, false, now),
                         SAEF_OK);
    saef_cache_flight_release(f);
    return st;
}

static inline saef_cache_stats_t stats_of(saef_cache_t *c)
{
    saef_cache_stats_t s;

    assert_int_equal(saef_cache_stats(c, &s), SAEF_OK);
    return s;
}

/* Whether id has a live entry, looked at without touching LRU order or counters. */
static inline bool present(saef_cache_t *c, const char *id, const struct timespec *now)
{
    saef_cache_meta_t m;

    return saef_cache_get_meta(c, id, strlen(id), now, &m) == SAEF_OK;
}

/* Administrative side (test_cache_admin.c). */
void test_value_clear_zeroes(void **state);
void test_internal_memory_is_wiped(void **state);
void test_allocation_failures(void **state);
void test_stats_counts(void **state);
void test_foreach_meta_never_exposes_keys(void **state);
void test_foreach_meta_many_entries(void **state);

/* Thread tests (test_cache_threads.c). */
void test_single_flight_50_ok(void **state);
void test_single_flight_50_refusal(void **state);
void test_fd_readable_on_completion(void **state);
void test_fd_subscribe_after_done_and_unsubscribe(void **state);
void test_fd_closed_early_is_never_written(void **state);
void test_wait_caller_deadline(void **state);
void test_wait_flight_deadline(void **state);
void test_stress(void **state);

#endif
