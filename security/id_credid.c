/* Credential-ID "<typeID>-<value>" (TS-0003 10.4, sec:credIDTypeID in 12.3.2.1). */
#include <string.h>

#include "saef_id_internal.h"

static const struct {
    unsigned type;
    const char *name;
} credid_types[] = {
    {10, "KpmID: symmetric key shared with a MEF"},
    {11, "KmID: symmetric key used to authenticate to a MAF"},
    {12, "KpsaID or KcID: symmetric key for a SAEF"},
    {13, "pairwiseESPrimKeyID"},
    {14, "ESData symmetric key"},
    {15, "ESData symmetric key"},
    {16, "ESData symmetric key"},
    {30, "raw public key ID"},
    {31, "device hardware ID"},
    {32, "CSE-ID certificate"},
    {33, "AE-ID certificate"},
    {34, "Node-ID certificate"},
    {41, "ESData key management"},
    {42, "ESData key management"},
    {43, "ESData key management"},
    {44, "ESData key management"},
    {45, "ESData key management"},
    {51, "ESData signature"},
    {52, "ESData signature"},
    {53, "ESData signature"},
    {54, "ESData signature"},
    {55, "ESData signature"},
};

/* No typeID of the table has more digits; longer numbers are unknown without being converted,
 * which also keeps the conversion free of overflow. */
#define CREDID_TYPE_DIGITS_MAX 2

static const char *type_name(unsigned type)
{
    for (size_t i = 0; i < sizeof(credid_types) / sizeof(credid_types[0]); i++) {
        if (credid_types[i].type == type)
            return credid_types[i].name;
    }
    return NULL;
}

bool saef_credid_type_known(unsigned type)
{
    return type_name(type) != NULL;
}

const char *saef_credid_type_name(unsigned type)
{
    const char *name = type_name(type);
    return name != NULL ? name : "unknown";
}

saef_rc_t saef_id_credid_parse(const char *s, size_t len, saef_credid_t *out)
{
    if ((s == NULL && len > 0) || out == NULL)
        return SAEF_E_INVALID_ARG;
    saef_rc_t rc = saef_id_check_whole(s, len, SAEF_ID_IDENTITY_MAX);
    if (rc != SAEF_OK)
        return rc;

    const char *dash = memchr(s, '-', len);
    if (dash == NULL || dash == s)
        return SAEF_E_ID_CREDID_TYPE;
    size_t digits = (size_t)(dash - s);
    /* A positive integer in canonical form: no sign, no leading zero. */
    if (digits > CREDID_TYPE_DIGITS_MAX || s[0] == '0')
        return SAEF_E_ID_CREDID_TYPE;
    unsigned type = 0;
    for (size_t i = 0; i < digits; i++) {
        if (!id_is_digit((unsigned char)s[i]))
            return SAEF_E_ID_CREDID_TYPE;
        type = type * 10 + (unsigned)(s[i] - '0');
    }
    if (!saef_credid_type_known(type))
        return SAEF_E_ID_CREDID_TYPE;

    const char *value = dash + 1;
    size_t vlen = len - digits - 1;
    if (vlen == 0)
        return SAEF_E_ID_CREDID_VALUE;
    for (size_t i = 0; i < vlen; i++) {
        unsigned char c = (unsigned char)value[i];
        if (!id_is_rel_char(c) && c != '@')
            return SAEF_E_ID_CREDID_VALUE;
    }
    out->type = type;
    out->value.ptr = value;
    out->value.len = vlen;
    return SAEF_OK;
}

saef_rc_t saef_id_credid_from_kmid(const char *kmid, size_t len, char *buf, size_t buflen)
{
    static const char prefix[] = "11-";
    _Static_assert(SAEF_CREDID_KMID == 11, "prefix must spell the KmID typeID");

    if (buf != NULL && buflen > 0)
        buf[0] = '\0';
    saef_id_scoped_t id;
    saef_rc_t rc = saef_id_kmid_parse(kmid, len, &id);
    if (rc != SAEF_OK)
        return rc;
    /* Rebuilt from the parsed parts so that a trailing dot of the MAF-FQDN does not make two
     * Credential-IDs for one credential. */
    size_t plen = sizeof(prefix) - 1;
    size_t total = plen + id.rel.len + 1 + id.fqdn.len;
    if (total > SAEF_ID_IDENTITY_MAX)
        return SAEF_E_ID_TOO_LONG;
    if (buf == NULL || buflen <= total)
        return SAEF_E_BUFFER_TOO_SMALL;
    memcpy(buf, prefix, plen);
    memcpy(buf + plen, id.rel.ptr, id.rel.len);
    buf[plen + id.rel.len] = '@';
    memcpy(buf + plen + id.rel.len + 1, id.fqdn.ptr, id.fqdn.len);
    buf[total] = '\0';
    return SAEF_OK;
}
