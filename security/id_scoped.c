/* "relative@FQDN" identifiers: Key Identifier, KeID, KmID, KpsaID (TS-0003 10.3.4-10.6). */
#include <string.h>

#include "saef_id_internal.h"

saef_rc_t saef_id_rel_check(const char *s, size_t len)
{
    if (len == 0)
        return SAEF_E_ID_REL_EMPTY;
    if (len > SAEF_ID_REL_MAX)
        return SAEF_E_ID_REL_TOO_LONG;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == 0)
            return SAEF_E_ID_NUL;
        if (c >= 0x80 || c < 0x20 || c == 0x7f)
            return SAEF_E_ID_NON_ASCII;
        if (!id_is_rel_char(c))
            return SAEF_E_ID_REL_CHAR;
    }
    return SAEF_OK;
}

/* The relative part may itself hold an '@' (which it then rejects), the FQDN never can: the
 * split is at the last '@' so that "a@b@maf" is reported against the relative part. */
static const char *last_at(const char *s, size_t len)
{
    for (size_t i = len; i > 0; i--) {
        if (s[i - 1] == '@')
            return s + i - 1;
    }
    return NULL;
}

static saef_rc_t scoped_parse(const char *s, size_t len, saef_id_scoped_t *out)
{
    if ((s == NULL && len > 0) || out == NULL)
        return SAEF_E_INVALID_ARG;
    saef_rc_t rc = saef_id_check_whole(s, len, SAEF_ID_IDENTITY_MAX);
    if (rc != SAEF_OK)
        return rc;
    const char *at = last_at(s, len);
    if (at == NULL)
        return SAEF_E_ID_NO_AT;
    size_t rel_len = (size_t)(at - s);
    rc = saef_id_rel_check(s, rel_len);
    if (rc != SAEF_OK)
        return rc;
    saef_span_t fqdn;
    rc = saef_id_fqdn_part(at + 1, len - rel_len - 1, &fqdn);
    if (rc != SAEF_OK)
        return rc;
    out->rel.ptr = s;
    out->rel.len = rel_len;
    out->fqdn = fqdn;
    return SAEF_OK;
}

saef_rc_t saef_id_keyid_parse(const char *s, size_t len, saef_id_scoped_t *out)
{
    return scoped_parse(s, len, out);
}

saef_rc_t saef_id_keid_parse(const char *s, size_t len, saef_id_scoped_t *out)
{
    if (out == NULL)
        return SAEF_E_INVALID_ARG;
    saef_id_scoped_t id;
    saef_rc_t rc = scoped_parse(s, len, &id);
    if (rc != SAEF_OK)
        return rc;
    /* xs:hexBinary: two hex digits per octet. */
    if (id.rel.len % 2 != 0)
        return SAEF_E_ID_HEX;
    for (size_t i = 0; i < id.rel.len; i++) {
        if (!id_is_xdigit((unsigned char)id.rel.ptr[i]))
            return SAEF_E_ID_HEX;
    }
    *out = id;
    return SAEF_OK;
}

saef_rc_t saef_id_kmid_parse(const char *s, size_t len, saef_id_scoped_t *out)
{
    return scoped_parse(s, len, out);
}

bool saef_id_kmid_equal(const char *a, size_t alen, const char *b, size_t blen)
{
    saef_id_scoped_t x, y;
    if (scoped_parse(a, alen, &x) != SAEF_OK || scoped_parse(b, blen, &y) != SAEF_OK)
        return false;
    /* TS-0003 10.6: the relative KmID is not case sensitive. */
    return x.rel.len == y.rel.len && saef_id_equal_nocase(x.rel.ptr, y.rel.ptr, x.rel.len) &&
           saef_id_fqdn_equal(x.fqdn.ptr, x.fqdn.len, y.fqdn.ptr, y.fqdn.len);
}

saef_rc_t saef_id_kpsaid_parse(const char *s, size_t len, saef_id_scoped_t *out)
{
    return scoped_parse(s, len, out);
}

saef_rc_t saef_id_scoped_format(const char *rel, size_t rel_len, const char *fqdn, size_t fqdn_len,
                                char *buf, size_t buflen)
{
    if (buf != NULL && buflen > 0)
        buf[0] = '\0';
    if ((rel == NULL && rel_len > 0) || (fqdn == NULL && fqdn_len > 0))
        return SAEF_E_INVALID_ARG;
    saef_rc_t rc = saef_id_rel_check(rel, rel_len);
    if (rc != SAEF_OK)
        return rc;
    saef_span_t name;
    rc = saef_id_fqdn_part(fqdn, fqdn_len, &name);
    if (rc != SAEF_OK)
        return rc;
    size_t total = rel_len + 1 + name.len;
    if (total > SAEF_ID_IDENTITY_MAX)
        return SAEF_E_ID_TOO_LONG;
    if (buf == NULL || buflen <= total)
        return SAEF_E_BUFFER_TOO_SMALL;
    memcpy(buf, rel, rel_len);
    buf[rel_len] = '@';
    memcpy(buf + rel_len + 1, name.ptr, name.len);
    buf[total] = '\0';
    return SAEF_OK;
}
