/* Adapter state shared by OpenSSL and libcoap: connections, bindings, expiry, reports. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/rand.h>

#include "saef_time.h"
#include "tls_internal.h"

static pthread_once_t indexes_once = PTHREAD_ONCE_INIT;
static int index_ctx = -1, index_conn = -1;

static void conn_free(void *parent, void *ptr, CRYPTO_EX_DATA *ad, int idx, long argl,
                      void *argp);

static void indexes_init(void)
{
    index_ctx = SSL_CTX_get_ex_new_index(0, NULL, NULL, NULL, NULL);
    index_conn = SSL_get_ex_new_index(0, NULL, NULL, NULL, conn_free);
}

bool tls_indexes(int *idx_ctx, int *idx_conn)
{
    pthread_once(&indexes_once, indexes_init);
    *idx_ctx = index_ctx;
    *idx_conn = index_conn;
    return index_ctx >= 0 && index_conn >= 0;
}

tls_attach_t *tls_attach_of(const SSL *ssl)
{
    int ic, in;

    if (!tls_indexes(&ic, &in))
        return NULL;
    return SSL_CTX_get_ex_data(SSL_get_SSL_CTX(ssl), ic);
}

unsigned int tls_decoy_key(unsigned char *psk, unsigned int max_len, size_t want)
{
    if (want > max_len)
        want = max_len;
    if (want == 0 || RAND_bytes(psk, (int)want) != 1)
        return 0;
    return (unsigned int)want;
}

/* OpenSSL calls this when an SSL carrying our state is freed (host SSL_free, libcoap session
 * end): unlink from the live list and wipe. */
static void conn_free(void *parent, void *ptr, CRYPTO_EX_DATA *ad, int idx, long argl, void *argp)
{
    tls_conn_t *c = ptr;

    (void)parent;
    (void)ad;
    (void)idx;
    (void)argl;
    (void)argp;
    if (c == NULL)
        return;
    if (c->bound) {
        pthread_mutex_lock(&c->t->lock);
        if (c->prev != NULL)
            c->prev->next = c->next;
        else if (c->t->live == c)
            c->t->live = c->next;
        if (c->next != NULL)
            c->next->prev = c->prev;
        pthread_mutex_unlock(&c->t->lock);
    }
    OPENSSL_clear_free(c, sizeof(*c));
}

saef_rc_t saef_tls_new(const saef_tls_params_t *params, saef_tls_t **out)
{
    saef_tls_t *t;
    int ic, in;

    if (out == NULL)
        return SAEF_E_INVALID_ARG;
    *out = NULL;
    if (params == NULL || params->eb == NULL || params->report == NULL ||
        params->block_timeout_ms == 0 || params->coap_timeout_ms == 0)
        return SAEF_E_INVALID_ARG;
    t = calloc(1, sizeof(*t));
    if (t == NULL)
        return SAEF_E_NOMEM;
    t->p = *params;
    if (!tls_indexes(&ic, &in) || pthread_mutex_init(&t->lock, NULL) != 0) {
        free(t);
        return SAEF_E_INTERNAL;
    }
    if (pthread_cond_init(&t->admitted_cv, NULL) != 0) {
        pthread_cond_destroy(&t->admitted_cv);
    pthread_mutex_destroy(&t->lock);
        free(t);
        return SAEF_E_INTERNAL;
    }
    *out = t;
    return SAEF_OK;
}

void saef_tls_free(saef_tls_t *t)
{
    tls_attach_t *a, *next;

    if (t == NULL)
        return;
    for (a = t->attached; a != NULL; a = next) {
        next = a->next;
        free(a);
    }
    pthread_mutex_destroy(&t->lock);
    free(t);
}

tls_attach_t *tls_attach_new(saef_tls_t *t, const saef_psk_chain_t *prev)
{
    tls_attach_t *a = calloc(1, sizeof(*a));

    if (a == NULL)
        return NULL;
    a->t = t;
    /* Copy only what the host's struct_size covers. */
    if (prev != NULL && prev->hdr.abi_major == SAEF_ABI_MAJOR) {
        if (SAEF_HAS_FIELD(prev, saef_psk_chain_t, psk_server))
            a->prev.psk_server = prev->psk_server;
        if (SAEF_HAS_FIELD(prev, saef_psk_chain_t, find_session))
            a->prev.find_session = prev->find_session;
        if (SAEF_HAS_FIELD(prev, saef_psk_chain_t, coap_arg)) {
            a->prev.coap_validate_id = prev->coap_validate_id;
            a->prev.coap_arg = prev->coap_arg;
        }
    }
    pthread_mutex_lock(&t->lock);
    a->next = t->attached;
    t->attached = a;
    pthread_mutex_unlock(&t->lock);
    return a;
}

tls_conn_t *tls_conn_get(saef_tls_t *t, SSL *ssl, void *handle, int is_coap)
{
    tls_conn_t *c;
    int ic, in;

    if (!tls_indexes(&ic, &in))
        return NULL;
    c = SSL_get_ex_data(ssl, in);

    if (c != NULL)
        return c;
    c = calloc(1, sizeof(*c));
    if (c == NULL)
        return NULL;
    c->t = t;
    c->handle = handle;
    c->is_coap = is_coap;
    atomic_init(&c->aborted, 0);
    if (!SSL_set_ex_data(ssl, in, c)) {
        free(c);
        return NULL;
    }
    return c;
}

void tls_conn_bind(saef_tls_t *t, tls_conn_t *c, const saef_eb_binding_t *b, const char *peer,
                   const char *transport)
{
    pthread_mutex_lock(&t->lock);
    if (c->bound && strcmp(c->binding.key_id, b->key_id) != 0)
        c->admitted = false; /* another association on the same SSL (renegotiation, reuse) */
    c->binding = *b;
    snprintf(c->peer, sizeof(c->peer), "%s", peer != NULL ? peer : "-");
    c->transport = transport;
    if (!c->bound) {
        c->bound = true;
        c->prev = NULL;
        c->next = t->live;
        if (t->live != NULL)
            t->live->prev = c;
        t->live = c;
    }
    pthread_mutex_unlock(&t->lock);
}

saef_rc_t tls_admit_room(saef_tls_t *t)
{
    return t->p.admit_room != NULL ? t->p.admit_room(t->p.admit_arg) : SAEF_OK;
}

saef_rc_t tls_conn_binding(saef_tls_t *t, const SSL *ssl, saef_eb_binding_t *out)
{
    char peer[sizeof(((tls_conn_t *)0)->peer)];
    const char *transport;
    struct timespec now;
    tls_conn_t *c;
    bool bound, admitted;
    saef_rc_t rc;
    int ic, in;

    if (ssl == NULL || !tls_indexes(&ic, &in) || !SSL_is_init_finished(ssl))
        return SAEF_E_NOT_FOUND;
    c = SSL_get_ex_data(ssl, in);
    if (c == NULL || c->t != t)
        return SAEF_E_NOT_FOUND;
    clock_gettime(CLOCK_REALTIME, &now);
    pthread_mutex_lock(&t->lock);
    bound = c->bound;
    admitted = c->admitted || t->p.admit == NULL;
    if (bound) {
        *out = c->binding;
        memcpy(peer, c->peer, sizeof(peer));
        transport = c->transport;
        if (out->kc_expiry.tv_sec <= now.tv_sec) {
            pthread_mutex_unlock(&t->lock);
            return SAEF_E_KEY_EXPIRED;
        }
        /* Another thread is recording it right now (admit never blocks): wait for its verdict,
         * and try ourselves if it failed. */
        while (!admitted && c->admitting) {
            pthread_cond_wait(&t->admitted_cv, &t->lock);
            admitted = c->admitted;
        }
        c->admitting = !admitted;
    }
    pthread_mutex_unlock(&t->lock);
    if (!bound)
        return SAEF_E_NOT_FOUND;
    if (admitted)
        return SAEF_OK;
    rc = t->p.admit(t->p.admit_arg, out, peer, transport);
    pthread_mutex_lock(&t->lock);
    c->admitting = false;
    c->admitted = rc == SAEF_OK;
    pthread_cond_broadcast(&t->admitted_cv);
    pthread_mutex_unlock(&t->lock);
    return rc;
}

void tls_report(saef_tls_t *t, saef_rc_t rc, saef_rc_t cause, const saef_eb_answer_t *ans,
                const char *peer, const char *transport, const char *detail)
{
    saef_tls_report_t r = {
        .rc = rc,
        .cause = cause,
        .key_id = ans != NULL ? ans->binding.key_id : "",
        .peer = peer != NULL ? peer : "-",
        .transport = transport,
        .detail = detail != NULL ? detail : "",
        .binding = rc == SAEF_OK && ans != NULL ? &ans->binding : NULL,
    };

    t->p.report(t->p.report_arg, &r);
}

bool tls_report_unknown(saef_tls_t *t, const char *identity, size_t len, const char *peer,
                        const char *transport)
{
    saef_eb_answer_t ans;
    size_t i, n = len < 96 ? len : 96;
    bool binary = false;

    memset(&ans.binding, 0, sizeof(ans.binding));
    for (i = 0; i < len; i++) {
        unsigned char ch = (unsigned char)identity[i];

        if (ch < 0x20 || ch > 0x7e)
            binary = true;
        if (i < n)
            ans.binding.key_id[i] = ch < 0x20 || ch > 0x7e ? '?' : (char)ch;
    }
    ans.binding.key_id[n] = '\0';
    if (!binary)
        tls_report(t, SAEF_E_MAF_UNKNOWN, SAEF_E_MAF_UNKNOWN, &ans, peer, transport,
                   "psk_identity names no configured MAF and the host has no PSK callback");
    return binary;
}

struct timespec tls_deadline(uint32_t ms)
{
    return saef_clock_after_ms(CLOCK_REALTIME, ms);
}

size_t saef_tls_take_expired(saef_tls_t *t, const struct timespec *now, void **conns,
                             int *is_coap, size_t max)
{
    tls_conn_t *c;
    size_t n = 0;

    pthread_mutex_lock(&t->lock);
    for (c = t->live; c != NULL && n < max; c = c->next) {
        if (c->expiry_reported || c->binding.kc_expiry.tv_sec > now->tv_sec ||
            (c->binding.kc_expiry.tv_sec == now->tv_sec &&
             c->binding.kc_expiry.tv_nsec > now->tv_nsec))
            continue;
        c->expiry_reported = true;
        conns[n] = c->handle;
        is_coap[n] = c->is_coap;
        n++;
    }
    pthread_mutex_unlock(&t->lock);
    return n;
}

/* Ticket application data: "saef1" then fields separated by 0x1f.  Identifiers never contain
 * control characters (they are validated), so the separator cannot occur inside a field.  The
 * data travels inside the ticket, which only this server can decrypt. */
#define SEP "\x1f"

size_t saef_tls_binding_encode(const saef_eb_binding_t *b, bool resumable, char *buf, size_t cap)
{
    int n = snprintf(buf, cap,
                     "saef1" SEP "%d" SEP "%d" SEP "%lld" SEP "%u" SEP "%s" SEP "%s" SEP "%s" SEP
                     "%s" SEP "%s",
                     resumable ? 1 : 0, (int)b->kind, (long long)b->kc_expiry.tv_sec,
                     (unsigned)b->suid, b->key_id, b->maf_fqdn, b->peer_id, b->credential_id,
                     b->admin_fqdn);

    return n < 0 || (size_t)n >= cap ? 0 : (size_t)n;
}

/* Copy the next field of [*p, end) into dst; false when it does not fit or is missing. */
static bool next_field(const char **p, const char *end, char *dst, size_t cap)
{
    const char *sep = memchr(*p, 0x1f, (size_t)(end - *p));
    size_t n = (size_t)((sep != NULL ? sep : end) - *p);

    if (n >= cap)
        return false;
    memcpy(dst, *p, n);
    dst[n] = '\0';
    *p = sep != NULL ? sep + 1 : end;
    return true;
}

saef_rc_t saef_tls_binding_decode(const char *buf, size_t len, saef_eb_binding_t *b,
                                  bool *resumable)
{
    const char *p = buf, *end;
    char num[4][24], magic[8];
    char *e;
    long long v[4];
    int i;

    if (buf == NULL)
        return SAEF_E_INVALID_ARG;
    end = buf + len;
    if (!next_field(&p, end, magic, sizeof(magic)) || strcmp(magic, "saef1") != 0)
        return SAEF_E_INVALID_ARG;
    for (i = 0; i < 4; i++) {
        if (!next_field(&p, end, num[i], sizeof(num[i])) || num[i][0] == '\0')
            return SAEF_E_INVALID_ARG;
        errno = 0;
        v[i] = strtoll(num[i], &e, 10);
        if (*e != '\0' || errno != 0)
            return SAEF_E_INVALID_ARG;
    }
    memset(b, 0, sizeof(*b));
    if (!next_field(&p, end, b->key_id, sizeof(b->key_id)) ||
        !next_field(&p, end, b->maf_fqdn, sizeof(b->maf_fqdn)) ||
        !next_field(&p, end, b->peer_id, sizeof(b->peer_id)) ||
        !next_field(&p, end, b->credential_id, sizeof(b->credential_id)) ||
        !next_field(&p, end, b->admin_fqdn, sizeof(b->admin_fqdn)) || p != end ||
        v[1] < SAEF_PEER_CSE_ID || v[1] > SAEF_PEER_CREDENTIAL_ID || v[3] < 0 || v[3] > 65535)
        return SAEF_E_INVALID_ARG;
    *resumable = v[0] == 1;
    b->kind = (saef_peer_kind_t)v[1];
    b->kc_expiry.tv_sec = (time_t)v[2];
    b->suid = (uint16_t)v[3];
    return SAEF_OK;
}
