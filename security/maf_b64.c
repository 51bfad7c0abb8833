/*
 * Strict base64 (RFC 4648 section 4, with padding) for keyValue.  Hand-written rather than
 * EVP_DecodeBlock(): that one skips whitespace, accepts a missing padding in some paths, does
 * not report how many bytes the padding removed and looks characters up in a table indexed by
 * the (secret) character.  Here the character-to-value mapping is computed with masks, so the
 * time and the memory accessed do not depend on the key.  Only the structural verdict (bad
 * character, bad padding) leaves through a branch, after the whole input was scanned.
 */
#include <string.h>

#include <openssl/crypto.h>

#include "saef_maf_internal.h"

/* All-ones when a <= c <= b, else 0, without branching on c. */
static unsigned in_range(unsigned c, unsigned a, unsigned b)
{
    /* (c - a) and (b - c) are both non-negative exactly when c is in range; their sign bits
     * (as 32-bit values) are then 0. */
    unsigned lo = c - a, hi = b - c;
    return ((lo | hi) >> 31) - 1u;
}

/* Value 0..63 of a base64 character, or 0x100 set for a non-alphabet character. */
static unsigned b64_value(unsigned char ch)
{
    unsigned c = ch;
    unsigned v = 0x100;
    unsigned m;

    m = in_range(c, 'A', 'Z');
    v = (v & ~m) | ((c - 'A') & m);
    m = in_range(c, 'a', 'z');
    v = (v & ~m) | ((c - 'a' + 26) & m);
    m = in_range(c, '0', '9');
    v = (v & ~m) | ((c - '0' + 52) & m);
    m = in_range(c, '+', '+');
    v = (v & ~m) | (62u & m);
    m = in_range(c, '/', '/');
    v = (v & ~m) | (63u & m);
    return v;
}

saef_rc_t saef_maf_b64_decode(const char *in, size_t in_len, uint8_t *out, size_t out_cap,
                              size_t *out_len, char *detail, size_t detail_len)
{
    if ((in == NULL && in_len > 0) || (out == NULL && out_cap > 0) || out_len == NULL)
        return saef_maf_detail(SAEF_E_INVALID_ARG, detail, detail_len, "NULL argument");
    *out_len = 0;
    if (out != NULL)
        OPENSSL_cleanse(out, out_cap);
    if (in_len == 0)
        return saef_maf_detail(SAEF_E_MAF_KEY_LENGTH, detail, detail_len, "base64 is empty");
    if (in_len % 4 != 0)
        return saef_maf_detail(SAEF_E_MAF_KEY_LENGTH, detail, detail_len,
                               "base64 length %zu is not a multiple of 4 (padding missing?)",
                               in_len);

    size_t pad = 0;
    if (in[in_len - 1] == '=')
        pad = in[in_len - 2] == '=' ? 2 : 1;
    size_t n = in_len / 4 * 3 - pad;
    if (n > out_cap)
        return saef_maf_detail(SAEF_E_BUFFER_TOO_SMALL, detail, detail_len,
                               "base64 decodes to %zu bytes, room for %zu", n, out_cap);

    /* Scan everything first and remember the first bad offset, so that the time taken does not
     * depend on where in the key a defect is. */
    size_t first_bad = in_len;
    size_t data_len = in_len - pad;
    size_t o = 0;
    for (size_t i = 0; i < data_len; i += 4) {
        unsigned v[4] = {0, 0, 0, 0};
        size_t k_max = data_len - i < 4 ? data_len - i : 4;
        for (size_t k = 0; k < k_max; k++) {
            v[k] = b64_value((unsigned char)in[i + k]);
            if ((v[k] & 0x100) != 0 && first_bad == in_len)
                first_bad = i + k;
        }
        uint32_t group =
            ((v[0] & 63u) << 18) | ((v[1] & 63u) << 12) | ((v[2] & 63u) << 6) | (v[3] & 63u);
        uint8_t bytes[3] = {(uint8_t)(group >> 16), (uint8_t)(group >> 8), (uint8_t)group};
        size_t take = k_max - 1; /* 4 chars -> 3 bytes, 3 -> 2, 2 -> 1 */
        if (o + take > n)
            take = n - o;
        memcpy(out + o, bytes, take);
        o += take;
        if (k_max < 4) {
            /* Canonical encoding: the bits of the last character that do not make a whole byte
             * must be zero (RFC 4648 3.5). */
            unsigned spare = k_max == 2 ? (v[1] & 15u) : (v[2] & 3u);
            if (spare != 0 && first_bad == in_len)
                first_bad = i + k_max - 1;
        }
        OPENSSL_cleanse(bytes, sizeof(bytes));
        OPENSSL_cleanse(v, sizeof(v));
    }
    if (first_bad != in_len) {
        const char *what = (b64_value((unsigned char)in[first_bad]) & 0x100) != 0
                               ? (in[first_bad] == '=' ? "'=' before the end"
                                                       : "character outside A-Z a-z 0-9 + /")
                               : "non-zero unused bits (not the canonical encoding)";
        if (out != NULL)
            OPENSSL_cleanse(out, out_cap);
        return saef_maf_detail(SAEF_E_MAF_KEY_LENGTH, detail, detail_len,
                               "base64 invalid at offset %zu: %s", first_bad, what);
    }
    *out_len = o;
    return SAEF_OK;
}

/* Table lookup indexed by the data: fine for what it is used for (tests, non-secret data). */
saef_rc_t saef_maf_b64_encode(const uint8_t *in, size_t len, char *buf, size_t buflen)
{
    static const char alphabet[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

    if ((in == NULL && len > 0) || buf == NULL)
        return SAEF_E_INVALID_ARG;
    size_t need = (len + 2) / 3 * 4 + 1;
    if (buflen < need) {
        if (buflen > 0)
            buf[0] = '\0';
        return SAEF_E_BUFFER_TOO_SMALL;
    }
    size_t o = 0;
    for (size_t i = 0; i < len; i += 3) {
        size_t rem = len - i;
        uint32_t g = (uint32_t)in[i] << 16;
        if (rem > 1)
            g |= (uint32_t)in[i + 1] << 8;
        if (rem > 2)
            g |= in[i + 2];
        buf[o++] = alphabet[(g >> 18) & 63];
        buf[o++] = alphabet[(g >> 12) & 63];
        buf[o++] = rem > 1 ? alphabet[(g >> 6) & 63] : '=';
        buf[o++] = rem > 2 ? alphabet[g & 63] : '=';
    }
    buf[o] = '\0';
    return SAEF_OK;
}
