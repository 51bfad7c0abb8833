/*
 * The key cache: Kc by Key Identifier, in memory, for the PSK callback of the handshake.
 *
 * What it guarantees
 *   - O(1) lookup: a hash table keyed by the exact Key Identifier bytes.  The cache does no
 *     canonicalisation: callers lower-case the MAF-FQDN (and drop a trailing dot) before.
 *     The hash is keyed with a per-cache random secret, so chosen identities cannot pile up in
 *     one bucket.
 *   - Bounded: at most `capacity` entries, positive and negative together, least recently used
 *     evicted first.  The table is split into shards, each with its own lock and LRU list and
 *     an equal share of the capacity; so LRU order is exact within a shard and approximate
 *     across shards (a small cache gets one shard and exact order).
 *   - An entry never outlives the MAF's expirationTime: an entry whose expiry <= now is a miss
 *     and is removed by the lookup that finds it (saef_cache_sweep() removes the rest).
 *   - Negative entries remember a MAF refusal for negative_ttl_ms.  Transient failures (MAF
 *     unreachable, timeouts, circuit open, resource shortage) are never cached.
 *   - Single flight: however many lookups miss one Key Identifier at once, exactly one of them
 *     (the leader, SAEF_CACHE_MISS_FETCH) fetches; the others get SAEF_CACHE_MISS_PENDING and a
 *     handle on the same flight.  Waiting on a flight is possible three ways: block with a
 *     deadline, poll (an OpenSSL ASYNC job between ASYNC_pause_job() calls), or have a file
 *     descriptor made readable (an event loop).  New flights are bounded by max_flights;
 *     beyond it a lookup answers SAEF_CACHE_BUSY and the handshake fails fast.
 *   - A flight that its leader never completes ends at its deadline (flight_timeout_ms after it
 *     started) with SAEF_E_TIMEOUT for everyone waiting, and the next lookup starts a new one.
 *   - Key bytes are wiped (OPENSSL_cleanse) whenever an entry or a flight's copy of the result
 *     is released: eviction, expiry, replacement, saef_cache_evict(), saef_cache_free().
 *
 * Time
 *   Every `now` is CLOCK_REALTIME (the MAF's expirationTime is wall-clock time), passed in by
 *   the caller so that tests are deterministic.  Deadlines given to saef_cache_flight_wait()
 *   are absolute CLOCK_REALTIME too, because that is the clock the condition variable uses.
 *
 * Threads
 *   Every function is thread-safe except saef_cache_new() and saef_cache_free().  A lookup
 *   takes only its shard's mutex, for a copy of at most one value; fetching happens outside the
 *   cache, so no lock is ever held across a fetch.  No lock is held while the cache writes to
 *   subscribed descriptors or calls a callback (allocator, saef_cache_foreach_meta()).
 *   Locks are never nested: a shard's mutex and a flight's mutex are never held together.
 *
 * Stack
 *   No function keeps more than a few hundred bytes on the stack, so lookup, poll, subscribe
 *   and release are safe inside an OpenSSL ASYNC job's 32 KiB fibre.  saef_cache_flight_wait()
 *   blocks and therefore does not belong in a fibre.
 *
 * The cache has no thread of its own and does no logging.
 */
#ifndef SAEF_CACHE_H
#define SAEF_CACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "saef_rc.h"

/* Longest Key Identifier, bytes (TS-0003: RelativeKeyID@MAF-FQDN fits a 255-byte identity). */
#define SAEF_CACHE_KEY_MAX 255
/* Largest PSK the cache holds, bytes (Kc is 32; 64 leaves room for other uses). */
#define SAEF_CACHE_PSK_MAX 64
/* Upper bounds of the parameters, to keep table sizes and arithmetic sane. */
#define SAEF_CACHE_CAPACITY_MAX (1u << 24)
#define SAEF_CACHE_FLIGHTS_MAX (1u << 20)
#define SAEF_CACHE_SHARDS_MAX 256u

/*
 * One cached key and the MAF's metadata about it.  Lookups copy it into a caller buffer; the
 * caller owns that copy and wipes it with saef_cache_value_clear() when done.
 */
typedef struct saef_cache_value {
    uint8_t psk[SAEF_CACHE_PSK_MAX]; /* Kc, psk_len bytes: secret */
    size_t psk_len;                  /* 1..SAEF_CACHE_PSK_MAX */
    struct timespec expiry;          /* the MAF's expirationTime (CLOCK_REALTIME) */
    uint16_t suid;                   /* SUID the MAF returned */
    int source_kind;                 /* the caller's own enum for the kind of source_id */
    char source_id[SAEF_ID_MAX];     /* Source MAF Client ID, NUL-terminated */
    char admin_fqdn[SAEF_FQDN_MAX];  /* adminFQDN, NUL-terminated */
} saef_cache_value_t;

/* Wipe *v (key bytes and metadata); NULL-safe.  Use it on every copy a lookup produced. */
void saef_cache_value_clear(saef_cache_value_t *v);

/*
 * Optional allocator for the per-key objects (entries and flights), the only memory that holds
 * key bytes.  free receives memory that has already been wiped, with the size that alloc was
 * asked for: hooks can account memory, and tests can check the wipe.  Both must be thread-safe
 * and must not call back into the cache.  Other (metadata) memory uses malloc.
 */
typedef struct saef_cache_allocator {
    void *(*alloc)(void *ctx, size_t size);          /* NULL on failure */
    void (*free)(void *ctx, void *ptr, size_t size); /* never called with NULL */
    void *ctx;                                       /* borrowed, passed to both */
} saef_cache_allocator_t;

typedef struct saef_cache_params {
    size_t capacity;            /* entries, positive and negative: 1..SAEF_CACHE_CAPACITY_MAX */
    size_t max_flights;         /* concurrent fetches: 1..SAEF_CACHE_FLIGHTS_MAX */
    uint64_t negative_ttl_ms;   /* lifetime of a cached refusal; 0 = never cache refusals */
    bool expired_as_refusal;    /* a positive entry whose value's expiry passed becomes the
                                 * refusal SAEF_E_KEY_EXPIRED for negative_ttl_ms instead of
                                 * leaving (lookups then say why; nobody re-asks the source) */
    uint64_t flight_timeout_ms; /* a flight's deadline after it starts; > 0 */
    uint64_t max_ttl_ms;        /* optional cap on a positive entry's life (to re-ask the MAF
                                 * now and then); 0 = the MAF's expirationTime alone */
    unsigned shards;            /* 0 = chosen from capacity; else a power of two
                                 * <= SAEF_CACHE_SHARDS_MAX and <= capacity */
    const saef_cache_allocator_t *allocator; /* borrowed for saef_cache_new() (copied);
                                              * NULL = malloc/free */
} saef_cache_params_t;

typedef struct saef_cache saef_cache_t;               /* opaque */
typedef struct saef_cache_flight saef_cache_flight_t; /* opaque, refcounted */

/*
 * Create a cache.
 *   params  borrowed for the call.
 *   out     receives the cache (owned by the caller: saef_cache_free()); NULL on error.
 * Returns SAEF_OK; SAEF_E_INVALID_ARG for a NULL argument or a parameter out of range;
 * SAEF_E_NOMEM; SAEF_E_INTERNAL when the random hash key or a mutex cannot be set up.
 */
saef_rc_t saef_cache_new(const saef_cache_params_t *params, saef_cache_t **out);

/*
 * Wipe and free every entry, then the cache; NULL-safe.  No other thread may use the cache or
 * any of its flights during the call (stop the handshakes first).  Flights still in progress
 * are finished with SAEF_E_STATE (waiters wake, descriptors are signalled); handles that
 * callers still hold stay valid, but from then on may only be polled, waited on, unsubscribed
 * from and released, never completed.
 */
void saef_cache_free(saef_cache_t *cache);

typedef enum saef_cache_status {
    SAEF_CACHE_HIT = 0,      /* *out_value holds the key */
    SAEF_CACHE_NEGATIVE,     /* a cached refusal: *out_rc is the MAF's refusal code */
    SAEF_CACHE_MISS_FETCH,   /* you are the leader: fetch, then saef_cache_complete() */
    SAEF_CACHE_MISS_PENDING, /* a fetch is under way: wait on *out_flight */
    SAEF_CACHE_BUSY,         /* max_flights fetches are under way: fail the handshake now */
    SAEF_CACHE_ERROR,        /* *out_rc: SAEF_E_INVALID_ARG or SAEF_E_NOMEM */
} saef_cache_status_t;

/*
 * Look up key_id at time now.
 *   key_id, key_id_len  the canonical Key Identifier, 1..SAEF_CACHE_KEY_MAX bytes, borrowed.
 *   now                 CLOCK_REALTIME; an entry with expiry <= now is removed and missed.
 *   out_value           optional caller buffer; written only on SAEF_CACHE_HIT (the caller then
 *                       owns a copy of the key and wipes it: saef_cache_value_clear()).
 *   out_rc              optional: SAEF_OK for HIT, MISS_FETCH and MISS_PENDING; the cached
 *                       refusal for NEGATIVE; SAEF_E_BUSY for BUSY; the error for ERROR.
 *   out_flight          required: on MISS_FETCH and MISS_PENDING receives a flight handle the
 *                       caller owns (release it with saef_cache_flight_release()); NULL
 *                       otherwise.
 * A hit makes the entry the most recently used.  On MISS_FETCH the caller must eventually call
 * saef_cache_complete() on the flight, with a success or an error; until it does, the others
 * wait at most until the flight's deadline.  A pending flight whose deadline has passed is
 * ended with SAEF_E_TIMEOUT and this lookup becomes the leader of a new one.
 */
saef_cache_status_t saef_cache_lookup(saef_cache_t *cache, const char *key_id, size_t key_id_len,
                                      const struct timespec *now, saef_cache_value_t *out_value,
                                      saef_rc_t *out_rc, saef_cache_flight_t **out_flight);

/*
 * True for result codes that describe our side or the path to the MAF rather than the MAF's
 * answer about the key: saef_cache_complete() never caches them as refusals.
 * (SAEF_E_MAF_UNREACHABLE, SAEF_E_MAF_TIMEOUT, SAEF_E_MAF_CIRCUIT_OPEN, SAEF_E_TIMEOUT,
 * SAEF_E_BUSY, SAEF_E_NOMEM, SAEF_E_IO, SAEF_E_INTERNAL, SAEF_E_STATE, SAEF_E_INVALID_ARG.)
 */
bool saef_cache_rc_transient(saef_rc_t rc);

/*
 * The leader's answer for its flight.  Stores the result, then wakes every waiter and signals
 * every subscribed descriptor.
 *   flight         borrowed: the leader's handle (the caller still releases it afterwards).
 *   rc             SAEF_OK with value, or the failure of the fetch.
 *   value          borrowed, required when rc == SAEF_OK: psk_len 1..SAEF_CACHE_PSK_MAX,
 *                  strings NUL-terminated within their buffers, expiry > now.  Copied.
 *   cache_failure  for rc != SAEF_OK: cache the refusal for negative_ttl_ms.  Ignored for
 *                  codes saef_cache_rc_transient() names and when negative_ttl_ms is 0.
 *   now            CLOCK_REALTIME.
 * A positive entry lives until min(value->expiry, now + max_ttl_ms); a value whose expiry is
 * not after now is not stored, and waiters get SAEF_E_KEY_EXPIRED.  An existing entry for the
 * key is replaced (and wiped); when the shard is full, its least recently used entry goes.
 * After the flight's deadline the waiters have already been told SAEF_E_TIMEOUT: a late
 * complete() then only stores the result, and only when no newer flight or live entry exists
 * for the key.
 * Whenever cache and flight are valid and the flight was not completed before, the flight is
 * finished by this call, whatever it returns.
 * Returns SAEF_OK; SAEF_E_INVALID_ARG (NULL cache or flight, a flight of another cache, a NULL
 * or malformed now or value: waiters then get SAEF_E_INVALID_ARG); SAEF_E_KEY_EXPIRED;
 * SAEF_E_NOMEM (waiters still got the key, it just is not cached); SAEF_E_STATE when the
 * flight was already completed.
 */
saef_rc_t saef_cache_complete(saef_cache_t *cache, saef_cache_flight_t *flight, saef_rc_t rc,
                              const saef_cache_value_t *value, bool cache_failure,
                              const struct timespec *now);

/*
 * Block until the flight is finished or deadline passes.
 *   deadline   absolute CLOCK_REALTIME, or NULL to wait up to the flight's own deadline.  The
 *              flight's deadline always bounds the wait; reaching it ends the flight with
 *              SAEF_E_TIMEOUT for everyone.
 *   out_value  optional caller buffer, written when the result is SAEF_OK (caller wipes it).
 * Returns the flight's result (SAEF_OK, the fetch's failure, SAEF_E_TIMEOUT when the flight
 * timed out, SAEF_E_STATE when the cache was freed) or SAEF_E_TIMEOUT when deadline passed
 * first; SAEF_E_INVALID_ARG for a NULL flight.
 */
saef_rc_t saef_cache_flight_wait(saef_cache_flight_t *flight, const struct timespec *deadline,
                                 saef_cache_value_t *out_value);

/*
 * Non-blocking check.
 *   now        optional CLOCK_REALTIME: when given and the flight's deadline is <= now, the
 *              flight is ended with SAEF_E_TIMEOUT (for everyone) and reported finished.
 *   out_rc     required: receives the flight's result when finished.
 *   out_value  optional caller buffer, written when finished with SAEF_OK (caller wipes it).
 * Returns true when finished (then *out_rc is set), false while pending.  A NULL flight or
 * out_rc returns true with *out_rc = SAEF_E_INVALID_ARG (when out_rc is not NULL).
 */
bool saef_cache_flight_poll(saef_cache_flight_t *flight, const struct timespec *now,
                            saef_rc_t *out_rc, saef_cache_value_t *out_value);

/*
 * Have fd made readable when the flight finishes: the cache writes an 8-byte 1 to it (an
 * eventfd's counter goes up by one; a pipe gets 8 bytes).  The cache keeps its own duplicate
 * of fd (F_DUPFD_CLOEXEC) until it has signalled, so closing fd early never makes the cache
 * write to whatever file reuses the number.  Use a non-blocking descriptor: the completing
 * thread writes to it.  A flight that is already finished signals at once.  The same fd may be
 * subscribed twice and is then signalled twice.
 * No thread watches the deadline: a host waiting only on fd arms its own timer for
 * saef_cache_flight_deadline() and then polls with now (or runs saef_cache_sweep()).
 * Returns SAEF_OK; SAEF_E_INVALID_ARG (NULL flight, fd < 0); SAEF_E_IO (fd cannot be
 * duplicated); SAEF_E_NOMEM.
 */
saef_rc_t saef_cache_flight_subscribe_fd(saef_cache_flight_t *flight, int fd);

/*
 * Undo one subscription of fd.  When it returns, the cache will not write to fd's file again
 * on behalf of this subscription (if the flight is finishing at that moment, the call waits for
 * the writes to end).
 * Returns SAEF_OK; SAEF_E_NOT_FOUND (not subscribed, or already signalled);
 * SAEF_E_INVALID_ARG.
 */
saef_rc_t saef_cache_flight_unsubscribe_fd(saef_cache_flight_t *flight, int fd);

/* The flight's deadline (CLOCK_REALTIME) into *out.  Returns SAEF_OK or SAEF_E_INVALID_ARG. */
saef_rc_t saef_cache_flight_deadline(const saef_cache_flight_t *flight, struct timespec *out);

/* Drop one reference (from saef_cache_lookup()); NULL-safe.  The last reference wipes the
 * flight's copy of the result and frees it.  Releasing does not complete a flight: a leader
 * that gives up must call saef_cache_complete() with an error first. */
void saef_cache_flight_release(saef_cache_flight_t *flight);

/*
 * Admin revoke: remove the entry (positive or negative) for key_id and wipe it.  A fetch in
 * flight for key_id is not cancelled; the next lookup misses (or joins that flight).
 * Returns SAEF_OK, SAEF_E_NOT_FOUND or SAEF_E_INVALID_ARG.
 */
saef_rc_t saef_cache_evict(saef_cache_t *cache, const char *key_id, size_t key_id_len);

/*
 * Housekeeping, e.g. once a second from the module's timer: remove (and wipe) every entry whose
 * expiry <= now and end every flight whose deadline <= now with SAEF_E_TIMEOUT.  Without it
 * expired keys stay in memory until a lookup touches them.  One shard is locked at a time.
 *   removed  optional: number of entries removed.
 * Returns SAEF_OK or SAEF_E_INVALID_ARG.
 */
saef_rc_t saef_cache_sweep(saef_cache_t *cache, const struct timespec *now, size_t *removed);

typedef struct saef_cache_stats {
    uint64_t hits;            /* lookups answered HIT */
    uint64_t negative_hits;   /* lookups answered NEGATIVE */
    uint64_t misses;          /* lookups answered MISS_FETCH, MISS_PENDING or BUSY */
    uint64_t fetches;         /* flights started (MISS_FETCH) */
    uint64_t busy;            /* lookups refused for max_flights (BUSY) */
    uint64_t evictions;       /* entries pushed out by the capacity bound (LRU) */
    uint64_t expirations;     /* entries removed because expiry <= now */
    uint64_t removals;        /* entries removed by saef_cache_evict() */
    uint64_t flight_timeouts; /* flights ended by their deadline */
    size_t entries;           /* current entries, positive and negative */
    size_t negative_entries;  /* of which negative */
    size_t flights;           /* fetches in flight now */
    size_t capacity;          /* the configured bound, for ratios */
} saef_cache_stats_t;

/* Counters into *out.  Each shard is read under its lock, one after the other: the sum is
 * consistent per shard, not across shards.  Returns SAEF_OK or SAEF_E_INVALID_ARG. */
saef_rc_t saef_cache_stats(saef_cache_t *cache, saef_cache_stats_t *out);

/* Metadata of one entry for the admin views: never key bytes. */
typedef struct saef_cache_meta {
    char key_id[SAEF_CACHE_KEY_MAX + 1]; /* NUL-terminated copy of the Key Identifier */
    size_t key_id_len;
    bool negative;            /* a cached refusal */
    saef_rc_t refusal;        /* negative entries: the refusal code; else SAEF_OK */
    struct timespec inserted; /* now of the saef_cache_complete() that stored it */
    struct timespec expires;  /* when the entry leaves the cache */
    uint64_t hits;            /* lookups it answered */
    /* positive entries only (zero otherwise): */
    struct timespec kc_expiry; /* the MAF's expirationTime */
    size_t psk_len;
    uint16_t suid;
    int source_kind;
    char source_id[SAEF_ID_MAX];
    char admin_fqdn[SAEF_FQDN_MAX];
} saef_cache_meta_t;

/*
 * Metadata of the live entry for key_id (expiry > now) into *out, without touching LRU order or
 * counters.  Returns SAEF_OK, SAEF_E_NOT_FOUND or SAEF_E_INVALID_ARG.
 */
saef_rc_t saef_cache_get_meta(saef_cache_t *cache, const char *key_id, size_t key_id_len,
                              const struct timespec *now, saef_cache_meta_t *out);

/* Called once per entry; meta is borrowed for the call.  Return non-zero to stop. */
typedef int (*saef_cache_meta_fn)(void *arg, const saef_cache_meta_t *meta);

/*
 * Call fn for the metadata of every live entry (expiry > now), without touching LRU order or
 * counters.  Entries are copied out in batches under the shard lock and fn runs with no lock
 * held, so fn may call into the cache.  Entries added or removed meanwhile may or may not be
 * seen; none is seen twice.
 *   arg  borrowed, passed to fn.
 * Returns SAEF_OK (also when fn stopped early), SAEF_E_NOMEM or SAEF_E_INVALID_ARG.
 */
saef_rc_t saef_cache_foreach_meta(saef_cache_t *cache, const struct timespec *now,
                                  saef_cache_meta_fn fn, void *arg);

#endif /* SAEF_CACHE_H */
