/* Shared state of the OpenSSL and libcoap adapters (tls_*.c only). */
#ifndef SAEF_TLS_INTERNAL_H
#define SAEF_TLS_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>

#include <coap3/coap.h>
#include <openssl/ssl.h>

#include "saef_tls.h"

/* Per connection (SSL ex_data; libcoap's DTLS sessions are SSLs too).  Allocated when the
 * module first sees the connection's identity; freed with the SSL. */
typedef struct tls_conn {
    saef_tls_t *t;                /* borrowed: the adapter outlives every SSL (documented) */
    void *handle;                 /* the SSL *, or the coap_session_t * for libcoap */
    int is_coap;
    saef_eb_binding_t binding;    /* valid when bound */
    bool bound;                   /* the module supplied this connection's key */
    bool expiry_reported;         /* saef_tls_take_expired() returned it already */
    bool admitted;                /* the admit hook recorded the association */
    bool admitting;               /* a binding query is calling the admit hook now */
    char peer[80];                /* remote address when bound, for the association record */
    const char *transport;        /* static: "tls", "dtls" or "coap" */
    atomic_int aborted;           /* handshake_abort(): fail the paused lookup */
    /* libcoap copies the key a validate callback returns, but only after the callback returned:
     * it lives here until the session ends (libcoap keeps its own copy that long anyway). */
    uint8_t coap_key[SAEF_CACHE_PSK_MAX];
    size_t coap_key_len;
    coap_bin_const_t coap_bin; /* points into coap_key */
    struct tls_conn *prev, *next; /* live list (bound connections), under t->lock */
} tls_conn_t;

/* One attached SSL_CTX or coap_context_t with the host's previous callbacks. */
typedef struct tls_attach {
    saef_tls_t *t;
    saef_psk_chain_t prev;
    void (*prev_info)(const SSL *ssl, int type, int val);
    struct tls_attach *next;
} tls_attach_t;

struct saef_tls {
    saef_tls_params_t p;
    pthread_mutex_t lock;
    pthread_cond_t admitted_cv; /* a connection's admit hook returned (admitting cleared) */
    tls_conn_t *live;      /* bound connections, for Kc expiry */
    tls_attach_t *attached; /* owned, freed with the adapter */
};

/*
 * OpenSSL's PSK callbacks carry no argument, so the adapter is found through ex_data of the
 * SSL_CTX.  The two ex_data index numbers are taken once per process (pthread_once) and never
 * change: constant after start-up, like the index registry they come from.  The indexes hold
 * per-context and per-connection pointers, so instances stay independent.
 * Returns false when OpenSSL could not allocate them.
 */
bool tls_indexes(int *idx_ctx, int *idx_conn);

/* The attachment of ssl's SSL_CTX, or NULL when the module is not attached to it. */
tls_attach_t *tls_attach_of(const SSL *ssl);

/* Fill psk with max_len random bytes: what a failed decision hands OpenSSL, so that every
 * failure looks like a wrong key on the wire.  Returns the length or 0. */
unsigned int tls_decoy_key(unsigned char *psk, unsigned int max_len, size_t want);

/* The connection state of ssl, created on first use.  NULL on allocation failure. */
tls_conn_t *tls_conn_get(saef_tls_t *t, SSL *ssl, void *handle, int is_coap);

/* Record a successful decision: binding, peer address and transport (static string) copied,
 * connection put on the live list. */
void tls_conn_bind(saef_tls_t *t, tls_conn_t *c, const saef_eb_binding_t *b, const char *peer,
                   const char *transport);

/* Before a key goes to TLS: the admit_room hook's verdict (SAEF_OK without the hook). */
saef_rc_t tls_admit_room(saef_tls_t *t);

/* The binding query of a finished handshake on ssl (the connection's SSL, the DTLS one for
 * libcoap): see saef_tls_binding_ssl(). */
saef_rc_t tls_conn_binding(saef_tls_t *t, const SSL *ssl, saef_eb_binding_t *out);

/* Hand one decision to the report hook. */
void tls_report(saef_tls_t *t, saef_rc_t rc, saef_rc_t cause, const saef_eb_answer_t *ans,
                const char *peer, const char *transport, const char *detail);

/* An identity no configured MAF and no host callback claims: report it (printable, cut short:
 * it is attacker-controlled) as SAEF_E_MAF_UNKNOWN, and say whether it may be a TLS 1.3
 * resumption ticket (binary or too long for an identity), which OpenSSL must see itself. */
bool tls_report_unknown(saef_tls_t *t, const char *identity, size_t len, const char *peer,
                        const char *transport);

/* Remember an attachment (freed with the adapter).  NULL on allocation failure. */
tls_attach_t *tls_attach_new(saef_tls_t *t, const saef_psk_chain_t *prev);

/* Add ms milliseconds to a CLOCK_REALTIME timespec. */
struct timespec tls_deadline(uint32_t ms);

#endif
