/*
 * libcoap adapter: DTLS-PSK identity validation for a host's coap_context_t.  libcoap cannot
 * pause a handshake, so a key fetch inside its callback is bounded by coap_timeout_ms; the fetch
 * goes on, and the client's next attempt finds the key in the cache.  libcoap's DTLS sessions are
 * OpenSSL SSL objects (the OpenSSL backend), so connection state rides on the SSL's ex_data as
 * for TLS.
 */
#include <stdio.h>
#include <string.h>

#include <coap3/coap.h>

#include "tls_internal.h"

static void coap_peer(const coap_session_t *session, char *buf, size_t cap)
{
    const coap_address_t *addr = coap_session_get_addr_remote(session);

    snprintf(buf, cap, "-");
    if (addr != NULL && cap > 1) {
        size_t n = coap_print_addr(addr, (unsigned char *)buf, cap - 1);

        buf[n < cap ? n : cap - 1] = '\0';
    }
}

static SSL *session_ssl(const coap_session_t *session)
{
    coap_tls_library_t lib = COAP_TLS_LIBRARY_NOTLS;
    void *tls = coap_session_get_tls(session, &lib);

    return lib == COAP_TLS_LIBRARY_OPENSSL ? tls : NULL;
}

static const coap_bin_const_t *validate_id(coap_bin_const_t *identity, coap_session_t *session,
                                           void *arg)
{
    tls_attach_t *a = arg;
    saef_tls_t *t = a->t;
    char detail[SAEF_EB_DETAIL_MAX] = "";
    char peer[80];
    saef_cache_flight_t *flight;
    struct timespec now, deadline;
    saef_eb_answer_t ans;
    saef_rc_t rc, cause;
    SSL *ssl = session_ssl(session);
    tls_conn_t *c = ssl != NULL ? tls_conn_get(t, ssl, session, 1) : NULL;

    if (identity == NULL || c == NULL)
        return NULL; /* no SSL or no memory: libcoap fails the handshake */
    clock_gettime(CLOCK_REALTIME, &now);
    switch (saef_eb_begin(t->p.eb, (const char *)identity->s, identity->length, &now, &ans, &rc,
                          &cause, &flight, detail, sizeof(detail))) {
    case SAEF_EB_NOT_OURS:
        if (a->prev.coap_validate_id != NULL)
            return a->prev.coap_validate_id((struct coap_bin_const_t *)identity,
                                            (struct coap_session_t *)session, a->prev.coap_arg);
        /* Nobody knows it: a random key, so that it fails like a wrong key (the DTLS Finished
         * does not verify) rather than with unknown_psk_identity. */
        coap_peer(session, peer, sizeof(peer));
        tls_report_unknown(t, (const char *)identity->s, identity->length, peer, "coap");
        c->coap_key_len = tls_decoy_key(c->coap_key, sizeof(c->coap_key), 32);
        goto give_key;
    case SAEF_EB_WAIT:
        deadline = tls_deadline(t->p.coap_timeout_ms);
        rc = cause = saef_eb_finish(t->p.eb, flight, &deadline, &ans, detail, sizeof(detail));
        break;
    case SAEF_EB_DONE:
        break;
    }
    coap_peer(session, peer, sizeof(peer));
    if (rc == SAEF_OK && (rc = cause = tls_admit_room(t)) != SAEF_OK)
        snprintf(detail, sizeof(detail), "no room to record the association");
    if (rc == SAEF_OK) {
        memcpy(c->coap_key, ans.psk, ans.psk_len);
        c->coap_key_len = ans.psk_len;
        tls_conn_bind(t, c, &ans.binding, peer, "coap");
    } else {
        c->coap_key_len = tls_decoy_key(c->coap_key, sizeof(c->coap_key), 32);
    }
    tls_report(t, rc, cause, &ans, peer, "coap", detail);
    saef_eb_answer_clear(&ans);
give_key:
    if (c->coap_key_len == 0)
        return NULL;
    c->coap_bin.s = c->coap_key;
    c->coap_bin.length = c->coap_key_len;
    return &c->coap_bin;
}

saef_rc_t saef_tls_attach_coap(saef_tls_t *t, struct coap_context_t *ctx,
                               const saef_psk_chain_t *prev)
{
    coap_dtls_spsk_t setup;
    tls_attach_t *a;

    if (t == NULL || ctx == NULL)
        return SAEF_E_INVALID_ARG;
    if (!coap_dtls_is_supported())
        return SAEF_E_NOT_SUPPORTED;
    a = tls_attach_new(t, prev);
    if (a == NULL)
        return SAEF_E_NOMEM;
    memset(&setup, 0, sizeof(setup));
    setup.version = COAP_DTLS_SPSK_SETUP_VERSION;
    setup.validate_id_call_back = validate_id;
    setup.id_call_back_arg = a;
    return coap_context_set_psk2((coap_context_t *)ctx, &setup) == 1 ? SAEF_OK
                                                                      : SAEF_E_INTERNAL;
}

saef_rc_t saef_tls_binding_coap(saef_tls_t *t, const struct coap_session_t *session,
                                saef_eb_binding_t *out)
{
    if (t == NULL || session == NULL || out == NULL)
        return SAEF_E_INVALID_ARG;
    return tls_conn_binding(t, session_ssl((const coap_session_t *)session), out);
}
