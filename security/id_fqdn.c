/* FQDN validation and comparison, and the byte-level checks every identifier parser shares. */
#include "saef_id_internal.h"

saef_rc_t saef_id_scan_bytes(const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == 0)
            return SAEF_E_ID_NUL;
        if (c >= 0x80 || c < 0x20 || c == 0x7f)
            return SAEF_E_ID_NON_ASCII;
    }
    return SAEF_OK;
}

saef_rc_t saef_id_check_whole(const char *s, size_t len, size_t max)
{
    if (len == 0)
        return SAEF_E_ID_EMPTY;
    if (len > max)
        return SAEF_E_ID_TOO_LONG;
    return saef_id_scan_bytes(s, len);
}

bool saef_id_equal_nocase(const char *a, const char *b, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (id_lower((unsigned char)a[i]) != id_lower((unsigned char)b[i]))
            return false;
    }
    return true;
}

static bool all_digits(const char *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (!id_is_digit((unsigned char)p[i]))
            return false;
    }
    return n > 0;
}

/* inet_aton() reads "127.1", "0177.0.0.1" and "0x7f000001" as addresses too: each part decimal,
 * octal or 0x-hex.  getaddrinfo() would turn a name made only of such labels into an address
 * without asking DNS, so such a name is treated as an IPv4 literal. */
static bool label_is_number(const char *p, size_t n)
{
    if (n >= 2 && p[0] == '0' && (p[1] == 'x' || p[1] == 'X')) {
        for (size_t i = 2; i < n; i++) {
            if (!id_is_xdigit((unsigned char)p[i]))
                return false;
        }
        return true;
    }
    return all_digits(p, n);
}

static saef_rc_t check_label(const char *p, size_t n)
{
    if (n == 0)
        return SAEF_E_ID_FQDN_LABEL_EMPTY;
    if (n > SAEF_ID_LABEL_MAX)
        return SAEF_E_ID_FQDN_LABEL_TOO_LONG;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)p[i];
        if (c == '@')
            return SAEF_E_ID_FQDN_AT;
        if (!id_is_alnum(c) && c != '-')
            return SAEF_E_ID_FQDN_CHAR;
    }
    if (p[0] == '-' || p[n - 1] == '-')
        return SAEF_E_ID_FQDN_HYPHEN;
    return SAEF_OK;
}

saef_rc_t saef_id_fqdn_part(const char *s, size_t len, saef_span_t *out)
{
    if (len == 0)
        return SAEF_E_ID_FQDN_EMPTY;
    saef_rc_t rc = saef_id_scan_bytes(s, len);
    if (rc != SAEF_OK)
        return rc;

    size_t n = s[len - 1] == '.' ? len - 1 : len;
    if (n == 0)
        return SAEF_E_ID_FQDN_EMPTY;
    if (n > SAEF_ID_FQDN_LEN_MAX)
        return SAEF_E_ID_FQDN_TOO_LONG;
    /* RFC 3986 IP-literal: whatever sits between the brackets, it is not a name. */
    if (s[0] == '[' && s[n - 1] == ']')
        return SAEF_E_ID_FQDN_IP_LITERAL;

    bool all_numeric = true;
    size_t tld = 0;
    size_t start = 0;
    while (start <= n) {
        size_t end = start;
        while (end < n && s[end] != '.')
            end++;
        rc = check_label(s + start, end - start);
        if (rc != SAEF_OK)
            return rc;
        if (!label_is_number(s + start, end - start))
            all_numeric = false;
        tld = start;
        start = end + 1;
    }
    if (all_numeric)
        return SAEF_E_ID_FQDN_IP_LITERAL;
    /* RFC 3696 2: a top-level domain is never all-numeric, so such a name is an address typo. */
    if (all_digits(s + tld, n - tld))
        return SAEF_E_ID_FQDN_NUMERIC_TLD;

    out->ptr = s;
    out->len = n;
    return SAEF_OK;
}

saef_rc_t saef_id_fqdn_check(const char *s, size_t len, saef_span_t *out)
{
    if (s == NULL && len > 0)
        return SAEF_E_INVALID_ARG;
    if (len == 0)
        return SAEF_E_ID_EMPTY;
    saef_span_t span;
    saef_rc_t rc = saef_id_fqdn_part(s, len, &span);
    if (rc == SAEF_OK && out != NULL)
        *out = span;
    return rc;
}

bool saef_id_fqdn_equal(const char *a, size_t alen, const char *b, size_t blen)
{
    if ((a == NULL && alen > 0) || (b == NULL && blen > 0))
        return false;
    if (alen > 0 && a[alen - 1] == '.')
        alen--;
    if (blen > 0 && b[blen - 1] == '.')
        blen--;
    return alen == blen && saef_id_equal_nocase(a, b, alen);
}
