/* CSE-ID and AE-ID classification (TS-0001 7.2, TS-0004 6.2.3). */
#include <string.h>

#include "saef_id_internal.h"

/* RFC 3986 unreserved characters: an ID segment travels unescaped in request paths. */
static bool is_unreserved(unsigned char c)
{
    return id_is_alnum(c) || c == '.' || c == '_' || c == '~' || c == '-';
}

static size_t segment_end(const char *s, size_t len, size_t from)
{
    while (from < len && s[from] != '/')
        from++;
    return from;
}

static bool segment_ok(const char *p, size_t n)
{
    if (n == 0)
        return false;
    for (size_t i = 0; i < n; i++) {
        if (!is_unreserved((unsigned char)p[i]))
            return false;
    }
    return true;
}

/* An AE-ID-Stem starts with 'C' (assigned by the registrar CSE) or 'S' (assigned by the
 * IN-CSE), followed by at least one character.  A '/' in it is a stray extra segment. */
static bool ae_ok(const char *p, size_t n)
{
    return n >= 2 && (p[0] == 'C' || p[0] == 'S') && segment_ok(p, n);
}

static saef_rc_t classify(const char *s, size_t len, saef_m2m_id_t *id)
{
    if (s[0] != '/') {
        if (!ae_ok(s, len))
            return SAEF_E_ID_AE_ID;
        id->ae_id.ptr = s;
        id->ae_id.len = len;
        id->kind = SAEF_M2M_ID_AE_SP_RELATIVE;
        return SAEF_OK;
    }

    bool absolute = len >= 2 && s[1] == '/';
    size_t pos = 0;
    if (absolute) {
        size_t end = segment_end(s, len, 2);
        saef_span_t dom;
        /* The SP-ID is compared as text against request originators, so only the spelling
         * without a trailing dot is accepted. */
        if (end == 2 || s[end - 1] == '.' || saef_id_fqdn_part(s + 2, end - 2, &dom) != SAEF_OK)
            return SAEF_E_ID_SP_ID;
        id->sp_domain = dom;
        if (end == len)
            return SAEF_E_ID_CSE_ID;
        pos = end;
    }

    size_t cse = pos + 1;
    size_t end = segment_end(s, len, cse);
    if (!segment_ok(s + cse, end - cse))
        return SAEF_E_ID_CSE_ID;
    id->cse_id.ptr = s + cse;
    id->cse_id.len = end - cse;
    if (end == len) {
        id->kind = absolute ? SAEF_M2M_ID_CSE_ABSOLUTE : SAEF_M2M_ID_CSE_SP_RELATIVE;
        return SAEF_OK;
    }

    size_t ae = end + 1;
    if (!ae_ok(s + ae, len - ae))
        return SAEF_E_ID_AE_ID;
    id->ae_id.ptr = s + ae;
    id->ae_id.len = len - ae;
    id->kind = absolute ? SAEF_M2M_ID_AE_ABSOLUTE : SAEF_M2M_ID_AE_CSE_RELATIVE;
    return SAEF_OK;
}

saef_rc_t saef_id_m2m_classify(const char *s, size_t len, saef_m2m_id_t *out)
{
    if (out == NULL)
        return SAEF_E_INVALID_ARG;
    memset(out, 0, sizeof(*out));
    out->kind = SAEF_M2M_ID_INVALID;
    if (s == NULL && len > 0)
        return SAEF_E_INVALID_ARG;
    saef_rc_t rc = saef_id_check_whole(s, len, SAEF_ID_IDENTITY_MAX);
    if (rc != SAEF_OK)
        return rc;
    saef_m2m_id_t id;
    memset(&id, 0, sizeof(id));
    rc = classify(s, len, &id);
    if (rc == SAEF_OK)
        *out = id;
    return rc;
}

bool saef_id_is_cse_id(const char *s, size_t len)
{
    saef_m2m_id_t id;
    if (saef_id_m2m_classify(s, len, &id) != SAEF_OK)
        return false;
    return id.kind == SAEF_M2M_ID_CSE_SP_RELATIVE || id.kind == SAEF_M2M_ID_CSE_ABSOLUTE;
}

bool saef_id_is_ae_id(const char *s, size_t len)
{
    saef_m2m_id_t id;
    if (saef_id_m2m_classify(s, len, &id) != SAEF_OK)
        return false;
    return id.kind == SAEF_M2M_ID_AE_SP_RELATIVE || id.kind == SAEF_M2M_ID_AE_CSE_RELATIVE ||
           id.kind == SAEF_M2M_ID_AE_ABSOLUTE;
}
