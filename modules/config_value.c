/*
 * Typed parsers for one configuration value.  Strict on purpose: a configuration value that
 * means something other than what the operator thinks (a '+' sign, an octal-looking number,
 * a URI with a userinfo part) is an error at create time, not a surprise in production.
 * Character classes are ASCII-only and independent of the process locale.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <arpa/inet.h>
#include <curl/curl.h>
#include <libpq-fe.h>

#include "config_internal.h"
#include "saef_ascii.h"
#include "saef_id.h"

#define XSTR(x) #x
#define STR(x) XSTR(x)

void saef_cfg_msg(char *buf, size_t buflen, const char *fmt, ...)
{
    va_list ap;

    if (buf == NULL || buflen == 0)
        return;
    va_start(ap, fmt);
    vsnprintf(buf, buflen, fmt, ap);
    va_end(ap);
}

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

static bool is_lower(char c)
{
    return c >= 'a' && c <= 'z';
}

static bool is_alnum(char c)
{
    return is_digit(c) || is_lower(c) || (c >= 'A' && c <= 'Z');
}

static bool is_blank(char c)
{
    return c == ' ' || c == '\t';
}

/* Copy len bytes into a new NUL-terminated string, lower-cased when asked.  Allocation goes
 * through malloc() only, so that the tests' allocation-failure injection reaches it. */
/* Case-insensitive equality of ASCII text, whatever the host's locale. */
static bool ascii_ieq(const char *a, size_t alen, const char *b, size_t blen)
{
    return alen == blen && saef_ascii_ieq(a, b, alen);
}

static char *dup_n(const char *s, size_t len, bool lower)
{
    char *d = malloc(len + 1);
    size_t i;

    if (d == NULL)
        return NULL;
    for (i = 0; i < len; i++)
        d[i] = lower ? saef_ascii_lower(s[i]) : s[i];
    d[len] = '\0';
    return d;
}

void saef_cfg_list_free(char **list, size_t n)
{
    size_t i;

    if (list == NULL)
        return;
    for (i = 0; i < n; i++)
        free(list[i]);
    free(list);
}

void saef_cfg_value_clear(cfg_value_t *val)
{
    free(val->s);
    saef_cfg_list_free(val->list, val->n);
    memset(val, 0, sizeof(*val));
}

/*
 * Strict decimal: digits only (no sign, no blanks, no leading zero, which some readers take
 * for octal).  Returns SAEF_OK, SAEF_E_CFG_MALFORMED, or SAEF_E_CFG_RANGE when the number
 * does not fit in 32 bits.
 */
static saef_rc_t parse_u32(const char *s, size_t len, uint32_t *out)
{
    uint64_t v = 0;
    size_t i;

    if (len == 0 || (len > 1 && s[0] == '0'))
        return SAEF_E_CFG_MALFORMED;
    for (i = 0; i < len; i++) {
        if (!is_digit(s[i]))
            return SAEF_E_CFG_MALFORMED;
        v = v * 10 + (uint64_t)(s[i] - '0');
        if (v > UINT32_MAX)
            return SAEF_E_CFG_RANGE; /* stops before v can wrap: at most 11 digits read */
    }
    *out = (uint32_t)v;
    return SAEF_OK;
}

static saef_rc_t parse_uint(const cfg_option_t *opt, const char *s, size_t len, cfg_value_t *val,
                            char *why, size_t whylen)
{
    saef_rc_t rc = parse_u32(s, len, &val->u);

    if (rc == SAEF_E_CFG_MALFORMED) {
        saef_cfg_msg(why, whylen, "not a decimal number (digits only, no sign, no leading 0)");
        return rc;
    }
    if (rc != SAEF_OK || val->u < opt->min || val->u > opt->max) {
        saef_cfg_msg(why, whylen, "out of range %u..%u", (unsigned)opt->min, (unsigned)opt->max);
        return SAEF_E_CFG_RANGE;
    }
    return SAEF_OK;
}

static saef_rc_t parse_enum(const cfg_option_t *opt, const char *s, cfg_value_t *val, char *why,
                            size_t whylen)
{
    const cfg_choice_t *c;
    char choices[128];

    for (c = opt->choices; c->name != NULL; c++) {
        if (ascii_ieq(c->name, strlen(c->name), s, strlen(s))) {
            val->u = c->value;
            return SAEF_OK;
        }
    }
    saef_cfg_range_text(opt, choices, sizeof(choices));
    saef_cfg_msg(why, whylen, "not one of %s", choices);
    return SAEF_E_CFG_RANGE;
}

static saef_rc_t parse_bool(const char *s, cfg_value_t *val, char *why, size_t whylen)
{
    static const char *const yes[] = {"true", "yes", "on", "1"};
    static const char *const no[] = {"false", "no", "off", "0"};
    size_t i;

    for (i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
        if (ascii_ieq(s, strlen(s), yes[i], strlen(yes[i]))) {
            val->b = true;
            return SAEF_OK;
        }
        if (ascii_ieq(s, strlen(s), no[i], strlen(no[i]))) {
            val->b = false;
            return SAEF_OK;
        }
    }
    saef_cfg_msg(why, whylen, "not a boolean (true/false, yes/no, on/off, 1/0)");
    return SAEF_E_CFG_MALFORMED;
}

static saef_rc_t parse_name(const char *s, size_t len, char *why, size_t whylen)
{
    size_t i;

    for (i = 0; i < len; i++) {
        if (!is_alnum(s[i]) && s[i] != '.' && s[i] != '_' && s[i] != '-')
            break;
    }
    if (i < len || len > 64) {
        saef_cfg_msg(why, whylen, "not a name of 1..64 characters [A-Za-z0-9._-]");
        return SAEF_E_CFG_MALFORMED;
    }
    return SAEF_OK;
}

static saef_rc_t parse_sql_ident(const char *s, size_t len, char *why, size_t whylen)
{
    size_t i;
    bool ok = len <= 63 && (is_lower(s[0]) || s[0] == '_');

    for (i = 1; ok && i < len; i++)
        ok = is_lower(s[i]) || is_digit(s[i]) || s[i] == '_';
    if (!ok) {
        saef_cfg_msg(why, whylen, "not an unquoted SQL identifier [a-z_][a-z0-9_]{0,62}");
        return SAEF_E_CFG_MALFORMED;
    }
    return SAEF_OK;
}

static saef_rc_t parse_path(const char *s, size_t len, char *why, size_t whylen)
{
    size_t i;

    for (i = 0; i < len; i++) {
        if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f) {
            saef_cfg_msg(why, whylen, "control character in a path");
            return SAEF_E_CFG_MALFORMED;
        }
    }
    /* A relative path would depend on the host daemon's working directory. */
    if (s[0] != '/' || s[len - 1] == '/') {
        saef_cfg_msg(why, whylen, "not an absolute file path (must start with '/', name a file)");
        return SAEF_E_CFG_MALFORMED;
    }
    if (len > CFG_PATH_MAX) {
        saef_cfg_msg(why, whylen, "path longer than " STR(CFG_PATH_MAX) " characters");
        return SAEF_E_CFG_RANGE;
    }
    return SAEF_OK;
}

static saef_rc_t parse_fqdn(const char *s, size_t len, cfg_value_t *val, char *why, size_t whylen)
{
    saef_span_t span;
    saef_rc_t rc = saef_id_fqdn_check(s, len, &span);

    if (rc != SAEF_OK) {
        saef_cfg_msg(why, whylen, "not an FQDN: %s", saef_strerror(rc));
        return SAEF_E_CFG_MALFORMED;
    }
    /* Stored canonical (lower case, no trailing dot) so that every later comparison and
     * every log line uses one spelling. */
    val->s = dup_n(span.ptr, span.len, true);
    return val->s != NULL ? SAEF_OK : SAEF_E_NOMEM;
}

static saef_rc_t parse_cse_id(const char *s, size_t len, char *why, size_t whylen)
{
    saef_m2m_id_t id;
    saef_rc_t rc = saef_id_m2m_classify(s, len, &id);

    if (rc == SAEF_OK && id.kind != SAEF_M2M_ID_CSE_SP_RELATIVE &&
        id.kind != SAEF_M2M_ID_CSE_ABSOLUTE)
        rc = SAEF_E_ID_CSE_ID;
    if (rc != SAEF_OK) {
        saef_cfg_msg(why, whylen, "not a CSE-ID (/cse-id or //sp-domain/cse-id): %s",
                     saef_strerror(rc));
        return SAEF_E_CFG_MALFORMED;
    }
    return SAEF_OK;
}

static saef_rc_t parse_kmid(const char *s, size_t len, char *why, size_t whylen)
{
    saef_id_scoped_t id;
    saef_rc_t rc = saef_id_kmid_parse(s, len, &id);

    if (rc != SAEF_OK) {
        saef_cfg_msg(why, whylen, "not a KmID (relative-KmID@MAF-FQDN): %s", saef_strerror(rc));
        return SAEF_E_CFG_MALFORMED;
    }
    return SAEF_OK;
}

const char *saef_cfg_uri_host(const char *uri, size_t *len)
{
    const char *host = uri + strlen("https://");

    *len = strcspn(host, ":/");
    return host;
}

/* libcurl will use the URI, so it must read it as we do: same scheme and host. */
static saef_rc_t curl_agrees(const char *s, const char *host, size_t host_len, char *why,
                             size_t whylen)
{
    CURLU *u = curl_url();
    char *scheme = NULL, *chost = NULL;
    CURLUcode uc;
    saef_rc_t rc = SAEF_OK;

    if (u == NULL)
        return SAEF_E_NOMEM;
    uc = curl_url_set(u, CURLUPART_URL, s, 0);
    if (uc == CURLUE_OK)
        uc = curl_url_get(u, CURLUPART_SCHEME, &scheme, 0);
    if (uc == CURLUE_OK)
        uc = curl_url_get(u, CURLUPART_HOST, &chost, 0);
    if (uc == CURLUE_OUT_OF_MEMORY) {
        rc = SAEF_E_NOMEM;
    } else if (uc != CURLUE_OK) {
        saef_cfg_msg(why, whylen, "libcurl rejects the URI: %s", curl_url_strerror(uc));
        rc = SAEF_E_CFG_MALFORMED;
    } else if (strcmp(scheme, "https") != 0 || !ascii_ieq(chost, strlen(chost), host, host_len)) {
        saef_cfg_msg(why, whylen, "libcurl reads another scheme or host from it");
        rc = SAEF_E_CFG_MALFORMED;
    }
    curl_free(scheme);
    curl_free(chost);
    curl_url_cleanup(u);
    return rc;
}

static bool is_unreserved(char c)
{
    return is_alnum(c) || c == '.' || c == '_' || c == '~' || c == '-';
}

/* The path of the MAF binding (docs/maf-binding.md section 4): segments of unreserved
 * characters (no '%': the MAF never decodes), no "." or "..", ending in the fixed endpoint
 * name. */
static saef_rc_t check_uri_path(const cfg_option_t *opt, const char *path, char *why, size_t whylen)
{
    const char *p = path;
    size_t plen = strlen(path), slen = strlen(opt->suffix), n = 0;

    while (*p == '/') {
        const char *seg = ++p;

        n++;
        while (is_unreserved(*p))
            p++;
        if ((*p != '/' && *p != '\0') || p == seg || (p - seg == 1 && seg[0] == '.') ||
            (p - seg == 2 && seg[0] == '.' && seg[1] == '.')) {
            saef_cfg_msg(why, whylen,
                         "path segment %zu is empty, \".\", \"..\" or not [A-Za-z0-9._~-]", n);
            return SAEF_E_CFG_MALFORMED;
        }
    }
    if (plen < slen || strcmp(path + plen - slen, opt->suffix) != 0) {
        saef_cfg_msg(why, whylen, "path must end in %s (the MAF's fixed endpoint name)",
                     opt->suffix);
        return SAEF_E_CFG_MALFORMED;
    }
    return SAEF_OK;
}

/*
 * https://FQDN[:port]/path with nothing else: no userinfo (credentials do not belong in a
 * URI, and "user@" is a classic way to disguise the real host), no query, no fragment.
 */
static saef_rc_t parse_https_uri(const cfg_option_t *opt, const char *s, size_t len, char *why,
                                 size_t whylen)
{
    const char *auth, *slash, *colon, *host;
    size_t host_len, i;
    uint32_t port;
    saef_rc_t rc;

    for (i = 0; i < len; i++) {
        if ((unsigned char)s[i] <= 0x20 || (unsigned char)s[i] >= 0x7f) {
            saef_cfg_msg(why, whylen, "space, control character or non-ASCII byte in a URI");
            return SAEF_E_CFG_MALFORMED;
        }
    }
    if (len < 8 || !ascii_ieq(s, 8, "https://", 8)) {
        saef_cfg_msg(why, whylen, "not an https:// URI (the MAF is only reached over TLS)");
        return SAEF_E_CFG_MALFORMED;
    }
    if (strpbrk(s, "?#") != NULL) {
        saef_cfg_msg(why, whylen, "query or fragment not allowed");
        return SAEF_E_CFG_MALFORMED;
    }
    auth = s + 8;
    slash = strchr(auth, '/');
    if (slash == NULL) {
        saef_cfg_msg(why, whylen, "no path (https://host[:port]/path)");
        return SAEF_E_CFG_MALFORMED;
    }
    if (memchr(auth, '@', (size_t)(slash - auth)) != NULL) {
        saef_cfg_msg(why, whylen, "userinfo (user@host) not allowed");
        return SAEF_E_CFG_MALFORMED;
    }
    host = saef_cfg_uri_host(s, &host_len);
    rc = saef_id_fqdn_check(host, host_len, NULL);
    if (rc != SAEF_OK) {
        saef_cfg_msg(why, whylen, "host is not an FQDN: %s", saef_strerror(rc));
        return SAEF_E_CFG_MALFORMED;
    }
    colon = host + host_len;
    if (*colon == ':') {
        if (parse_u32(colon + 1, (size_t)(slash - colon - 1), &port) != SAEF_OK || port == 0 ||
            port > 65535) {
            saef_cfg_msg(why, whylen, "port is not a number 1..65535");
            return SAEF_E_CFG_MALFORMED;
        }
    }
    rc = check_uri_path(opt, slash, why, whylen);
    if (rc != SAEF_OK)
        return rc;
    return curl_agrees(s, host, host_len, why, whylen);
}

/* HOST:PORT where HOST is an FQDN, a dotted-quad IPv4 address or a bracketed IPv6 address. */
static saef_rc_t parse_host_port(const char *s, size_t len, char *why, size_t whylen)
{
    const char *colon = strrchr(s, ':');
    char addr[INET6_ADDRSTRLEN + 2];
    unsigned char bin[sizeof(struct in6_addr)];
    size_t hlen = colon != NULL ? (size_t)(colon - s) : 0;
    uint32_t port;
    bool ok = false;

    if (colon != NULL && hlen > 0 && parse_u32(colon + 1, len - hlen - 1, &port) == SAEF_OK &&
        port >= 1 && port <= 65535) {
        if (s[0] == '[' && s[hlen - 1] == ']' && hlen - 2 < sizeof(addr)) {
            memcpy(addr, s + 1, hlen - 2);
            addr[hlen - 2] = '\0';
            ok = inet_pton(AF_INET6, addr, bin) == 1;
        } else if (hlen < sizeof(addr)) {
            memcpy(addr, s, hlen);
            addr[hlen] = '\0';
            ok = inet_pton(AF_INET, addr, bin) == 1 || saef_id_fqdn_check(s, hlen, NULL) == SAEF_OK;
        } else {
            ok = saef_id_fqdn_check(s, hlen, NULL) == SAEF_OK;
        }
    }
    if (!ok) {
        saef_cfg_msg(why, whylen, "not HOST:PORT (FQDN, IPv4 or [IPv6], port 1..65535)");
        return SAEF_E_CFG_MALFORMED;
    }
    return SAEF_OK;
}

/* Split at commas, trim blanks around entries, classify each. */
static saef_rc_t parse_originators(const char *s, cfg_value_t *val, char *why, size_t whylen)
{
    const char *p = s;
    size_t n = 0, i;
    saef_rc_t rc;

    val->list = calloc(CFG_MAX_ADMINS + 1, sizeof(char *));
    if (val->list == NULL)
        return SAEF_E_NOMEM;
    for (;;) {
        const char *end = strchr(p, ',');
        const char *b = p, *e = end != NULL ? end : p + strlen(p);
        saef_m2m_id_t id;

        while (b < e && is_blank(*b))
            b++;
        while (e > b && is_blank(e[-1]))
            e--;
        if (b == e) {
            saef_cfg_msg(why, whylen, "entry %zu is empty", n + 1);
            return SAEF_E_CFG_MALFORMED;
        }
        if (n == CFG_MAX_ADMINS) {
            saef_cfg_msg(why, whylen, "more than " STR(CFG_MAX_ADMINS) " entries");
            return SAEF_E_CFG_RANGE;
        }
        rc = saef_id_m2m_classify(b, (size_t)(e - b), &id);
        if (rc != SAEF_OK) {
            saef_cfg_msg(why, whylen, "entry %zu is not a CSE-ID or AE-ID: %s", n + 1,
                         saef_strerror(rc));
            return SAEF_E_CFG_MALFORMED;
        }
        for (i = 0; i < n; i++) {
            if (strlen(val->list[i]) == (size_t)(e - b) &&
                memcmp(val->list[i], b, (size_t)(e - b)) == 0) {
                saef_cfg_msg(why, whylen, "entry %zu repeats entry %zu", n + 1, i + 1);
                return SAEF_E_CFG_DUPLICATE;
            }
        }
        val->list[n] = dup_n(b, (size_t)(e - b), false);
        if (val->list[n] == NULL)
            return SAEF_E_NOMEM;
        val->n = ++n;
        if (end == NULL)
            return SAEF_OK;
        p = end + 1;
    }
}

/* libpq parses the string (no connection is made); we only refuse an inline password. */
static saef_rc_t parse_conninfo(const char *s, char *why, size_t whylen)
{
    char *errmsg = NULL;
    PQconninfoOption *opts = PQconninfoParse(s, &errmsg), *o;
    saef_rc_t rc = SAEF_OK;

    if (opts == NULL) {
        if (errmsg == NULL)
            return SAEF_E_NOMEM;
        /* libpq's message may quote a piece of the string, which could be a password. */
        PQfreemem(errmsg);
        saef_cfg_msg(why, whylen, "not a libpq connection string (key=value ... or URI)");
        return SAEF_E_CFG_MALFORMED;
    }
    for (o = opts; o->keyword != NULL; o++) {
        if (strcmp(o->keyword, "password") == 0 && o->val != NULL && o->val[0] != '\0') {
            saef_cfg_msg(why, whylen,
                         "contains a password; keep it in a passfile (passfile=, ~/.pgpass)");
            rc = SAEF_E_CFG_MALFORMED;
        }
    }
    PQconninfoFree(opts);
    return rc;
}

/* Types whose value is kept as the operator wrote it, once checked. */
static bool stored_verbatim(cfg_type_t t)
{
    return t == CFG_T_NAME || t == CFG_T_SQL_IDENT || t == CFG_T_PATH || t == CFG_T_CSE_ID ||
           t == CFG_T_KMID || t == CFG_T_HTTPS_URI || t == CFG_T_CONNINFO || t == CFG_T_HOST_PORT;
}

saef_rc_t saef_cfg_value_parse(const cfg_option_t *opt, const char *text, cfg_value_t *val,
                               char *why, size_t whylen)
{
    size_t len = strnlen(text, CFG_VALUE_MAX + 1);
    saef_rc_t rc = SAEF_E_INTERNAL;

    memset(val, 0, sizeof(*val));
    if (len == 0) {
        saef_cfg_msg(why, whylen, "empty value (leave the option out to get its default)");
        return SAEF_E_CFG_MALFORMED;
    }
    if (len > CFG_VALUE_MAX) {
        saef_cfg_msg(why, whylen, "longer than " STR(CFG_VALUE_MAX) " characters");
        return SAEF_E_CFG_RANGE;
    }
    if (is_blank(text[0]) || is_blank(text[len - 1])) {
        saef_cfg_msg(why, whylen, "leading or trailing blank");
        return SAEF_E_CFG_MALFORMED;
    }
    switch (opt->type) {
    case CFG_T_BOOL:
        return parse_bool(text, val, why, whylen);
    case CFG_T_UINT:
        return parse_uint(opt, text, len, val, why, whylen);
    case CFG_T_ENUM:
        return parse_enum(opt, text, val, why, whylen);
    case CFG_T_FQDN:
        return parse_fqdn(text, len, val, why, whylen);
    case CFG_T_ORIGINATORS:
        rc = parse_originators(text, val, why, whylen);
        break;
    case CFG_T_NAME:
        rc = parse_name(text, len, why, whylen);
        break;
    case CFG_T_SQL_IDENT:
        rc = parse_sql_ident(text, len, why, whylen);
        break;
    case CFG_T_PATH:
        rc = parse_path(text, len, why, whylen);
        break;
    case CFG_T_CSE_ID:
        rc = parse_cse_id(text, len, why, whylen);
        break;
    case CFG_T_KMID:
        rc = parse_kmid(text, len, why, whylen);
        break;
    case CFG_T_HTTPS_URI:
        rc = parse_https_uri(opt, text, len, why, whylen);
        break;
    case CFG_T_HOST_PORT:
        rc = parse_host_port(text, len, why, whylen);
        break;
    case CFG_T_CONNINFO:
        rc = parse_conninfo(text, why, whylen);
        break;
    }
    if (rc == SAEF_OK && stored_verbatim(opt->type)) {
        val->s = dup_n(text, len, false);
        if (val->s == NULL)
            rc = SAEF_E_NOMEM;
    }
    if (rc != SAEF_OK)
        saef_cfg_value_clear(val);
    return rc;
}

const char *saef_cfg_type_name(const cfg_option_t *opt)
{
    switch (opt->type) {
    case CFG_T_BOOL:
        return "bool";
    case CFG_T_UINT:
        return "uint";
    case CFG_T_ENUM:
        return "enum";
    case CFG_T_NAME:
        return "name";
    case CFG_T_SQL_IDENT:
        return "SQL identifier";
    case CFG_T_PATH:
        return (opt->flags & CFG_F_SECRET) ? "secret path" : "path";
    case CFG_T_FQDN:
        return "FQDN";
    case CFG_T_CSE_ID:
        return "CSE-ID";
    case CFG_T_KMID:
        return "KmID";
    case CFG_T_HTTPS_URI:
        return "https URI";
    case CFG_T_HOST_PORT:
        return "host:port";
    case CFG_T_ORIGINATORS:
        return "list of originators";
    case CFG_T_CONNINFO:
        return "libpq conninfo";
    }
    return "?";
}

void saef_cfg_range_text(const cfg_option_t *opt, char *buf, size_t buflen)
{
    const cfg_choice_t *c;
    size_t used = 0;

    buf[0] = '\0';
    switch (opt->type) {
    case CFG_T_UINT:
        saef_cfg_msg(buf, buflen, "%u..%u", (unsigned)opt->min, (unsigned)opt->max);
        break;
    case CFG_T_ENUM:
        for (c = opt->choices; c->name != NULL && used < buflen; c++) {
            int n = snprintf(buf + used, buflen - used, "%s%s", used > 0 ? ", " : "", c->name);
            used += n > 0 ? (size_t)n : 0;
        }
        break;
    case CFG_T_BOOL:
        saef_cfg_msg(buf, buflen, "true, false (also yes/no, on/off, 1/0)");
        break;
    case CFG_T_NAME:
        saef_cfg_msg(buf, buflen, "[A-Za-z0-9._-]{1,64}");
        break;
    case CFG_T_SQL_IDENT:
        saef_cfg_msg(buf, buflen, "[a-z_][a-z0-9_]{0,62}");
        break;
    case CFG_T_PATH:
        saef_cfg_msg(buf, buflen, "absolute, at most " STR(CFG_PATH_MAX) " characters");
        break;
    case CFG_T_HTTPS_URI:
        saef_cfg_msg(buf, buflen, "https://fqdn[:port][/base]%s", opt->suffix);
        break;
    case CFG_T_HOST_PORT:
        saef_cfg_msg(buf, buflen, "host:1..65535");
        break;
    case CFG_T_ORIGINATORS:
        saef_cfg_msg(buf, buflen, "0.." STR(CFG_MAX_ADMINS) " entries");
        break;
    case CFG_T_FQDN:
    case CFG_T_CSE_ID:
    case CFG_T_KMID:
    case CFG_T_CONNINFO:
        break;
    }
}
