/*
 * What start() builds and stop() tears down: Km loading, the MAF client, the key cache, the
 * database (saef_runtime_db.h, with db_conninfo), the decision engine, the TLS adapters, and
 * one housekeeping thread that logs (and audits) handshake decisions
 * (the handshake thread only queues them: no I/O there), sweeps the cache and closes live
 * sessions whose Kc expired when the configuration asks for it.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "saef_instance_internal.h"
#include "saef_rc.h"
#include "saef_secret.h"
#include "saef_time.h"

#define HOUSEKEEPING_PERIOD_MS 1000 /* cache sweep and Kc expiry */
#define LOG_DRAIN_MS 200            /* longest delay of a decision's log line */
#define EXPIRED_BATCH 64

int64_t saef_now_us(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* Report hook: runs on the handshake thread, possibly on a 32 KiB ASYNC fibre stack.  Copy
 * into the ring, wake the housekeeper, never block on I/O. */
static void queue_report(void *arg, const saef_tls_report_t *r)
{
    saef_instance_t *inst = arg;
    saef_runtime_t *rt = &inst->rt;
    saef_report_rec_t *rec;

    if (strcmp(r->transport, "maf") == 0)
        atomic_fetch_add(&rt->retrievals, 1);
    else if (r->rc == SAEF_OK)
        atomic_fetch_add(&rt->handshakes_ok, 1);
    else
        atomic_fetch_add(&rt->handshakes_failed, 1);
    pthread_mutex_lock(&rt->mu);
    if (rt->ring_count == SAEF_REPORT_RING) {
        rt->reports_dropped++;
        pthread_mutex_unlock(&rt->mu);
        return;
    }
    rec = &rt->ring[(rt->ring_head + rt->ring_count) % SAEF_REPORT_RING];
    rec->rc = r->rc;
    rec->cause = r->cause;
    snprintf(rec->key_id, sizeof(rec->key_id), "%s", r->key_id);
    snprintf(rec->peer, sizeof(rec->peer), "%s", r->peer);
    snprintf(rec->transport, sizeof(rec->transport), "%s", r->transport);
    snprintf(rec->detail, sizeof(rec->detail), "%s", r->detail);
    rec->kind = r->binding != NULL ? r->binding->kind : SAEF_PEER_NONE;
    snprintf(rec->peer_id, sizeof(rec->peer_id), "%s", r->binding ? r->binding->peer_id : "");
    rec->expiry = r->binding != NULL ? r->binding->kc_expiry.tv_sec : 0;
    rec->at_us = saef_now_us();
    rt->ring_count++;
    /* The housekeeper drains the ring every LOG_DRAIN_MS anyway: waking it per handshake was
     * most of the module's warm-path cost (docs/performance.md).  Only a filling ring hurries
     * it. */
    if (rt->ring_count == SAEF_REPORT_RING / 2)
        pthread_cond_signal(&rt->cv);
    pthread_mutex_unlock(&rt->mu);
}

/* MAF client thread: one line per retrieval with the MAF's own reason (queued like reports). */
static void queue_fetch(void *arg, const char *key_id, const saef_maf_result_t *res)
{
    saef_tls_report_t r = {.rc = res->rc, .cause = res->rc, .key_id = key_id, .peer = "-",
                           .transport = "maf", .detail = res->detail, .binding = NULL};

    queue_report(arg, &r);
}

const char *saef_peer_kind_name(saef_peer_kind_t k)
{
    switch (k) {
    case SAEF_PEER_CSE_ID:
        return "CSE-ID";
    case SAEF_PEER_AE_ID:
        return "AE-ID";
    case SAEF_PEER_CREDENTIAL_ID:
        return "Credential-ID";
    case SAEF_PEER_NONE:
        break;
    }
    return "none";
}

/* One log line per decision: the Key Identifier (public), the peer and the real reason that the
 * peer itself never learns. */
static void log_report(saef_instance_t *inst, const saef_report_rec_t *rec)
{
    if (strcmp(rec->transport, "maf") == 0) {
        saef_log(inst, rec->rc == SAEF_OK ? SAEF_LOG_INFO : SAEF_LOG_WARNING,
                 "MAF key retrieval for %s: %s%s%s", rec->key_id,
                 rec->rc == SAEF_OK ? "key received" : saef_strerror(rec->rc),
                 rec->detail[0] != '\0' ? ": " : "", rec->detail);
        return;
    }
    if (rec->rc == SAEF_OK) {
        saef_log(inst, SAEF_LOG_INFO,
                 "handshake accepted: key_id=%s peer=%s transport=%s bound to %s%s %s, Kc "
                 "expires at %lld",
                 rec->key_id, rec->peer, rec->transport,
                 rec->kind == SAEF_PEER_CREDENTIAL_ID ? "unresolved " : "",
                 saef_peer_kind_name(rec->kind), rec->peer_id, (long long)rec->expiry);
        return;
    }
    char cause[128] = "";

    if (rec->cause != rec->rc)
        snprintf(cause, sizeof(cause), " (%s)", saef_strerror(rec->cause));
    saef_log(inst, SAEF_LOG_WARNING,
             "handshake refused: key_id=%s peer=%s transport=%s reason=%s%s%s%s",
             rec->key_id[0] != '\0' ? rec->key_id : "-", rec->peer, rec->transport,
             saef_strerror(rec->rc), cause, rec->detail[0] != '\0' ? ": " : "", rec->detail);
}

static void close_expired(saef_instance_t *inst, const struct timespec *now)
{
    void *conns[EXPIRED_BATCH];
    int is_coap[EXPIRED_BATCH];
    size_t n, i;

    if (inst->cfg->expiry_action != SAEF_CFG_EXPIRY_CLOSE || inst->host.close_connection == NULL)
        return;
    do {
        n = saef_tls_take_expired(inst->rt.tls, now, conns, is_coap, EXPIRED_BATCH);
        for (i = 0; i < n; i++) {
            saef_log(inst, SAEF_LOG_NOTICE, "Kc lifetime over: asking the host to close a %s",
                     is_coap[i] ? "CoAP session" : "TLS connection");
            inst->host.close_connection(inst->host.ctx, conns[i], is_coap[i]);
        }
    } while (n == EXPIRED_BATCH);
}

static void *housekeeper(void *arg)
{
    saef_instance_t *inst = arg;
    saef_runtime_t *rt = &inst->rt;
    saef_report_rec_t batch[16];
    struct timespec now, wake, next_sweep, next_lookups;
    size_t n, i;

    next_sweep = saef_clock_after_ms(CLOCK_REALTIME, HOUSEKEEPING_PERIOD_MS);
    next_lookups = saef_clock_after_ms(CLOCK_REALTIME, LOG_DRAIN_MS);
    pthread_mutex_lock(&rt->mu);
    while (!rt->stopping || rt->ring_count > 0) {
        if (rt->ring_count == 0) {
            wake = saef_clock_after_ms(CLOCK_REALTIME, LOG_DRAIN_MS);
            if (pthread_cond_timedwait(&rt->cv, &rt->mu, &wake) != ETIMEDOUT)
                continue;
        }
        /* Timed work is due however busy the ring is: vault lookups the database is slow to
         * answer go to the MAF every LOG_DRAIN_MS, the sweep runs every second. */
        if (saef_clock_passed(CLOCK_REALTIME, &next_lookups)) {
            pthread_mutex_unlock(&rt->mu);
            if (rt->db != NULL)
                saef_rtdb_expire_lookups(rt->db);
            next_lookups = saef_clock_after_ms(CLOCK_REALTIME, LOG_DRAIN_MS);
            if (saef_clock_passed(CLOCK_REALTIME, &next_sweep)) {
                clock_gettime(CLOCK_REALTIME, &now);
                saef_cache_sweep(rt->cache, &now, NULL);
                close_expired(inst, &now);
                if (rt->db != NULL)
                    saef_rtdb_tick(rt->db);
                next_sweep = saef_clock_after_ms(CLOCK_REALTIME, HOUSEKEEPING_PERIOD_MS);
            }
            pthread_mutex_lock(&rt->mu);
        }
        if (rt->ring_count == 0)
            continue;
        for (n = 0; n < sizeof(batch) / sizeof(batch[0]) && rt->ring_count > 0; n++) {
            batch[n] = rt->ring[rt->ring_head];
            rt->ring_head = (rt->ring_head + 1) % SAEF_REPORT_RING;
            rt->ring_count--;
        }
        pthread_mutex_unlock(&rt->mu);
        for (i = 0; i < n; i++) {
            log_report(inst, &batch[i]);
            if (rt->db != NULL)
                saef_rtdb_audit(rt->db, &batch[i]);
        }
        pthread_mutex_lock(&rt->mu);
    }
    pthread_mutex_unlock(&rt->mu);
    return NULL;
}

/* The MAF client's view of a configured MAF; strings borrowed from the configuration. */
static void endpoint_of(const saef_cfg_t *cfg, size_t i, const saef_runtime_t *rt,
                        saef_maf_endpoint_t *ep)
{
    const saef_cfg_maf_t *m = &cfg->mafs[i];

    memset(ep, 0, sizeof(*ep));
    ep->fqdn = m->fqdn;
    ep->key_retrieval_uri = m->key_retrieval_uri;
    ep->client_registration_uri = m->client_registration_uri;
    ep->register_client = m->register_client;
    ep->admin_fqdn = m->admin_fqdn;
    ep->registration_lifetime_s = m->registration_lifetime_s;
    ep->auth = m->auth == SAEF_CFG_AUTH_PSK ? SAEF_MAF_AUTH_PSK : SAEF_MAF_AUTH_CERT;
    ep->ca_file = m->ca_file;
    ep->client_cert = m->client_cert;
    ep->client_key = m->client_key;
    ep->kmid = m->kmid;
    ep->km = rt->km[i];
    ep->km_len = rt->km_len[i];
    ep->connect_to = m->connect_to;
    ep->connect_timeout_ms = m->connect_timeout_ms;
    ep->request_timeout_ms = m->request_timeout_ms;
    ep->max_inflight = m->max_inflight;
    ep->breaker_threshold = m->breaker_threshold;
    ep->breaker_cooldown_ms = m->breaker_cooldown_ms;
    ep->psk_length = cfg->psk_length;
    ep->accepted_suid = cfg->suid;
}

static saef_rc_t load_kms(saef_instance_t *inst)
{
    char detail[512];
    saef_rc_t rc;
    size_t i;

    for (i = 0; i < inst->cfg->n_mafs; i++) {
        const saef_cfg_maf_t *m = &inst->cfg->mafs[i];

        if (m->auth != SAEF_CFG_AUTH_PSK)
            continue;
        rc = saef_secret_read_key(m->km_file, 16, SAEF_RUNTIME_KM_MAX, inst->rt.km[i],
                                  sizeof(inst->rt.km[i]), &inst->rt.km_len[i], detail,
                                  sizeof(detail));
        if (rc != SAEF_OK) {
            saef_log(inst, SAEF_LOG_ERROR, "start: maf.%s.km_file: %s", m->label, detail);
            return rc;
        }
    }
    return SAEF_OK;
}

static uint32_t longest_request_ms(const saef_cfg_t *cfg)
{
    uint32_t ms = 0;
    size_t i;

    for (i = 0; i < cfg->n_mafs; i++)
        if (cfg->mafs[i].request_timeout_ms > ms)
            ms = cfg->mafs[i].request_timeout_ms;
    return ms;
}

saef_rc_t saef_runtime_start(saef_instance_t *inst)
{
    saef_runtime_t *rt = &inst->rt;
    saef_maf_endpoint_t eps[SAEF_CFG_MAX_MAFS];
    saef_maf_client_params_t mp = {0};
    saef_cache_params_t cp = {0};
    saef_eb_params_t ep = {0};
    saef_tls_params_t tp = {0};
    char detail[512] = "";
    uint32_t fetch_ms = longest_request_ms(inst->cfg) + 500;
    saef_rc_t rc;
    size_t i;

    memset(rt, 0, sizeof(*rt));
    if (pthread_mutex_init(&rt->mu, NULL) != 0)
        return SAEF_E_INTERNAL;
    if (pthread_cond_init(&rt->cv, NULL) != 0) {
        pthread_mutex_destroy(&rt->mu);
        return SAEF_E_INTERNAL;
    }
    rt->sync_ready = true;
    rc = load_kms(inst);
    if (rc != SAEF_OK)
        goto fail;
    for (i = 0; i < inst->cfg->n_mafs; i++)
        endpoint_of(inst->cfg, i, rt, &eps[i]);
    mp.origin = inst->cfg->cse_id;
    mp.max_inflight = inst->cfg->max_inflight;
    rc = saef_maf_client_new(eps, inst->cfg->n_mafs, &mp, &rt->maf, detail, sizeof(detail));
    if (rc != SAEF_OK) {
        saef_log(inst, SAEF_LOG_ERROR, "start: MAF client: %s: %s", saef_strerror(rc), detail);
        goto fail;
    }
    cp.capacity = inst->cfg->cache_size;
    cp.max_flights = inst->cfg->max_inflight;
    cp.negative_ttl_ms = (uint64_t)inst->cfg->negative_ttl_s * 1000u;
    cp.expired_as_refusal = true; /* an expired Kc fails with its own reason */
    cp.flight_timeout_ms = fetch_ms;
    rc = saef_cache_new(&cp, &rt->cache);
    if (rc == SAEF_OK)
        rc = saef_credmap_live_new(&rt->credmap);
    if (rc != SAEF_OK) {
        saef_log(inst, SAEF_LOG_ERROR, "start: key cache: %s", saef_strerror(rc));
        goto fail;
    }
    if (inst->cfg->db_conninfo != NULL) {
        rc = saef_rtdb_start(inst, &rt->db);
        if (rc != SAEF_OK)
            goto fail;
    }
    ep.maf = rt->maf;
    ep.cache = rt->cache;
    ep.credmap = rt->credmap;
    ep.flight_timeout_ms = fetch_ms;
    ep.on_fetch = queue_fetch;
    ep.fetch_arg = inst;
    ep.store = saef_rtdb_store(rt->db);
    rc = saef_eb_new(&ep, &rt->eb);
    if (rc != SAEF_OK)
        goto fail;
    tp.eb = rt->eb;
    tp.resumption = inst->cfg->resumption == SAEF_CFG_RESUMPTION_BOUNDED;
    tp.block_timeout_ms = fetch_ms;
    tp.coap_timeout_ms = inst->cfg->coap_fetch_timeout_ms;
    tp.report = queue_report;
    tp.report_arg = inst;
    if (rt->db != NULL) {
        tp.admit_room = saef_rtdb_admit_room;
        tp.admit = saef_rtdb_admit;
        tp.admit_arg = rt->db;
    }
    rc = saef_tls_new(&tp, &rt->tls);
    if (rc != SAEF_OK)
        goto fail;
    if (pthread_create(&rt->thread, NULL, housekeeper, inst) != 0) {
        rc = SAEF_E_INTERNAL;
        goto fail;
    }
    rt->thread_running = true;
    return SAEF_OK;
fail:
    saef_runtime_stop(inst);
    return rc;
}

void saef_runtime_stop(saef_instance_t *inst)
{
    saef_runtime_t *rt = &inst->rt;

    if (rt->thread_running) {
        pthread_mutex_lock(&rt->mu);
        rt->stopping = true;
        pthread_cond_signal(&rt->cv);
        pthread_mutex_unlock(&rt->mu);
        pthread_join(rt->thread, NULL);
        rt->thread_running = false;
    }
    /* The database worker first (vault lookups still queued fail), then the MAF client: their
     * pending fetches complete (with SAEF_E_STATE) into the cache and engine, which must still
     * exist, and the MAF's last keys find the vault hooks inert but callable. */
    saef_rtdb_stop(rt->db);
    saef_maf_client_free(rt->maf);
    saef_tls_free(rt->tls);
    saef_eb_free(rt->eb);
    saef_rtdb_free(rt->db);
    saef_cache_free(rt->cache);
    saef_credmap_live_free(rt->credmap);
    if (rt->sync_ready) {
        pthread_cond_destroy(&rt->cv);
        pthread_mutex_destroy(&rt->mu);
    }
    OPENSSL_cleanse(rt, sizeof(*rt));
    memset(rt, 0, sizeof(*rt));
}
