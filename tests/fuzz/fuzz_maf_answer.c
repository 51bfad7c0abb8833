/*
 * Fuzz target for the MAF answer validation (docs/maf-binding.md 6.8) and the strict base64
 * under it.  Input: six header lines, then the body:
 *
 *     HTTP status
 *     X-M2M-RSC          ("-" = absent, "*" prefix = sent twice)
 *     X-M2M-RI           (the expected value is "ri-1")
 *     X-M2M-RVI
 *     Content-Type
 *     Content-Encoding
 *     body...
 *
 * Invariants: an accepted key has the configured length, a future expiry, the accepted SUID, a
 * classified source and an adminFQDN; a rejected one leaves the output all zero; the detail is
 * NUL-terminated and never quotes the keyValue text; whatever base64 decodes re-encodes to the
 * same text (canonical).
 */
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "saef_maf_internal.h"

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond))                                                                               \
            abort();                                                                               \
    } while (0)

#define NOW_S 1740830400 /* 20250301T120000 */

static bool all_zero(const void *p, size_t n)
{
    const unsigned char *b = p;
    for (size_t i = 0; i < n; i++) {
        if (b[i] != 0)
            return false;
    }
    return true;
}

#define KEY_MARK "RkFLRS1LRV" /* start of the seed corpus' keyValue */

/* True when KEY_MARK occurs exactly once in the input, in the body (from body_at), as the start
 * of a keyValue string: then no detail may quote it (elsewhere, in a header or another member,
 * quoting it is fine). */
static bool key_text_only_in_key_value(const uint8_t *data, size_t size, size_t body_at)
{
    static const char before[] = "\"keyValue\":\"";
    const size_t mlen = sizeof(KEY_MARK) - 1, blen = sizeof(before) - 1;
    size_t found = 0, at = 0;
    for (size_t i = 0; i + mlen <= size; i++) {
        if (memcmp(data + i, KEY_MARK, mlen) == 0) {
            found++;
            at = i;
        }
    }
    return found == 1 && at >= body_at + blen && memcmp(data + at - blen, before, blen) == 0;
}

/* Split off the next line of data[*pos..size) into a NUL-terminated copy. */
static char *next_line(const uint8_t *data, size_t size, size_t *pos)
{
    size_t start = *pos, end = start;
    while (end < size && data[end] != '\n')
        end++;
    char *s = malloc(end - start + 1);
    CHECK(s != NULL);
    memcpy(s, data + start, end - start);
    s[end - start] = '\0';
    *pos = end < size ? end + 1 : end;
    return s;
}

static saef_maf_hdr_t header(const char *line)
{
    if (strcmp(line, "-") == 0)
        return (saef_maf_hdr_t){NULL, 0};
    if (line[0] == '*')
        return (saef_maf_hdr_t){line + 1, 2};
    return (saef_maf_hdr_t){line, 1};
}

static void check_b64(const uint8_t *data, size_t size)
{
    uint8_t out[64];
    size_t n = 0;
    char back[100];
    if (size > 88)
        size = 88;
    if (saef_maf_b64_decode((const char *)data, size, out, sizeof(out), &n, NULL, 0) != SAEF_OK)
        return;
    CHECK(saef_maf_b64_encode(out, n, back, sizeof(back)) == SAEF_OK);
    CHECK(strlen(back) == size && memcmp(back, data, size) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t pos = 0;
    char *lines[6];
    for (int i = 0; i < 6; i++)
        lines[i] = next_line(data, size, &pos);

    saef_maf_response_t r = {.status = strtol(lines[0], NULL, 10),
                             .rsc = header(lines[1]),
                             .ri = header(lines[2]),
                             .rvi = header(lines[3]),
                             .content_type = header(lines[4]),
                             .content_encoding = header(lines[5]),
                             .body = (const char *)data + pos,
                             .body_len = size - pos};
    for (size_t psk = 16; psk <= 32; psk += 16) {
        saef_maf_expect_t exp = {
            .ri = "ri-1", .now = {NOW_S, 0}, .accepted_suid = 32, .psk_len = psk};
        saef_maf_key_t key;
        char detail[SAEF_MAF_DETAIL_MAX];
        int rsc = -1;
        memset(detail, 'x', sizeof(detail));
        saef_rc_t rc = saef_maf_answer_key(&r, &exp, &key, &rsc, detail, sizeof(detail));
        CHECK(memchr(detail, '\0', sizeof(detail)) != NULL);
        CHECK(!key_text_only_in_key_value(data, size, pos) || strstr(detail, KEY_MARK) == NULL);
        CHECK(rsc == 0 || (rsc >= 1000 && rsc <= 6999));
        if (rc == SAEF_OK) {
            CHECK(key.key_len == psk);
            CHECK(all_zero(key.key + psk, sizeof(key.key) - psk));
            CHECK(key.expires.tv_sec >= NOW_S);
            CHECK(key.suid == 32);
            CHECK(key.source_kind != SAEF_MAF_SOURCE_NONE && key.source_id[0] != '\0');
            CHECK(key.admin_fqdn[0] != '\0');
            CHECK(rsc == 2000 && r.status == 200);
        } else {
            CHECK(all_zero(&key, sizeof(key)));
        }
        saef_maf_key_clear(&key);
    }
    for (int expected = 2001; expected <= 2004; expected += 3) {
        saef_maf_expect_t exp = {
            .ri = "ri-1", .now = {NOW_S, 0}, .accepted_suid = 32, .psk_len = 32};
        saef_maf_reg_answer_t a;
        saef_rc_t rc = saef_maf_answer_registration(&r, &exp, expected, &a, NULL, NULL, 0);
        if (rc == SAEF_OK)
            CHECK(a.reg_id[0] != '\0' && a.maf_client_id[0] != '\0' && a.expires.tv_sec >= NOW_S);
        else
            CHECK(all_zero(&a, sizeof(a)));
    }
    check_b64(data, size);
    check_b64(data + pos, size - pos);
    for (int i = 0; i < 6; i++)
        free(lines[i]);
    return 0;
}
