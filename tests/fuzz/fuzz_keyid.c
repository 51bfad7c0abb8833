/*
 * Fuzz target for the identifier parsers of saef_id.h (psk_identity and the IDs the MAF sends
 * back are attacker-controlled).  Every parser sees every input, and the promises of the header
 * are checked: spans inside the input, the relative charset, parse/format/parse stability, and
 * agreement between functions that share rules.
 */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "saef_id.h"

/* Abort on a broken invariant so that the fuzzer keeps the input as a crash. */
#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond))                                                                               \
            abort();                                                                               \
    } while (0)

static bool inside(saef_span_t sp, const char *s, size_t len)
{
    if (sp.len == 0)
        return true;
    return sp.ptr >= s && sp.len <= len && (size_t)(sp.ptr - s) <= len - sp.len;
}

static bool span_equal(saef_span_t a, saef_span_t b)
{
    return a.len == b.len && (a.len == 0 || memcmp(a.ptr, b.ptr, a.len) == 0);
}

static bool rel_charset(saef_span_t sp)
{
    for (size_t i = 0; i < sp.len; i++) {
        char c = sp.ptr[i];
        bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                  c == '.' || c == '_' || c == '-';
        if (!ok)
            return false;
    }
    return true;
}

static void check_scoped(const char *s, size_t len)
{
    saef_id_scoped_t id, km, kp, ke;
    saef_rc_t rc = saef_id_keyid_parse(s, len, &id);
    CHECK(saef_id_kmid_parse(s, len, &km) == rc);
    CHECK(saef_id_kpsaid_parse(s, len, &kp) == rc);
    saef_rc_t krc = saef_id_keid_parse(s, len, &ke);
    CHECK(rc != SAEF_OK ? krc == rc : (krc == SAEF_OK || krc == SAEF_E_ID_HEX));
    CHECK(saef_id_kmid_equal(s, len, s, len) == (rc == SAEF_OK));
    if (rc != SAEF_OK)
        return;

    CHECK(len <= SAEF_ID_IDENTITY_MAX);
    CHECK(inside(id.rel, s, len) && inside(id.fqdn, s, len));
    CHECK(id.rel.ptr == s && id.rel.len >= 1 && id.rel.len <= SAEF_ID_REL_MAX);
    CHECK(rel_charset(id.rel));
    CHECK(s[id.rel.len] == '@' && id.fqdn.ptr == s + id.rel.len + 1);
    CHECK(id.fqdn.len >= 1 && id.fqdn.len <= SAEF_ID_FQDN_LEN_MAX);
    CHECK(span_equal(km.rel, id.rel) && span_equal(km.fqdn, id.fqdn));
    if (krc == SAEF_OK)
        CHECK(span_equal(ke.rel, id.rel) && ke.rel.len % 2 == 0);

    saef_span_t f;
    CHECK(saef_id_fqdn_check(id.fqdn.ptr, id.fqdn.len, &f) == SAEF_OK && span_equal(f, id.fqdn));

    char buf[SAEF_ID_MAX];
    CHECK(saef_id_scoped_format(id.rel.ptr, id.rel.len, id.fqdn.ptr, id.fqdn.len, buf,
                                sizeof(buf)) == SAEF_OK);
    size_t blen = strlen(buf);
    CHECK(blen == id.rel.len + 1 + id.fqdn.len);
    saef_id_scoped_t again;
    CHECK(saef_id_keyid_parse(buf, blen, &again) == SAEF_OK);
    CHECK(span_equal(again.rel, id.rel) && span_equal(again.fqdn, id.fqdn));
    CHECK(saef_id_kmid_equal(buf, blen, s, len));

    char cred[SAEF_ID_MAX];
    rc = saef_id_credid_from_kmid(s, len, cred, sizeof(cred));
    CHECK(rc == SAEF_OK || rc == SAEF_E_ID_TOO_LONG);
    if (rc == SAEF_OK) {
        saef_credid_t c;
        CHECK(saef_id_credid_parse(cred, strlen(cred), &c) == SAEF_OK);
        CHECK(c.type == SAEF_CREDID_KMID && saef_id_kmid_equal(c.value.ptr, c.value.len, s, len));
    }
}

static void check_fqdn(const char *s, size_t len)
{
    CHECK(saef_id_fqdn_equal(s, len, s, len));
    saef_span_t f;
    if (saef_id_fqdn_check(s, len, &f) != SAEF_OK)
        return;
    CHECK(f.ptr == s && f.len >= 1 && f.len <= SAEF_ID_FQDN_LEN_MAX);
    CHECK(f.len == len || (f.len == len - 1 && s[len - 1] == '.'));
    CHECK(saef_id_fqdn_equal(s, len, f.ptr, f.len));
    /* A valid name is a valid MAF-FQDN of a Key Identifier. */
    char buf[SAEF_ID_MAX];
    if (len + 2 <= SAEF_ID_IDENTITY_MAX) {
        buf[0] = 'k';
        buf[1] = '@';
        memcpy(buf + 2, s, len);
        saef_id_scoped_t id;
        CHECK(saef_id_keyid_parse(buf, len + 2, &id) == SAEF_OK && span_equal(id.fqdn, f));
    }
}

static void check_credid(const char *s, size_t len)
{
    saef_credid_t c;
    if (saef_id_credid_parse(s, len, &c) != SAEF_OK)
        return;
    CHECK(saef_credid_type_known(c.type));
    CHECK(strcmp(saef_credid_type_name(c.type), "unknown") != 0);
    CHECK(inside(c.value, s, len) && c.value.len >= 1 && c.value.ptr + c.value.len == s + len);
    CHECK(c.value.ptr[-1] == '-');
}

static void check_m2m(const char *s, size_t len)
{
    saef_m2m_id_t m;
    saef_rc_t rc = saef_id_m2m_classify(s, len, &m);
    bool cse = saef_id_is_cse_id(s, len), ae = saef_id_is_ae_id(s, len);
    if (rc != SAEF_OK) {
        CHECK(m.kind == SAEF_M2M_ID_INVALID && !cse && !ae);
        CHECK(m.sp_domain.len == 0 && m.cse_id.len == 0 && m.ae_id.len == 0);
        return;
    }
    CHECK(inside(m.sp_domain, s, len) && inside(m.cse_id, s, len) && inside(m.ae_id, s, len));
    bool absolute = m.kind == SAEF_M2M_ID_CSE_ABSOLUTE || m.kind == SAEF_M2M_ID_AE_ABSOLUTE;
    CHECK(absolute == (m.sp_domain.len > 0));
    if (absolute)
        CHECK(saef_id_fqdn_check(m.sp_domain.ptr, m.sp_domain.len, NULL) == SAEF_OK);
    switch (m.kind) {
    case SAEF_M2M_ID_CSE_SP_RELATIVE:
    case SAEF_M2M_ID_CSE_ABSOLUTE:
        CHECK(cse && !ae && m.cse_id.len > 0 && m.ae_id.len == 0);
        break;
    case SAEF_M2M_ID_AE_SP_RELATIVE:
    case SAEF_M2M_ID_AE_CSE_RELATIVE:
    case SAEF_M2M_ID_AE_ABSOLUTE:
        CHECK(ae && !cse && m.ae_id.len >= 2);
        CHECK(m.ae_id.ptr[0] == 'C' || m.ae_id.ptr[0] == 'S');
        CHECK((m.kind == SAEF_M2M_ID_AE_SP_RELATIVE) == (m.cse_id.len == 0));
        break;
    case SAEF_M2M_ID_INVALID:
        CHECK(false);
        break;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *s = (const char *)data;
    check_scoped(s, size);
    check_fqdn(s, size);
    check_credid(s, size);
    check_m2m(s, size);
    return 0;
}
