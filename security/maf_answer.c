/*
 * Validation of MAF answers (docs/maf-binding.md 5.2, 5.3, 6.2, 6.8).  Pure: the response, our
 * request's X-M2M-RI and the current time come in, a verdict and a detail line go out, so every
 * rejection is tested against canned answers and fuzzed.
 *
 * Details quote values received from the MAF, sanitised, but never the keyValue string nor
 * jansson's error text (which quotes the input around the error and could quote the key).
 */
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <jansson.h>
#include <openssl/crypto.h>

#include "saef_ascii.h"
#include "saef_maf_internal.h"
#include "saef_suid.h"
#include "saef_time.h"

#define SHOW_MAX 80 /* bytes of a received value quoted in a detail */

saef_rc_t saef_maf_detail(saef_rc_t rc, char *detail, size_t detail_len, const char *fmt, ...)
{
    if (detail != NULL && detail_len > 0) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(detail, detail_len, fmt, ap);
        va_end(ap);
    }
    return rc;
}

void saef_maf_sanitize(char *dst, size_t dst_len, const char *src, size_t src_len, size_t max_show)
{
    size_t o = 0;

    if (dst == NULL || dst_len == 0)
        return;
    if (src == NULL)
        src_len = 0;
    for (size_t i = 0; i < src_len && i < max_show && o + 1 < dst_len; i++) {
        unsigned char c = (unsigned char)src[i];
        dst[o++] = c >= 0x20 && c <= 0x7e ? (char)c : '?';
    }
    if (src_len > max_show) {
        for (int k = 0; k < 3 && o + 1 < dst_len; k++)
            dst[o++] = '.';
    }
    dst[o] = '\0';
}

/* TS-0009 Table 6.3.2-1. */
long saef_maf_rsc_http_status(int rsc)
{
    static const struct {
        long status;
        int rscs[14];
    } table[] = {
        {200, {2000, 2002, 2004}},
        {201, {2001}},
        {202, {1000, 1001, 1002}},
        {400, {4000, 4102, 4110, 4120, 4122, 4123, 4143, 6010, 6022, 6023, 6024}},
        {403, {4101, 4103, 4106, 4107, 4108, 4109, 4111, 4112, 4113, 4114, 4115, 4116, 4117}},
        {403, {4126, 4127, 5105, 5203, 5205, 5208, 5214, 5215, 5218, 5222}},
        {404, {4004, 4118, 4119, 4121, 5103, 5107, 6003, 6005}},
        {405, {4005}},
        {406, {5207}},
        {415, {4015}},
        {409, {4104, 4105, 4124, 5106, 5219, 5220, 6028, 6029}},
        {500, {5000, 5204, 5209, 5210, 5211, 5212, 5216, 5217, 5221, 6020, 6021, 6025, 6026}},
        {501, {4001, 4125, 5001, 5206}},
        {504, {4008, 6030, 6031}},
    };
    for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++) {
        for (size_t k = 0; k < sizeof(table[i].rscs) / sizeof(table[i].rscs[0]); k++) {
            if (table[i].rscs[k] == rsc)
                return table[i].status;
        }
    }
    return 0;
}

/* Case-insensitive prefix match; advances *p past it. */
static bool take(const char **p, const char *word)
{
    size_t n = strlen(word);
    if (strlen(*p) < n || !saef_ascii_ieq(*p, word, n))
        return false;
    *p += n;
    return true;
}

static void skip_ows(const char **p)
{
    while (**p == ' ' || **p == '\t')
        (*p)++;
}

/* application/json, optionally "; charset=utf-8" (value may be quoted), per 5.1. */
static bool content_type_ok(const char *v)
{
    const char *p = v;

    if (!take(&p, "application/json"))
        return false;
    skip_ows(&p);
    if (*p == '\0')
        return true;
    if (*p++ != ';')
        return false;
    skip_ows(&p);
    if (!take(&p, "charset="))
        return false;
    if (*p == '"') {
        p++;
        if (!take(&p, "utf-8") || *p++ != '"')
            return false;
    } else if (!take(&p, "utf-8")) {
        return false;
    }
    skip_ows(&p);
    return *p == '\0';
}

/* Exactly four digits, 1000..6999. */
static bool parse_rsc(const char *v, int *rsc)
{
    if (v == NULL || strlen(v) != 4)
        return false;
    int r = 0;
    for (int i = 0; i < 4; i++) {
        if (v[i] < '0' || v[i] > '9')
            return false;
        r = r * 10 + (v[i] - '0');
    }
    if (r < 1000 || r > 6999)
        return false;
    *rsc = r;
    return true;
}

/* The m2m:dbg of an error body, sanitised, or "" (never parsed beyond that: 5.2). */
static void error_dbg(const saef_maf_response_t *resp, char *out, size_t outlen)
{
    json_error_t err;

    out[0] = '\0';
    if (resp->body == NULL || resp->body_len == 0 || resp->body_len > SAEF_MAF_BODY_MAX)
        return;
    json_t *root = json_loadb(resp->body, resp->body_len, JSON_REJECT_DUPLICATES, &err);
    json_t *dbg = json_is_object(root) ? json_object_get(root, "m2m:dbg") : NULL;
    if (json_is_string(dbg)) {
        char clean[SHOW_MAX + 8];
        saef_maf_sanitize(clean, sizeof(clean), json_string_value(dbg), json_string_length(dbg),
                          SHOW_MAX);
        snprintf(out, outlen, ": %s", clean);
    }
    json_decref(root);
}

/* Everything before the members: status, RSC, RI, RVI, error RSCs, content headers and the
 * strict JSON parse.  On SAEF_OK *root holds the parsed object (the caller decrefs it). */
static saef_rc_t check_envelope(const saef_maf_response_t *resp, const saef_maf_expect_t *exp,
                                int expected_rsc, json_t **root, int *rsc_out, char *detail,
                                size_t detail_len)
{
    char shown[SHOW_MAX + 8];
    int rsc = 0;

    *root = NULL;
    if (resp->status >= 300 && resp->status <= 399)
        return saef_maf_detail(SAEF_E_MAF_HTTP_STATUS, detail, detail_len,
                               "HTTP status %ld: redirects are not part of the binding",
                               resp->status);
    if (resp->rsc.count == 0)
        return saef_maf_detail(SAEF_E_MAF_HTTP_STATUS, detail, detail_len,
                               "HTTP status %ld without X-M2M-RSC", resp->status);
    if (resp->rsc.count > 1)
        return saef_maf_detail(SAEF_E_MAF_HTTP_STATUS, detail, detail_len,
                               "X-M2M-RSC occurs %u times", resp->rsc.count);
    if (!parse_rsc(resp->rsc.value, &rsc)) {
        saef_maf_sanitize(shown, sizeof(shown), resp->rsc.value,
                          resp->rsc.value ? strlen(resp->rsc.value) : 0, SHOW_MAX);
        return saef_maf_detail(SAEF_E_MAF_HTTP_STATUS, detail, detail_len,
                               "X-M2M-RSC '%s' is not a response status code", shown);
    }
    if (rsc_out != NULL)
        *rsc_out = rsc;
    long want = saef_maf_rsc_http_status(rsc);
    if (want != 0 ? want != resp->status : (rsc < 4000 || resp->status < 400 || resp->status > 599))
        return saef_maf_detail(SAEF_E_MAF_HTTP_STATUS, detail, detail_len,
                               "HTTP status %ld does not match X-M2M-RSC %d", resp->status, rsc);
    if (resp->ri.count != 1 || exp->ri == NULL || strcmp(resp->ri.value, exp->ri) != 0) {
        if (resp->ri.count == 0)
            return saef_maf_detail(SAEF_E_MAF_HTTP_STATUS, detail, detail_len,
                                   "X-M2M-RI missing (ours was '%s')", exp->ri ? exp->ri : "");
        if (resp->ri.count > 1)
            return saef_maf_detail(SAEF_E_MAF_HTTP_STATUS, detail, detail_len,
                                   "X-M2M-RI occurs %u times", resp->ri.count);
        saef_maf_sanitize(shown, sizeof(shown), resp->ri.value, strlen(resp->ri.value), SHOW_MAX);
        return saef_maf_detail(SAEF_E_MAF_HTTP_STATUS, detail, detail_len,
                               "X-M2M-RI '%s' does not echo ours '%s'", shown,
                               exp->ri ? exp->ri : "");
    }
    if (resp->rvi.count != 1 || strcmp(resp->rvi.value, "3") != 0) {
        saef_maf_sanitize(shown, sizeof(shown), resp->rvi.value,
                          resp->rvi.count > 0 ? strlen(resp->rvi.value) : 0, SHOW_MAX);
        return saef_maf_detail(SAEF_E_MAF_HTTP_STATUS, detail, detail_len,
                               "X-M2M-RVI '%s' (%u times), expected '3'", shown, resp->rvi.count);
    }

    /* Error answers (docs/maf-binding.md section 8 classification). */
    if (rsc >= 4000) {
        char dbg[SHOW_MAX + 16];
        error_dbg(resp, dbg, sizeof(dbg));
        if (rsc == 4004 || rsc == 4103)
            return saef_maf_detail(SAEF_E_MAF_REFUSED, detail, detail_len,
                                   "MAF refused with X-M2M-RSC %d%s", rsc, dbg);
        if (rsc == 4106)
            return saef_maf_detail(SAEF_E_MAF_AUTH, detail, detail_len,
                                   "MAF did not accept our identity: X-M2M-RSC 4106%s", dbg);
        return saef_maf_detail(SAEF_E_MAF_RSC, detail, detail_len,
                               "MAF answered X-M2M-RSC %d (HTTP %ld)%s", rsc, resp->status, dbg);
    }
    if (rsc != expected_rsc)
        return saef_maf_detail(SAEF_E_MAF_HTTP_STATUS, detail, detail_len,
                               "X-M2M-RSC %d where %d was expected", rsc, expected_rsc);

    if (resp->content_encoding.count > 0 &&
        (resp->content_encoding.count > 1 || strlen(resp->content_encoding.value) != 8 ||
         !saef_ascii_ieq(resp->content_encoding.value, "identity", 8))) {
        saef_maf_sanitize(shown, sizeof(shown), resp->content_encoding.value,
                          strlen(resp->content_encoding.value), SHOW_MAX);
        return saef_maf_detail(SAEF_E_MAF_JSON, detail, detail_len,
                               "Content-Encoding '%s' not allowed", shown);
    }
    if (resp->content_type.count != 1 || !content_type_ok(resp->content_type.value)) {
        saef_maf_sanitize(shown, sizeof(shown), resp->content_type.value,
                          resp->content_type.count > 0 ? strlen(resp->content_type.value) : 0,
                          SHOW_MAX);
        return saef_maf_detail(SAEF_E_MAF_JSON, detail, detail_len,
                               "Content-Type '%s' (%u times), expected application/json", shown,
                               resp->content_type.count);
    }
    if (resp->body_len > SAEF_MAF_BODY_MAX)
        return saef_maf_detail(SAEF_E_MAF_JSON, detail, detail_len, "body of %zu bytes exceeds %d",
                               resp->body_len, SAEF_MAF_BODY_MAX);
    if (resp->body == NULL || resp->body_len == 0)
        return saef_maf_detail(SAEF_E_MAF_JSON, detail, detail_len, "empty body");

    json_error_t err;
    json_t *parsed = json_loadb(resp->body, resp->body_len, JSON_REJECT_DUPLICATES, &err);
    if (parsed == NULL) {
        enum json_error_code code = json_error_code(&err);
        const char *why;
        switch (code) {
        case json_error_out_of_memory:
            OPENSSL_cleanse(&err, sizeof(err));
            return saef_maf_detail(SAEF_E_NOMEM, detail, detail_len, "parsing the body");
        case json_error_duplicate_key:
            why = "duplicate member";
            break;
        case json_error_invalid_utf8:
            why = "invalid UTF-8";
            break;
        case json_error_null_character:
        case json_error_null_byte_in_key:
            why = "NUL character in a string";
            break;
        case json_error_numeric_overflow:
            why = "number out of range";
            break;
        case json_error_premature_end_of_input:
            why = "truncated";
            break;
        case json_error_end_of_input_expected:
            why = "data after the JSON object";
            break;
        case json_error_stack_overflow:
            why = "nested too deeply";
            break;
        default:
            why = "syntax error";
            break;
        }
        saef_rc_t rc = saef_maf_detail(SAEF_E_MAF_JSON, detail, detail_len,
                                       "body is not strict JSON: %s at line %d column %d", why,
                                       err.line, err.column);
        OPENSSL_cleanse(&err, sizeof(err));
        return rc;
    }
    if (!json_is_object(parsed)) {
        json_decref(parsed);
        return saef_maf_detail(SAEF_E_MAF_JSON, detail, detail_len,
                               "body is a JSON array, not an object");
    }
    *root = parsed;
    return SAEF_OK;
}

typedef enum { M_STRING, M_INTEGER, M_ARRAY } mtype_t;

static const char *type_name(const json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_OBJECT:
        return "an object";
    case JSON_ARRAY:
        return "an array";
    case JSON_STRING:
        return "a string";
    case JSON_INTEGER:
        return "an integer";
    case JSON_REAL:
        return "a real number";
    case JSON_TRUE:
    case JSON_FALSE:
        return "a boolean";
    case JSON_NULL:
        return "null";
    }
    return "unknown";
}

/* Check the types of the known members present (6.8 checks 5 and 6). */
static saef_rc_t check_types(json_t *root, const char *const *names, const mtype_t *types, size_t n,
                             char *detail, size_t detail_len)
{
    static const char *const want[] = {"a string", "an integer", "an array"};
    for (size_t i = 0; i < n; i++) {
        json_t *v = json_object_get(root, names[i]);
        if (v == NULL)
            continue;
        bool ok = (types[i] == M_STRING && json_is_string(v)) ||
                  (types[i] == M_INTEGER && json_is_integer(v)) ||
                  (types[i] == M_ARRAY && json_is_array(v));
        if (!ok)
            return saef_maf_detail(SAEF_E_MAF_JSON, detail, detail_len,
                                   "member %s is %s, must be %s", names[i], type_name(v),
                                   want[types[i]]);
    }
    return SAEF_OK;
}

/* labels: 0..16 strings of 1..128 visible ASCII; joined with spaces into buf when given. */
static saef_rc_t check_labels(json_t *labels, char *buf, size_t buflen, size_t *count, char *detail,
                              size_t detail_len)
{
    size_t o = 0, n = json_array_size(labels);

    if (buf != NULL && buflen > 0)
        buf[0] = '\0';
    if (n > SAEF_MAF_LABELS_MAX)
        return saef_maf_detail(SAEF_E_MAF_JSON, detail, detail_len,
                               "labels has %zu entries, at most %d", n, SAEF_MAF_LABELS_MAX);
    for (size_t i = 0; i < n; i++) {
        json_t *l = json_array_get(labels, i);
        if (!json_is_string(l))
            return saef_maf_detail(SAEF_E_MAF_JSON, detail, detail_len,
                                   "labels[%zu] is %s, must be a string", i, type_name(l));
        const char *s = json_string_value(l);
        size_t len = json_string_length(l);
        bool ok = len >= 1 && len <= 128;
        for (size_t k = 0; ok && k < len; k++)
            ok = s[k] >= 0x21 && s[k] <= 0x7e;
        if (!ok) {
            char shown[SHOW_MAX + 8];
            saef_maf_sanitize(shown, sizeof(shown), s, len, SHOW_MAX);
            return saef_maf_detail(SAEF_E_MAF_JSON, detail, detail_len,
                                   "labels[%zu] '%s' is not 1..128 visible ASCII characters", i,
                                   shown);
        }
        if (buf != NULL && o + len + 2 <= buflen) {
            if (o > 0)
                buf[o++] = ' ';
            memcpy(buf + o, s, len);
            o += len;
            buf[o] = '\0';
        }
    }
    if (count != NULL)
        *count = n;
    return SAEF_OK;
}

/* expirationTime: an m2m:timestamp strictly after now. */
static saef_rc_t check_expiry(json_t *v, const struct timespec *now, struct timespec *out,
                              char *detail, size_t detail_len)
{
    char shown[SHOW_MAX + 8];

    if (v == NULL)
        return saef_maf_detail(SAEF_E_MAF_EXPIRED, detail, detail_len, "expirationTime missing");
    const char *s = json_string_value(v);
    size_t len = json_string_length(v);
    saef_maf_sanitize(shown, sizeof(shown), s, len, SHOW_MAX);
    saef_rc_t rc = saef_ts_parse(s, len, out);
    if (rc != SAEF_OK)
        return saef_maf_detail(SAEF_E_MAF_EXPIRED, detail, detail_len,
                               "expirationTime '%s' is not an m2m:timestamp (%s)", shown,
                               saef_strerror(rc));
    if (out->tv_sec < now->tv_sec || (out->tv_sec == now->tv_sec && out->tv_nsec <= now->tv_nsec)) {
        char nowbuf[SAEF_TS_BUF_SIZE];
        if (saef_ts_format(now, now->tv_nsec != 0, nowbuf, sizeof(nowbuf)) != SAEF_OK)
            snprintf(nowbuf, sizeof(nowbuf), "%lld", (long long)now->tv_sec);
        return saef_maf_detail(SAEF_E_MAF_EXPIRED, detail, detail_len,
                               "expirationTime %s is not after now (%s)", shown, nowbuf);
    }
    return SAEF_OK;
}

static saef_rc_t check_admin_fqdn(json_t *v, char *out, size_t outlen, char *detail,
                                  size_t detail_len)
{
    if (v == NULL)
        return saef_maf_detail(SAEF_E_MAF_ADMIN_FQDN, detail, detail_len, "adminFQDN missing");
    const char *s = json_string_value(v);
    size_t len = json_string_length(v);
    saef_span_t span;
    saef_rc_t rc = saef_id_fqdn_check(s, len, &span);
    if (rc != SAEF_OK || span.len + 1 > outlen) {
        char shown[SHOW_MAX + 8];
        saef_maf_sanitize(shown, sizeof(shown), s, len, SHOW_MAX);
        return saef_maf_detail(SAEF_E_MAF_ADMIN_FQDN, detail, detail_len,
                               "adminFQDN '%s' is not an FQDN (%s)", shown,
                               saef_strerror(rc != SAEF_OK ? rc : SAEF_E_ID_FQDN_TOO_LONG));
    }
    memcpy(out, span.ptr, span.len);
    out[span.len] = '\0';
    return SAEF_OK;
}

/* sourceMAFClientID (6.8 check 10): "//..." must be an Absolute CSE-ID or AE-ID, anything else
 * a KmID. */
static saef_rc_t classify_source(const char *s, size_t len, saef_maf_source_kind_t *kind,
                                 saef_rc_t *why)
{
    *why = SAEF_OK;
    if (len >= 2 && s[0] == '/' && s[1] == '/') {
        saef_m2m_id_t id;
        *why = saef_id_m2m_classify(s, len, &id);
        if (*why != SAEF_OK)
            return SAEF_E_MAF_SOURCE_ID;
        if (id.kind == SAEF_M2M_ID_CSE_ABSOLUTE) {
            *kind = SAEF_MAF_SOURCE_CSE_ID;
            return SAEF_OK;
        }
        if (id.kind == SAEF_M2M_ID_AE_ABSOLUTE) {
            *kind = SAEF_MAF_SOURCE_AE_ID;
            return SAEF_OK;
        }
        *why = SAEF_E_ID_CSE_ID;
        return SAEF_E_MAF_SOURCE_ID;
    }
    saef_id_scoped_t km;
    *why = saef_id_kmid_parse(s, len, &km);
    if (*why != SAEF_OK)
        return SAEF_E_MAF_SOURCE_ID;
    *kind = SAEF_MAF_SOURCE_KMID;
    return SAEF_OK;
}

saef_rc_t saef_maf_source_classify(const char *s, size_t len, saef_maf_source_kind_t *kind)
{
    saef_rc_t why;

    if (s == NULL || kind == NULL || len > SAEF_MAF_ORIGIN_MAX)
        return SAEF_E_MAF_SOURCE_ID;
    return classify_source(s, len, kind, &why);
}

static saef_rc_t check_source(json_t *v, saef_maf_key_t *out, char *detail, size_t detail_len)
{
    if (v == NULL)
        return saef_maf_detail(SAEF_E_MAF_SOURCE_ID, detail, detail_len,
                               "sourceMAFClientID missing");
    const char *s = json_string_value(v);
    size_t len = json_string_length(v);
    saef_rc_t why;
    if (len > SAEF_MAF_ORIGIN_MAX || classify_source(s, len, &out->source_kind, &why) != SAEF_OK) {
        char shown[SHOW_MAX + 8];
        saef_maf_sanitize(shown, sizeof(shown), s, len, SHOW_MAX);
        return saef_maf_detail(
            SAEF_E_MAF_SOURCE_ID, detail, detail_len,
            "sourceMAFClientID '%s' is neither an Absolute CSE-ID/AE-ID nor a KmID (%s)", shown,
            len > SAEF_MAF_ORIGIN_MAX ? "longer than 255 bytes" : saef_strerror(why));
    }
    memcpy(out->source_id, s, len);
    out->source_id[len] = '\0';
    return SAEF_OK;
}

static saef_rc_t check_suid(json_t *v, unsigned accepted, unsigned *out, char *detail,
                            size_t detail_len)
{
    if (v == NULL)
        return saef_maf_detail(SAEF_E_MAF_SUID, detail, detail_len, "suid missing");
    json_int_t s = json_integer_value(v);
    if (s < 0 || (unsigned long long)s > UINT_MAX || !saef_suid_known((unsigned)s))
        return saef_maf_detail(SAEF_E_MAF_SUID, detail, detail_len,
                               "suid %" JSON_INTEGER_FORMAT " is not an m2m:suid value", s);
    if ((unsigned)s != accepted)
        return saef_maf_detail(SAEF_E_MAF_SUID, detail, detail_len,
                               "suid %u (%s) is not the accepted %u", (unsigned)s,
                               saef_suid_name((unsigned)s), accepted);
    *out = (unsigned)s;
    return SAEF_OK;
}

static saef_rc_t check_key(json_t *v, size_t psk_len, saef_maf_key_t *out, char *detail,
                           size_t detail_len)
{
    /* One group more than 32 bytes need, so that 33 bytes are reported as such. */
    uint8_t raw[SAEF_MAF_KEY_MAX + 3];
    size_t raw_len = 0;
    char why[SAEF_MAF_DETAIL_MAX];

    if (v == NULL)
        return saef_maf_detail(SAEF_E_MAF_KEY_LENGTH, detail, detail_len, "keyValue missing");
    size_t len = json_string_length(v);
    if (len > SAEF_MAF_KEY_B64_LEN + 4)
        return saef_maf_detail(SAEF_E_MAF_KEY_LENGTH, detail, detail_len,
                               "keyValue has %zu characters; 32 bytes take %d", len,
                               SAEF_MAF_KEY_B64_LEN);
    saef_rc_t rc = saef_maf_b64_decode(json_string_value(v), len, raw, sizeof(raw), &raw_len, why,
                                       sizeof(why));
    if (rc != SAEF_OK) {
        OPENSSL_cleanse(raw, sizeof(raw));
        return saef_maf_detail(rc == SAEF_E_NOMEM ? rc : SAEF_E_MAF_KEY_LENGTH, detail, detail_len,
                               "keyValue: %s", why);
    }
    if (raw_len != SAEF_MAF_KEY_MAX) {
        OPENSSL_cleanse(raw, sizeof(raw));
        return saef_maf_detail(SAEF_E_MAF_KEY_LENGTH, detail, detail_len,
                               "keyValue decodes to %zu bytes, expected %d", raw_len,
                               SAEF_MAF_KEY_MAX);
    }
    /* TS-0003 8.8.1: a protocol that needs one 16-byte key takes the first half. */
    memcpy(out->key, raw, psk_len);
    out->key_len = psk_len;
    OPENSSL_cleanse(raw, sizeof(raw));
    return SAEF_OK;
}

/* jansson keeps its own copy of every string: overwrite the key's before the tree goes.  Its
 * memory is jansson's, but the string is ours to change until json_decref() (the length is
 * jansson's record, so we stay inside the allocation). */
static void wipe_key_string(json_t *root)
{
    json_t *kv = json_object_get(root, "keyValue");
    if (json_is_string(kv))
        OPENSSL_cleanse((char *)json_string_value(kv), json_string_length(kv));
}

static void release(json_t *root)
{
    if (root != NULL) {
        wipe_key_string(root);
        json_decref(root);
    }
}

saef_rc_t saef_maf_answer_key(const saef_maf_response_t *resp, const saef_maf_expect_t *exp,
                              saef_maf_key_t *out, int *rsc_out, char *detail, size_t detail_len)
{
    static const char *const names[] = {
        "expirationTime", "sourceMAFClientID", "labels", "adminFQDN", "suid", "keyValue"};
    static const mtype_t types[] = {M_STRING, M_STRING, M_ARRAY, M_STRING, M_INTEGER, M_STRING};
    json_t *root = NULL;
    saef_rc_t rc;

    if (rsc_out != NULL)
        *rsc_out = 0;
    if (out != NULL)
        saef_maf_key_clear(out);
    if (resp == NULL || exp == NULL || out == NULL ||
        (exp->psk_len != 16 && exp->psk_len != SAEF_MAF_KEY_MAX))
        return saef_maf_detail(SAEF_E_INVALID_ARG, detail, detail_len, "bad argument");
    rc = check_envelope(resp, exp, 2000, &root, rsc_out, detail, detail_len);
    if (rc == SAEF_OK)
        rc = check_types(root, names, types, sizeof(names) / sizeof(names[0]), detail, detail_len);
    if (rc == SAEF_OK)
        rc = check_suid(json_object_get(root, "suid"), exp->accepted_suid, &out->suid, detail,
                        detail_len);
    if (rc == SAEF_OK)
        rc = check_expiry(json_object_get(root, "expirationTime"), &exp->now, &out->expires, detail,
                          detail_len);
    if (rc == SAEF_OK)
        rc = check_key(json_object_get(root, "keyValue"), exp->psk_len, out, detail, detail_len);
    if (rc == SAEF_OK)
        rc = check_source(json_object_get(root, "sourceMAFClientID"), out, detail, detail_len);
    if (rc == SAEF_OK)
        rc = check_admin_fqdn(json_object_get(root, "adminFQDN"), out->admin_fqdn,
                              sizeof(out->admin_fqdn), detail, detail_len);
    json_t *labels = rc == SAEF_OK ? json_object_get(root, "labels") : NULL;
    if (labels != NULL)
        rc = check_labels(labels, out->labels, sizeof(out->labels), &out->n_labels, detail,
                          detail_len);
    release(root);
    if (rc != SAEF_OK)
        saef_maf_key_clear(out);
    else
        saef_maf_detail(rc, detail, detail_len, "ok");
    return rc;
}

/* A MAF-issued ID (section 2): [A-Za-z0-9._-]{1,64}, never "." or "..". */
static bool maf_issued_id_ok(const char *s, size_t len)
{
    if (len < 1 || len > SAEF_ID_REL_MAX || strcmp(s, ".") == 0 || strcmp(s, "..") == 0)
        return false;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == '-'))
            return false;
    }
    return true;
}

saef_rc_t saef_maf_answer_registration(const saef_maf_response_t *resp,
                                       const saef_maf_expect_t *exp, int expected_rsc,
                                       saef_maf_reg_answer_t *out, int *rsc_out, char *detail,
                                       size_t detail_len)
{
    static const char *const names[] = {"mafClientRegID", "expirationTime", "labels", "mafClientID",
                                        "adminFQDN"};
    static const mtype_t types[] = {M_STRING, M_STRING, M_ARRAY, M_STRING, M_STRING};
    char shown[SHOW_MAX + 8];
    json_t *root = NULL;
    saef_rc_t rc;

    if (rsc_out != NULL)
        *rsc_out = 0;
    if (resp == NULL || exp == NULL || out == NULL)
        return saef_maf_detail(SAEF_E_INVALID_ARG, detail, detail_len, "bad argument");
    memset(out, 0, sizeof(*out));
    rc = check_envelope(resp, exp, expected_rsc, &root, rsc_out, detail, detail_len);
    if (rc == SAEF_OK)
        rc = check_types(root, names, types, sizeof(names) / sizeof(names[0]), detail, detail_len);
    if (rc == SAEF_OK) {
        json_t *id = json_object_get(root, "mafClientRegID");
        if (id == NULL) {
            rc = saef_maf_detail(SAEF_E_MAF_JSON, detail, detail_len, "mafClientRegID missing");
        } else if (!maf_issued_id_ok(json_string_value(id), json_string_length(id))) {
            saef_maf_sanitize(shown, sizeof(shown), json_string_value(id), json_string_length(id),
                              SHOW_MAX);
            rc = saef_maf_detail(SAEF_E_MAF_JSON, detail, detail_len,
                                 "mafClientRegID '%s' is not [A-Za-z0-9._-]{1,64}", shown);
        } else {
            memcpy(out->reg_id, json_string_value(id), json_string_length(id) + 1);
        }
    }
    if (rc == SAEF_OK)
        rc = check_expiry(json_object_get(root, "expirationTime"), &exp->now, &out->expires, detail,
                          detail_len);
    if (rc == SAEF_OK) {
        json_t *cid = json_object_get(root, "mafClientID");
        saef_maf_source_kind_t kind;
        saef_rc_t why = SAEF_OK;
        size_t len = cid != NULL ? json_string_length(cid) : 0;
        if (cid == NULL) {
            rc = saef_maf_detail(SAEF_E_MAF_SOURCE_ID, detail, detail_len, "mafClientID missing");
        } else if (len > SAEF_MAF_ORIGIN_MAX ||
                   (!saef_id_is_cse_id(json_string_value(cid), len) &&
                    !saef_id_is_ae_id(json_string_value(cid), len) &&
                    classify_source(json_string_value(cid), len, &kind, &why) != SAEF_OK)) {
            saef_maf_sanitize(shown, sizeof(shown), json_string_value(cid), len, SHOW_MAX);
            rc = saef_maf_detail(SAEF_E_MAF_SOURCE_ID, detail, detail_len,
                                 "mafClientID '%s' is not a CSE-ID, AE-ID or KmID", shown);
        } else {
            memcpy(out->maf_client_id, json_string_value(cid), len + 1);
        }
    }
    if (rc == SAEF_OK)
        rc = check_admin_fqdn(json_object_get(root, "adminFQDN"), out->admin_fqdn,
                              sizeof(out->admin_fqdn), detail, detail_len);
    json_t *labels = rc == SAEF_OK ? json_object_get(root, "labels") : NULL;
    if (labels != NULL)
        rc = check_labels(labels, NULL, 0, NULL, detail, detail_len);
    json_decref(root);
    if (rc != SAEF_OK)
        memset(out, 0, sizeof(*out));
    else
        saef_maf_detail(rc, detail, detail_len, "ok");
    return rc;
}

void saef_maf_key_clear(saef_maf_key_t *key)
{
    if (key != NULL)
        OPENSSL_cleanse(key, sizeof(*key));
}

void saef_maf_result_clear(saef_maf_result_t *res)
{
    if (res != NULL)
        OPENSSL_cleanse(res, sizeof(*res));
}
