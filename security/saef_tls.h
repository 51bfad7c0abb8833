/*
 * The OpenSSL and libcoap adapters of Entity B: PSK callbacks on a host's SSL_CTX (TLS 1.2,
 * TLS 1.3, DTLS 1.2) or libcoap context, per-connection bindings, session-resumption bounds, and
 * the list of live connections for Kc expiry.  No logging: every handshake decision is handed to
 * a report hook (called on the handshake thread, possibly inside an OpenSSL ASYNC job with a
 * small stack: the hook must only copy and queue).
 */
#ifndef SAEF_TLS_H
#define SAEF_TLS_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include "saef/module.h"
#include "saef_entityb.h"

/* What one handshake decision was (for logs and counters). */
typedef struct saef_tls_report {
    saef_rc_t rc;              /* SAEF_OK: the handshake may proceed with the module's key */
    saef_rc_t cause;           /* the underlying reason (e.g. the refusal behind a cached one) */
    const char *key_id;        /* Key Identifier as canonicalised, or "" before parsing */
    const char *peer;          /* remote address "ip:port", or "-" */
    const char *transport;     /* "tls", "dtls" or "coap" */
    const char *detail;        /* one line, never key material */
    const saef_eb_binding_t *binding; /* on success */
} saef_tls_report_t;

typedef struct saef_tls_params {
    saef_eb_t *eb;                /* borrowed */
    bool resumption;              /* false: SAEF sessions are never resumed */
    uint32_t block_timeout_ms;    /* wait for a fetch when the host did not set SSL_MODE_ASYNC */
    uint32_t coap_timeout_ms;     /* wait for a fetch inside libcoap's callback */
    void (*report)(void *arg, const saef_tls_report_t *r); /* required */
    void *report_arg;             /* borrowed */
    /*
     * Optional association recording (both hooks or neither; called with admit_arg).
     * admit_room runs before a key is handed to TLS: an error (SAEF_E_BUSY: no room to record
     * one more association) fails the handshake like a wrong key, and is reported.  admit runs
     * once per connection, at the first binding query after the handshake completed (so a peer
     * that does not hold the key never gets a record); its error is returned by that query
     * instead of the binding, and the next query tries again (a query made while another
     * thread's query is recording waits for it).  Neither may block.
     */
    saef_rc_t (*admit_room)(void *arg);
    saef_rc_t (*admit)(void *arg, const saef_eb_binding_t *b, const char *peer,
                       const char *transport);
    void *admit_arg;              /* borrowed */
} saef_tls_params_t;

typedef struct saef_tls saef_tls_t; /* opaque: one per module instance */

/* Create the adapter state.  Allocates OpenSSL ex_data indexes (a process-wide OpenSSL
 * registry; a few slots per adapter).  Returns SAEF_OK, SAEF_E_INVALID_ARG, SAEF_E_NOMEM or
 * SAEF_E_INTERNAL. */
saef_rc_t saef_tls_new(const saef_tls_params_t *params, saef_tls_t **out);

/* Free the adapter.  Every SSL and coap session of attached contexts must be gone.  NULL-safe. */
void saef_tls_free(saef_tls_t *t);

/* See saef_module_t.attach_openssl.  ctx is an SSL_CTX *. */
saef_rc_t saef_tls_attach_openssl(saef_tls_t *t, struct ssl_ctx_st *ctx,
                                  const saef_psk_chain_t *prev);

/* See saef_module_t.attach_coap.  ctx is a coap_context_t *. */
saef_rc_t saef_tls_attach_coap(saef_tls_t *t, struct coap_context_t *ctx,
                               const saef_psk_chain_t *prev);

/* The binding of a connection whose handshake the module completed (or that resumed a module
 * session).  Returns SAEF_OK, SAEF_E_NOT_FOUND (not the module's, or handshake not finished),
 * SAEF_E_KEY_EXPIRED (bound, but Kc's lifetime is over: the host should close it), or the
 * admit hook's error (out still filled). */
saef_rc_t saef_tls_binding_ssl(saef_tls_t *t, const struct ssl_st *ssl, saef_eb_binding_t *out);
saef_rc_t saef_tls_binding_coap(saef_tls_t *t, const struct coap_session_t *session,
                                saef_eb_binding_t *out);

/* See saef_module_t.handshake_abort. */
void saef_tls_abort(saef_tls_t *t, struct ssl_st *ssl);

/* Connections bound to a Kc whose lifetime ended at or before now and that were not reported
 * yet: up to max of them into conns (SSL * or coap_session_t *; is_coap tells which).  Each is
 * reported once.  The pointers are only valid while the host has not freed them: the caller
 * hands them to the host's close hook at once.  Returns the number written. */
size_t saef_tls_take_expired(saef_tls_t *t, const struct timespec *now, void **conns,
                             int *is_coap, size_t max);

/* Encode / decode a binding for a session ticket's application data (resumption keeps the
 * binding).  Encode returns the length written (0 when it does not fit); decode returns
 * SAEF_OK or SAEF_E_INVALID_ARG for data that is not ours. */
size_t saef_tls_binding_encode(const saef_eb_binding_t *b, bool resumable, char *buf, size_t cap);
saef_rc_t saef_tls_binding_decode(const char *buf, size_t len, saef_eb_binding_t *b,
                                  bool *resumable);

#endif /* SAEF_TLS_H */
