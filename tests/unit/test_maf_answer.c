/*
 * Validation of Key Retrieval answers (docs/maf-binding.md 6.8): one canned response per
 * rejection, each with the result code and a piece of the detail it must produce, plus the
 * happy path checked against the canned values.
 *
 * The canned answer is the one of docs/maf-binding.md 10.9: the key is base64 of the ASCII
 * text "FAKE-KEY-FOR-DOCUMENTATION-ONLY!", expirationTime 20250301T180000 (1740852000 s since
 * the Epoch), and "now" is 20250301T120000 (1740830400).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "saef_maf_internal.h"

#define NOW_S 1740830400    /* 20250301T120000 */
#define EXPIRY_S 1740852000 /* 20250301T180000 */
#define OUR_RI "saef-test-ri-0001"
#define KEY_TEXT "FAKE-KEY-FOR-DOCUMENTATION-ONLY!"
#define KEY_B64 "\"RkFLRS1LRVktRk9SLURPQ1VNRU5UQVRJT04tT05MWSE=\""

/* A header or member value meaning "leave it out". */
static const char ABSENT[] = "<absent>";

typedef struct answer_case {
    const char *name;
    long status;          /* 0 = 200 */
    const char *rsc;      /* NULL = "2000" */
    const char *ri;       /* NULL = OUR_RI */
    const char *rvi;      /* NULL = "3" */
    const char *ctype;    /* NULL = application/json */
    const char *cenc;     /* NULL = absent */
    unsigned rsc_count;   /* 0 = 1 */
    unsigned ri_count;    /* 0 = 1 */
    unsigned ctype_count; /* 0 = 1 */
    const char *member;   /* member whose raw JSON value is replaced (or added) */
    const char *value;    /* raw JSON text, or ABSENT to drop the member */
    const char *raw_body; /* whole body instead of the canned one */
    saef_rc_t want;
    const char *detail; /* substring the detail must contain */
} answer_case_t;

static const char *const std_names[] = {"expirationTime", "sourceMAFClientID", "adminFQDN", "suid",
                                        "keyValue"};
static const char *const std_values[] = {"\"20250301T180000\"",
                                         "\"//sp.example.com/in-cse/Cdevice01\"",
                                         "\"sp.example.com\"", "32", KEY_B64};

static char *build_body(const answer_case_t *tc)
{
    if (tc->raw_body != NULL)
        return strdup(tc->raw_body);
    size_t cap = 4096 + (tc->value ? strlen(tc->value) : 0);
    char *b = malloc(cap);
    assert_non_null(b);
    size_t o = (size_t)snprintf(b, cap, "{\n");
    bool replaced = false, first = true;
    for (size_t i = 0; i < 5; i++) {
        const char *v = std_values[i];
        if (tc->member != NULL && strcmp(tc->member, std_names[i]) == 0) {
            replaced = true;
            v = tc->value;
        }
        if (v == ABSENT)
            continue;
        o +=
            (size_t)snprintf(b + o, cap - o, "%s  \"%s\": %s", first ? "" : ",\n", std_names[i], v);
        first = false;
    }
    if (tc->member != NULL && !replaced && tc->value != ABSENT)
        o += (size_t)snprintf(b + o, cap - o, ",\n  \"%s\": %s", tc->member, tc->value);
    snprintf(b + o, cap - o, "\n}");
    return b;
}

static saef_maf_hdr_t hdr(const char *dflt, const char *v, unsigned count)
{
    const char *value = v != NULL ? v : dflt;
    if (value == NULL || value == ABSENT)
        return (saef_maf_hdr_t){NULL, 0};
    return (saef_maf_hdr_t){value, count != 0 ? count : 1};
}

static saef_rc_t run_case(const answer_case_t *tc, size_t psk_len, saef_maf_key_t *key, int *rsc,
                          char *detail, size_t detail_len)
{
    char *body = build_body(tc);
    saef_maf_response_t r = {
        .status = tc->status != 0 ? tc->status : 200,
        .rsc = hdr("2000", tc->rsc, tc->rsc_count),
        .ri = hdr(OUR_RI, tc->ri, tc->ri_count),
        .rvi = hdr("3", tc->rvi, 0),
        .content_type = hdr("application/json", tc->ctype, tc->ctype_count),
        .content_encoding = hdr(NULL, tc->cenc, 0),
        .body = body,
        .body_len = strlen(body),
    };
    saef_maf_expect_t exp = {.ri = OUR_RI,
                             .now = {.tv_sec = NOW_S, .tv_nsec = 0},
                             .accepted_suid = 32,
                             .psk_len = psk_len};
    saef_rc_t rc = saef_maf_answer_key(&r, &exp, key, rsc, detail, detail_len);
    free(body);
    return rc;
}

static bool all_zero(const void *p, size_t n)
{
    const unsigned char *b = p;
    for (size_t i = 0; i < n; i++) {
        if (b[i] != 0)
            return false;
    }
    return true;
}

/* ---- happy paths -------------------------------------------------------------------------- */

static void test_happy_path(void **state)
{
    (void)state;
    answer_case_t tc = {.name = "canned 10.9"};
    saef_maf_key_t key;
    char detail[SAEF_MAF_DETAIL_MAX];
    int rsc = -1;

    assert_int_equal(run_case(&tc, 32, &key, &rsc, detail, sizeof(detail)), SAEF_OK);
    assert_int_equal(rsc, 2000);
    assert_int_equal(key.key_len, 32);
    assert_memory_equal(key.key, KEY_TEXT, 32);
    assert_int_equal(key.expires.tv_sec, EXPIRY_S);
    assert_int_equal(key.expires.tv_nsec, 0);
    assert_int_equal(key.suid, 32);
    assert_int_equal(key.source_kind, SAEF_MAF_SOURCE_AE_ID);
    assert_string_equal(key.source_id, "//sp.example.com/in-cse/Cdevice01");
    assert_string_equal(key.admin_fqdn, "sp.example.com");
    assert_string_equal(key.labels, "");
    assert_int_equal(key.n_labels, 0);
    saef_maf_key_clear(&key);
    assert_true(all_zero(&key, sizeof(key)));
}

/* TS-0003 8.8.1: with a 16-byte PSK the first half of Kc is used. */
static void test_psk_16_takes_first_half(void **state)
{
    (void)state;
    answer_case_t tc = {.name = "psk 16"};
    saef_maf_key_t key;

    assert_int_equal(run_case(&tc, 16, &key, NULL, NULL, 0), SAEF_OK);
    assert_int_equal(key.key_len, 16);
    assert_memory_equal(key.key, "FAKE-KEY-FOR-DOC", 16);
    /* Nothing of the second half is kept. */
    assert_true(all_zero(key.key + 16, sizeof(key.key) - 16));
    saef_maf_key_clear(&key);
}

static void test_labels_and_unknown_members(void **state)
{
    (void)state;
    answer_case_t tc = {.name = "labels",
                        .raw_body =
                            "{\"labels\": [\"saef\", \"renewed\"], \"futureMember\": "
                            "{\"x\": [1, null]}, \"m2m:dbg\": 5, \"suid\": 32, "
                            "\"expirationTime\": \"20250301T180000\", "
                            "\"sourceMAFClientID\": \"cdevice01@maf.example.com\", "
                            "\"adminFQDN\": \"SP.Example.com.\", \"keyValue\": " KEY_B64 "}"};
    saef_maf_key_t key;

    assert_int_equal(run_case(&tc, 32, &key, NULL, NULL, 0), SAEF_OK);
    assert_string_equal(key.labels, "saef renewed");
    assert_int_equal(key.n_labels, 2);
    assert_int_equal(key.source_kind, SAEF_MAF_SOURCE_KMID);
    assert_string_equal(key.source_id, "cdevice01@maf.example.com");
    /* The trailing dot goes, the case stays as the MAF sent it. */
    assert_string_equal(key.admin_fqdn, "SP.Example.com");
    saef_maf_key_clear(&key);
}

static void test_source_kinds(void **state)
{
    (void)state;
    static const struct {
        const char *value;
        saef_maf_source_kind_t kind;
    } cases[] = {
        {"\"//sp.example.com/in-cse\"", SAEF_MAF_SOURCE_CSE_ID},
        {"\"//sp.example.com/in-cse/Cdevice01\"", SAEF_MAF_SOURCE_AE_ID},
        {"\"cdevice01@maf.example.com\"", SAEF_MAF_SOURCE_KMID},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        answer_case_t tc = {.member = "sourceMAFClientID", .value = cases[i].value};
        saef_maf_key_t key;
        assert_int_equal(run_case(&tc, 32, &key, NULL, NULL, 0), SAEF_OK);
        assert_int_equal(key.source_kind, cases[i].kind);
        saef_maf_key_clear(&key);
    }
}

/* The same verdict for a Source MAF Client ID read back from elsewhere (the key vault): only
 * len bytes count, and anything neither an Absolute CSE-ID/AE-ID nor a KmID is refused. */
static void test_source_classify(void **state)
{
    (void)state;
#define LIT(s) s, sizeof(s) - 1
    static const struct {
        const char *s;
        size_t len;
        saef_rc_t rc;
        saef_maf_source_kind_t kind;
    } cases[] = {
        {LIT("//sp.example.test/in-cse"), SAEF_OK, SAEF_MAF_SOURCE_CSE_ID},
        {LIT("//sp.example.test/in-cse/Cdev01"), SAEF_OK, SAEF_MAF_SOURCE_AE_ID},
        {LIT("km1@maf.example.test"), SAEF_OK, SAEF_MAF_SOURCE_KMID},
        /* the bytes after len are not looked at */
        {"//sp.example.test/in-cse/Cdev01", sizeof("//sp.example.test/in-cse") - 1, SAEF_OK,
         SAEF_MAF_SOURCE_CSE_ID},
        {"km1@maf.example.test", 3, SAEF_E_MAF_SOURCE_ID, 0},
        {LIT(""), SAEF_E_MAF_SOURCE_ID, 0},
        {LIT("/in-cse"), SAEF_E_MAF_SOURCE_ID, 0}, /* SP-relative CSE-ID */
        {LIT("Cdev01"), SAEF_E_MAF_SOURCE_ID, 0},  /* SP-relative AE-ID */
        {LIT("//sp.example.test"), SAEF_E_MAF_SOURCE_ID, 0},
        {LIT("//sp.example.test/in-cse/"), SAEF_E_MAF_SOURCE_ID, 0},
        {LIT("//bad_dom/in-cse"), SAEF_E_MAF_SOURCE_ID, 0},
        {LIT("km1@"), SAEF_E_MAF_SOURCE_ID, 0},
        {LIT("not a source!"), SAEF_E_MAF_SOURCE_ID, 0},
    };
#undef LIT
    char longest[SAEF_MAF_ORIGIN_MAX + 2];
    saef_maf_source_kind_t kind;
    int o;

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        kind = (saef_maf_source_kind_t)0;
        assert_int_equal(saef_maf_source_classify(cases[i].s, cases[i].len, &kind), cases[i].rc);
        if (cases[i].rc == SAEF_OK)
            assert_int_equal(kind, cases[i].kind);
    }
    /* An AE-ID of SAEF_MAF_ORIGIN_MAX bytes passes; one byte more is refused. */
    o = snprintf(longest, sizeof(longest), "//sp.example.test/in-cse/C");
    memset(longest + o, 'a', sizeof(longest) - (size_t)o);
    kind = (saef_maf_source_kind_t)0;
    assert_int_equal(saef_maf_source_classify(longest, SAEF_MAF_ORIGIN_MAX, &kind), SAEF_OK);
    assert_int_equal(kind, SAEF_MAF_SOURCE_AE_ID);
    assert_int_equal(saef_maf_source_classify(longest, SAEF_MAF_ORIGIN_MAX + 1, &kind),
                     SAEF_E_MAF_SOURCE_ID);
    assert_int_equal(saef_maf_source_classify(NULL, 0, &kind), SAEF_E_MAF_SOURCE_ID);
    assert_int_equal(saef_maf_source_classify("km1@maf.example.test", 20, NULL),
                     SAEF_E_MAF_SOURCE_ID);
}

static void test_content_type_variants_accepted(void **state)
{
    (void)state;
    static const char *const ok[] = {"application/json; charset=utf-8",
                                     "APPLICATION/JSON;charset=\"UTF-8\"",
                                     "application/json ;\tCharset=utf-8", "Application/Json"};
    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
        answer_case_t tc = {.ctype = ok[i]};
        saef_maf_key_t key;
        assert_int_equal(run_case(&tc, 32, &key, NULL, NULL, 0), SAEF_OK);
        saef_maf_key_clear(&key);
    }
    answer_case_t id = {.cenc = "identity"};
    saef_maf_key_t key;
    assert_int_equal(run_case(&id, 32, &key, NULL, NULL, 0), SAEF_OK);
    saef_maf_key_clear(&key);
}

/* An expirationTime one microsecond after now is in the future. */
static void test_expiry_just_after_now(void **state)
{
    (void)state;
    answer_case_t tc = {.member = "expirationTime", .value = "\"20250301T120000,000001\""};
    saef_maf_key_t key;
    assert_int_equal(run_case(&tc, 32, &key, NULL, NULL, 0), SAEF_OK);
    assert_int_equal(key.expires.tv_sec, NOW_S);
    assert_int_equal(key.expires.tv_nsec, 1000);
    saef_maf_key_clear(&key);
    answer_case_t tc2 = {.member = "expirationTime", .value = "\"20250301T120001\""};
    assert_int_equal(run_case(&tc2, 32, &key, NULL, NULL, 0), SAEF_OK);
    assert_int_equal(key.expires.tv_sec, NOW_S + 1);
    saef_maf_key_clear(&key);
}

/* ---- rejections --------------------------------------------------------------------------- */

static char big_body[SAEF_MAF_BODY_MAX + 2];
static char many_labels[2048];
static char long_source[400];
static char long_key[160];

static const answer_case_t rejections[] = {
    /* status line and oneM2M headers */
    {"redirect", .status = 302, .rsc = ABSENT, .want = SAEF_E_MAF_HTTP_STATUS,
     .detail = "HTTP status 302"},
    {"no RSC", .rsc = ABSENT, .want = SAEF_E_MAF_HTTP_STATUS, .detail = "without X-M2M-RSC"},
    {"RSC twice", .rsc_count = 2, .want = SAEF_E_MAF_HTTP_STATUS,
     .detail = "X-M2M-RSC occurs 2 times"},
    {"RSC not a number", .rsc = "20o0", .want = SAEF_E_MAF_HTTP_STATUS,
     .detail = "X-M2M-RSC '20o0'"},
    {"RSC five digits", .rsc = "20000", .want = SAEF_E_MAF_HTTP_STATUS, .detail = "'20000'"},
    {"RSC signed", .rsc = "+200", .want = SAEF_E_MAF_HTTP_STATUS, .detail = "'+200'"},
    {"200 with 4004", .rsc = "4004", .want = SAEF_E_MAF_HTTP_STATUS,
     .detail = "HTTP status 200 does not match X-M2M-RSC 4004"},
    {"404 with 2000", .status = 404, .want = SAEF_E_MAF_HTTP_STATUS,
     .detail = "HTTP status 404 does not match X-M2M-RSC 2000"},
    {"403 with 4004", .status = 403, .rsc = "4004", .want = SAEF_E_MAF_HTTP_STATUS,
     .detail = "does not match"},
    {"unknown RSC with 200", .rsc = "4999", .want = SAEF_E_MAF_HTTP_STATUS,
     .detail = "HTTP status 200 does not match X-M2M-RSC 4999"},
    {"RI differs", .ri = "saef-test-ri-0002", .want = SAEF_E_MAF_HTTP_STATUS,
     .detail = "X-M2M-RI 'saef-test-ri-0002' does not echo ours"},
    {"RI missing", .ri = ABSENT, .want = SAEF_E_MAF_HTTP_STATUS, .detail = "X-M2M-RI missing"},
    {"RI twice", .ri_count = 2, .want = SAEF_E_MAF_HTTP_STATUS,
     .detail = "X-M2M-RI occurs 2 times"},
    {"RI with control characters", .ri = "a\x01\x7f", .want = SAEF_E_MAF_HTTP_STATUS,
     .detail = "'a?\?'"},
    {"RVI 2a", .rvi = "2a", .want = SAEF_E_MAF_HTTP_STATUS, .detail = "X-M2M-RVI '2a'"},
    {"RVI missing", .rvi = ABSENT, .want = SAEF_E_MAF_HTTP_STATUS, .detail = "X-M2M-RVI ''"},
    {"success RSC 2001", .status = 201, .rsc = "2001", .want = SAEF_E_MAF_HTTP_STATUS,
     .detail = "X-M2M-RSC 2001 where 2000 was expected"},
    {"accepted 1000", .status = 202, .rsc = "1000", .want = SAEF_E_MAF_HTTP_STATUS,
     .detail = "1000 where 2000"},
    /* MAF errors (section 8) */
    {"4004 not found", .status = 404, .rsc = "4004", .want = SAEF_E_MAF_REFUSED,
     .raw_body = "{\"m2m:dbg\": \"no such key registration\"}",
     .detail = "X-M2M-RSC 4004: no such key registration"},
    {"4103 no privilege", .status = 403, .rsc = "4103", .want = SAEF_E_MAF_REFUSED,
     .raw_body = "{\"m2m:dbg\": \"requester is not an authorized target\"}",
     .detail = "X-M2M-RSC 4103"},
    {"4106 not authenticated", .status = 403, .rsc = "4106", .want = SAEF_E_MAF_AUTH,
     .raw_body = "{\"m2m:dbg\": \"X-M2M-Origin does not match\"}",
     .detail = "4106: X-M2M-Origin does not match"},
    {"4000 bad request", .status = 400, .rsc = "4000", .want = SAEF_E_MAF_RSC, .raw_body = "",
     .detail = "X-M2M-RSC 4000 (HTTP 400)"},
    {"4001 version", .status = 501, .rsc = "4001", .want = SAEF_E_MAF_RSC,
     .detail = "X-M2M-RSC 4001 (HTTP 501)"},
    {"4005 method", .status = 405, .rsc = "4005", .want = SAEF_E_MAF_RSC, .detail = "4005"},
    {"4015 media type", .status = 415, .rsc = "4015", .want = SAEF_E_MAF_RSC, .detail = "4015"},
    {"4105 conflict", .status = 409, .rsc = "4105", .want = SAEF_E_MAF_RSC, .detail = "4105"},
    {"5000 internal", .status = 500, .rsc = "5000", .want = SAEF_E_MAF_RSC,
     .raw_body = "{\"m2m:dbg\": \"internal error\"}", .detail = "X-M2M-RSC 5000 (HTTP 500)"},
    {"unknown 4999 with 400", .status = 400, .rsc = "4999", .want = SAEF_E_MAF_RSC,
     .detail = "X-M2M-RSC 4999"},
    {"dbg sanitised", .status = 404, .rsc = "4004", .want = SAEF_E_MAF_REFUSED,
     .raw_body = "{\"m2m:dbg\": \"line1\\nline2\\u001b[31m\"}", .detail = "line1?line2?[31m"},
    /* content headers */
    {"text/html", .ctype = "text/html", .want = SAEF_E_MAF_JSON,
     .detail = "Content-Type 'text/html'"},
    {"no Content-Type", .ctype = ABSENT, .want = SAEF_E_MAF_JSON, .detail = "Content-Type ''"},
    {"Content-Type twice", .ctype_count = 2, .want = SAEF_E_MAF_JSON, .detail = "(2 times)"},
    {"json prefix only", .ctype = "application/jsonx", .want = SAEF_E_MAF_JSON,
     .detail = "application/jsonx"},
    {"latin1", .ctype = "application/json; charset=latin1", .want = SAEF_E_MAF_JSON,
     .detail = "charset=latin1"},
    {"other parameter", .ctype = "application/json; ty=3", .want = SAEF_E_MAF_JSON,
     .detail = "ty=3"},
    {"gzip", .cenc = "gzip", .want = SAEF_E_MAF_JSON, .detail = "Content-Encoding 'gzip'"},
    {"empty body", .raw_body = "", .want = SAEF_E_MAF_JSON, .detail = "empty body"},
    {"body too large", .raw_body = big_body, .want = SAEF_E_MAF_JSON,
     .detail = "body of 16385 bytes exceeds 16384"},
    /* strict JSON */
    {"duplicate suid", .member = "suid", .value = "32, \"suid\": 32", .want = SAEF_E_MAF_JSON,
     .detail = "duplicate member"},
    {"duplicate keyValue", .member = "keyValue", .value = KEY_B64 ", \"keyValue\": " KEY_B64,
     .want = SAEF_E_MAF_JSON, .detail = "duplicate member"},
    {"trailing data", .raw_body = "{\"suid\": 32} {}", .want = SAEF_E_MAF_JSON,
     .detail = "data after the JSON object"},
    {"top-level array", .raw_body = "[{\"suid\": 32}]", .want = SAEF_E_MAF_JSON,
     .detail = "array, not an object"},
    {"top-level string", .raw_body = "\"suid\"", .want = SAEF_E_MAF_JSON,
     .detail = "not strict JSON"},
    {"not JSON", .raw_body = "suid=32&keyValue=x", .want = SAEF_E_MAF_JSON,
     .detail = "syntax error"},
    {"truncated", .raw_body = "{\"suid\": 32", .want = SAEF_E_MAF_JSON, .detail = "truncated"},
    {"byte order mark", .raw_body = "\xef\xbb\xbf{\"suid\": 32}", .want = SAEF_E_MAF_JSON,
     .detail = "not strict JSON"},
    {"invalid UTF-8", .member = "sourceMAFClientID", .value = "\"//sp.example.com/\xc3\x28\"",
     .want = SAEF_E_MAF_JSON, .detail = "invalid UTF-8"},
    {"escaped NUL", .member = "sourceMAFClientID", .value = "\"//sp.example.com/a\\u0000b\"",
     .want = SAEF_E_MAF_JSON, .detail = "NUL"},
    {"suid null", .member = "suid", .value = "null", .want = SAEF_E_MAF_JSON,
     .detail = "member suid is null, must be an integer"},
    {"keyValue null", .member = "keyValue", .value = "null", .want = SAEF_E_MAF_JSON,
     .detail = "member keyValue is null"},
    {"adminFQDN null", .member = "adminFQDN", .value = "null", .want = SAEF_E_MAF_JSON,
     .detail = "member adminFQDN is null"},
    {"suid as string", .member = "suid", .value = "\"32\"", .want = SAEF_E_MAF_JSON,
     .detail = "member suid is a string, must be an integer"},
    {"suid as real", .member = "suid", .value = "32.0", .want = SAEF_E_MAF_JSON,
     .detail = "a real number"},
    {"suid with exponent", .member = "suid", .value = "3.2e1", .want = SAEF_E_MAF_JSON,
     .detail = "a real number"},
    {"suid as boolean", .member = "suid", .value = "true", .want = SAEF_E_MAF_JSON,
     .detail = "a boolean"},
    {"suid as array", .member = "suid", .value = "[32]", .want = SAEF_E_MAF_JSON,
     .detail = "member suid is an array"},
    {"keyValue as array", .member = "keyValue", .value = "[" KEY_B64 "]", .want = SAEF_E_MAF_JSON,
     .detail = "member keyValue is an array, must be a string"},
    {"keyValue as object", .member = "keyValue", .value = "{\"v\": " KEY_B64 "}",
     .want = SAEF_E_MAF_JSON, .detail = "member keyValue is an object"},
    {"expirationTime as object", .member = "expirationTime",
     .value = "{\"t\": \"20250301T180000\"}", .want = SAEF_E_MAF_JSON,
     .detail = "member expirationTime is an object, must be a string"},
    {"expirationTime as number", .member = "expirationTime", .value = "20250301180000",
     .want = SAEF_E_MAF_JSON, .detail = "member expirationTime is an integer"},
    {"adminFQDN as array", .member = "adminFQDN", .value = "[\"sp.example.com\"]",
     .want = SAEF_E_MAF_JSON, .detail = "member adminFQDN is an array"},
    {"labels as string", .member = "labels", .value = "\"saef\"", .want = SAEF_E_MAF_JSON,
     .detail = "member labels is a string, must be an array"},
    {"labels with a number", .member = "labels", .value = "[\"saef\", 7]", .want = SAEF_E_MAF_JSON,
     .detail = "labels[1] is an integer"},
    {"labels with null", .member = "labels", .value = "[null]", .want = SAEF_E_MAF_JSON,
     .detail = "labels[0] is null"},
    {"labels nested array", .member = "labels", .value = "[[\"saef\"]]", .want = SAEF_E_MAF_JSON,
     .detail = "labels[0] is an array"},
    {"label with space", .member = "labels", .value = "[\"two words\"]", .want = SAEF_E_MAF_JSON,
     .detail = "labels[0] 'two words'"},
    {"empty label", .member = "labels", .value = "[\"\"]", .want = SAEF_E_MAF_JSON,
     .detail = "labels[0] ''"},
    {"17 labels", .member = "labels", .value = many_labels, .want = SAEF_E_MAF_JSON,
     .detail = "labels has 17 entries, at most 16"},
    /* suid (6.8 check 7) */
    {"suid missing", .member = "suid", .value = ABSENT, .want = SAEF_E_MAF_SUID,
     .detail = "suid missing"},
    {"suid 33", .member = "suid", .value = "33", .want = SAEF_E_MAF_SUID,
     .detail = "suid 33 (MAF-distributed symmetric key for ESPrim) is not the accepted 32"},
    {"suid 31", .member = "suid", .value = "31", .want = SAEF_E_MAF_SUID,
     .detail = "suid 31 is not an m2m:suid value"},
    {"suid 0", .member = "suid", .value = "0", .want = SAEF_E_MAF_SUID, .detail = "suid 0 is not"},
    {"suid negative", .member = "suid", .value = "-32", .want = SAEF_E_MAF_SUID,
     .detail = "suid -32 is not an m2m:suid value"},
    {"suid 2^32 + 32", .member = "suid", .value = "4294967328", .want = SAEF_E_MAF_SUID,
     .detail = "suid 4294967328 is not"},
    {"suid 2^63 - 1", .member = "suid", .value = "9223372036854775807", .want = SAEF_E_MAF_SUID,
     .detail = "suid 9223372036854775807"},
    {"suid beyond 64 bits", .member = "suid", .value = "99999999999999999999999",
     .want = SAEF_E_MAF_JSON, .detail = "number out of range"},
    /* expirationTime (check 8) */
    {"expiry missing", .member = "expirationTime", .value = ABSENT, .want = SAEF_E_MAF_EXPIRED,
     .detail = "expirationTime missing"},
    {"expiry now", .member = "expirationTime", .value = "\"20250301T120000\"",
     .want = SAEF_E_MAF_EXPIRED,
     .detail = "expirationTime 20250301T120000 is not after now (20250301T120000)"},
    {"expiry now - 1", .member = "expirationTime", .value = "\"20250301T115959\"",
     .want = SAEF_E_MAF_EXPIRED, .detail = "20250301T115959 is not after now"},
    {"expiry long ago", .member = "expirationTime", .value = "\"19700101T000000\"",
     .want = SAEF_E_MAF_EXPIRED, .detail = "is not after now"},
    {"expiry garbage", .member = "expirationTime", .value = "\"tomorrow\"",
     .want = SAEF_E_MAF_EXPIRED, .detail = "expirationTime 'tomorrow' is not an m2m:timestamp"},
    {"expiry with Z", .member = "expirationTime", .value = "\"20250301T180000Z\"",
     .want = SAEF_E_MAF_EXPIRED, .detail = "'20250301T180000Z' is not an m2m:timestamp"},
    {"expiry extended format", .member = "expirationTime", .value = "\"2025-03-01T18:00:00\"",
     .want = SAEF_E_MAF_EXPIRED, .detail = "is not an m2m:timestamp"},
    {"expiry month 13", .member = "expirationTime", .value = "\"20251301T180000\"",
     .want = SAEF_E_MAF_EXPIRED, .detail = "'20251301T180000' is not an m2m:timestamp"},
    {"expiry empty", .member = "expirationTime", .value = "\"\"", .want = SAEF_E_MAF_EXPIRED,
     .detail = "expirationTime ''"},
    /* keyValue (check 9) */
    {"key missing", .member = "keyValue", .value = ABSENT, .want = SAEF_E_MAF_KEY_LENGTH,
     .detail = "keyValue missing"},
    {"key with a space", .member = "keyValue",
     .value = "\"RkFLRS1LRV ktRk9SLURPQ1VNRU5UQVRJT04tT05MWSE=\"", .want = SAEF_E_MAF_KEY_LENGTH,
     .detail = "not a multiple of 4"},
    {"key with space instead of a char", .member = "keyValue",
     .value = "\"RkFLRS1LRV tRk9SLURPQ1VNRU5UQVRJT04tT05MWSE=\"", .want = SAEF_E_MAF_KEY_LENGTH,
     .detail = "invalid at offset 10: character outside"},
    {"key with line break", .member = "keyValue",
     .value = "\"RkFLRS1LRVktRk9SLURPQ1VNRU5UQVRJT04tT05MWSE=\\n\"", .want = SAEF_E_MAF_KEY_LENGTH,
     .detail = "length 45 is not a multiple of 4"},
    {"key with CRLF inside", .member = "keyValue",
     .value = "\"RkFLRS1LRVktRk9SLURPQ1VN\\r\\n5UQVRJT04tT05MWSE=\"", .want = SAEF_E_MAF_KEY_LENGTH,
     .detail = "invalid at offset 24"},
    {"key missing padding", .member = "keyValue",
     .value = "\"RkFLRS1LRVktRk9SLURPQ1VNRU5UQVRJT04tT05MWSE\"", .want = SAEF_E_MAF_KEY_LENGTH,
     .detail = "length 43 is not a multiple of 4"},
    {"key bad character", .member = "keyValue",
     .value = "\"RkFLRS1LRVktRk9SLURPQ1VNRU5UQVRJT04tT05M*SE=\"", .want = SAEF_E_MAF_KEY_LENGTH,
     .detail = "offset 40: character outside"},
    {"key url-safe alphabet", .member = "keyValue",
     .value = "\"RkFLRS1LRVktRk9SLURPQ1VNRU5UQVRJT04tT05MW_E=\"", .want = SAEF_E_MAF_KEY_LENGTH,
     .detail = "offset 41"},
    {"key '=' inside", .member = "keyValue",
     .value = "\"RkFLRS1LRVktRk9SLURPQ1VNRU5UQVRJ=04tT05MWSE=\"", .want = SAEF_E_MAF_KEY_LENGTH,
     .detail = "'=' before the end"},
    {"key 33 bytes", .member = "keyValue",
     .value = "\"RkFLRS1LRVktRk9SLURPQ1VNRU5UQVRJT04tT05MWSFY\"", .want = SAEF_E_MAF_KEY_LENGTH,
     .detail = "keyValue decodes to 33 bytes, expected 32"},
    {"key 31 bytes", .member = "keyValue",
     .value = "\"RkFLRS1LRVktRk9SLURPQ1VNRU5UQVRJT04tT05MWQ==\"", .want = SAEF_E_MAF_KEY_LENGTH,
     .detail = "keyValue decodes to 31 bytes, expected 32"},
    {"key 16 bytes", .member = "keyValue", .value = "\"RkFLRS1LRVktRk9SLURPQw==\"",
     .want = SAEF_E_MAF_KEY_LENGTH, .detail = "decodes to 16 bytes"},
    {"key not canonical", .member = "keyValue",
     .value = "\"RkFLRS1LRVktRk9SLURPQ1VNRU5UQVRJT04tT05MWSF=\"", .want = SAEF_E_MAF_KEY_LENGTH,
     .detail = "offset 42: non-zero unused bits"},
    {"key empty", .member = "keyValue", .value = "\"\"", .want = SAEF_E_MAF_KEY_LENGTH,
     .detail = "base64 is empty"},
    {"key far too long", .member = "keyValue", .value = long_key, .want = SAEF_E_MAF_KEY_LENGTH,
     .detail = "keyValue has 100 characters"},
    /* sourceMAFClientID (check 10) */
    {"source missing", .member = "sourceMAFClientID", .value = ABSENT, .want = SAEF_E_MAF_SOURCE_ID,
     .detail = "sourceMAFClientID missing"},
    {"source SP-relative AE", .member = "sourceMAFClientID", .value = "\"Cdevice01\"",
     .want = SAEF_E_MAF_SOURCE_ID, .detail = "'Cdevice01' is neither"},
    {"source SP-relative CSE", .member = "sourceMAFClientID", .value = "\"/in-cse\"",
     .want = SAEF_E_MAF_SOURCE_ID, .detail = "'/in-cse' is neither"},
    {"source bad SP domain", .member = "sourceMAFClientID", .value = "\"//bad_dom/cse\"",
     .want = SAEF_E_MAF_SOURCE_ID, .detail = "'//bad_dom/cse'"},
    {"source only domain", .member = "sourceMAFClientID", .value = "\"//sp.example.com\"",
     .want = SAEF_E_MAF_SOURCE_ID, .detail = "'//sp.example.com'"},
    {"source empty", .member = "sourceMAFClientID", .value = "\"\"", .want = SAEF_E_MAF_SOURCE_ID,
     .detail = "sourceMAFClientID ''"},
    {"source KmID without FQDN", .member = "sourceMAFClientID", .value = "\"km@\"",
     .want = SAEF_E_MAF_SOURCE_ID, .detail = "'km@'"},
    {"source too long", .member = "sourceMAFClientID", .value = long_source,
     .want = SAEF_E_MAF_SOURCE_ID, .detail = "longer than 255 bytes"},
    /* adminFQDN (check 11) */
    {"admin missing", .member = "adminFQDN", .value = ABSENT, .want = SAEF_E_MAF_ADMIN_FQDN,
     .detail = "adminFQDN missing"},
    {"admin IPv4", .member = "adminFQDN", .value = "\"10.0.0.1\"", .want = SAEF_E_MAF_ADMIN_FQDN,
     .detail = "adminFQDN '10.0.0.1' is not an FQDN"},
    {"admin empty label", .member = "adminFQDN", .value = "\"sp..example.com\"",
     .want = SAEF_E_MAF_ADMIN_FQDN, .detail = "'sp..example.com'"},
    {"admin underscore", .member = "adminFQDN", .value = "\"sp_x.example.com\"",
     .want = SAEF_E_MAF_ADMIN_FQDN, .detail = "'sp_x.example.com'"},
    {"admin empty", .member = "adminFQDN", .value = "\"\"", .want = SAEF_E_MAF_ADMIN_FQDN,
     .detail = "adminFQDN ''"},
};

static void init_tables(void)
{
    /* A syntactically fine body one byte over the limit. */
    memset(big_body, ' ', sizeof(big_body) - 1);
    big_body[0] = '{';
    big_body[SAEF_MAF_BODY_MAX] = '}';
    big_body[SAEF_MAF_BODY_MAX + 1] = '\0';
    size_t o = (size_t)snprintf(many_labels, sizeof(many_labels), "[");
    for (int i = 0; i < 17; i++)
        o += (size_t)snprintf(many_labels + o, sizeof(many_labels) - o, "%s\"l%d\"", i ? ", " : "",
                              i);
    snprintf(many_labels + o, sizeof(many_labels) - o, "]");
    o = (size_t)snprintf(long_source, sizeof(long_source), "\"//sp.example.com/");
    memset(long_source + o, 'a', 300);
    snprintf(long_source + o + 300, sizeof(long_source) - o - 300, "\"");
    long_key[0] = '"';
    memset(long_key + 1, 'A', 100);
    snprintf(long_key + 101, sizeof(long_key) - 101, "\"");
}

static void test_rejections(void **state)
{
    (void)state;
    init_tables();
    for (size_t i = 0; i < sizeof(rejections) / sizeof(rejections[0]); i++) {
        const answer_case_t *tc = &rejections[i];
        saef_maf_key_t key;
        char detail[SAEF_MAF_DETAIL_MAX] = "";
        saef_rc_t rc = run_case(tc, 32, &key, NULL, detail, sizeof(detail));
        if (rc != tc->want || strstr(detail, tc->detail) == NULL) {
            print_error("case '%s': got %d (%s) with detail \"%s\"; want %d (%s) with \"%s\"\n",
                        tc->name, rc, saef_strerror(rc), detail, tc->want, saef_strerror(tc->want),
                        tc->detail);
            fail();
        }
        /* No key and nothing of it may be left behind on a rejection. */
        assert_true(all_zero(&key, sizeof(key)));
        /* The detail never quotes key text. */
        assert_null(strstr(detail, "RkFLRS1"));
    }
}

/* The RSC reported for error answers is the one received; for unparseable ones it is 0. */
static void test_rsc_out(void **state)
{
    (void)state;
    answer_case_t nf = {.status = 404, .rsc = "4004", .raw_body = ""};
    answer_case_t bad = {.rsc = "x"};
    saef_maf_key_t key;
    int rsc = -1;
    assert_int_equal(run_case(&nf, 32, &key, &rsc, NULL, 0), SAEF_E_MAF_REFUSED);
    assert_int_equal(rsc, 4004);
    assert_int_equal(run_case(&bad, 32, &key, &rsc, NULL, 0), SAEF_E_MAF_HTTP_STATUS);
    assert_int_equal(rsc, 0);
}

static void test_bad_arguments(void **state)
{
    (void)state;
    saef_maf_response_t r = {.status = 200};
    saef_maf_expect_t exp = {.ri = OUR_RI, .accepted_suid = 32, .psk_len = 24};
    saef_maf_key_t key;
    assert_int_equal(saef_maf_answer_key(NULL, &exp, &key, NULL, NULL, 0), SAEF_E_INVALID_ARG);
    assert_int_equal(saef_maf_answer_key(&r, NULL, &key, NULL, NULL, 0), SAEF_E_INVALID_ARG);
    assert_int_equal(saef_maf_answer_key(&r, &exp, NULL, NULL, NULL, 0), SAEF_E_INVALID_ARG);
    /* psk length neither 16 nor 32 */
    assert_int_equal(saef_maf_answer_key(&r, &exp, &key, NULL, NULL, 0), SAEF_E_INVALID_ARG);
}

/* TS-0009 Table 6.3.2-1 samples, from the binding's own examples (section 10). */
static void test_rsc_table(void **state)
{
    (void)state;
    assert_int_equal(saef_maf_rsc_http_status(2000), 200);
    assert_int_equal(saef_maf_rsc_http_status(2001), 201);
    assert_int_equal(saef_maf_rsc_http_status(2002), 200);
    assert_int_equal(saef_maf_rsc_http_status(2004), 200);
    assert_int_equal(saef_maf_rsc_http_status(4000), 400);
    assert_int_equal(saef_maf_rsc_http_status(4001), 501);
    assert_int_equal(saef_maf_rsc_http_status(4004), 404);
    assert_int_equal(saef_maf_rsc_http_status(4005), 405);
    assert_int_equal(saef_maf_rsc_http_status(4015), 415);
    assert_int_equal(saef_maf_rsc_http_status(4103), 403);
    assert_int_equal(saef_maf_rsc_http_status(4105), 409);
    assert_int_equal(saef_maf_rsc_http_status(4106), 403);
    assert_int_equal(saef_maf_rsc_http_status(5000), 500);
    assert_int_equal(saef_maf_rsc_http_status(4008), 504);
    assert_int_equal(saef_maf_rsc_http_status(4999), 0);
}

/* ---- registration answers (6.2, 6.3) ------------------------------------------------------ */

static saef_rc_t run_reg(long status, const char *rsc, int expected, const char *body,
                         saef_maf_reg_answer_t *out, char *detail, size_t detail_len)
{
    saef_maf_response_t r = {.status = status,
                             .rsc = {rsc, 1},
                             .ri = {OUR_RI, 1},
                             .rvi = {"3", 1},
                             .content_type = {"application/json", 1},
                             .body = body,
                             .body_len = strlen(body)};
    saef_maf_expect_t exp = {.ri = OUR_RI, .now = {NOW_S, 0}, .accepted_suid = 32, .psk_len = 32};
    return saef_maf_answer_registration(&r, &exp, expected, out, NULL, detail, detail_len);
}

#define REG_BODY(id, exp, cid, admin)                                                              \
    "{\"mafClientRegID\": " id ", \"expirationTime\": " exp ", \"labels\": [\"role:entity-b\"], "  \
    "\"mafClientID\": " cid ", \"adminFQDN\": " admin "}"

static void test_registration_answers(void **state)
{
    (void)state;
    saef_maf_reg_answer_t a;
    char detail[SAEF_MAF_DETAIL_MAX];

    /* docs/maf-binding.md 10.2 */
    assert_int_equal(run_reg(201, "2001", 2001,
                             REG_BODY("\"9C1E5A0B7D3F4E21A6B8C0D2E4F60718\"", "\"20250302T120000\"",
                                      "\"//sp.example.com/in-cse\"", "\"sp.example.com\""),
                             &a, detail, sizeof(detail)),
                     SAEF_OK);
    assert_string_equal(a.reg_id, "9C1E5A0B7D3F4E21A6B8C0D2E4F60718");
    assert_int_equal(a.expires.tv_sec, NOW_S + 86400);
    assert_string_equal(a.maf_client_id, "//sp.example.com/in-cse");
    assert_string_equal(a.admin_fqdn, "sp.example.com");
    /* 10.3: an update answers 2004 / 200 */
    assert_int_equal(run_reg(200, "2004", 2004,
                             REG_BODY("\"9C1E5A0B7D3F4E21A6B8C0D2E4F60718\"", "\"20250308T120000\"",
                                      "\"cse-km@maf.example.com\"", "\"sp.example.com\""),
                             &a, NULL, 0),
                     SAEF_OK);
    /* a create answer where an update was expected */
    assert_int_equal(run_reg(201, "2001", 2004,
                             REG_BODY("\"A\"", "\"20250302T120000\"", "\"//sp.example.com/in-cse\"",
                                      "\"sp.example.com\""),
                             &a, detail, sizeof(detail)),
                     SAEF_E_MAF_HTTP_STATUS);
    assert_non_null(strstr(detail, "2001 where 2004"));
    static const struct {
        const char *body;
        saef_rc_t want;
        const char *detail;
    } bad[] = {
        {REG_BODY("\"..\"", "\"20250302T120000\"", "\"//sp.example.com/in-cse\"",
                  "\"sp.example.com\""),
         SAEF_E_MAF_JSON, "mafClientRegID '..'"},
        {REG_BODY("\"a/b\"", "\"20250302T120000\"", "\"//sp.example.com/in-cse\"",
                  "\"sp.example.com\""),
         SAEF_E_MAF_JSON, "mafClientRegID 'a/b'"},
        {REG_BODY("7", "\"20250302T120000\"", "\"//sp.example.com/in-cse\"", "\"sp.example.com\""),
         SAEF_E_MAF_JSON, "member mafClientRegID is an integer"},
        {REG_BODY("\"A\"", "\"20250301T120000\"", "\"//sp.example.com/in-cse\"",
                  "\"sp.example.com\""),
         SAEF_E_MAF_EXPIRED, "not after now"},
        {REG_BODY("\"A\"", "\"20250302T120000\"", "\"\"", "\"sp.example.com\""),
         SAEF_E_MAF_SOURCE_ID, "mafClientID ''"},
        {REG_BODY("\"A\"", "\"20250302T120000\"", "\"//sp.example.com/in-cse\"", "\"-sp\""),
         SAEF_E_MAF_ADMIN_FQDN, "adminFQDN '-sp'"},
        {"{\"expirationTime\": \"20250302T120000\"}", SAEF_E_MAF_JSON, "mafClientRegID missing"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        saef_rc_t rc = run_reg(201, "2001", 2001, bad[i].body, &a, detail, sizeof(detail));
        if (rc != bad[i].want || strstr(detail, bad[i].detail) == NULL) {
            print_error("registration case %zu: got %d \"%s\"\n", i, rc, detail);
            fail();
        }
        assert_true(all_zero(&a, sizeof(a)));
    }
    /* a refused registration keeps the MAF's classification */
    assert_int_equal(run_reg(403, "4103", 2001, "{\"m2m:dbg\": \"adminFQDN not served\"}", &a,
                             detail, sizeof(detail)),
                     SAEF_E_MAF_REFUSED);
    assert_non_null(strstr(detail, "adminFQDN not served"));
}

/* ---- detail helpers ----------------------------------------------------------------------- */

static void test_sanitize(void **state)
{
    (void)state;
    char out[16];
    saef_maf_sanitize(out, sizeof(out), "ab\ncd\x80", 6, 80);
    assert_string_equal(out, "ab?cd?");
    saef_maf_sanitize(out, sizeof(out), "abcdefghij", 10, 4);
    assert_string_equal(out, "abcd...");
    saef_maf_sanitize(out, 4, "abcdefghij", 10, 80);
    assert_string_equal(out, "abc");
    saef_maf_sanitize(out, sizeof(out), NULL, 5, 80);
    assert_string_equal(out, "");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_happy_path),
        cmocka_unit_test(test_psk_16_takes_first_half),
        cmocka_unit_test(test_labels_and_unknown_members),
        cmocka_unit_test(test_source_kinds),
        cmocka_unit_test(test_source_classify),
        cmocka_unit_test(test_content_type_variants_accepted),
        cmocka_unit_test(test_expiry_just_after_now),
        cmocka_unit_test(test_rejections),
        cmocka_unit_test(test_rsc_out),
        cmocka_unit_test(test_bad_arguments),
        cmocka_unit_test(test_rsc_table),
        cmocka_unit_test(test_registration_answers),
        cmocka_unit_test(test_sanitize),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
