/*
 * Entity B's decision for one psk_identity (TS-0003 8.2.2.3 steps 8-14), independent of the TLS
 * stack: strict parse, MAF allow-list, key cache, single-flight MAF Key Retrieval, binding.
 * The TLS adapters (tls_openssl.c, tls_coap.c) call it from their PSK callbacks and decide how
 * to wait (block, pause an OpenSSL ASYNC job, or a short bound for libcoap).  No logging: every
 * outcome is a result code plus a detail line; the caller logs and counts.
 */
#ifndef SAEF_ENTITYB_H
#define SAEF_ENTITYB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "saef_cache.h"
#include "saef_credmap.h"
#include "saef_maf.h"
#include "saef_rc.h"

#define SAEF_EB_DETAIL_MAX 256

/* Everything the handshake and the host learn about the peer.  No key bytes. */
typedef struct saef_eb_binding {
    saef_peer_kind_t kind;          /* CSE-ID, AE-ID or unresolved Credential-ID */
    char peer_id[SAEF_ID_MAX];      /* the bound ID */
    char credential_id[SAEF_ID_MAX]; /* "11-<KmID>" when the MAF returned a KmID, else "" */
    char key_id[SAEF_ID_MAX];       /* canonical Key Identifier: RelativeKeyID@maf-fqdn */
    char maf_fqdn[SAEF_FQDN_MAX];   /* lower case, no trailing dot */
    struct timespec kc_expiry;      /* Kc lifetime end (UTC) */
    uint16_t suid;
    char admin_fqdn[SAEF_FQDN_MAX];
} saef_eb_binding_t;

/* The answer for one identity: the PSK (secret) and the binding. */
typedef struct saef_eb_answer {
    uint8_t psk[SAEF_CACHE_PSK_MAX]; /* owned, secret: wipe with saef_eb_answer_clear() */
    size_t psk_len;
    saef_eb_binding_t binding;
} saef_eb_answer_t;

/* Wipe the PSK of an answer (and forget the rest). */
void saef_eb_answer_clear(saef_eb_answer_t *ans);

typedef struct saef_eb saef_eb_t; /* opaque */

/*
 * Optional shared key store consulted on a cache miss before the MAF (the module's key vault
 * in PostgreSQL), and told every key the MAF returns.  Values are saef_cache_value_t with the
 * source_kind of saef_maf_source_kind_t.
 *   get   start a lookup of key_id (canonical Key Identifier; valid only until done() is
 *         called, which may happen on another thread before get returns: copy it).  Unless
 *         it returns an error, it calls done(user, rc, v) exactly once, from any thread:
 *         rc SAEF_OK with v (borrowed for the call; a value whose source_id is not of its
 *         source_kind is ignored), SAEF_E_KEY_REVOKED, which fails the handshakes and is
 *         cached for the negative TTL, or anything else (SAEF_E_NOT_FOUND; a store that is
 *         unreachable or too slow) to ask the MAF.  An error return also means "ask the
 *         MAF".  Must not block.  With a store, the cache's max_ttl_ms re-asks the store, not
 *         the MAF.
 *   put   keep a key the MAF returned (copy it; must not block).
 */
typedef void (*saef_eb_store_done_t)(void *user, saef_rc_t rc, const saef_cache_value_t *v);

typedef struct saef_eb_store {
    saef_rc_t (*get)(void *arg, const char *key_id, saef_eb_store_done_t done, void *user);
    void (*put)(void *arg, const char *key_id, const saef_cache_value_t *v);
    void *arg; /* borrowed */
} saef_eb_store_t;

typedef struct saef_eb_params {
    saef_maf_client_t *maf;        /* borrowed: configured MAFs (the allow-list) */
    saef_cache_t *cache;           /* borrowed: key cache with single flight */
    saef_credmap_live_t *credmap;  /* borrowed, optional: Credential-ID -> CSE-ID/AE-ID */
    uint32_t flight_timeout_ms;    /* longest wait of a blocking lookup for a fetch */
    /* Optional: told the outcome of every MAF retrieval (on the MAF client's thread; must not
     * block), e.g. to log the MAF's own reason, which the handshakes only see as a code. */
    void (*on_fetch)(void *arg, const char *key_id, const saef_maf_result_t *res);
    void *fetch_arg; /* borrowed */
    const saef_eb_store_t *store; /* optional; copied */
} saef_eb_params_t;

/* Create an engine over borrowed parts (they must outlive it).  Returns SAEF_OK,
 * SAEF_E_INVALID_ARG or SAEF_E_NOMEM. */
saef_rc_t saef_eb_new(const saef_eb_params_t *params, saef_eb_t **out);
void saef_eb_free(saef_eb_t *eb);

typedef enum saef_eb_status {
    SAEF_EB_NOT_OURS = 0, /* not a Key Identifier of a configured MAF: hand to the host */
    SAEF_EB_DONE,         /* decided: *rc says whether ans holds a key */
    SAEF_EB_WAIT,         /* a fetch is under way: wait on *flight, then saef_eb_finish() */
} saef_eb_status_t;

/*
 * First step for one psk_identity.
 *   identity, len  the bytes the peer sent (untrusted, not NUL-terminated).
 *   now            CLOCK_REALTIME.
 *   ans            caller buffer: on DONE with *rc == SAEF_OK holds the PSK and binding; on
 *                  DONE with an error and on WAIT, ans->binding.key_id names the key (for logs).
 *   rc             the decision on DONE: SAEF_OK, or why the handshake must fail (parse error
 *                  SAEF_E_ID_*, SAEF_E_NEGATIVE_CACHED for a cached refusal whose original code
 *                  is in *cause, SAEF_E_BUSY, a MAF submission failure).
 *   cause          optional: for SAEF_E_NEGATIVE_CACHED the cached refusal, else = *rc.
 *   flight         on WAIT: a flight handle the caller owns; pass it to saef_eb_finish().
 *   detail         optional one-line reason.
 * A syntactically bad identity whose FQDN part names no configured MAF is NOT_OURS (the host's
 * own PSK table may know it); a bad identity can never reach a MAF.  On a miss this call starts
 * the MAF retrieval (which completes the flight from the MAF client's thread) and returns WAIT.
 * Thread-safe; never blocks on the network.
 */
saef_eb_status_t saef_eb_begin(saef_eb_t *eb, const char *identity, size_t len,
                               const struct timespec *now, saef_eb_answer_t *ans, saef_rc_t *rc,
                               saef_rc_t *cause, saef_cache_flight_t **flight, char *detail,
                               size_t detail_len);

/*
 * Finish a WAIT: take the flight's result (or, when wait_deadline is given, block until it or
 * the flight is done), fill ans (PSK and binding) and release the flight.
 *   wait_deadline  NULL: do not block (the caller saw the flight finish, e.g. via an fd);
 *                  else an absolute CLOCK_REALTIME to block until.
 * Returns SAEF_OK (ans holds the key) or the failure (SAEF_E_TIMEOUT when the deadline passed
 * first, the MAF client's code otherwise).
 */
saef_rc_t saef_eb_finish(saef_eb_t *eb, saef_cache_flight_t *flight,
                         const struct timespec *wait_deadline, saef_eb_answer_t *ans,
                         char *detail, size_t detail_len);

/* Blocking convenience: begin, then finish with a deadline of now + timeout_ms (0: the engine's
 * flight_timeout_ms).  NOT_OURS is reported as SAEF_E_MAF_UNKNOWN. */
saef_rc_t saef_eb_lookup(saef_eb_t *eb, const char *identity, size_t len, uint32_t timeout_ms,
                         saef_eb_answer_t *ans, char *detail, size_t detail_len);

/* The canonical form of a Key Identifier (RelativeKeyID@fqdn, the FQDN in lower case without
 * its trailing dot), as the cache, the vault and the database know it.  out has cap >=
 * SAEF_ID_MAX bytes.  Returns SAEF_OK, a SAEF_E_ID_* parse error, or SAEF_E_INVALID_ARG. */
saef_rc_t saef_eb_key_id(const char *s, size_t len, char *out, size_t cap);

/* Resolve a binding's peer from the MAF's Source MAF Client ID (TS-0003 8.2.2.3 steps 13-14):
 * CSE-ID/AE-ID bind directly; a KmID becomes the Credential-ID "11-<KmID>", resolved through
 * the credential map, or left as an unresolved Credential-ID. */
void saef_eb_bind(saef_eb_t *eb, int source_kind, const char *source_id, saef_eb_binding_t *b);

#endif /* SAEF_ENTITYB_H */
