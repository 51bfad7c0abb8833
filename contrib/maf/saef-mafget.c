/*
 * saef-mafget: retrieve Key Identifiers from a MAF through the module's own MAF client
 * (security/saef_maf.h), as Entity B would, and print the validated metadata.  For operators
 * checking a MAF configuration and for the integration tests.
 *
 *   saef-mafget --fqdn FQDN --uri URI (--ca F --cert F --key F --cse-id ID | --kmid K --km-file F)
 *               [options] KEY...
 *
 * KEY is a RelativeKeyID, or a Key Identifier RelativeKeyID@FQDN whose FQDN must be --fqdn.
 * One line per retrieval on stdout:
 *   key_id=REL@FQDN rc=0 result=ok suid=32 expires=... source_kind=... source_id=...
 *   admin_fqdn=... labels="..." key_len=32 [key=HEX]
 *   key_id=REL@FQDN rc=-412 result=refused detail="..."
 * then one summary line:
 *   summary retrievals=N ok=N failed=N requests=N coalesced=N connects=N breaker=closed
 * The key is printed only with --show-key (tests).  Exit status: 0 all keys retrieved, 1 some
 * retrieval failed, 2 usage or configuration error.
 */
#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/crypto.h>

#include "saef_maf.h"
#include "saef_secret.h"
#include "saef_time.h"

#define KM_MIN 16
#define KM_MAX 64

typedef struct opts {
    saef_maf_endpoint_t ep;
    saef_maf_client_params_t params;
    const char *km_file;
    unsigned concurrency;
    unsigned repeat;
    bool show_key;
    unsigned reg_wait_ms;
    unsigned hold_s;
} opts_t;

static void usage(FILE *f)
{
    fprintf(f, "usage: saef-mafget --fqdn FQDN --uri KEY-RETRIEVAL-URI\n"
               "         (--ca FILE --cert FILE --key FILE --cse-id ABSOLUTE-CSE-ID\n"
               "          | --kmid KMID --km-file FILE [--cse-id ID])\n"
               "         [options] KEY...\n"
               "  KEY                  RelativeKeyID, or RelativeKeyID@FQDN with FQDN = --fqdn\n"
               "  --connect-to H:P     connect to H:P; TLS still verifies the name FQDN\n"
               "  --km-file FILE       hex text of Km (16..64 bytes), mode 0600\n"
               "  --psk-length 16|32   PSK taken from the 32-byte key (default 32)\n"
               "  --connect-timeout MS (default 2000)   --timeout MS (default 3000)\n"
               "  --concurrency N      submit N asynchronous retrievals at once, cycling\n"
               "                       through the KEYs (default: one blocking retrieval each)\n"
               "  --repeat N           do everything N times (shows connection reuse)\n"
               "  --max-inflight N     (default 64)\n"
               "  --breaker-threshold N  --breaker-cooldown MS  (defaults 5, 10000)\n"
               "  --register --reg-uri URI --admin-fqdn FQDN [--reg-lifetime S] [--reg-wait MS]\n"
               "                       register with the MAF first and print the registration\n"
               "  --hold S             keep the client S seconds longer, then print the\n"
               "                       registration again (shows renewals)\n"
               "  --show-key           print the key in hex (tests only)\n");
}

static bool parse_uint(const char *s, unsigned long max, unsigned *out)
{
    char *end;
    errno = 0;
    unsigned long v = strtoul(s, &end, 10);
    if (errno != 0 || end == s || *end != '\0' || s[0] == '-' || v > max)
        return false;
    *out = (unsigned)v;
    return true;
}

/* Km as saef-mafd and the module read it: hex text or the raw bytes. */
static bool load_km(const char *path, uint8_t *km, size_t *km_len)
{
    char detail[SAEF_MAF_DETAIL_MAX];

    if (saef_secret_read_key(path, KM_MIN, KM_MAX, km, KM_MAX, km_len, detail, sizeof(detail)) !=
        SAEF_OK) {
        fprintf(stderr, "saef-mafget: --km-file: %s\n", detail);
        return false;
    }
    return true;
}

static const char *kind_name(saef_maf_source_kind_t k)
{
    switch (k) {
    case SAEF_MAF_SOURCE_CSE_ID:
        return "cse-id";
    case SAEF_MAF_SOURCE_AE_ID:
        return "ae-id";
    case SAEF_MAF_SOURCE_KMID:
        return "kmid";
    case SAEF_MAF_SOURCE_NONE:
        break;
    }
    return "none";
}

static const char *result_name(saef_rc_t rc)
{
    switch (rc) {
    case SAEF_OK:
        return "ok";
    case SAEF_E_MAF_REFUSED:
        return "refused";
    case SAEF_E_MAF_AUTH:
        return "auth";
    case SAEF_E_MAF_UNREACHABLE:
        return "unreachable";
    case SAEF_E_MAF_TIMEOUT:
        return "timeout";
    case SAEF_E_MAF_CIRCUIT_OPEN:
        return "circuit-open";
    case SAEF_E_BUSY:
        return "busy";
    case SAEF_E_MAF_HTTP_STATUS:
        return "http-status";
    case SAEF_E_MAF_RSC:
        return "rsc";
    case SAEF_E_MAF_JSON:
        return "json";
    case SAEF_E_MAF_SUID:
        return "suid";
    case SAEF_E_MAF_EXPIRED:
        return "expired";
    case SAEF_E_MAF_KEY_LENGTH:
        return "key-length";
    case SAEF_E_MAF_SOURCE_ID:
        return "source-id";
    case SAEF_E_MAF_ADMIN_FQDN:
        return "admin-fqdn";
    default:
        return "error";
    }
}

/* A detail in double quotes, with quotes and backslashes escaped (details are printable). */
static void print_quoted(const char *s)
{
    putchar('"');
    for (; *s != '\0'; s++) {
        if (*s == '"' || *s == '\\')
            putchar('\\');
        putchar(*s);
    }
    putchar('"');
}

static void print_result(const char *rel, const char *fqdn, saef_rc_t rc, const saef_maf_key_t *key,
                         const char *detail, bool show_key)
{
    printf("key_id=%s@%s rc=%d result=%s", rel, fqdn, (int)rc, result_name(rc));
    if (rc == SAEF_OK && key != NULL) {
        char ts[SAEF_TS_BUF_SIZE];
        if (saef_ts_format(&key->expires, key->expires.tv_nsec != 0, ts, sizeof(ts)) != SAEF_OK)
            snprintf(ts, sizeof(ts), "?");
        printf(" suid=%u expires=%s source_kind=%s source_id=%s admin_fqdn=%s labels=", key->suid,
               ts, kind_name(key->source_kind), key->source_id, key->admin_fqdn);
        print_quoted(key->labels);
        printf(" key_len=%zu", key->key_len);
        if (show_key) {
            printf(" key=");
            for (size_t i = 0; i < key->key_len; i++)
                printf("%02x", key->key[i]);
        }
    } else {
        printf(" detail=");
        print_quoted(detail);
    }
    putchar('\n');
    fflush(stdout);
}

/* KEY: a RelativeKeyID, or a Key Identifier of this MAF. */
static bool relative_part(const char *key, const char *fqdn, const char **rel, size_t *len)
{
    const char *at = strrchr(key, '@');
    if (at == NULL) {
        *rel = key;
        *len = strlen(key);
        return true;
    }
    saef_id_scoped_t id;
    if (saef_id_keyid_parse(key, strlen(key), &id) != SAEF_OK ||
        !saef_id_fqdn_equal(id.fqdn.ptr, id.fqdn.len, fqdn, strlen(fqdn))) {
        fprintf(stderr, "saef-mafget: %s is not a Key Identifier of %s\n", key, fqdn);
        return false;
    }
    *rel = id.rel.ptr;
    *len = id.rel.len;
    return true;
}

static int run_blocking(saef_maf_client_t *c, const opts_t *o, char **keys, int nkeys)
{
    int failed = 0;
    for (int i = 0; i < nkeys; i++) {
        const char *rel;
        size_t len;
        saef_maf_key_t key;
        char detail[SAEF_MAF_DETAIL_MAX];
        char relbuf[SAEF_ID_REL_MAX + 1] = "";
        if (!relative_part(keys[i], o->ep.fqdn, &rel, &len)) {
            failed++;
            continue;
        }
        snprintf(relbuf, sizeof(relbuf), "%.*s", (int)len, rel);
        saef_rc_t rc = saef_maf_retrieve(c, 0, rel, len, &key, detail, sizeof(detail));
        print_result(relbuf, o->ep.fqdn, rc, &key, detail, o->show_key);
        saef_maf_key_clear(&key);
        failed += rc != SAEF_OK;
    }
    return failed;
}

static int run_async(saef_maf_client_t *c, const opts_t *o, char **keys, int nkeys)
{
    unsigned submitted = 0, done = 0;
    int failed = 0;

    for (unsigned i = 0; i < o->concurrency; i++) {
        const char *rel;
        size_t len;
        char detail[SAEF_MAF_DETAIL_MAX];
        const char *k = keys[i % (unsigned)nkeys];
        if (!relative_part(k, o->ep.fqdn, &rel, &len)) {
            failed++;
            continue;
        }
        saef_rc_t rc =
            saef_maf_retrieve_submit(c, 0, rel, len, NULL, NULL, NULL, detail, sizeof(detail));
        if (rc != SAEF_OK) {
            char relbuf[SAEF_ID_REL_MAX + 1];
            snprintf(relbuf, sizeof(relbuf), "%.*s", (int)(len <= SAEF_ID_REL_MAX ? len : 0), rel);
            print_result(relbuf, o->ep.fqdn, rc, NULL, detail, false);
            failed++;
            continue;
        }
        submitted++;
    }
    struct pollfd pfd = {.fd = saef_maf_client_fd(c), .events = POLLIN};
    while (done < submitted) {
        /* Every submission completes by its own deadline, so this wait ends. */
        if (poll(&pfd, 1, -1) < 0 && errno != EINTR) {
            perror("saef-mafget: poll");
            return failed + (int)(submitted - done);
        }
        saef_maf_result_t res[16];
        size_t n = saef_maf_collect(c, res, 16);
        for (size_t i = 0; i < n; i++) {
            print_result(res[i].relative_key_id, o->ep.fqdn, res[i].rc, &res[i].key, res[i].detail,
                         o->show_key);
            failed += res[i].rc != SAEF_OK;
            saef_maf_result_clear(&res[i]);
        }
        done += (unsigned)n;
    }
    return failed;
}

static void print_registration(saef_maf_client_t *c, unsigned wait_ms)
{
    saef_maf_reg_state_t rs;
    for (unsigned waited = 0;; waited += 10) {
        saef_maf_client_registration(c, 0, &rs);
        if (rs.status == SAEF_MAF_REG_ACTIVE || rs.failures > 0 || waited >= wait_ms)
            break;
        struct timespec ten_ms = {0, 10000000};
        nanosleep(&ten_ms, NULL);
    }
    char ts[SAEF_TS_BUF_SIZE] = "-";
    if (rs.expires.tv_sec > 0)
        saef_ts_format(&rs.expires, false, ts, sizeof(ts));
    printf("registration status=%s reg_id=%s expires=%s maf_client_id=%s mismatch=%s "
           "failures=%u rc=%d detail=",
           saef_maf_reg_status_name(rs.status), rs.reg_id[0] ? rs.reg_id : "-", ts,
           rs.maf_client_id[0] ? rs.maf_client_id : "-", rs.client_id_mismatch ? "yes" : "no",
           rs.failures, (int)rs.last_rc);
    print_quoted(rs.last_detail);
    putchar('\n');
    fflush(stdout);
}

enum {
    O_FQDN = 256,
    O_URI,
    O_CA,
    O_CERT,
    O_KEY,
    O_KMID,
    O_KMFILE,
    O_CONNECT_TO,
    O_CSE_ID,
    O_PSK_LEN,
    O_CTIMEOUT,
    O_TIMEOUT,
    O_CONC,
    O_REPEAT,
    O_MAXINF,
    O_BTHRESH,
    O_BCOOL,
    O_REGISTER,
    O_REGURI,
    O_ADMIN,
    O_REGLIFE,
    O_REGWAIT,
    O_HOLD,
    O_SHOWKEY,
    O_HELP
};

static int parse_args(int argc, char **argv, opts_t *o)
{
    static const struct option longopts[] = {
        {"fqdn", required_argument, NULL, O_FQDN},
        {"uri", required_argument, NULL, O_URI},
        {"ca", required_argument, NULL, O_CA},
        {"cert", required_argument, NULL, O_CERT},
        {"key", required_argument, NULL, O_KEY},
        {"kmid", required_argument, NULL, O_KMID},
        {"km-file", required_argument, NULL, O_KMFILE},
        {"connect-to", required_argument, NULL, O_CONNECT_TO},
        {"cse-id", required_argument, NULL, O_CSE_ID},
        {"psk-length", required_argument, NULL, O_PSK_LEN},
        {"connect-timeout", required_argument, NULL, O_CTIMEOUT},
        {"timeout", required_argument, NULL, O_TIMEOUT},
        {"concurrency", required_argument, NULL, O_CONC},
        {"repeat", required_argument, NULL, O_REPEAT},
        {"max-inflight", required_argument, NULL, O_MAXINF},
        {"breaker-threshold", required_argument, NULL, O_BTHRESH},
        {"breaker-cooldown", required_argument, NULL, O_BCOOL},
        {"register", no_argument, NULL, O_REGISTER},
        {"reg-uri", required_argument, NULL, O_REGURI},
        {"admin-fqdn", required_argument, NULL, O_ADMIN},
        {"reg-lifetime", required_argument, NULL, O_REGLIFE},
        {"reg-wait", required_argument, NULL, O_REGWAIT},
        {"hold", required_argument, NULL, O_HOLD},
        {"show-key", no_argument, NULL, O_SHOWKEY},
        {"help", no_argument, NULL, O_HELP},
        {NULL, 0, NULL, 0},
    };
    int opt;
    bool ok = true;

    while ((opt = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        switch (opt) {
        case O_FQDN:
            o->ep.fqdn = optarg;
            break;
        case O_URI:
            o->ep.key_retrieval_uri = optarg;
            break;
        case O_CA:
            o->ep.ca_file = optarg;
            break;
        case O_CERT:
            o->ep.client_cert = optarg;
            break;
        case O_KEY:
            o->ep.client_key = optarg;
            break;
        case O_KMID:
            o->ep.kmid = optarg;
            break;
        case O_KMFILE:
            o->km_file = optarg;
            break;
        case O_CONNECT_TO:
            o->ep.connect_to = optarg;
            break;
        case O_CSE_ID:
            o->params.origin = optarg;
            break;
        case O_PSK_LEN:
            ok = parse_uint(optarg, 32, &o->ep.psk_length);
            break;
        case O_CTIMEOUT:
            ok = parse_uint(optarg, 600000, &o->ep.connect_timeout_ms);
            break;
        case O_TIMEOUT:
            ok = parse_uint(optarg, 600000, &o->ep.request_timeout_ms);
            break;
        case O_CONC:
            ok = parse_uint(optarg, 65536, &o->concurrency);
            break;
        case O_REPEAT:
            ok = parse_uint(optarg, 1000000, &o->repeat);
            break;
        case O_MAXINF:
            ok = parse_uint(optarg, 65536, &o->ep.max_inflight);
            break;
        case O_BTHRESH:
            ok = parse_uint(optarg, 1000000, &o->ep.breaker_threshold);
            break;
        case O_BCOOL:
            ok = parse_uint(optarg, 600000, &o->ep.breaker_cooldown_ms);
            break;
        case O_REGISTER:
            o->ep.register_client = true;
            break;
        case O_REGURI:
            o->ep.client_registration_uri = optarg;
            break;
        case O_ADMIN:
            o->ep.admin_fqdn = optarg;
            break;
        case O_REGLIFE:
            ok = parse_uint(optarg, 31622400, &o->ep.registration_lifetime_s);
            break;
        case O_REGWAIT:
            ok = parse_uint(optarg, 600000, &o->reg_wait_ms);
            break;
        case O_HOLD:
            ok = parse_uint(optarg, 86400, &o->hold_s);
            break;
        case O_SHOWKEY:
            o->show_key = true;
            break;
        case O_HELP:
            usage(stdout);
            exit(0);
        default:
            usage(stderr);
            return -1;
        }
        if (!ok) {
            fprintf(stderr, "saef-mafget: bad number \"%s\"\n", optarg);
            return -1;
        }
    }
    if (o->ep.fqdn == NULL || o->ep.key_retrieval_uri == NULL ||
        (optind >= argc && !o->ep.register_client)) {
        usage(stderr);
        return -1;
    }
    bool cert = o->ep.ca_file || o->ep.client_cert || o->ep.client_key;
    bool psk = o->ep.kmid || o->km_file;
    if (cert == psk) {
        fprintf(stderr, "saef-mafget: give either --ca/--cert/--key or --kmid/--km-file\n");
        return -1;
    }
    o->ep.auth = cert ? SAEF_MAF_AUTH_CERT : SAEF_MAF_AUTH_PSK;
    return optind;
}

int main(int argc, char **argv)
{
    opts_t o = {.ep = {.connect_timeout_ms = 2000,
                       .request_timeout_ms = 3000,
                       .max_inflight = 64,
                       .breaker_threshold = 5,
                       .breaker_cooldown_ms = 10000,
                       .psk_length = 32,
                       .accepted_suid = 32},
                .repeat = 1,
                .reg_wait_ms = 5000};
    uint8_t km[KM_MAX];
    size_t km_len = 0;
    char detail[SAEF_MAF_DETAIL_MAX];

    int first = parse_args(argc, argv, &o);
    if (first < 0)
        return 2;
    if (o.ep.auth == SAEF_MAF_AUTH_PSK) {
        if (o.km_file == NULL || !load_km(o.km_file, km, &km_len))
            return 2;
        o.ep.km = km;
        o.ep.km_len = km_len;
    }
    saef_maf_client_t *c = NULL;
    saef_rc_t rc = saef_maf_client_new(&o.ep, 1, &o.params, &c, detail, sizeof(detail));
    /* The client keeps its own copy of Km. */
    OPENSSL_cleanse(km, sizeof(km));
    if (rc != SAEF_OK) {
        fprintf(stderr, "saef-mafget: %s: %s\n", saef_strerror(rc), detail);
        return 2;
    }
    if (o.ep.register_client)
        print_registration(c, o.reg_wait_ms);

    int failed = 0, total = 0;
    int nkeys = argc - first;
    for (unsigned r = 0; r < o.repeat && nkeys > 0; r++) {
        if (o.concurrency > 0) {
            failed += run_async(c, &o, argv + first, nkeys);
            total += (int)o.concurrency;
        } else {
            failed += run_blocking(c, &o, argv + first, nkeys);
            total += nkeys;
        }
    }
    if (o.hold_s > 0) {
        struct timespec hold = {(time_t)o.hold_s, 0};
        while (nanosleep(&hold, &hold) != 0 && errno == EINTR)
            ;
        if (o.ep.register_client)
            print_registration(c, 0);
    }
    saef_maf_stats_t st;
    saef_maf_client_stats(c, 0, &st);
    printf("summary retrievals=%d ok=%d failed=%d requests=%llu coalesced=%llu connects=%llu "
           "breaker=%s\n",
           total, total - failed, failed, (unsigned long long)st.requests,
           (unsigned long long)st.coalesced, (unsigned long long)st.connects,
           saef_maf_breaker_state_name(st.breaker));
    saef_maf_client_free(c);
    return failed == 0 ? 0 : 1;
}
