/*
 * bench_handshake: the server-side cost of one full TLS-PSK handshake with maf_saef.so attached
 * to the host's SSL_CTX, side by side with a bare OpenSSL PSK server, in one process and one run.
 *
 *   bench_handshake run --module PATH --maf-uri URI --maf-connect HOST:PORT --pki DIR
 *                       --warm-key FILE --keys FILE [--mafd-log FILE] [--mafd-pid PID]
 *                       [--rounds N] [--warm-n N] [--cold-n N] [--warmup N] [--cpu N]
 *                       [--suite NAME] [--sleep-us N] [--no-async] [--db-conninfo CONNINFO]
 *                       [--json FILE]
 *   bench_handshake keys-needed [--rounds N] [--cold-n N] [--suite NAME] [--no-async]
 *   bench_handshake keygen N        N lines "KC_HEX KC_BASE64" of random 32-byte keys
 *
 * What one handshake is.  Client and server SSL objects live in this thread and talk over an
 * in-memory BIOs; the loop steps the client, then the server, until both are done.  Only the
 * server's work is timed: SSL_new + every server SSL_do_handshake call (including the wait for a
 * paused ASYNC job) + the host's binding query (module variants) + SSL_free.  "CPU" is this
 * thread's CPU clock over those segments, "wall" the monotonic clock over the same segments, so
 * wall includes the wait for a key the module fetches from the MAF but never the client's work.
 *
 * Variants, for each suite (TLS 1.2 PSK-AES128-CBC-SHA256, TLS 1.2 ECDHE-PSK-CHACHA20-POLY1305,
 * TLS 1.3 TLS_AES_128_GCM_SHA256 psk_dhe_ke):
 *   bare               a PSK server callback returning one static key (the floor)
 *   bare+sleep         the same callback sleeping first (--sleep-us, default 1 ms): a control for
 *                      what blocking once inside the callback costs the handshake thread on this
 *                      machine, without the module
 *   module-warm        maf_saef.so attached, the Key Identifier already cached
 *   module-warm+db     with --db-conninfo only: a second instance of the module, configured like
 *                      the first plus db_conninfo (node_id bench-db, no key vault), on its own
 *                      server contexts, the same warm key: what the database adds to a warm
 *                      handshake (the writer-queue check, the association queued at the binding
 *                      query; the audit row is queued by the module's own thread)
 *   module-cold        maf_saef.so attached, every handshake a Key Identifier never seen, so each
 *                      costs one MAF Key Retrieval (the handshake blocks in the callback)
 *   ... and bare, module-warm(+db) and module-cold with SSL_MODE_ASYNC on the server context (the
 * cold one then pauses with SSL_ERROR_WANT_ASYNC and is resumed when the key is there), unless
 * --no-async. All server contexts are configured alike (as the reference host configures its own)
 * and the bare ones get exactly the cipher list attach_openssl() left on the module's context.
 *
 * Method.  The module is started before this thread pins itself to --cpu, so the module's own
 * threads (MAF client, housekeeping) stay free to run elsewhere; their CPU time during a block is
 * reported apart ("bg"); after every block the benchmark idles until that work is done
 * (SETTLE_MS), so that it is counted with its own block.  After a warm-up, every round runs every
 * (suite, variant) block once, round-robin, the starting block rotating by one each round, so
 * that the machine's noise spreads over all variants alike.  Around every block saef-mafd's GET
 * {B}/stats gives the Key Retrieval requests the block caused, its log (--mafd-log) the connections
 * they came on, and its schedstat (--mafd-pid) the MAF's own CPU.  Medians and p90 are over all
 * recorded handshakes of a variant; the per-round medians show the spread between rounds.  Ratios
 * are paired: the median over rounds of the ratio of two variants' medians within the same round.
 * Nothing here asserts timing: the exit status only says whether every handshake completed.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <jansson.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>

#include "saef/module.h"

#define KC_LEN 32
#define MAX_ROUNDS 101
#define MAX_PORTS 256

/* ---------------------------------------------------------------------------------------- */
/* suites and variants */

typedef struct suite {
    const char *name;  /* machine-readable */
    const char *label; /* table */
    int version;
    const char *client_ciphers; /* TLS 1.2 cipher list or TLS 1.3 ciphersuites */
} suite_t;

static const suite_t suites[] = {
    {"tls12-psk-aes128-cbc-sha256", "TLS 1.2 PSK-AES128-CBC-SHA256", TLS1_2_VERSION,
     "PSK-AES128-CBC-SHA256"},
    {"tls12-ecdhe-psk-chacha20-poly1305", "TLS 1.2 ECDHE-PSK-CHACHA20-POLY1305", TLS1_2_VERSION,
     "ECDHE-PSK-CHACHA20-POLY1305"},
    {"tls13-aes128-gcm-psk-dhe", "TLS 1.3 AES128-GCM psk_dhe_ke", TLS1_3_VERSION,
     "TLS_AES_128_GCM_SHA256"},
};
#define N_SUITES (sizeof(suites) / sizeof(suites[0]))

enum {
    V_BARE,
    V_SLEEP,
    V_WARM,
    V_WARM_DB,
    V_COLD,
    V_BARE_ASYNC,
    V_WARM_ASYNC,
    V_WARM_DB_ASYNC,
    V_COLD_ASYNC,
    N_VARIANTS
};
static const char *const variant_names[N_VARIANTS] = {
    "bare",       "bare+sleep",        "module-warm",          "module-warm+db",   "module-cold",
    "bare+async", "module-warm+async", "module-warm+db+async", "module-cold+async"};

static bool variant_async(int v)
{
    return v >= V_BARE_ASYNC;
}
static bool variant_db(int v)
{
    return v == V_WARM_DB || v == V_WARM_DB_ASYNC;
}
static bool variant_module(int v)
{
    return v != V_BARE && v != V_SLEEP && v != V_BARE_ASYNC;
}
static bool variant_cold(int v)
{
    return v == V_COLD || v == V_COLD_ASYNC;
}

/* Server contexts: bare, module (either instance), each with and without SSL_MODE_ASYNC, and the
 * bare one whose callback sleeps. */
enum { C_BARE, C_MODULE, C_BARE_ASYNC, C_MODULE_ASYNC, C_SLEEP, C_DB, C_DB_ASYNC, N_CTX };

#define DB_NODE_ID "bench-db" /* node_id of the instance with db_conninfo */
/* Idle time after a block: the module drains its decisions every 200 ms, and the database
 * writer lingers 10 ms before it writes them. */
#define SETTLE_MS 300

/* ---------------------------------------------------------------------------------------- */
/* state */

typedef struct bkey {
    char id[SAEF_ID_MAX];
    unsigned char kc[KC_LEN];
} bkey_t;

typedef struct series {
    double *cpu, *wall; /* microseconds per recorded handshake */
    size_t n, cap;
    double round_med[MAX_ROUNDS];  /* median server CPU of each round's block */
    double round_wall[MAX_ROUNDS]; /* median server wall of each round's block */
    size_t rounds;
    uint64_t hs;           /* recorded handshakes */
    uint64_t bg_ns;        /* CPU of the process's other threads during recorded blocks */
    uint64_t maf_requests; /* Key Retrieval requests (GET {B}/stats) during recorded blocks */
    uint64_t maf_conns;    /* new MAF connections that carried them (saef-mafd's log) */
    uint64_t mafd_ns;      /* saef-mafd's CPU during recorded blocks */
} series_t;

typedef struct opts {
    const char *module, *maf_uri, *maf_connect, *pki, *cse_id, *warm_key, *keys;
    const char *mafd_log, *json;
    const char *db_conninfo; /* the module-warm+db variants, or NULL */
    const char *suite;       /* only this suite (its name), or NULL for all */
    long mafd_pid;
    int rounds, warm_n, cold_n, warmup, cold_warmup, cpu, sleep_us;
    bool async;
} opts_t;

typedef struct bench {
    opts_t o;
    char fqdn[SAEF_FQDN_MAX];
    char kr_uri[1024], stats_uri[1024];
    /* module */
    void *dl;
    const saef_module_t *mod;
    saef_host_api_t host;
    saef_instance_t *inst, *inst_db; /* inst_db: with db_conninfo, or NULL */
    atomic_uint log_lines[8];
    atomic_uint log_printed;
    /* TLS */
    SSL_CTX *sctx[N_CTX];
    SSL_CTX *cctx[N_SUITES];
    char server_ciphers[4096];
    /* keys */
    bkey_t warm;
    bkey_t *cold;
    size_t n_cold, next_cold;
    /* MAF observation */
    CURL *curl;
    struct curl_slist *connect_to;
    char *resp;
    size_t resp_len;
    FILE *mafd_log;
    unsigned ports[MAX_PORTS];
    size_t n_ports;
    uint64_t log_requests, log_failed;
    bool mafd_cpu_ok;
    /* results */
    series_t s[N_SUITES][N_VARIANTS];
    double timer_ns; /* clock reads inside one handshake's timed segments */
    int failures;
    uint64_t db_handshakes, db_retrievals; /* the instance with db_conninfo, whole run */
} bench_t;

/* ---------------------------------------------------------------------------------------- */
/* small helpers */

static void die(const char *what) __attribute__((noreturn));
static void die(const char *what)
{
    fprintf(stderr, "bench_handshake: %s\n", what);
    ERR_print_errors_fp(stderr);
    exit(1);
}

static void dief(const char *fmt, ...) __attribute__((noreturn, format(printf, 1, 2)));
static void dief(const char *fmt, ...)
{
    char buf[1024];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    die(buf);
}

static uint64_t now_ns(clockid_t c)
{
    struct timespec ts;

    clock_gettime(c, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int hexval(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

static bool parse_kc(const char *hex, unsigned char *out)
{
    size_t i;

    if (strlen(hex) != 2 * KC_LEN)
        return false;
    for (i = 0; i < KC_LEN; i++) {
        int hi = hexval(hex[2 * i]), lo = hexval(hex[2 * i + 1]);

        if (hi < 0 || lo < 0)
            return false;
        out[i] = (unsigned char)(hi << 4 | lo);
    }
    return true;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;

    return x < y ? -1 : x > y;
}

/* Nearest-rank percentile of v[0..n) (sorted in place); 0 when empty. */
static double percentile(double *v, size_t n, double p)
{
    size_t k;

    if (n == 0)
        return 0;
    qsort(v, n, sizeof(*v), cmp_double);
    k = (size_t)(p * (double)n + 0.999999);
    if (k < 1)
        k = 1;
    if (k > n)
        k = n;
    return v[k - 1];
}

static double pct_of(const double *src, size_t n, double p)
{
    double *v = malloc((n ? n : 1) * sizeof(*v)), r;

    if (v == NULL)
        die("out of memory");
    memcpy(v, src, n * sizeof(*v));
    r = percentile(v, n, p);
    free(v);
    return r;
}

static void series_add(series_t *s, double cpu_us, double wall_us)
{
    if (s->n == s->cap) {
        s->cap = s->cap ? 2 * s->cap : 1024;
        s->cpu = realloc(s->cpu, s->cap * sizeof(*s->cpu));
        s->wall = realloc(s->wall, s->cap * sizeof(*s->wall));
        if (s->cpu == NULL || s->wall == NULL)
            die("out of memory");
    }
    s->cpu[s->n] = cpu_us;
    s->wall[s->n] = wall_us;
    s->n++;
}

/* ---------------------------------------------------------------------------------------- */
/* keys: the warm key from saef-keyreg --format=env, the cold ones from "KEY_ID KC_HEX" lines */

static void unquote(char *v)
{
    size_t n = strlen(v);

    while (n > 0 && (v[n - 1] == '\n' || v[n - 1] == '\r'))
        v[--n] = '\0';
    if (n >= 2 && (v[0] == '\'' || v[0] == '"') && v[n - 1] == v[0]) {
        memmove(v, v + 1, n - 2);
        v[n - 2] = '\0';
    }
}

static void load_warm_key(bench_t *b)
{
    FILE *f = fopen(b->o.warm_key, "r");
    char line[1024];
    bool id = false, kc = false;

    if (f == NULL)
        dief("%s: %s", b->o.warm_key, strerror(errno));
    while (fgets(line, sizeof(line), f) != NULL) {
        if (strncmp(line, "KEY_ID=", 7) == 0) {
            unquote(line + 7);
            id = line[7] != '\0' && strlen(line + 7) < sizeof(b->warm.id);
            if (id)
                memcpy(b->warm.id, line + 7, strlen(line + 7) + 1);
        } else if (strncmp(line, "KC_HEX=", 7) == 0) {
            unquote(line + 7);
            kc = parse_kc(line + 7, b->warm.kc);
        }
    }
    OPENSSL_cleanse(line, sizeof(line));
    fclose(f);
    if (!id || !kc)
        dief("%s: no KEY_ID and 64-hex-digit KC_HEX", b->o.warm_key);
}

static void load_cold_keys(bench_t *b)
{
    FILE *f = fopen(b->o.keys, "r");
    char line[1024], id[SAEF_ID_MAX], hex[2 * KC_LEN + 2];
    size_t cap = 0;

    if (f == NULL)
        dief("%s: %s", b->o.keys, strerror(errno));
    while (fgets(line, sizeof(line), f) != NULL) {
        if (line[0] == '#' || line[0] == '\n')
            continue;
        if (sscanf(line, "%255s %65s", id, hex) != 2)
            dief("%s: a line is not \"KEY_ID KC_HEX\"", b->o.keys);
        if (b->n_cold == cap) {
            cap = cap ? 2 * cap : 1024;
            b->cold = realloc(b->cold, cap * sizeof(*b->cold));
            if (b->cold == NULL)
                die("out of memory");
        }
        snprintf(b->cold[b->n_cold].id, sizeof(b->cold[b->n_cold].id), "%s", id);
        if (!parse_kc(hex, b->cold[b->n_cold].kc))
            dief("%s: bad KC_HEX for %s", b->o.keys, id);
        b->n_cold++;
    }
    OPENSSL_cleanse(line, sizeof(line));
    OPENSSL_cleanse(hex, sizeof(hex));
    fclose(f);
}

static const bkey_t *next_cold_key(bench_t *b)
{
    if (b->next_cold >= b->n_cold)
        dief("out of cold keys after %zu: register more (bench_handshake keys-needed)", b->n_cold);
    return &b->cold[b->next_cold++];
}

/* ---------------------------------------------------------------------------------------- */
/* the MAF, observed: GET {B}/stats, its request log, its CPU */

static size_t curl_write(char *p, size_t sz, size_t nm, void *arg)
{
    bench_t *b = arg;
    size_t n = sz * nm;
    char *r = realloc(b->resp, b->resp_len + n + 1);

    if (r == NULL)
        return 0;
    b->resp = r;
    memcpy(b->resp + b->resp_len, p, n);
    b->resp_len += n;
    b->resp[b->resp_len] = '\0';
    return n;
}

static void stats_init(bench_t *b)
{
    char path[2048], ct[512];

    b->curl = curl_easy_init();
    if (b->curl == NULL)
        die("curl_easy_init failed");
    snprintf(ct, sizeof(ct), "::%s", b->o.maf_connect);
    b->connect_to = curl_slist_append(NULL, ct);
    curl_easy_setopt(b->curl, CURLOPT_URL, b->stats_uri);
    curl_easy_setopt(b->curl, CURLOPT_CONNECT_TO, b->connect_to);
    snprintf(path, sizeof(path), "%s/ca.crt", b->o.pki);
    curl_easy_setopt(b->curl, CURLOPT_CAINFO, path);
    snprintf(path, sizeof(path), "%s/entity-b.crt", b->o.pki);
    curl_easy_setopt(b->curl, CURLOPT_SSLCERT, path);
    snprintf(path, sizeof(path), "%s/entity-b.key", b->o.pki);
    curl_easy_setopt(b->curl, CURLOPT_SSLKEY, path);
    curl_easy_setopt(b->curl, CURLOPT_WRITEFUNCTION, curl_write);
    curl_easy_setopt(b->curl, CURLOPT_WRITEDATA, b);
    curl_easy_setopt(b->curl, CURLOPT_TIMEOUT_MS, 10000L);
    curl_easy_setopt(b->curl, CURLOPT_NOSIGNAL, 1L);
}

/* Key Retrieval requests the MAF has seen so far. */
static uint64_t maf_retrievals(bench_t *b)
{
    json_error_t jerr;
    json_t *root, *n;
    long status = 0;
    CURLcode rc;
    uint64_t v;

    b->resp_len = 0;
    rc = curl_easy_perform(b->curl);
    curl_easy_getinfo(b->curl, CURLINFO_RESPONSE_CODE, &status);
    if (rc != CURLE_OK || status != 200 || b->resp == NULL)
        dief("GET %s: %s (HTTP %ld)", b->stats_uri, curl_easy_strerror(rc), status);
    root = json_loadb(b->resp, b->resp_len, 0, &jerr);
    n = json_object_get(json_object_get(json_object_get(root, "procedures"), "keyRetrieval"),
                        "requests");
    if (!json_is_integer(n))
        dief("GET %s: no procedures.keyRetrieval.requests in the answer", b->stats_uri);
    v = (uint64_t)json_integer_value(n);
    json_decref(root);
    return v;
}

/* Read saef-mafd's log lines written since the last call.  Returns how many of the Key
 * Retrieval requests came on a connection (client port) not seen before. */
static uint64_t mafd_log_scan(bench_t *b)
{
    char line[2048];
    uint64_t fresh = 0;

    if (b->mafd_log == NULL)
        return 0;
    clearerr(b->mafd_log);
    while (fgets(line, sizeof(line), b->mafd_log) != NULL) {
        /* "saef-mafd: 127.0.0.1:51446 POST /maf/keyRetrieval origin=... rsc=2000 0.2ms" */
        const char *p = strstr(line, "saef-mafd: "), *colon, *rsc;
        unsigned port;
        size_t i;

        if (p == NULL || strstr(line, " POST ") == NULL || strstr(line, "/keyRetrieval ") == NULL)
            continue;
        p += strlen("saef-mafd: ");
        colon = strchr(p, ' ');
        if (colon == NULL)
            continue;
        while (colon > p && colon[-1] != ':')
            colon--;
        if (sscanf(colon, "%u", &port) != 1)
            continue;
        b->log_requests++;
        rsc = strstr(line, " rsc=");
        if (rsc == NULL || strncmp(rsc, " rsc=2000", 9) != 0)
            b->log_failed++;
        for (i = 0; i < b->n_ports && b->ports[i] != port; i++)
            ;
        if (i == b->n_ports) {
            fresh++;
            if (b->n_ports < MAX_PORTS)
                b->ports[b->n_ports++] = port;
        }
    }
    return fresh;
}

/* saef-mafd's CPU time so far (all its threads), from schedstat; 0 when unavailable. */
static uint64_t mafd_cpu_ns(bench_t *b)
{
    char path[128], line[256];
    struct dirent *de;
    uint64_t sum = 0;
    DIR *d;

    if (b->o.mafd_pid <= 0)
        return 0;
    snprintf(path, sizeof(path), "/proc/%ld/task", b->o.mafd_pid);
    d = opendir(path);
    if (d == NULL) {
        b->mafd_cpu_ok = false;
        return 0;
    }
    while ((de = readdir(d)) != NULL) {
        unsigned long long ns;
        FILE *f;

        if (de->d_name[0] == '.')
            continue;
        snprintf(path, sizeof(path), "/proc/%ld/task/%.32s/schedstat", b->o.mafd_pid, de->d_name);
        f = fopen(path, "r");
        if (f == NULL) {
            b->mafd_cpu_ok = false;
            continue;
        }
        if (fgets(line, sizeof(line), f) != NULL && sscanf(line, "%llu", &ns) == 1)
            sum += ns;
        else
            b->mafd_cpu_ok = false;
        fclose(f);
    }
    closedir(d);
    return sum;
}

/* ---------------------------------------------------------------------------------------- */
/* the module, through include/saef/module.h only */

static void host_log(void *ctx, saef_log_level_t level, const char *line)
{
    bench_t *b = ctx;

    atomic_fetch_add(&b->log_lines[(unsigned)level & 7u], 1);
    /* A real host writes every line to its log; the benchmark measures the module, not a log
     * file, so it drops the per-handshake INFO lines and shows only the first problems. */
    if (level <= SAEF_LOG_WARNING && atomic_fetch_add(&b->log_printed, 1) < 20)
        fprintf(stderr, "module: %s\n", line);
}

/* One started instance: the benchmark's configuration (its one MAF is the running saef-mafd)
 * followed by the extra global options. */
static saef_instance_t *instance_new(bench_t *b, const saef_config_pair_t *extra, size_t n_extra)
{
    char ca[1024], crt[1024], key[1024], err[512] = "";
    saef_config_pair_t pairs[16] = {
        {"", "cse_id", b->o.cse_id},
        {"maf.bench", "fqdn", b->fqdn},
        {"maf.bench", "key_retrieval_uri", b->kr_uri},
        {"maf.bench", "ca_file", ca},
        {"maf.bench", "client_cert", crt},
        {"maf.bench", "client_key", key},
        {"maf.bench", "connect_to", b->o.maf_connect},
    };
    const size_t n_base = 7;
    saef_instance_t *inst = NULL;
    saef_rc_t rc;
    size_t i;

    if (n_base + n_extra > sizeof(pairs) / sizeof(pairs[0]))
        die("too many configuration pairs");
    for (i = 0; i < n_extra; i++)
        pairs[n_base + i] = extra[i];
    snprintf(ca, sizeof(ca), "%s/ca.crt", b->o.pki);
    snprintf(crt, sizeof(crt), "%s/entity-b.crt", b->o.pki);
    snprintf(key, sizeof(key), "%s/entity-b.key", b->o.pki);
    rc = b->mod->create(&b->host, pairs, n_base + n_extra, &inst, err, sizeof(err));
    if (rc != SAEF_OK)
        dief("module create: %s: %s", b->mod->strerror(rc), err);
    rc = b->mod->start(inst);
    if (rc != SAEF_OK)
        dief("module start: %s", b->mod->strerror(rc));
    return inst;
}

/* dlopen() the module and start its instance(s): a second one with db_conninfo for the
 * module-warm+db variants. */
static void module_load(bench_t *b)
{
    const saef_config_pair_t db[] = {
        {"", "db_conninfo", b->o.db_conninfo},
        {"", "node_id", DB_NODE_ID},
        {"", "key_vault", "false"},
    };
    saef_module_entry_fn entry;

    b->dl = dlopen(b->o.module, RTLD_NOW | RTLD_LOCAL);
    if (b->dl == NULL)
        dief("dlopen %s: %s", b->o.module, dlerror());
    *(void **)&entry = dlsym(b->dl, SAEF_MODULE_ENTRY_SYMBOL);
    if (entry == NULL)
        dief("%s: no %s", b->o.module, SAEF_MODULE_ENTRY_SYMBOL);
    b->mod = entry(SAEF_ABI_MAJOR, SAEF_ABI_MINOR);
    if (b->mod == NULL)
        dief("%s refused ABI %d.%d or this process's libraries", b->o.module, SAEF_ABI_MAJOR,
             SAEF_ABI_MINOR);
    b->host = (saef_host_api_t){.hdr = SAEF_ABI_HDR_INIT(saef_host_api_t),
                                .host_ctx = b,
                                .log = host_log,
                                .cse_id = b->o.cse_id};
    b->inst = instance_new(b, NULL, 0);
    if (b->o.db_conninfo != NULL)
        b->inst_db = instance_new(b, db, sizeof(db) / sizeof(db[0]));
}

static saef_instance_t *instance_for(const bench_t *b, int v)
{
    return variant_db(v) ? b->inst_db : b->inst;
}

/* ---------------------------------------------------------------------------------------- */
/* TLS contexts */

static unsigned int bare_psk_cb(SSL *ssl, const char *identity, unsigned char *psk,
                                unsigned int max_psk_len)
{
    const bench_t *b = SSL_CTX_get_app_data(SSL_get_SSL_CTX(ssl));

    (void)identity;
    if (max_psk_len < KC_LEN)
        return 0;
    memcpy(psk, b->warm.kc, KC_LEN);
    return KC_LEN;
}

/* The control: a bare server whose callback blocks once, as a handshake that waits for its key
 * blocks once.  What blocking and waking costs the handshake thread on this machine, without
 * the module. */
static unsigned int sleep_psk_cb(SSL *ssl, const char *identity, unsigned char *psk,
                                 unsigned int max_psk_len)
{
    const bench_t *b = SSL_CTX_get_app_data(SSL_get_SSL_CTX(ssl));
    struct timespec ts = {.tv_sec = b->o.sleep_us / 1000000,
                          .tv_nsec = (long)(b->o.sleep_us % 1000000) * 1000};

    nanosleep(&ts, NULL);
    return bare_psk_cb(ssl, identity, psk, max_psk_len);
}

static unsigned int client_psk_cb(SSL *ssl, const char *hint, char *identity,
                                  unsigned int max_identity_len, unsigned char *psk,
                                  unsigned int max_psk_len)
{
    const bkey_t *k = SSL_get_app_data(ssl);
    size_t n = strlen(k->id);

    (void)hint;
    if (n + 1 > max_identity_len || max_psk_len < KC_LEN)
        return 0;
    memcpy(identity, k->id, n + 1);
    memcpy(psk, k->kc, KC_LEN);
    return KC_LEN;
}

/* A server context as the reference host sets its own up (saef-csed). */
static SSL_CTX *server_ctx(bench_t *b, bool async)
{
    SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());

    if (ctx == NULL || !SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION))
        die("server SSL_CTX");
    if (async)
        SSL_CTX_set_mode(ctx, SSL_MODE_ASYNC);
    SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_TICKET |
                                 SSL_OP_CIPHER_SERVER_PREFERENCE);
    SSL_CTX_set_num_tickets(ctx, 0);
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
    SSL_CTX_set_app_data(ctx, b);
    return ctx;
}

/* The TLS 1.2 cipher list attach_openssl() left on ctx, as a cipher string. */
static void cipher_list_of(SSL_CTX *ctx, char *out, size_t cap)
{
    STACK_OF(SSL_CIPHER) *sk = SSL_CTX_get_ciphers(ctx);
    size_t used = 0;
    int i;

    out[0] = '\0';
    for (i = 0; sk != NULL && i < sk_SSL_CIPHER_num(sk); i++) {
        const SSL_CIPHER *c = sk_SSL_CIPHER_value(sk, i);
        int n;

        if (SSL_CIPHER_get_kx_nid(c) == NID_kx_any)
            continue; /* TLS 1.3 suites: their own list, left at OpenSSL's default on both */
        n = snprintf(out + used, cap - used, "%s%s", used ? ":" : "", SSL_CIPHER_get_name(c));
        if (n < 0 || (size_t)n >= cap - used)
            die("cipher list too long");
        used += (size_t)n;
    }
}

static SSL_CTX *module_ctx(bench_t *b, saef_instance_t *inst, bool async)
{
    SSL_CTX *ctx = server_ctx(b, async);
    saef_rc_t rc = b->mod->attach_openssl(inst, ctx, NULL);

    if (rc != SAEF_OK)
        dief("attach_openssl: %s", b->mod->strerror(rc));
    return ctx;
}

/* A bare server with the cipher list the module left on its context. */
static SSL_CTX *bare_ctx(bench_t *b, bool async, SSL_psk_server_cb_func cb)
{
    SSL_CTX *ctx = server_ctx(b, async);

    if (!SSL_CTX_set_cipher_list(ctx, b->server_ciphers))
        die("bare server cipher list");
    SSL_CTX_set_psk_server_callback(ctx, cb);
    return ctx;
}

static void tls_setup(bench_t *b)
{
    size_t i;

    b->sctx[C_MODULE] = module_ctx(b, b->inst, false);
    b->sctx[C_MODULE_ASYNC] = module_ctx(b, b->inst, true);
    if (b->inst_db != NULL) {
        b->sctx[C_DB] = module_ctx(b, b->inst_db, false);
        b->sctx[C_DB_ASYNC] = module_ctx(b, b->inst_db, true);
    }
    cipher_list_of(b->sctx[C_MODULE], b->server_ciphers, sizeof(b->server_ciphers));
    b->sctx[C_BARE] = bare_ctx(b, false, bare_psk_cb);
    b->sctx[C_BARE_ASYNC] = bare_ctx(b, true, bare_psk_cb);
    b->sctx[C_SLEEP] = bare_ctx(b, false, sleep_psk_cb);
    for (i = 0; i < N_SUITES; i++) {
        SSL_CTX *c = SSL_CTX_new(TLS_client_method());
        const suite_t *s = &suites[i];

        if (c == NULL || !SSL_CTX_set_min_proto_version(c, s->version) ||
            !SSL_CTX_set_max_proto_version(c, s->version))
            die("client SSL_CTX");
        if (s->version == TLS1_3_VERSION ? !SSL_CTX_set_ciphersuites(c, s->client_ciphers)
                                         : !SSL_CTX_set_cipher_list(c, s->client_ciphers))
            dief("client ciphers %s", s->client_ciphers);
        SSL_CTX_set_options(c, SSL_OP_NO_TICKET);
        SSL_CTX_set_session_cache_mode(c, SSL_SESS_CACHE_OFF);
        SSL_CTX_set_psk_client_callback(c, client_psk_cb);
        b->cctx[i] = c;
    }
}

static SSL_CTX *ctx_for(bench_t *b, int v)
{
    if (v == V_SLEEP)
        return b->sctx[C_SLEEP];
    if (variant_db(v))
        return b->sctx[variant_async(v) ? C_DB_ASYNC : C_DB];
    if (variant_module(v))
        return b->sctx[variant_async(v) ? C_MODULE_ASYNC : C_MODULE];
    return b->sctx[variant_async(v) ? C_BARE_ASYNC : C_BARE];
}

/* ---------------------------------------------------------------------------------------- */
/* one handshake */

typedef struct seg {
    uint64_t cpu0, wall0, cpu, wall;
} seg_t;

static void seg_begin(seg_t *t)
{
    t->wall0 = now_ns(CLOCK_MONOTONIC);
    t->cpu0 = now_ns(CLOCK_THREAD_CPUTIME_ID);
}

static void seg_end(seg_t *t)
{
    t->cpu += now_ns(CLOCK_THREAD_CPUTIME_ID) - t->cpu0;
    t->wall += now_ns(CLOCK_MONOTONIC) - t->wall0;
}

/* Wait until the module signals a paused job's fds (the key is there or the fetch failed). */
static void wait_async(SSL *ssl)
{
    OSSL_ASYNC_FD fds[8];
    struct pollfd p[8];
    size_t n = 0, i;

    if (!SSL_get_all_async_fds(ssl, NULL, &n) || n == 0 || n > 8 ||
        !SSL_get_all_async_fds(ssl, fds, &n))
        return; /* nothing to wait on: step again */
    for (i = 0; i < n; i++)
        p[i] = (struct pollfd){.fd = fds[i], .events = POLLIN};
    if (poll(p, (nfds_t)n, 10000) == 0)
        fprintf(stderr, "bench_handshake: a paused handshake waited 10 s\n");
}

/* One server step: 1 done, 0 wants more input, -1 failed. */
static int server_step(SSL *srv)
{
    for (;;) {
        int r = SSL_do_handshake(srv), e;

        if (r == 1)
            return 1;
        e = SSL_get_error(srv, r);
        if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE)
            return 0;
        if (e == SSL_ERROR_WANT_ASYNC) {
            wait_async(srv);
            continue;
        }
        if (e == SSL_ERROR_WANT_ASYNC_JOB) {
            sched_yield();
            continue;
        }
        return -1;
    }
}

static int client_step(SSL *cli)
{
    int r = SSL_do_handshake(cli), e;

    if (r == 1)
        return 1;
    e = SSL_get_error(cli, r);
    return e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE ? 0 : -1;
}

/* Run one handshake; on success add the server's CPU and wall time (ns) to *cpu and *wall.
 * Two memory BIOs carry the bytes (client->server, server->client), each shared by both SSL
 * objects, so the server can be freed inside its last timed segment while its final flight
 * still waits in the server->client BIO for the client: two timed segments per handshake. */
static bool handshake(bench_t *b, size_t si, int v, const bkey_t *key, uint64_t *cpu,
                      uint64_t *wall)
{
    SSL *cli = SSL_new(b->cctx[si]), *srv = NULL;
    BIO *c2s = BIO_new(BIO_s_mem()), *s2c = BIO_new(BIO_s_mem());
    seg_t t = {0};
    int cs = 0, ss = 0, iter;
    bool ok = false;

    if (cli == NULL || c2s == NULL || s2c == NULL)
        die("client SSL / memory BIOs");
    BIO_set_mem_eof_return(c2s, -1); /* empty means "retry later", not end of file */
    BIO_set_mem_eof_return(s2c, -1);
    BIO_up_ref(c2s);
    BIO_up_ref(s2c);
    SSL_set0_rbio(cli, s2c); /* the client owns one reference of each, the server the other */
    SSL_set0_wbio(cli, c2s);
    SSL_set_connect_state(cli);
    SSL_set_app_data(cli, (void *)key);
    if ((cs = client_step(cli)) < 0) {
        BIO_free(c2s);
        BIO_free(s2c);
        goto out;
    }
    seg_begin(&t);
    srv = SSL_new(ctx_for(b, v));
    if (srv == NULL)
        die("server SSL");
    SSL_set0_rbio(srv, c2s);
    SSL_set0_wbio(srv, s2c);
    SSL_set_accept_state(srv);
    ss = server_step(srv);
    seg_end(&t);
    for (iter = 0; ss >= 0 && cs >= 0 && (ss == 0 || cs == 0) && iter < 8; iter++) {
        if (cs == 0 && (cs = client_step(cli)) < 0)
            break;
        if (ss != 0)
            continue;
        seg_begin(&t);
        ss = server_step(srv);
        if (ss == 1) {
            if (variant_module(v)) {
                /* What a host asks once per connection, to check each request's From. */
                saef_binding_t bnd = {.hdr = SAEF_ABI_HDR_INIT(saef_binding_t)};

                if (b->mod->binding_ssl(instance_for(b, v), srv, &bnd) != SAEF_OK ||
                    strcmp(bnd.key_id, key->id) != 0)
                    ss = -1;
            }
            if (ss == 1) {
                SSL_free(srv);
                srv = NULL;
            }
        }
        seg_end(&t);
    }
    ok = ss == 1 && cs == 1;
    if (ok && variant_db(v))
        b->db_handshakes++;
out:
    if (!ok) {
        if (b->failures++ < 5) {
            fprintf(stderr, "bench_handshake: %s %s handshake failed (key %s)\n", suites[si].label,
                    variant_names[v], key->id);
            ERR_print_errors_fp(stderr);
        }
        ERR_clear_error();
    }
    if (srv != NULL) {
        if (variant_module(v))
            b->mod->handshake_abort(instance_for(b, v), srv);
        SSL_free(srv);
    }
    SSL_free(cli);
    *cpu += t.cpu;
    *wall += t.wall;
    return ok;
}

/* ---------------------------------------------------------------------------------------- */
/* blocks, rounds */

static void run_block(bench_t *b, size_t si, int v, int n, int round)
{
    series_t *s = &b->s[si][v];
    uint64_t req0, req1, p0, t0, p1, t1, m0, m1, fresh;
    size_t first = s->n;
    int i;

    req0 = maf_retrievals(b);
    mafd_log_scan(b);
    m0 = mafd_cpu_ns(b);
    p0 = now_ns(CLOCK_PROCESS_CPUTIME_ID);
    t0 = now_ns(CLOCK_THREAD_CPUTIME_ID);
    for (i = 0; i < n; i++) {
        const bkey_t *key = variant_cold(v) ? next_cold_key(b) : &b->warm;
        uint64_t cpu = 0, wall = 0;

        if (handshake(b, si, v, key, &cpu, &wall) && round >= 0)
            series_add(s, (double)cpu / 1e3, (double)wall / 1e3);
    }
    /* Let the module's threads log (and write) this block's decisions before counting: its
     * background CPU then belongs to this block, not to the next one. */
    nanosleep(&(struct timespec){.tv_nsec = SETTLE_MS * 1000L * 1000L}, NULL);
    t1 = now_ns(CLOCK_THREAD_CPUTIME_ID);
    p1 = now_ns(CLOCK_PROCESS_CPUTIME_ID);
    m1 = mafd_cpu_ns(b);
    req1 = maf_retrievals(b);
    fresh = mafd_log_scan(b);
    if (round < 0)
        return;
    s->hs += (uint64_t)(s->n - first);
    s->bg_ns += (p1 - p0) > (t1 - t0) ? (p1 - p0) - (t1 - t0) : 0;
    s->maf_requests += req1 - req0;
    s->maf_conns += fresh;
    s->mafd_ns += m1 > m0 ? m1 - m0 : 0;
    if ((size_t)round < MAX_ROUNDS && s->n > first) {
        s->round_med[round] = pct_of(s->cpu + first, s->n - first, 0.5);
        s->round_wall[round] = pct_of(s->wall + first, s->n - first, 0.5);
        s->rounds = (size_t)round + 1;
    }
}

/* The priming handshake of an instance: the warm key's one Key Retrieval, checked.  Returns the
 * Key Retrievals it caused. */
static uint64_t prime(bench_t *b, int v)
{
    uint64_t r0 = maf_retrievals(b), cpu = 0, wall = 0, r1;

    if (!handshake(b, 0, v, &b->warm, &cpu, &wall))
        dief("%s: priming handshake with the warm key failed (is the MAF running?)",
             variant_names[v]);
    r1 = maf_retrievals(b);
    fprintf(stderr,
            "bench_handshake: %s: priming handshake took %.2f ms server wall, %" PRIu64
            " Key Retrieval(s)\n",
            variant_names[v], (double)wall / 1e6, r1 - r0);
    return r1 - r0;
}

static int block_n(const bench_t *b, int v)
{
    return variant_cold(v) || v == V_SLEEP ? b->o.cold_n : b->o.warm_n;
}

static bool variant_on(const opts_t *o, int v)
{
    return (o->async || !variant_async(v)) && (o->db_conninfo != NULL || !variant_db(v));
}

/* The variants this run measures, in table order, into vs[N_VARIANTS]; returns how many. */
static int variants_on(const opts_t *o, int *vs)
{
    int v, n = 0;

    for (v = 0; v < N_VARIANTS; v++)
        if (variant_on(o, v))
            vs[n++] = v;
    return n;
}

static bool suite_on(const opts_t *o, size_t si)
{
    return o->suite == NULL || strcmp(o->suite, suites[si].name) == 0;
}

static size_t suites_on(const opts_t *o)
{
    size_t si, n = 0;

    for (si = 0; si < N_SUITES; si++)
        n += suite_on(o, si);
    return n;
}

static size_t keys_needed(const opts_t *o)
{
    int cold_variants = o->async ? 2 : 1;

    return suites_on(o) * (size_t)cold_variants *
           ((size_t)o->rounds * (size_t)o->cold_n + (size_t)o->cold_warmup);
}

/* ---------------------------------------------------------------------------------------- */
/* report */

static double per_hs(uint64_t v, uint64_t hs)
{
    return hs ? (double)v / (double)hs : 0;
}

static void cpu_model(char *out, size_t cap)
{
    FILE *f = fopen("/proc/cpuinfo", "r");
    char line[512];

    snprintf(out, cap, "unknown");
    if (f == NULL)
        return;
    while (fgets(line, sizeof(line), f) != NULL) {
        char *c = strchr(line, ':');

        if (strncmp(line, "model name", 10) == 0 && c != NULL) {
            c += 2;
            c[strcspn(c, "\n")] = '\0';
            snprintf(out, cap, "%s", c);
            break;
        }
    }
    fclose(f);
}

static void loadavg(char *out, size_t cap)
{
    FILE *f = fopen("/proc/loadavg", "r");

    snprintf(out, cap, "unknown");
    if (f != NULL) {
        if (fgets(out, (int)cap, f) != NULL)
            out[strcspn(out, "\n")] = '\0';
        fclose(f);
    }
}

typedef struct summary {
    double cpu_med, cpu_p90, wall_med, wall_p90, rmin, rmax;
} summary_t;

static summary_t summarize(const series_t *s)
{
    summary_t r = {0};
    size_t i;

    r.cpu_med = pct_of(s->cpu, s->n, 0.5);
    r.cpu_p90 = pct_of(s->cpu, s->n, 0.9);
    r.wall_med = pct_of(s->wall, s->n, 0.5);
    r.wall_p90 = pct_of(s->wall, s->n, 0.9);
    for (i = 0; i < s->rounds; i++) {
        if (i == 0 || s->round_med[i] < r.rmin)
            r.rmin = s->round_med[i];
        if (i == 0 || s->round_med[i] > r.rmax)
            r.rmax = s->round_med[i];
    }
    return r;
}

/* Paired comparison of two variants: the median over rounds of (a's median / b's median in that
 * round), or of their difference.  Both blocks of a round ran within a second or two of each
 * other, so a slow drift of the machine's load cancels out. */
static double paired(const series_t *a, const series_t *b, bool wall, bool diff)
{
    double v[MAX_ROUNDS];
    size_t n = 0, i;

    for (i = 0; i < a->rounds && i < b->rounds; i++) {
        double x = wall ? a->round_wall[i] : a->round_med[i];
        double y = wall ? b->round_wall[i] : b->round_med[i];

        if (x <= 0 || y <= 0)
            continue; /* a block without a completed handshake */
        v[n++] = diff ? x - y : x / y;
    }
    return percentile(v, n, 0.5);
}

/* The db/warm columns of the ratios table (module-warm+db against module-warm), and the same
 * into the suite's JSON ratios. */
static void db_ratios(const bench_t *b, size_t si, json_t *o)
{
    const series_t *r = b->s[si];
    double dw = paired(&r[V_WARM_DB], &r[V_WARM], false, false);
    double dd = paired(&r[V_WARM_DB], &r[V_WARM], false, true);
    double dww = paired(&r[V_WARM_DB], &r[V_WARM], true, false);
    char ca[16] = "-";

    json_object_set_new(o, "db_over_warm_cpu", json_real(dw));
    json_object_set_new(o, "db_minus_warm_cpu_us", json_real(dd));
    json_object_set_new(o, "db_over_warm_wall", json_real(dww));
    if (b->o.async) {
        double dwa = paired(&r[V_WARM_DB_ASYNC], &r[V_WARM_ASYNC], false, false);

        snprintf(ca, sizeof(ca), "%.3f", dwa);
        json_object_set_new(o, "db_over_warm_cpu_async", json_real(dwa));
    }
    printf(" %10.3f %10s %10.1f", dw, ca, dd);
}

static void report(bench_t *b, const char *date, const char *load0, const char *load1)
{
    json_t *root = json_object(), *res = json_array(), *rat = json_array();
    char model[256];
    struct utsname un;
    bool db = b->inst_db != NULL;
    int v;
    uint64_t cold_req = 0, cold_hs = 0, cold_conns = 0, warm_req = 0, mafd_ns = 0;
    size_t si;

    cpu_model(model, sizeof(model));
    uname(&un);
    printf("\nmaf_saef.so handshake benchmark, run of %s\n", date);
    printf("machine:  %s, %ld CPUs online, %s %s; load average at start %s, at end %s\n", model,
           sysconf(_SC_NPROCESSORS_ONLN), un.sysname, un.release, load0, load1);
    printf("software: %s, module %s %s\n", OpenSSL_version(OPENSSL_VERSION), b->mod->name,
           b->mod->version);
    printf("method:   in-process client and server over two memory BIOs; server-side CPU "
           "(thread CPU clock)\n          and wall time of SSL_new + server SSL_do_handshake "
           "calls + binding query + SSL_free;\n          benchmark thread pinned to CPU %d%s; "
           "%d rounds, variants round-robin; per round and variant\n          %d warm / %d "
           "cold handshakes; clock reads ~%.1f us CPU per handshake (in every figure);\n"
           "          bare+sleep sleeps %d us in the PSK callback; %d ms idle after every block\n",
           b->o.cpu, b->o.cpu < 0 ? " (not pinned)" : "", b->o.rounds, b->o.warm_n, b->o.cold_n,
           b->timer_ns / 1e3, b->o.sleep_us, SETTLE_MS);
    if (db)
        printf("          module-warm+db: a second instance, configured like the first plus "
               "db_conninfo,\n          node_id %s, key_vault false, on its own server "
               "contexts\n",
               DB_NODE_ID);
    printf("server cipher list (the module's, copied to the bare contexts): %s\n\n",
           b->server_ciphers);

    printf("%-36s %-20s %8s %8s %9s %9s %15s %7s %7s %6s\n", "suite", "variant", "CPU med",
           "CPU p90", "wall med", "wall p90", "round CPU meds", "bg CPU", "MAF", "new");
    printf("%-36s %-20s %8s %8s %9s %9s %15s %7s %7s %6s\n", "", "", "us", "us", "us", "us",
           "min-max us", "us/hs", "req/hs", "conns");
    for (si = 0; si < N_SUITES; si++) {
        if (!suite_on(&b->o, si))
            continue;
        for (v = 0; v < N_VARIANTS; v++) {
            const series_t *s = &b->s[si][v];
            summary_t r;
            char rr[32];

            if (!variant_on(&b->o, v))
                continue;
            r = summarize(s);
            snprintf(rr, sizeof(rr), "%.1f-%.1f", r.rmin, r.rmax);
            printf("%-36s %-20s %8.1f %8.1f %9.1f %9.1f %15s %7.1f %7.2f %6" PRIu64 "\n",
                   suites[si].label, variant_names[v], r.cpu_med, r.cpu_p90, r.wall_med, r.wall_p90,
                   rr, per_hs(s->bg_ns, s->hs) / 1e3, per_hs(s->maf_requests, s->hs), s->maf_conns);
            if (variant_cold(v)) {
                cold_req += s->maf_requests;
                cold_hs += s->hs;
                cold_conns += s->maf_conns;
                mafd_ns += s->mafd_ns;
            } else {
                warm_req += s->maf_requests;
            }
            json_array_append_new(
                res,
                json_pack("{s:s, s:s, s:I, s:f, s:f, s:f, s:f, s:f, s:f, s:f, s:I, s:I, s:f}",
                          "suite", suites[si].name, "variant", variant_names[v], "handshakes",
                          (json_int_t)s->hs, "server_cpu_median_us", r.cpu_med, "server_cpu_p90_us",
                          r.cpu_p90, "server_wall_median_us", r.wall_med, "server_wall_p90_us",
                          r.wall_p90, "round_cpu_median_min_us", r.rmin, "round_cpu_median_max_us",
                          r.rmax, "background_cpu_us_per_handshake", per_hs(s->bg_ns, s->hs) / 1e3,
                          "maf_requests", (json_int_t)s->maf_requests, "new_maf_connections",
                          (json_int_t)s->maf_conns, "maf_requests_per_handshake",
                          per_hs(s->maf_requests, s->hs)));
        }
        printf("\n");
    }

    printf("paired ratios: median over rounds of (variant's median / reference's median in that "
           "round);\nserver CPU, server wall in brackets\n");
    printf("%-36s %10s %10s %10s %10s %10s %15s %15s", "suite", "warm/bare", "warm/bare",
           "warm-bare", "async/", "sleep/", "cold/warm", "cold/warm");
    printf(db ? " %10s %10s %10s\n" : "\n", "db/warm", "db/warm", "db-warm");
    printf("%-36s %10s %10s %10s %10s %10s %15s %15s", "", "", "(async)", "CPU us", "sync bare",
           "bare", "", "(async)");
    printf(db ? " %10s %10s %10s\n" : "\n", "", "(async)", "CPU us");
    for (si = 0; si < N_SUITES; si++) {
        const series_t *r = b->s[si];

        if (!suite_on(&b->o, si))
            continue;
        double wb = paired(&r[V_WARM], &r[V_BARE], false, false);
        double wd = paired(&r[V_WARM], &r[V_BARE], false, true);
        double sb = paired(&r[V_SLEEP], &r[V_BARE], false, false);
        double cw = paired(&r[V_COLD], &r[V_WARM], false, false);
        double cww = paired(&r[V_COLD], &r[V_WARM], true, false);
        double wba = 0, ab = 0, cwa = 0, cwwa = 0;
        char c1[40], c2[40] = "-", c3[16] = "-", c4[16] = "-";
        json_t *o;

        snprintf(c1, sizeof(c1), "%.2f (%.1f)", cw, cww);
        if (b->o.async) {
            wba = paired(&r[V_WARM_ASYNC], &r[V_BARE_ASYNC], false, false);
            ab = paired(&r[V_BARE_ASYNC], &r[V_BARE], false, false);
            cwa = paired(&r[V_COLD_ASYNC], &r[V_WARM_ASYNC], false, false);
            cwwa = paired(&r[V_COLD_ASYNC], &r[V_WARM_ASYNC], true, false);
            snprintf(c2, sizeof(c2), "%.2f (%.1f)", cwa, cwwa);
            snprintf(c3, sizeof(c3), "%.3f", wba);
            snprintf(c4, sizeof(c4), "%.3f", ab);
        }
        printf("%-36s %10.3f %10s %10.1f %10s %10.3f %15s %15s", suites[si].label, wb, c3, wd, c4,
               sb, c1, c2);
        o = json_pack("{s:s, s:f, s:f, s:f, s:f, s:f}", "suite", suites[si].name,
                      "module_warm_over_bare_cpu", wb, "module_warm_minus_bare_cpu_us", wd,
                      "bare_sleep_over_bare_cpu", sb, "cold_over_warm_cpu", cw,
                      "cold_over_warm_wall", cww);
        if (b->o.async) {
            json_object_set_new(o, "module_warm_over_bare_cpu_async", json_real(wba));
            json_object_set_new(o, "bare_async_over_bare_cpu", json_real(ab));
            json_object_set_new(o, "cold_over_warm_cpu_async", json_real(cwa));
            json_object_set_new(o, "cold_over_warm_wall_async", json_real(cwwa));
        }
        if (db)
            db_ratios(b, si, o);
        printf("\n");
        json_array_append_new(rat, o);
    }

    printf("\nMAF (saef-mafd, GET {B}/stats and its request log)\n");
    printf("  Key Retrievals during cold blocks: %" PRIu64 " for %" PRIu64
           " cold handshakes = %.3f per handshake\n",
           cold_req, cold_hs, per_hs(cold_req, cold_hs));
    printf("  Key Retrievals during bare and warm blocks: %" PRIu64 "\n", warm_req);
    if (b->mafd_log != NULL)
        printf("  connections: %" PRIu64 " new during measured cold blocks; %zu distinct "
               "connection(s) carried all %" PRIu64 " retrievals of the run (%" PRIu64
               " not answered 2000; module instances: %d)\n",
               cold_conns, b->n_ports, b->log_requests, b->log_failed, db ? 2 : 1);
    if (b->o.mafd_pid > 0 && b->mafd_cpu_ok)
        printf("  saef-mafd CPU per Key Retrieval: %.1f us\n", per_hs(mafd_ns, cold_req) / 1e3);
    printf("  module log lines: %u info, %u notice, %u warning, %u error\n",
           atomic_load(&b->log_lines[SAEF_LOG_INFO]), atomic_load(&b->log_lines[SAEF_LOG_NOTICE]),
           atomic_load(&b->log_lines[SAEF_LOG_WARNING]),
           atomic_load(&b->log_lines[SAEF_LOG_ERROR]));
    printf("  failed handshakes: %d\n", b->failures);
    if (db)
        printf("\ndatabase (the instance with db_conninfo, node_id %s)\n  %" PRIu64
               " handshakes completed (priming, warm-up, measured), %" PRIu64
               " Key Retrieval(s): expected %d association row(s) with handshake_count "
               "%" PRIu64 " in all, %" PRIu64 " audit event(s)\n",
               DB_NODE_ID, b->db_handshakes, b->db_retrievals, b->db_handshakes > 0 ? 1 : 0,
               b->db_handshakes, b->db_handshakes + b->db_retrievals);

    if (b->o.json != NULL) {
        json_object_set_new(
            root, "meta",
            json_pack("{s:s, s:s, s:i, s:s, s:s, s:s, s:s, s:i, s:i, s:i, s:i, s:i, s:i, s:i, s:f, "
                      "s:s}",
                      "date", date, "cpu_model", model, "cpus", (int)sysconf(_SC_NPROCESSORS_ONLN),
                      "loadavg_start", load0, "loadavg_end", load1, "openssl",
                      OpenSSL_version(OPENSSL_VERSION), "module_version", b->mod->version,
                      "pinned_cpu", b->o.cpu, "rounds", b->o.rounds, "warm_n", b->o.warm_n,
                      "cold_n", b->o.cold_n, "warmup", b->o.warmup, "sleep_us", b->o.sleep_us,
                      "settle_ms", SETTLE_MS, "timer_overhead_us_per_handshake", b->timer_ns / 1e3,
                      "server_ciphers", b->server_ciphers));
        json_object_set_new(root, "results", res);
        json_object_set_new(root, "ratios", rat);
        json_object_set_new(root, "maf",
                            json_pack("{s:I, s:I, s:f, s:I, s:I, s:I, s:f}", "cold_key_retrievals",
                                      (json_int_t)cold_req, "cold_handshakes", (json_int_t)cold_hs,
                                      "retrievals_per_cold_handshake", per_hs(cold_req, cold_hs),
                                      "retrievals_in_bare_and_warm_blocks", (json_int_t)warm_req,
                                      "new_connections_in_cold_blocks", (json_int_t)cold_conns,
                                      "distinct_connections_in_run", (json_int_t)b->n_ports,
                                      "mafd_cpu_us_per_retrieval",
                                      b->mafd_cpu_ok ? per_hs(mafd_ns, cold_req) / 1e3 : -1.0));
        json_object_set_new(root, "failed_handshakes", json_integer(b->failures));
        if (db)
            json_object_set_new(root, "database",
                                json_pack("{s:s, s:I, s:I, s:I}", "node_id", DB_NODE_ID,
                                          "handshakes", (json_int_t)b->db_handshakes,
                                          "key_retrievals", (json_int_t)b->db_retrievals,
                                          "expected_audit_events",
                                          (json_int_t)(b->db_handshakes + b->db_retrievals)));
        if (json_dump_file(root, b->o.json, JSON_INDENT(2) | JSON_SORT_KEYS) != 0)
            fprintf(stderr, "bench_handshake: cannot write %s\n", b->o.json);
    } else {
        json_decref(res);
        json_decref(rat);
    }
    json_decref(root);
}

/* ---------------------------------------------------------------------------------------- */
/* main */

static void usage(void)
{
    fprintf(stderr,
            "usage: bench_handshake run --module PATH --maf-uri https://FQDN:PORT/BASE "
            "--maf-connect HOST:PORT\n"
            "                           --pki DIR --warm-key FILE --keys FILE [--mafd-log FILE]"
            " [--mafd-pid PID]\n"
            "                           [--cse-id ID] [--rounds N] [--warm-n N] [--cold-n N] "
            "[--warmup N] [--cpu N]\n"
            "                           [--suite NAME] [--sleep-us N] "
            "[--no-async] [--db-conninfo CONNINFO]\n"
            "                           [--json FILE]\n"
            "       bench_handshake keys-needed [--rounds N] [--cold-n N] [--suite NAME] "
            "[--no-async]\n"
            "       bench_handshake keygen N\n");
    exit(2);
}

static int keygen(const char *count)
{
    long n = strtol(count, NULL, 10), i;
    unsigned char k[KC_LEN], b64[4 * ((KC_LEN + 2) / 3) + 1];
    int j;

    if (n <= 0 || n > 10000000)
        usage();
    for (i = 0; i < n; i++) {
        if (RAND_bytes(k, sizeof(k)) != 1)
            die("RAND_bytes");
        for (j = 0; j < KC_LEN; j++)
            printf("%02x", k[j]);
        EVP_EncodeBlock(b64, k, sizeof(k));
        printf(" %s\n", b64);
    }
    OPENSSL_cleanse(k, sizeof(k));
    return fflush(stdout) == 0 ? 0 : 1;
}

static int int_arg(const char *s, int lo, int hi)
{
    char *end;
    long v = strtol(s, &end, 10);

    if (*s == '\0' || *end != '\0' || v < lo || v > hi)
        dief("%s: not a number in %d..%d", s, lo, hi);
    return (int)v;
}

/* {B} = https://FQDN[:PORT][/BASE]: the MAF-FQDN, the Key Retrieval and stats URIs. */
static void parse_maf_uri(bench_t *b)
{
    const char *u = b->o.maf_uri, *h;
    size_t n;

    if (u == NULL || strncmp(u, "https://", 8) != 0)
        die("--maf-uri must be https://FQDN[:PORT][/BASE]");
    h = u + 8;
    n = strcspn(h, ":/");
    if (n == 0 || n >= sizeof(b->fqdn))
        die("--maf-uri: no host");
    memcpy(b->fqdn, h, n);
    b->fqdn[n] = '\0';
    n = strlen(u);
    while (n > 0 && u[n - 1] == '/')
        n--;
    snprintf(b->kr_uri, sizeof(b->kr_uri), "%.*s/keyRetrieval", (int)n, u);
    snprintf(b->stats_uri, sizeof(b->stats_uri), "%.*s/stats", (int)n, u);
}

static void pin(bench_t *b)
{
    cpu_set_t set;

    if (b->o.cpu < 0)
        return;
    CPU_ZERO(&set);
    CPU_SET(b->o.cpu, &set);
    if (sched_setaffinity(0, sizeof(set), &set) != 0) {
        fprintf(stderr, "bench_handshake: cannot pin to CPU %d (%s): running unpinned\n", b->o.cpu,
                strerror(errno));
        b->o.cpu = -1;
    }
}

/* CPU cost of the clock reads that fall inside the timed segments of one handshake: about one
 * thread-CPU-clock read and one monotonic read per segment, two segments.  Reading a thread's
 * CPU clock is a system call; on some virtual machines it costs microseconds. */
static double timer_overhead_ns(void)
{
    uint64_t c0 = now_ns(CLOCK_THREAD_CPUTIME_ID), c1;
    int i;

    for (i = 0; i < 20000; i++) {
        (void)now_ns(CLOCK_THREAD_CPUTIME_ID);
        (void)now_ns(CLOCK_MONOTONIC);
    }
    c1 = now_ns(CLOCK_THREAD_CPUTIME_ID);
    return 2.0 * (double)(c1 - c0) / 20000.0;
}

int main(int argc, char **argv)
{
    static const struct option lo[] = {{"module", required_argument, NULL, 'm'},
                                       {"maf-uri", required_argument, NULL, 'u'},
                                       {"maf-connect", required_argument, NULL, 'C'},
                                       {"pki", required_argument, NULL, 'p'},
                                       {"cse-id", required_argument, NULL, 'i'},
                                       {"warm-key", required_argument, NULL, 'w'},
                                       {"keys", required_argument, NULL, 'k'},
                                       {"mafd-log", required_argument, NULL, 'l'},
                                       {"mafd-pid", required_argument, NULL, 'P'},
                                       {"rounds", required_argument, NULL, 'r'},
                                       {"warm-n", required_argument, NULL, 'W'},
                                       {"cold-n", required_argument, NULL, 'c'},
                                       {"warmup", required_argument, NULL, 'U'},
                                       {"cpu", required_argument, NULL, 'x'},
                                       {"no-async", no_argument, NULL, 'A'},
                                       {"sleep-us", required_argument, NULL, 's'},
                                       {"suite", required_argument, NULL, 'S'},
                                       {"json", required_argument, NULL, 'j'},
                                       {"db-conninfo", required_argument, NULL, 'D'},
                                       {"help", no_argument, NULL, 'h'},
                                       {NULL, 0, NULL, 0}};
    static bench_t bench;
    bench_t *b = &bench;
    const char *cmd;
    char date[64], load0[128], load1[128];
    int c, round, v, nv, nblocks, k, vs[N_VARIANTS];
    size_t si;
    time_t now;

    if (argc < 2)
        usage();
    cmd = argv[1];
    if (strcmp(cmd, "keygen") == 0)
        return argc == 3 ? keygen(argv[2]) : (usage(), 2);
    if (strcmp(cmd, "run") != 0 && strcmp(cmd, "keys-needed") != 0)
        usage();
    b->o = (opts_t){.cse_id = "//sp.example.test/in-cse",
                    .rounds = 9,
                    .warm_n = 300,
                    .cold_n = 20,
                    .warmup = 100,
                    .cold_warmup = 5,
                    .cpu = 0,
                    .sleep_us = 1000,
                    .async = true};
    optind = 2;
    while ((c = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
        switch (c) {
        case 'm':
            b->o.module = optarg;
            break;
        case 'u':
            b->o.maf_uri = optarg;
            break;
        case 'C':
            b->o.maf_connect = optarg;
            break;
        case 'p':
            b->o.pki = optarg;
            break;
        case 'i':
            b->o.cse_id = optarg;
            break;
        case 'w':
            b->o.warm_key = optarg;
            break;
        case 'k':
            b->o.keys = optarg;
            break;
        case 'l':
            b->o.mafd_log = optarg;
            break;
        case 'P':
            b->o.mafd_pid = int_arg(optarg, 1, 1 << 30);
            break;
        case 'r':
            b->o.rounds = int_arg(optarg, 1, MAX_ROUNDS);
            break;
        case 'W':
            b->o.warm_n = int_arg(optarg, 1, 1000000);
            break;
        case 'c':
            b->o.cold_n = int_arg(optarg, 1, 1000000);
            break;
        case 'U':
            b->o.warmup = int_arg(optarg, 0, 1000000);
            break;
        case 'x':
            b->o.cpu = int_arg(optarg, -1, CPU_SETSIZE - 1);
            break;
        case 'S':
            b->o.suite = optarg;
            if (suites_on(&b->o) == 0)
                dief("--suite %s: not one of %s, %s, %s", optarg, suites[0].name, suites[1].name,
                     suites[2].name);
            break;
        case 's':
            b->o.sleep_us = int_arg(optarg, 0, 10000000);
            break;
        case 'A':
            b->o.async = false;
            break;
        case 'j':
            b->o.json = optarg;
            break;
        case 'D':
            b->o.db_conninfo = optarg;
            break;
        default:
            usage();
        }
    }
    if (optind != argc)
        usage();
    if (strcmp(cmd, "keys-needed") == 0) {
        printf("%zu\n", keys_needed(&b->o));
        return 0;
    }
    if (b->o.module == NULL || b->o.maf_uri == NULL || b->o.maf_connect == NULL ||
        b->o.pki == NULL || b->o.warm_key == NULL || b->o.keys == NULL)
        usage();
    signal(SIGPIPE, SIG_IGN);
    parse_maf_uri(b);
    load_warm_key(b);
    load_cold_keys(b);
    if (b->n_cold < keys_needed(&b->o))
        dief("%zu cold keys in %s, %zu needed", b->n_cold, b->o.keys, keys_needed(&b->o));
    if (b->o.mafd_log != NULL && (b->mafd_log = fopen(b->o.mafd_log, "r")) == NULL)
        dief("%s: %s", b->o.mafd_log, strerror(errno));
    b->mafd_cpu_ok = b->o.mafd_pid > 0;
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
        die("curl_global_init");
    stats_init(b);
    (void)maf_retrievals(b); /* the MAF answers before anything is measured */

    /* The module starts its threads before this thread pins itself: they keep every CPU. */
    module_load(b);
    tls_setup(b);
    pin(b);
    b->timer_ns = timer_overhead_ns();
    now = time(NULL);
    strftime(date, sizeof(date), "%Y-%m-%d %H:%M:%S UTC", gmtime(&now));
    loadavg(load0, sizeof(load0));

    (void)prime(b, V_WARM);
    if (b->inst_db != NULL)
        b->db_retrievals = prime(b, V_WARM_DB);

    nv = variants_on(&b->o, vs);
    fprintf(stderr, "bench_handshake: warm-up\n");
    for (si = 0; si < N_SUITES; si++)
        for (k = 0; k < nv && suite_on(&b->o, si); k++)
            run_block(b, si, vs[k],
                      variant_cold(vs[k]) || vs[k] == V_SLEEP ? b->o.cold_warmup : b->o.warmup, -1);

    nblocks = (int)suites_on(&b->o) * nv;
    for (round = 0; round < b->o.rounds; round++) {
        fprintf(stderr, "bench_handshake: round %d/%d\n", round + 1, b->o.rounds);
        for (k = 0; k < nblocks; k++) {
            int idx = (k + round) % nblocks, skip = idx / nv;

            /* the (idx / nv)-th selected suite */
            for (si = 0; si < N_SUITES && (!suite_on(&b->o, si) || skip-- > 0); si++)
                ;
            v = vs[idx % nv];
            run_block(b, si, v, block_n(b, v), round);
        }
    }
    loadavg(load1, sizeof(load1));
    report(b, date, load0, load1);

    /* Contexts before the module whose callbacks they hold; the module stays mapped until exit
     * (OpenSSL's ex_data indexes keep pointers into it). */
    for (k = 0; k < N_CTX; k++)
        SSL_CTX_free(b->sctx[k]);
    for (si = 0; si < N_SUITES; si++)
        SSL_CTX_free(b->cctx[si]);
    b->mod->stop(b->inst);
    b->mod->destroy(b->inst);
    if (b->inst_db != NULL) { /* its stop() writes what its database writer still holds */
        b->mod->stop(b->inst_db);
        b->mod->destroy(b->inst_db);
    }
    curl_easy_cleanup(b->curl);
    curl_slist_free_all(b->connect_to);
    curl_global_cleanup();
    if (b->cold != NULL)
        OPENSSL_cleanse(b->cold, b->n_cold * sizeof(*b->cold));
    OPENSSL_cleanse(&b->warm, sizeof(b->warm));
    free(b->cold);
    free(b->resp);
    for (si = 0; si < N_SUITES; si++)
        for (v = 0; v < N_VARIANTS; v++) {
            free(b->s[si][v].cpu);
            free(b->s[si][v].wall);
        }
    if (b->mafd_log != NULL)
        fclose(b->mafd_log);
    return b->failures == 0 ? 0 : 1;
}
