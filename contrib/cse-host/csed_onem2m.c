/*
 * saef-csed: what the HTTP and the CoAP binding share.
 *
 *   - the originator check of TS-0004 7.3.2.1 against the connection's security association
 *     (4106 ORIGINATOR_NOT_AUTHENTICATED, 4107 SECURITY_ASSOCIATION_REQUIRED);
 *   - the target: the CSEBase (RETRIEVE only) and the module's management resources mounted
 *     at <CSEBase>/saef/...; everything else is 4004;
 *   - RSC -> HTTP status and CoAP code tables (TS-0009 Table 6.3.2-1, TS-0008 Table 6.2.4-1).
 *
 * Identifiers (TS-0001 7.2) as this host reads a From value:
 *   "/cse"                SP-relative CSE-ID
 *   "/cse/Cstem"          SP-relative C-type AE-ID (registered via CSE "cse")
 *   "Cstem"               AE-ID stem of a C-type AE (relative to the registrar on this hop)
 *   "Sstem"               SP-relative S-type AE-ID
 *   "//sp/..."            absolute form of the above; "//sp/Sstem" is an S-type AE-ID
 * Anything else is "other": never a CSE-ID.  The absolute forms with our own SP-ID fold into the
 * SP-relative ones, so "//sp.example.test/mn1" and "/mn1" name the same CSE.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>

#include "csed.h"

/* ---- status code tables ---- */

/* TS-0009 Table 6.3.2-1, row by row.  4128 is in neither binding table: 403, as its
 * neighbours. */
static const struct {
    int status;
    int rsc[26];
} http_table[] = {
    {200, {2000, 2002, 2004}},
    {201, {2001}},
    {202, {1000, 1001, 1002}},
    {400, {4000, 4102, 4110, 4120, 4122, 4123, 4143, 6010, 6022, 6023, 6024}},
    {403, {4101, 4103, 4106, 4107, 4108, 4109, 4111, 4112, 4113, 4114, 4115, 4116,
           4117, 4126, 4127, 4128, 5105, 5203, 5205, 5208, 5214, 5215, 5218, 5222}},
    {404, {4004, 4118, 4119, 4121, 5103, 5107, 6003, 6005}},
    {405, {4005}},
    {406, {5207}},
    {415, {4015}},
    {409, {4104, 4105, 4124, 5106, 5219, 5220, 6028, 6029}},
    {500, {5000, 5204, 5209, 5210, 5211, 5212, 5216, 5217, 5221, 6020, 6021, 6025, 6026}},
    {501, {4001, 4125, 5001, 5206}},
    {504, {4008, 6030, 6031}},
};

int csed_rsc_http(int rsc)
{
    size_t i, j;

    for (i = 0; i < sizeof(http_table) / sizeof(http_table[0]); i++)
        for (j = 0; j < sizeof(http_table[i].rsc) / sizeof(int) && http_table[i].rsc[j]; j++)
            if (http_table[i].rsc[j] == rsc)
                return http_table[i].status;
    /* A code the table does not know gets its class. */
    if (rsc >= 2000 && rsc < 3000)
        return 200;
    if (rsc >= 4000 && rsc < 5000)
        return 400;
    return 500;
}

int csed_rsc_coap(int rsc, saef_operation_t op)
{
    int http;

    switch (rsc) {
    case 1000:
        return 0;
    case 2000:
        return op == SAEF_OP_RETRIEVE ? 205 : 204;
    case 2001:
    case 1001:
    case 1002:
        return 201;
    case 2002:
        return 202;
    case 2004:
        return 204;
    case 4105:
        return 403;
    case 4120:
    case 4122:
        return 402;
    }
    /* Otherwise TS-0008 follows the HTTP table (same number, e.g. 404 -> 4.04), except that
     * its 409 rows are 4.00. */
    http = csed_rsc_http(rsc);
    if (http == 409)
        return 400;
    return http == 200 ? 205 : http;
}

/* ---- identifiers ---- */

typedef enum id_kind { ID_OTHER, ID_CSE, ID_AE_C, ID_AE_C_STEM, ID_AE_S } id_kind_t;

typedef struct id_view {
    id_kind_t kind;
    const char *sp; /* NULL: our own SP (or an SP-relative form) */
    size_t sp_len;
    const char *cse; /* CSE-ID stem: of the CSE, or of the C-type AE's registrar */
    size_t cse_len;
    const char *stem; /* AE-ID stem */
    size_t stem_len;
} id_view_t;

static void id_parse(const csed_t *srv, const char *id, id_view_t *v)
{
    const char *p = id, *slash;

    memset(v, 0, sizeof(*v));
    v->kind = ID_OTHER;
    if (p[0] == '/' && p[1] == '/') {
        slash = strchr(p + 2, '/');
        if (slash == NULL || slash == p + 2)
            return;
        v->sp = p + 2;
        v->sp_len = (size_t)(slash - v->sp);
        if (srv->cfg.sp_id != NULL && strlen(srv->cfg.sp_id) == v->sp_len &&
            strncasecmp(srv->cfg.sp_id, v->sp, v->sp_len) == 0)
            v->sp = NULL, v->sp_len = 0;
        p = slash;
        if (p[1] == 'S' && strchr(p + 1, '/') == NULL) {
            v->kind = ID_AE_S;
            v->stem = p + 1;
            v->stem_len = strlen(v->stem);
            return;
        }
    }
    if (p[0] == '/') {
        v->cse = p + 1;
        slash = strchr(v->cse, '/');
        if (slash == NULL) {
            v->cse_len = strlen(v->cse);
            if (v->cse_len > 0)
                v->kind = ID_CSE;
            return;
        }
        v->cse_len = (size_t)(slash - v->cse);
        v->stem = slash + 1;
        v->stem_len = strlen(v->stem);
        if (v->cse_len > 0 && v->stem[0] == 'C' && strchr(v->stem, '/') == NULL)
            v->kind = ID_AE_C;
        return;
    }
    if (v->sp == NULL && (p[0] == 'C' || p[0] == 'S') && strchr(p, '/') == NULL) {
        v->kind = p[0] == 'C' ? ID_AE_C_STEM : ID_AE_S;
        v->stem = p;
        v->stem_len = strlen(p);
    }
}

static int same(const char *a, size_t alen, const char *b, size_t blen, int nocase)
{
    if (alen != blen)
        return 0;
    if (alen == 0)
        return 1;
    return nocase ? strncasecmp(a, b, alen) == 0 : memcmp(a, b, alen) == 0;
}

static int same_cse(const id_view_t *a, const id_view_t *b)
{
    return same(a->sp, a->sp_len, b->sp, b->sp_len, 1) &&
           same(a->cse, a->cse_len, b->cse, b->cse_len, 0);
}

/* An AE-ID in one canonical form: a bare C stem on a direct AE connection is registered with
 * us, so it is "/<our CSE>/Cstem". */
static int same_ae(const csed_t *srv, id_view_t a, id_view_t b)
{
    id_view_t *v[2] = {&a, &b};
    int i;

    for (i = 0; i < 2; i++) {
        if (v[i]->kind == ID_AE_C_STEM) {
            v[i]->kind = ID_AE_C;
            v[i]->cse = srv->cfg.cse_stem;
            v[i]->cse_len = strlen(srv->cfg.cse_stem);
        }
        if (v[i]->kind != ID_AE_C && v[i]->kind != ID_AE_S)
            return 0;
    }
    return a.kind == b.kind && same(a.sp, a.sp_len, b.sp, b.sp_len, 1) &&
           (a.kind == ID_AE_S || same(a.cse, a.cse_len, b.cse, b.cse_len, 0)) &&
           same(a.stem, a.stem_len, b.stem, b.stem_len, 0);
}

static const char *kind_name(saef_peer_kind_t k)
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

void csed_peer_set_binding(csed_t *srv, csed_peer_t *peer, saef_rc_t rc)
{
    saef_binding_t *b = &peer->binding;

    if (rc == SAEF_OK) {
        b->peer_id[sizeof(b->peer_id) - 1] = '\0';
        b->key_id[sizeof(b->key_id) - 1] = '\0';
        if ((b->kind == SAEF_PEER_CSE_ID || b->kind == SAEF_PEER_AE_ID ||
             b->kind == SAEF_PEER_CREDENTIAL_ID) &&
            b->peer_id[0] != '\0') {
            peer->state = CSED_BIND_MODULE;
            csed_log(srv, SAEF_LOG_INFO, "%s %s: bound to %s %s (Key Identifier %s)",
                     peer->transport, peer->addr, kind_name(b->kind), b->peer_id, b->key_id);
            return;
        }
        peer->state = CSED_BIND_ERROR;
        csed_log(srv, SAEF_LOG_ERROR,
                 "%s %s: the module returned a binding of kind %d: "
                 "every request on this connection is refused",
                 peer->transport, peer->addr, (int)b->kind);
    } else if (rc == SAEF_E_KEY_EXPIRED) {
        /* TS-0003 8.2.2.3 step 15: no use of an association whose Kc is over. */
        peer->state = CSED_BIND_EXPIRED;
        csed_log(srv, SAEF_LOG_NOTICE, "%s %s: Kc of %s has expired: closing", peer->transport,
                 peer->addr, b->key_id[0] ? b->key_id : "the association");
    } else if (rc == SAEF_E_BUSY) {
        /* Fail closed: an association the module cannot record must not be used. */
        peer->state = CSED_BIND_REFUSED;
        csed_log(srv, SAEF_LOG_WARNING,
                 "%s %s: the module cannot record the association of %s (%s): closing",
                 peer->transport, peer->addr, b->key_id[0] ? b->key_id : "this connection",
                 srv->mod->strerror(rc));
    } else if (peer->host_psk) {
        peer->state = CSED_BIND_NONE; /* the host's own PSK table, not a MAF association */
    } else {
        /* The key came from the module, yet it cannot say whom it bound: fail closed. */
        peer->state = CSED_BIND_ERROR;
        csed_log(srv, SAEF_LOG_ERROR,
                 "%s %s: handshake completed with a module key but "
                 "binding query failed (%s): every request on this connection is refused",
                 peer->transport, peer->addr, srv->mod->strerror(rc));
    }
}

/* TS-0004 7.3.2.1: 0 when from may use this connection, otherwise the RSC. */
static int check_from(csed_t *srv, csed_peer_t *peer, const char *from, const char **why)
{
    const saef_binding_t *b = &peer->binding;
    id_view_t f, bound;

    id_parse(srv, from, &f);
    switch (peer->state) {
    case CSED_BIND_NONE:
        /* A host-table peer has no security association of the module: only a CSE must have
         * one (4107).  AEs authenticated by the host's own credentials keep working. */
        *why = "a CSE-ID originator needs a security association";
        return f.kind == ID_CSE ? 4107 : 0;
    case CSED_BIND_MODULE:
        break;
    case CSED_BIND_EXPIRED:
        *why = "the key of this security association has expired";
        return 4107;
    case CSED_BIND_REFUSED:
        *why = "the security association could not be recorded";
        return 5000; /* the server's trouble, not the peer's fault */
    case CSED_BIND_UNKNOWN:
    case CSED_BIND_ERROR:
        *why = "the security association of this connection is unknown";
        return 5000;
    }
    *why = "From does not match the identity bound to the security association";
    switch (b->kind) {
    case SAEF_PEER_CSE_ID:
        id_parse(srv, b->peer_id, &bound);
        if (bound.kind != ID_CSE)
            return 4106;
        if ((f.kind == ID_CSE || f.kind == ID_AE_C) && same_cse(&f, &bound))
            return 0; /* the CSE itself, or a C-type AE registered via it */
        return f.kind == ID_AE_C_STEM ? 0 : 4106;
    case SAEF_PEER_AE_ID:
        id_parse(srv, b->peer_id, &bound);
        if (same_ae(srv, f, bound))
            return 0;
        return bound.kind == ID_OTHER && strcmp(from, b->peer_id) == 0 ? 0 : 4106;
    case SAEF_PEER_CREDENTIAL_ID:
        if (!peer->warned)
            csed_log(srv, SAEF_LOG_WARNING,
                     "%s %s: Credential-ID %s has no mapping to a CSE-ID or AE-ID (credential "
                     "map): every request on this association is refused with 4106",
                     peer->transport, peer->addr, b->peer_id);
        peer->warned = 1;
        *why = "the Credential-ID of this security association has no CSE-ID/AE-ID mapping";
        return 4106;
    case SAEF_PEER_NONE:
        break;
    }
    return 4106;
}

/* ---- targets ---- */

typedef enum target { TGT_NONE, TGT_CSEBASE, TGT_ADMIN } target_t;

/* Resolve To (any of the three forms) against this CSE; *rest gets the admin path. */
static target_t resolve_to(const csed_t *srv, const char *to, const char **rest)
{
    const csed_config_t *c = &srv->cfg;
    const char *p = to, *end;
    size_t n;

    if (p[0] == '/' && p[1] == '/') {
        end = strchr(p + 2, '/');
        if (c->sp_id == NULL || end == NULL || (size_t)(end - p - 2) != strlen(c->sp_id) ||
            strncasecmp(p + 2, c->sp_id, strlen(c->sp_id)) != 0)
            return TGT_NONE; /* another SP: this host does not forward */
        p = end;
    }
    if (p[0] == '/') {
        n = strlen(c->cse_stem);
        if (strncmp(p + 1, c->cse_stem, n) != 0 || (p[1 + n] != '/' && p[1 + n] != '\0'))
            return TGT_NONE; /* another CSE: no retargeting either */
        p += 1 + n;
        if (*p == '/')
            p++;
        if (*p == '\0')
            return TGT_CSEBASE; /* "/cse-id" alone names the CSEBase */
    }
    /* CSE-relative: the CSEBase by resourceName, resourceID or "-" */
    end = strchr(p, '/');
    n = end ? (size_t)(end - p) : strlen(p);
    if (!same(p, n, "-", 1, 0) && !same(p, n, c->resource_name, strlen(c->resource_name), 0) &&
        !same(p, n, c->resource_id, strlen(c->resource_id), 0))
        return TGT_NONE;
    p += n;
    if (*p == '/')
        p++;
    if (*p == '\0')
        return TGT_CSEBASE;
    if (strncmp(p, "saef", 4) == 0 && (p[4] == '\0' || p[4] == '/')) {
        *rest = p[4] == '/' ? p + 5 : "";
        return TGT_ADMIN;
    }
    return TGT_NONE;
}

/* ---- responses ---- */

static void set_json(csed_rsp_t *rsp, int rsc, json_t *root)
{
    rsp->rsc = rsc;
    rsp->body = root != NULL ? json_dumps(root, JSON_COMPACT) : NULL;
    rsp->body_len = rsp->body != NULL ? strlen(rsp->body) : 0;
    rsp->content_type = "application/json";
    json_decref(root);
    if (rsp->body == NULL && root != NULL)
        rsp->rsc = 5000;
}

void csed_rsp_dbg(csed_rsp_t *rsp, int rsc, const char *text)
{
    set_json(rsp, rsc, json_pack("{s:s}", "m2m:dbg", text));
    rsp->rsc = rsc;
}

static void cb_retrieve(csed_t *srv, csed_rsp_t *rsp)
{
    const csed_config_t *c = &srv->cfg;
    json_t *poa = json_array();
    char *list, *tok, *save = NULL;

    if (poa != NULL && c->poa != NULL && (list = strdup(c->poa)) != NULL) {
        for (tok = strtok_r(list, ", \t", &save); tok; tok = strtok_r(NULL, ", \t", &save))
            json_array_append_new(poa, json_string(tok));
        free(list);
    } else if (poa != NULL) {
        json_array_append_new(poa, json_string(srv->poa_http));
        if (srv->poa_coap[0] != '\0')
            json_array_append_new(poa, json_string(srv->poa_coap));
    }
    /* srt: the only resource type this front end serves; srv: Release 2, 2a and 3. */
    set_json(rsp, 2000,
             json_pack("{s:{s:s,s:s,s:s,s:i,s:s,s:s,s:s,s:i,s:[i],s:o*,s:[s,s,s]}}", "m2m:cb", "rn",
                       c->resource_name, "ri", c->resource_id, "pi", "", "ty", 5, "ct", srv->ct,
                       "lt", srv->ct, "csi", c->csi, "cst", c->cse_type, "srt", 5, "poa", poa,
                       "srv", "2", "2a", "3"));
}

static void admin(csed_t *srv, const csed_req_t *req, const char *path, csed_rsp_t *rsp)
{
    saef_admin_request_t areq = {
        .hdr = SAEF_ABI_HDR_INIT(saef_admin_request_t),
        .operation = req->op,
        .path = path,
        .query = req->query,
        .originator = req->from,
        .body = req->body,
        .body_len = req->body_len,
    };
    saef_admin_response_t aresp = {.hdr = SAEF_ABI_HDR_INIT(saef_admin_response_t)};
    saef_rc_t rc = srv->mod->admin_request(srv->inst, &areq, &aresp);

    if (rc == SAEF_E_NOT_SUPPORTED) {
        csed_rsp_dbg(rsp, 5001, "the module's management resources are not implemented");
        return;
    }
    if (rc != SAEF_OK || aresp.rsc < 1000 || aresp.rsc > 6999) {
        csed_log(srv, SAEF_LOG_ERROR, "admin_request %s: %s (rsc %d)", path, srv->mod->strerror(rc),
                 aresp.rsc);
        if (rc == SAEF_OK)
            srv->mod->admin_response_free(&aresp);
        csed_rsp_dbg(rsp, 5000, "management resource failed");
        return;
    }
    rsp->rsc = aresp.rsc;
    if (aresp.body != NULL) {
        rsp->body = strdup(aresp.body);
        rsp->body_len = rsp->body != NULL ? strlen(rsp->body) : 0;
        rsp->content_type = "application/json";
        if (rsp->body == NULL)
            rsp->rsc = 5000;
    }
    srv->mod->admin_response_free(&aresp);
}

static int rvi_supported(const char *rvi)
{
    return strcmp(rvi, "2") == 0 || strcmp(rvi, "2a") == 0 || strcmp(rvi, "3") == 0;
}

void csed_onem2m_handle(csed_t *srv, csed_peer_t *peer, const csed_req_t *req, csed_rsp_t *rsp)
{
    const char *why = NULL, *path = NULL;
    int rsc;

    memset(rsp, 0, sizeof(*rsp));
    /* Answer in the requester's release; a missing RVI is Release 1, which has no RVI. */
    rsp->rvi = req->rvi == NULL ? NULL : rvi_supported(req->rvi) ? req->rvi : "3";
    if (req->from == NULL || req->from[0] == '\0') {
        csed_rsp_dbg(rsp, 4000, "From (X-M2M-Origin / oneM2M-FR) is missing");
    } else if (req->rvi != NULL && !rvi_supported(req->rvi)) {
        csed_rsp_dbg(rsp, 4001, "release version not supported (2, 2a, 3)");
    } else if ((rsc = check_from(srv, peer, req->from, &why)) != 0) {
        csed_log(srv, SAEF_LOG_NOTICE, "%s %s: From \"%s\" refused with %d: %s", peer->transport,
                 peer->addr, req->from, rsc, why);
        csed_rsp_dbg(rsp, rsc, why);
    } else if (req->op == 0) {
        csed_rsp_dbg(rsp, 4000, "method does not map to a oneM2M operation");
    } else {
        switch (resolve_to(srv, req->to, &path)) {
        case TGT_CSEBASE:
            if (req->op == SAEF_OP_RETRIEVE)
                cb_retrieve(srv, rsp);
            else
                csed_rsp_dbg(rsp, 4005, "operation not allowed on the CSEBase");
            break;
        case TGT_ADMIN:
            admin(srv, req, path, rsp);
            break;
        case TGT_NONE:
            csed_rsp_dbg(rsp, 4004, "resource does not exist");
            break;
        }
    }
    if (rsp->body != NULL && !req->accept_ok) {
        int was = rsp->rsc;

        csed_rsp_clear(rsp);
        rsp->rsc = was >= 4000 ? was : 5207; /* an error stays an error, without content */
    }
    csed_count_rsc(srv, rsp->rsc);
}

void csed_rsp_clear(csed_rsp_t *rsp)
{
    free(rsp->body);
    rsp->body = NULL;
    rsp->body_len = 0;
    rsp->content_type = NULL;
}
