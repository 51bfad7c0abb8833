/* Entity B's decision for one psk_identity: parse, allow-list, cache, single-flight fetch. */
#include "saef_entityb.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "saef_ascii.h"
#include "saef_id.h"

struct saef_eb {
    saef_maf_client_t *maf;       /* borrowed */
    saef_cache_t *cache;          /* borrowed */
    saef_credmap_live_t *credmap; /* borrowed, optional */
    uint32_t flight_timeout_ms;
    void (*on_fetch)(void *arg, const char *key_id, const saef_maf_result_t *res);
    void *fetch_arg;
    saef_eb_store_t store; /* all NULL without a store */
};

/* One MAF retrieval on behalf of a cache flight.  The fetch owns the leader's flight reference
 * and gives it back when the MAF client reports, so the flight outlives every waiter that gives
 * up early (a libcoap bound, a host timeout). */
typedef struct fetch {
    saef_eb_t *eb;
    saef_cache_flight_t *flight; /* owned reference */
    char key_id[SAEF_ID_MAX];
    size_t endpoint;             /* the MAF, for a store miss */
    char rel[SAEF_ID_REL_MAX + 1];
    size_t rel_len;
} fetch_t;

static void set_detail(char *detail, size_t len, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void set_detail(char *detail, size_t len, const char *fmt, ...)
{
    va_list ap;

    if (detail == NULL || len == 0)
        return;
    va_start(ap, fmt);
    vsnprintf(detail, len, fmt, ap);
    va_end(ap);
}

void saef_eb_answer_clear(saef_eb_answer_t *ans)
{
    if (ans != NULL)
        OPENSSL_cleanse(ans, sizeof(*ans));
}

saef_rc_t saef_eb_new(const saef_eb_params_t *params, saef_eb_t **out)
{
    saef_eb_t *eb;

    if (out == NULL)
        return SAEF_E_INVALID_ARG;
    *out = NULL;
    if (params == NULL || params->maf == NULL || params->cache == NULL ||
        params->flight_timeout_ms == 0)
        return SAEF_E_INVALID_ARG;
    eb = calloc(1, sizeof(*eb));
    if (eb == NULL)
        return SAEF_E_NOMEM;
    eb->maf = params->maf;
    eb->cache = params->cache;
    eb->credmap = params->credmap;
    eb->flight_timeout_ms = params->flight_timeout_ms;
    eb->on_fetch = params->on_fetch;
    eb->fetch_arg = params->fetch_arg;
    if (params->store != NULL && params->store->get != NULL)
        eb->store = *params->store;
    *out = eb;
    return SAEF_OK;
}

void saef_eb_free(saef_eb_t *eb)
{
    free(eb);
}

static void copy_str(char *dst, size_t cap, const char *src)
{
    snprintf(dst, cap, "%s", src != NULL ? src : "");
}

void saef_eb_bind(saef_eb_t *eb, int source_kind, const char *source_id, saef_eb_binding_t *b)
{
    saef_credmap_hit_t hit;

    b->credential_id[0] = '\0';
    switch (source_kind) {
    case SAEF_MAF_SOURCE_CSE_ID:
        b->kind = SAEF_PEER_CSE_ID;
        copy_str(b->peer_id, sizeof(b->peer_id), source_id);
        return;
    case SAEF_MAF_SOURCE_AE_ID:
        b->kind = SAEF_PEER_AE_ID;
        copy_str(b->peer_id, sizeof(b->peer_id), source_id);
        return;
    case SAEF_MAF_SOURCE_KMID:
        break;
    default:
        /* The answer validation admits nothing else; never bind to an unknown kind. */
        b->kind = SAEF_PEER_NONE;
        b->peer_id[0] = '\0';
        return;
    }
    b->kind = SAEF_PEER_CREDENTIAL_ID;
    if (saef_id_credid_from_kmid(source_id, strlen(source_id), b->credential_id,
                                 sizeof(b->credential_id)) != SAEF_OK) {
        b->kind = SAEF_PEER_NONE;
        b->peer_id[0] = '\0';
        return;
    }
    copy_str(b->peer_id, sizeof(b->peer_id), b->credential_id);
    if (eb != NULL && eb->credmap != NULL &&
        saef_credmap_live_match(eb->credmap, b->credential_id, strlen(b->credential_id), &hit) ==
            SAEF_OK) {
        b->kind = hit.kind;
        copy_str(b->peer_id, sizeof(b->peer_id), hit.target);
    }
}

/* Fill the answer from a cached value. */
static void answer_from_value(saef_eb_t *eb, const saef_cache_value_t *v, saef_eb_answer_t *ans)
{
    memcpy(ans->psk, v->psk, v->psk_len);
    ans->psk_len = v->psk_len;
    ans->binding.kc_expiry = v->expiry;
    ans->binding.suid = v->suid;
    copy_str(ans->binding.admin_fqdn, sizeof(ans->binding.admin_fqdn), v->admin_fqdn);
    saef_eb_bind(eb, v->source_kind, v->source_id, &ans->binding);
}

/* Which failures of a retrieval are the MAF's verdict on the key (cached as refusals for the
 * negative TTL) rather than trouble on the way (docs/maf-binding.md section 8). */
static bool refusal_is_cacheable(saef_rc_t rc)
{
    switch (rc) {
    case SAEF_E_MAF_REFUSED:
    case SAEF_E_MAF_SUID:
    case SAEF_E_MAF_EXPIRED:
    case SAEF_E_MAF_KEY_LENGTH:
    case SAEF_E_MAF_SOURCE_ID:
    case SAEF_E_MAF_ADMIN_FQDN:
        return true;
    default:
        return false;
    }
}

/* The fetch is over, one way or another: complete the flight for everyone and free it. */
static void fetch_complete(fetch_t *f, saef_rc_t rc, const saef_cache_value_t *v, bool cacheable)
{
    struct timespec now;

    clock_gettime(CLOCK_REALTIME, &now);
    saef_cache_complete(f->eb->cache, f->flight, rc, rc == SAEF_OK ? v : NULL, cacheable, &now);
    saef_cache_flight_release(f->flight);
    free(f);
}

/* MAF client worker thread: the retrieval is over. */
static void fetch_done(void *user, const saef_maf_result_t *res)
{
    fetch_t *f = user;
    saef_cache_value_t v;

    memset(&v, 0, sizeof(v));
    if (f->eb->on_fetch != NULL)
        f->eb->on_fetch(f->eb->fetch_arg, f->key_id, res);
    if (res->rc == SAEF_OK) {
        memcpy(v.psk, res->key.key, res->key.key_len);
        v.psk_len = res->key.key_len;
        v.expiry = res->key.expires;
        v.suid = (uint16_t)res->key.suid;
        v.source_kind = (int)res->key.source_kind;
        copy_str(v.source_id, sizeof(v.source_id), res->key.source_id);
        copy_str(v.admin_fqdn, sizeof(v.admin_fqdn), res->key.admin_fqdn);
        if (f->eb->store.put != NULL)
            f->eb->store.put(f->eb->store.arg, f->key_id, &v);
    }
    fetch_complete(f, res->rc, &v, refusal_is_cacheable(res->rc));
    saef_cache_value_clear(&v);
}

/* Ask the MAF; on a submission failure the flight is completed with the reason at once, so
 * that waiters do not sit out the deadline. */
static saef_rc_t fetch_from_maf(fetch_t *f, char *detail, size_t detail_len)
{
    saef_rc_t rc = saef_maf_retrieve_submit(f->eb->maf, f->endpoint, f->rel, f->rel_len,
                                            fetch_done, f, NULL, detail, detail_len);

    if (rc != SAEF_OK)
        fetch_complete(f, rc, NULL, false);
    return rc;
}

/* A stored value is bound like a MAF answer: its source must be what the answer validation
 * would have accepted, of the kind it claims. */
static bool store_value_ok(const saef_cache_value_t *v)
{
    saef_maf_source_kind_t kind;

    return v != NULL && v->psk_len > 0 && v->psk_len <= sizeof(v->psk) &&
           saef_maf_source_classify(v->source_id, strnlen(v->source_id, sizeof(v->source_id)),
                                    &kind) == SAEF_OK &&
           (int)kind == v->source_kind;
}

/* The store's answer (any thread): a key, a revocation, or anything else: ask the MAF (a store
 * that fails must not turn into a cached refusal). */
static void store_done(void *user, saef_rc_t rc, const saef_cache_value_t *v)
{
    fetch_t *f = user;

    if (rc == SAEF_OK && store_value_ok(v))
        fetch_complete(f, SAEF_OK, v, false);
    else if (rc == SAEF_E_KEY_REVOKED)
        fetch_complete(f, rc, NULL, true);
    else
        (void)fetch_from_maf(f, NULL, 0);
}

/* As leader of a new flight: start the fetch (the store first when there is one, else the
 * MAF).  The fetch owns the leader's reference from here on, also on failure. */
static saef_rc_t start_fetch(saef_eb_t *eb, size_t endpoint, const saef_id_scoped_t *id,
                             const char *key_id, saef_cache_flight_t *flight, char *detail,
                             size_t detail_len)
{
    fetch_t *f = malloc(sizeof(*f));
    struct timespec now;

    if (f == NULL || id->rel.len >= sizeof(f->rel)) {
        free(f);
        clock_gettime(CLOCK_REALTIME, &now);
        saef_cache_complete(eb->cache, flight, SAEF_E_NOMEM, NULL, false, &now);
        saef_cache_flight_release(flight);
        return SAEF_E_NOMEM;
    }
    f->eb = eb;
    f->flight = flight;
    f->endpoint = endpoint;
    memcpy(f->rel, id->rel.ptr, id->rel.len);
    f->rel[id->rel.len] = '\0';
    f->rel_len = id->rel.len;
    copy_str(f->key_id, sizeof(f->key_id), key_id);
    set_detail(detail, detail_len, "%s", "");
    /* On SAEF_OK the store owns f until it calls store_done(), which frees it. */
    if (eb->store.get != NULL && eb->store.get(eb->store.arg, f->key_id, store_done, f) == SAEF_OK)
        /* cppcheck-suppress memleak */
        return SAEF_OK;
    return fetch_from_maf(f, detail, detail_len);
}

/* Canonical Key Identifier: the RelativeKeyID as sent, '@', the FQDN in lower case without
 * its trailing dot: one cache entry per key however the peer spells the MAF's name. */
static void canonical_key_id(const saef_id_scoped_t *id, char *out, size_t cap)
{
    size_t i, n = 0;

    for (i = 0; i < id->rel.len && n + 1 < cap; i++)
        out[n++] = id->rel.ptr[i];
    if (n + 1 < cap)
        out[n++] = '@';
    for (i = 0; i < id->fqdn.len && n + 1 < cap; i++)
        out[n++] = saef_ascii_lower(id->fqdn.ptr[i]);
    out[n] = '\0';
}

saef_rc_t saef_eb_key_id(const char *s, size_t len, char *out, size_t cap)
{
    saef_id_scoped_t id;
    saef_rc_t rc;

    if (s == NULL || out == NULL || cap < SAEF_ID_MAX)
        return SAEF_E_INVALID_ARG;
    rc = saef_id_keyid_parse(s, len, &id);
    if (rc == SAEF_OK)
        canonical_key_id(&id, out, cap);
    return rc;
}

/* The FQDN part of an identity that does not parse as a Key Identifier, for the allow-list
 * check: everything after the last '@', without a trailing dot. */
static bool fqdn_part(const char *identity, size_t len, const char **fqdn, size_t *flen)
{
    const char *at = NULL;
    size_t i;

    for (i = len; i > 0; i--) {
        if (identity[i - 1] == '@') {
            at = identity + i - 1;
            break;
        }
    }
    if (at == NULL)
        return false;
    *fqdn = at + 1;
    *flen = len - (size_t)(at + 1 - identity);
    return *flen > 0;
}

saef_eb_status_t saef_eb_begin(saef_eb_t *eb, const char *identity, size_t len,
                               const struct timespec *now, saef_eb_answer_t *ans, saef_rc_t *rc,
                               saef_rc_t *cause, saef_cache_flight_t **flight, char *detail,
                               size_t detail_len)
{
    saef_id_scoped_t id;
    saef_cache_value_t v;
    size_t endpoint, flen;
    const char *fqdn;
    saef_rc_t prc, dummy_cause;

    if (cause == NULL)
        cause = &dummy_cause;
    memset(ans, 0, sizeof(*ans));
    *flight = NULL;
    *rc = saef_id_keyid_parse(identity, len, &id);
    if (*rc != SAEF_OK) {
        /* Bad syntax: ours only when the FQDN part names one of our MAFs (then it fails like a
         * wrong key); otherwise the host's own PSK table may know it. */
        if (!fqdn_part(identity, len, &fqdn, &flen) ||
            saef_maf_client_find(eb->maf, fqdn, flen, &endpoint) != SAEF_OK)
            return SAEF_EB_NOT_OURS;
        *cause = *rc;
        set_detail(detail, detail_len, "malformed Key Identifier: %s", saef_strerror(*rc));
        return SAEF_EB_DONE;
    }
    if (saef_maf_client_find(eb->maf, id.fqdn.ptr, id.fqdn.len, &endpoint) != SAEF_OK)
        return SAEF_EB_NOT_OURS;
    canonical_key_id(&id, ans->binding.key_id, sizeof(ans->binding.key_id));
    snprintf(ans->binding.maf_fqdn, sizeof(ans->binding.maf_fqdn), "%s",
             strchr(ans->binding.key_id, '@') + 1);

    {
        saef_cache_flight_t *leader;
        saef_cache_status_t st = saef_cache_lookup(eb->cache, ans->binding.key_id,
                                                   strlen(ans->binding.key_id), now, &v, &prc,
                                                   flight);
        switch (st) {
        case SAEF_CACHE_HIT:
            answer_from_value(eb, &v, ans);
            saef_cache_value_clear(&v);
            *rc = *cause = SAEF_OK;
            return SAEF_EB_DONE;
        case SAEF_CACHE_NEGATIVE:
            *rc = SAEF_E_NEGATIVE_CACHED;
            *cause = prc;
            set_detail(detail, detail_len, "recent refusal cached: %s", saef_strerror(prc));
            return SAEF_EB_DONE;
        case SAEF_CACHE_MISS_PENDING:
            *rc = *cause = SAEF_OK;
            return SAEF_EB_WAIT;
        case SAEF_CACHE_MISS_FETCH:
            /* Take a waiter's reference of our own BEFORE the fetch starts: the leader's
             * reference belongs to the fetch, and a fetch that fails at once must not let a
             * second lookup start a second one. */
            leader = *flight;
            *flight = NULL;
            st = saef_cache_lookup(eb->cache, ans->binding.key_id, strlen(ans->binding.key_id),
                                   now, NULL, &prc, flight);
            if (st != SAEF_CACHE_MISS_PENDING) {
                saef_cache_complete(eb->cache, leader, SAEF_E_INTERNAL, NULL, false, now);
                saef_cache_flight_release(leader);
                saef_cache_flight_release(*flight);
                *flight = NULL;
                *rc = *cause = SAEF_E_INTERNAL;
                set_detail(detail, detail_len, "key cache lost a new flight");
                return SAEF_EB_DONE;
            }
            prc = start_fetch(eb, endpoint, &id, ans->binding.key_id, leader, detail,
                              detail_len);
            if (prc != SAEF_OK) {
                saef_cache_flight_release(*flight);
                *flight = NULL;
                *rc = *cause = prc;
                return SAEF_EB_DONE;
            }
            *rc = *cause = SAEF_OK;
            return SAEF_EB_WAIT;
        case SAEF_CACHE_BUSY:
            *rc = *cause = SAEF_E_BUSY;
            set_detail(detail, detail_len, "too many key retrievals in flight");
            return SAEF_EB_DONE;
        case SAEF_CACHE_ERROR:
        default:
            *rc = *cause = prc != SAEF_OK ? prc : SAEF_E_INTERNAL;
            set_detail(detail, detail_len, "key cache: %s", saef_strerror(*rc));
            return SAEF_EB_DONE;
        }
    }
}

saef_rc_t saef_eb_finish(saef_eb_t *eb, saef_cache_flight_t *flight,
                         const struct timespec *wait_deadline, saef_eb_answer_t *ans,
                         char *detail, size_t detail_len)
{
    saef_cache_value_t v;
    saef_rc_t rc;

    memset(&v, 0, sizeof(v));
    if (wait_deadline != NULL) {
        rc = saef_cache_flight_wait(flight, wait_deadline, &v);
    } else {
        struct timespec now;

        clock_gettime(CLOCK_REALTIME, &now);
        if (!saef_cache_flight_poll(flight, &now, &rc, &v))
            rc = SAEF_E_TIMEOUT;
    }
    saef_cache_flight_release(flight);
    if (rc == SAEF_OK)
        answer_from_value(eb, &v, ans);
    else
        set_detail(detail, detail_len, "key retrieval: %s", saef_strerror(rc));
    saef_cache_value_clear(&v);
    return rc;
}

saef_rc_t saef_eb_lookup(saef_eb_t *eb, const char *identity, size_t len, uint32_t timeout_ms,
                         saef_eb_answer_t *ans, char *detail, size_t detail_len)
{
    saef_cache_flight_t *flight;
    struct timespec now, deadline;
    saef_rc_t rc;

    clock_gettime(CLOCK_REALTIME, &now);
    switch (saef_eb_begin(eb, identity, len, &now, ans, &rc, NULL, &flight, detail, detail_len)) {
    case SAEF_EB_NOT_OURS:
        set_detail(detail, detail_len, "not a Key Identifier of a configured MAF");
        return SAEF_E_MAF_UNKNOWN;
    case SAEF_EB_DONE:
        return rc;
    case SAEF_EB_WAIT:
        break;
    }
    if (timeout_ms == 0)
        timeout_ms = eb->flight_timeout_ms;
    deadline = now;
    deadline.tv_sec += timeout_ms / 1000;
    deadline.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
    if (deadline.tv_nsec >= 1000000000L) {
        deadline.tv_sec++;
        deadline.tv_nsec -= 1000000000L;
    }
    return saef_eb_finish(eb, flight, &deadline, ans, detail, detail_len);
}
