/* ASCII text: see saef_ascii.h. */
#include "saef_ascii.h"

#include <string.h>

#include <openssl/crypto.h>

char saef_ascii_lower(char c)
{
    return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
}

bool saef_ascii_ieq(const char *a, const char *b, size_t n)
{
    size_t i;

    for (i = 0; i < n; i++)
        if (saef_ascii_lower(a[i]) != saef_ascii_lower(b[i]))
            return false;
    return true;
}

int saef_hex_value(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

bool saef_hex_decode(const char *hex, size_t hexlen, uint8_t *out, size_t outlen)
{
    size_t i;

    if (hex == NULL || out == NULL || hexlen != 2 * outlen)
        return false;
    for (i = 0; i < outlen; i++) {
        int hi = saef_hex_value((unsigned char)hex[2 * i]);
        int lo = saef_hex_value((unsigned char)hex[2 * i + 1]);

        if (hi < 0 || lo < 0) {
            OPENSSL_cleanse(out, outlen);
            return false;
        }
        out[i] = (uint8_t)(hi << 4 | lo);
    }
    return true;
}

void saef_hex_encode(const uint8_t *in, size_t len, char *out)
{
    static const char digits[] = "0123456789abcdef";
    size_t i;

    for (i = 0; i < len; i++) {
        out[2 * i] = digits[in[i] >> 4];
        out[2 * i + 1] = digits[in[i] & 0x0f];
    }
    out[2 * len] = '\0';
}
