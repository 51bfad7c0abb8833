/* The one exported symbol and the function table it returns. */
#include "config.h"

#include <string.h>

#include <coap3/coap.h>
#include <openssl/crypto.h>
#include <openssl/opensslv.h>

#include "saef/module.h"
#include "saef_admin.h"
#include "saef_instance_internal.h"
#include "saef_rc.h"

_Static_assert(OPENSSL_VERSION_MAJOR == SAEF_BUILT_OPENSSL_MAJOR,
               "module.h states another OpenSSL major than the one we compile against");

static saef_rc_t attach_openssl(saef_instance_t *inst, struct ssl_ctx_st *ctx,
                                const saef_psk_chain_t *prev)
{
    saef_rc_t rc;

    if (inst == NULL || ctx == NULL)
        return SAEF_E_INVALID_ARG;
    if (inst->state != SAEF_INSTANCE_STARTED)
        return SAEF_E_STATE;
    rc = saef_tls_attach_openssl(inst->rt.tls, ctx, prev);
    if (rc != SAEF_OK)
        saef_log(inst, SAEF_LOG_ERROR, "attach_openssl: %s", saef_strerror(rc));
    return rc;
}

static saef_rc_t attach_coap(saef_instance_t *inst, struct coap_context_t *ctx,
                             const saef_psk_chain_t *prev)
{
    saef_rc_t rc;

    if (inst == NULL || ctx == NULL)
        return SAEF_E_INVALID_ARG;
    if (inst->state != SAEF_INSTANCE_STARTED)
        return SAEF_E_STATE;
    rc = saef_tls_attach_coap(inst->rt.tls, ctx, prev);
    if (rc != SAEF_OK)
        saef_log(inst, SAEF_LOG_ERROR, "attach_coap: %s", saef_strerror(rc));
    return rc;
}

static saef_rc_t psk_lookup(saef_instance_t *inst, const uint8_t *identity, size_t identity_len,
                            uint8_t *psk, size_t psk_cap, size_t *psk_len)
{
    char detail[SAEF_EB_DETAIL_MAX] = "";
    saef_eb_answer_t ans;
    saef_rc_t rc;

    if (inst == NULL || identity == NULL || psk == NULL || psk_len == NULL)
        return SAEF_E_INVALID_ARG;
    *psk_len = 0;
    if (inst->state != SAEF_INSTANCE_STARTED)
        return SAEF_E_STATE;
    rc = saef_eb_lookup(inst->rt.eb, (const char *)identity, identity_len, 0, &ans, detail,
                        sizeof(detail));
    if (rc == SAEF_OK && ans.psk_len > psk_cap)
        rc = SAEF_E_BUFFER_TOO_SMALL;
    if (rc == SAEF_OK) {
        memcpy(psk, ans.psk, ans.psk_len);
        *psk_len = ans.psk_len;
    } else {
        saef_log(inst, SAEF_LOG_WARNING, "psk_lookup refused: key_id=%s reason=%s: %s",
                 ans.binding.key_id[0] != '\0' ? ans.binding.key_id : "-", saef_strerror(rc),
                 detail);
    }
    saef_eb_answer_clear(&ans);
    return rc;
}

/* Copy a binding into the host's struct, only as far as its struct_size reaches. */
static saef_rc_t export_binding(saef_rc_t rc, const saef_eb_binding_t *b, saef_binding_t *out)
{
    if (out->hdr.abi_major != SAEF_ABI_MAJOR || !SAEF_HAS_FIELD(out, saef_binding_t, kind))
        return SAEF_E_ABI;
    if (rc != SAEF_OK && rc != SAEF_E_KEY_EXPIRED)
        return rc;
    out->kind = b->kind;
    if (SAEF_HAS_FIELD(out, saef_binding_t, peer_id))
        snprintf(out->peer_id, sizeof(out->peer_id), "%s", b->peer_id);
    if (SAEF_HAS_FIELD(out, saef_binding_t, key_id))
        snprintf(out->key_id, sizeof(out->key_id), "%s", b->key_id);
    if (SAEF_HAS_FIELD(out, saef_binding_t, kc_expiry))
        out->kc_expiry = (int64_t)b->kc_expiry.tv_sec;
    if (SAEF_HAS_FIELD(out, saef_binding_t, suid))
        out->suid = b->suid;
    if (SAEF_HAS_FIELD(out, saef_binding_t, admin_fqdn))
        snprintf(out->admin_fqdn, sizeof(out->admin_fqdn), "%s", b->admin_fqdn);
    return rc;
}

static saef_rc_t binding_ssl(saef_instance_t *inst, const struct ssl_st *ssl, saef_binding_t *out)
{
    saef_eb_binding_t b;

    if (inst == NULL || ssl == NULL || out == NULL)
        return SAEF_E_INVALID_ARG;
    if (inst->state != SAEF_INSTANCE_STARTED)
        return SAEF_E_STATE;
    return export_binding(saef_tls_binding_ssl(inst->rt.tls, ssl, &b), &b, out);
}

static saef_rc_t binding_coap(saef_instance_t *inst, const struct coap_session_t *session,
                              saef_binding_t *out)
{
    saef_eb_binding_t b;

    if (inst == NULL || session == NULL || out == NULL)
        return SAEF_E_INVALID_ARG;
    if (inst->state != SAEF_INSTANCE_STARTED)
        return SAEF_E_STATE;
    return export_binding(saef_tls_binding_coap(inst->rt.tls, session, &b), &b, out);
}

static saef_rc_t admin_request(saef_instance_t *inst, const saef_admin_request_t *req,
                               saef_admin_response_t *resp)
{
    if (inst == NULL || req == NULL || resp == NULL)
        return SAEF_E_INVALID_ARG;
    if (req->hdr.abi_major != SAEF_ABI_MAJOR ||
        !SAEF_HAS_FIELD(req, saef_admin_request_t, body_len) ||
        resp->hdr.abi_major != SAEF_ABI_MAJOR ||
        !SAEF_HAS_FIELD(resp, saef_admin_response_t, content_type))
        return SAEF_E_ABI;
    if (inst->state != SAEF_INSTANCE_STARTED)
        return SAEF_E_STATE;
    return saef_admin_serve(inst, req, resp);
}

static void admin_response_free(saef_admin_response_t *resp)
{
    saef_admin_free(resp);
}

static void handshake_abort(saef_instance_t *inst, struct ssl_st *ssl)
{
    if (inst != NULL && inst->state == SAEF_INSTANCE_STARTED)
        saef_tls_abort(inst->rt.tls, ssl);
}

static const saef_module_t module_table = {
    .hdr = SAEF_ABI_HDR_INIT(saef_module_t),
    .name = "maf_saef",
    .version = PACKAGE_VERSION,
    .openssl_major = SAEF_BUILT_OPENSSL_MAJOR,
    .libcoap_version = LIBCOAP_PACKAGE_VERSION,
    .strerror = saef_strerror,
    .create = saef_instance_create,
    .start = saef_instance_start,
    .stop = saef_instance_stop,
    .destroy = saef_instance_destroy,
    .attach_openssl = attach_openssl,
    .attach_coap = attach_coap,
    .psk_lookup = psk_lookup,
    .binding_ssl = binding_ssl,
    .binding_coap = binding_coap,
    .admin_request = admin_request,
    .admin_response_free = admin_response_free,
    .handshake_abort = handshake_abort,
};

/* Host and module share the process's libssl and libcoap: a different OpenSSL major or
 * libcoap major.minor at run time means struct layouts we were not compiled for. */
static int runtime_libraries_match(void)
{
    const char *coap = coap_package_version(); /* "libcoap 4.3.1" */
    size_t n = strlen(SAEF_BUILT_LIBCOAP_VERSION);

    if (OPENSSL_version_major() != SAEF_BUILT_OPENSSL_MAJOR || coap == NULL)
        return 0;
    coap += strcspn(coap, "0123456789");
    return strncmp(coap, SAEF_BUILT_LIBCOAP_VERSION, n) == 0 &&
           (coap[n] == '.' || coap[n] == '\0');
}

__attribute__((visibility("default"))) const saef_module_t *
saef_module_entry(uint16_t host_abi_major, uint16_t host_abi_minor)
{
    (void)host_abi_minor; /* any minor works: the host checks struct_size before later slots */
    if (host_abi_major != SAEF_ABI_MAJOR)
        return NULL;
    if (!runtime_libraries_match())
        return NULL;
    return &module_table;
}
