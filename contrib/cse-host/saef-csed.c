/*
 * saef-csed: the reference host CSE.  A small oneM2M CSE front end (CSEBase RETRIEVE, the
 * module's management resources, From enforcement) over TLS-PSK (HTTP binding) and DTLS-PSK
 * (CoAP binding) that loads maf_saef.so exactly as a third-party CSE would: dlopen() and the one
 * entry point of include/saef/module.h, nothing else.
 *
 * This file: command line, logging and counters, loading the module, the SSL_CTX, signals and
 * an orderly shutdown.  The [cse] section and the host's PSK table are read by csed_config.c.
 * docs/reference-host.md describes the daemon for operators.
 */
#include "config.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <netdb.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <coap3/coap.h>
#include <event2/event.h>
#include <event2/thread.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include "csed.h"
#include "ini_pairs.h"

/* TLS 1.2 suites: the TS-0003 10.2.2 mandatory PSK-AES128-CBC-SHA256 first, then AEAD and
 * ECDHE-PSK suites (forward secrecy).  No DHE-PSK: it costs ~16 ms per handshake. */
#define CSED_TLS12_CIPHERS                                                                         \
    "PSK-AES128-CBC-SHA256:PSK-AES128-GCM-SHA256:PSK-AES128-CCM8:PSK-AES256-GCM-SHA384:"           \
    "ECDHE-PSK-AES128-CBC-SHA256:ECDHE-PSK-CHACHA20-POLY1305:PSK-CHACHA20-POLY1305"

/* ---- logging and counters ---- */

static const char *level_name(saef_log_level_t level)
{
    switch (level) {
    case SAEF_LOG_ERROR:
        return "error";
    case SAEF_LOG_WARNING:
        return "warning";
    case SAEF_LOG_NOTICE:
        return "notice";
    case SAEF_LOG_INFO:
        return "info";
    case SAEF_LOG_DEBUG:
        return "debug";
    }
    return "?";
}

/* One line, one write(2): lines of the loop thread, the CoAP thread and module threads never
 * interleave.  Control characters are replaced: peers choose identities and From values. */
static void log_line(saef_log_level_t level, const char *origin, const char *fmt, va_list ap)
{
    char line[2048];
    struct timespec ts;
    struct tm tm;
    size_t n, i, start;
    int k;

    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    n = strftime(line, sizeof(line), "%Y-%m-%dT%H:%M:%S", &tm);
    k = snprintf(line + n, sizeof(line) - n, ".%03ldZ %s %s: ", ts.tv_nsec / 1000000L, origin,
                 level_name(level));
    n += k > 0 ? (size_t)k : 0;
    start = n;
    k = vsnprintf(line + n, sizeof(line) - n - 1, fmt, ap);
    if (k > 0)
        n += (size_t)k < sizeof(line) - n - 1 ? (size_t)k : sizeof(line) - n - 2;
    for (i = start; i < n; i++)
        if ((unsigned char)line[i] < 0x20 || line[i] == 0x7f)
            line[i] = '?';
    line[n++] = '\n';
    for (i = 0; i < n;) {
        ssize_t w = write(STDERR_FILENO, line + i, n - i);

        if (w <= 0 && errno != EINTR)
            break;
        if (w > 0)
            i += (size_t)w;
    }
}

void csed_log(const csed_t *srv, saef_log_level_t level, const char *fmt, ...)
{
    va_list ap;

    if (level > srv->cfg.log_level)
        return;
    va_start(ap, fmt);
    log_line(level, "saef-csed", fmt, ap);
    va_end(ap);
}

static void module_log_v(saef_log_level_t level, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    log_line(level, "maf_saef", fmt, ap);
    va_end(ap);
}

/* The module's log callback: any module thread. */
static void host_log(void *host_ctx, saef_log_level_t level, const char *line)
{
    const csed_t *srv = host_ctx;

    if (level <= srv->cfg.log_level)
        module_log_v(level, "%s", line);
}

/* The module's close_connection hook: hand the request to the thread that owns the
 * connection. */
static void host_close_connection(void *host_ctx, void *conn, int is_coap)
{
    csed_t *srv = host_ctx;

    if (is_coap)
        csed_coap_request_close(srv, conn);
    else
        csed_tls_request_close(srv, conn);
}

void csed_count(csed_t *srv, csed_counter_t c)
{
    csed_counters_t *k = &srv->counters;

    pthread_mutex_lock(&k->lock);
    switch (c) {
    case CSED_CNT_TLS_OK:
        k->tls_ok++;
        break;
    case CSED_CNT_TLS_FAILED:
        k->tls_failed++;
        break;
    case CSED_CNT_TLS_TIMEOUT:
        k->tls_timeout++;
        break;
    case CSED_CNT_TLS_REFUSED:
        k->tls_refused++;
        break;
    case CSED_CNT_DTLS_OK:
        k->dtls_ok++;
        break;
    case CSED_CNT_DTLS_FAILED:
        k->dtls_failed++;
        break;
    }
    pthread_mutex_unlock(&k->lock);
}

void csed_count_rsc(csed_t *srv, int rsc)
{
    csed_counters_t *k = &srv->counters;
    size_t i;

    pthread_mutex_lock(&k->lock);
    for (i = 0; i < k->n_rsc && k->rsc[i].rsc != rsc; i++)
        ;
    if (i < k->n_rsc) {
        k->rsc[i].n++;
    } else if (k->n_rsc < CSED_RSC_SLOTS) {
        k->rsc[k->n_rsc].rsc = rsc;
        k->rsc[k->n_rsc++].n = 1;
    } else {
        k->rsc_other++;
    }
    pthread_mutex_unlock(&k->lock);
}

static int cmp_rsc(const void *a, const void *b)
{
    return *(const int *)a - *(const int *)b;
}

static void log_counters(csed_t *srv)
{
    csed_counters_t *k = &srv->counters;
    char rscs[1024] = "";
    size_t i, n = 0;

    pthread_mutex_lock(&k->lock);
    qsort(k->rsc, k->n_rsc, sizeof(k->rsc[0]), cmp_rsc);
    for (i = 0; i < k->n_rsc && n < sizeof(rscs); i++) {
        int w = snprintf(rscs + n, sizeof(rscs) - n, " %d=%lu", k->rsc[i].rsc, k->rsc[i].n);

        n += w > 0 ? (size_t)w : 0;
    }
    csed_log(srv, SAEF_LOG_NOTICE,
             "counters: tls handshakes ok=%lu failed=%lu timeout=%lu refused=%lu; dtls "
             "handshakes ok=%lu failed=%lu; requests by rsc:%s%s other=%lu",
             k->tls_ok, k->tls_failed, k->tls_timeout, k->tls_refused, k->dtls_ok, k->dtls_failed,
             k->n_rsc ? "" : " none", rscs, k->rsc_other);
    pthread_mutex_unlock(&k->lock);
}

/* ---- addresses ---- */

int csed_parse_listen(const char *s, struct sockaddr_storage *ss, unsigned *sslen)
{
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_NUMERICHOST | AI_NUMERICSERV | AI_PASSIVE};
    struct addrinfo *res = NULL;
    char host[128];
    const char *colon, *port;
    size_t hlen;
    char *end;
    long p;

    if (s[0] == '[') {
        const char *close = strchr(s, ']');

        if (close == NULL || close[1] != ':')
            return -1;
        hlen = (size_t)(close - s - 1);
        memcpy(host, s + 1, hlen < sizeof(host) ? hlen : 0);
        port = close + 2;
    } else {
        colon = strrchr(s, ':');
        if (colon == NULL || strchr(s, ':') != colon)
            return -1;
        hlen = (size_t)(colon - s);
        memcpy(host, s, hlen < sizeof(host) ? hlen : 0);
        port = colon + 1;
    }
    if (hlen == 0 || hlen >= sizeof(host))
        return -1;
    host[hlen] = '\0';
    errno = 0;
    p = strtol(port, &end, 10);
    if (*port == '\0' || *end != '\0' || errno != 0 || p < 0 || p > 65535)
        return -1;
    if (getaddrinfo(host, port, &hints, &res) != 0 || res == NULL)
        return -1;
    memcpy(ss, res->ai_addr, res->ai_addrlen);
    *sslen = (unsigned)res->ai_addrlen;
    freeaddrinfo(res);
    return 0;
}

void csed_format_addr(const void *sa_, char *buf, size_t len)
{
    const struct sockaddr *sa = sa_;
    char host[INET6_ADDRSTRLEN] = "?";

    if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = sa_;

        inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof(host));
        snprintf(buf, len, "[%s]:%u", host, ntohs(in6->sin6_port));
    } else if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *in = sa_;

        inet_ntop(AF_INET, &in->sin_addr, host, sizeof(host));
        snprintf(buf, len, "%s:%u", host, ntohs(in->sin_port));
    } else {
        snprintf(buf, len, "?");
    }
}

/* ---- the module ---- */

static int module_load(csed_t *srv, const ini_pairs_t *pairs)
{
    saef_module_entry_fn entry;
    char err[512];
    saef_rc_t rc;

    srv->dl = dlopen(srv->cfg.module, RTLD_NOW | RTLD_LOCAL);
    if (srv->dl == NULL) {
        csed_log(srv, SAEF_LOG_ERROR, "cannot load module %s: %s", srv->cfg.module, dlerror());
        return -1;
    }
    *(void **)&entry = dlsym(srv->dl, SAEF_MODULE_ENTRY_SYMBOL);
    if (entry == NULL) {
        csed_log(srv, SAEF_LOG_ERROR, "%s exports no %s: not a maf-saef module", srv->cfg.module,
                 SAEF_MODULE_ENTRY_SYMBOL);
        return -1;
    }
    srv->mod = entry(SAEF_ABI_MAJOR, SAEF_ABI_MINOR);
    if (srv->mod == NULL) {
        csed_log(srv, SAEF_LOG_ERROR,
                 "%s refused to load: its ABI major is not %u, or it was built for another "
                 "OpenSSL major or libcoap version than this process uses (%s, %s)",
                 srv->cfg.module, SAEF_ABI_MAJOR, OpenSSL_version(OPENSSL_VERSION),
                 coap_package_version());
        return -1;
    }
    /* Every slot this host calls must be inside the table the module handed us. */
    if (srv->mod->hdr.abi_major != SAEF_ABI_MAJOR ||
        !SAEF_HAS_FIELD(srv->mod, saef_module_t, admin_response_free)) {
        csed_log(srv, SAEF_LOG_ERROR, "%s: function table ABI %u.%u, %u bytes: too old",
                 srv->cfg.module, srv->mod->hdr.abi_major, srv->mod->hdr.abi_minor,
                 srv->mod->hdr.struct_size);
        srv->mod = NULL;
        return -1;
    }
    srv->api = (saef_host_api_t){
        .hdr = SAEF_ABI_HDR_INIT(saef_host_api_t),
        .host_ctx = srv,
        .log = host_log,
        .cse_id = srv->cfg.cse_id,
        .close_connection = host_close_connection,
    };
    rc = srv->mod->create(&srv->api, pairs->pairs, pairs->n, &srv->inst, err, sizeof(err));
    if (rc != SAEF_OK) {
        csed_log(srv, SAEF_LOG_ERROR, "module create: %s (%s)", err[0] ? err : "no detail",
                 srv->mod->strerror(rc));
        return -1;
    }
    rc = srv->mod->start(srv->inst);
    if (rc != SAEF_OK) {
        csed_log(srv, SAEF_LOG_ERROR, "module start: %s (reason logged above)",
                 srv->mod->strerror(rc));
        return -1;
    }
    csed_log(srv, SAEF_LOG_NOTICE, "module %s %s (ABI %u.%u) loaded from %s", srv->mod->name,
             srv->mod->version, srv->mod->hdr.abi_major, srv->mod->hdr.abi_minor, srv->cfg.module);
    return 0;
}

static void module_unload(csed_t *srv)
{
    if (srv->mod != NULL && srv->inst != NULL) {
        srv->mod->stop(srv->inst);
        srv->mod->destroy(srv->inst);
    }
    srv->inst = NULL;
    srv->mod = NULL;
    if (srv->dl != NULL)
        dlclose(srv->dl);
    srv->dl = NULL;
}

/* ---- TLS context ---- */

static int tls_ctx_setup(csed_t *srv)
{
    SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
    saef_psk_chain_t chain = {.hdr = SAEF_ABI_HDR_INIT(saef_psk_chain_t)};
    saef_rc_t rc;

    srv->ssl_ctx = ctx;
    if (ctx == NULL || !SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) ||
        !SSL_CTX_set_cipher_list(ctx, srv->cfg.tls_ciphers ? srv->cfg.tls_ciphers
                                                           : CSED_TLS12_CIPHERS)) {
        csed_log(srv, SAEF_LOG_ERROR, "TLS context: %s",
                 ERR_reason_error_string(ERR_peek_last_error()));
        return -1;
    }
    /* The handshake pauses (SSL_ERROR_WANT_ASYNC) while the module fetches a key; the driver
     * in csed_tls.c resumes it.  No renegotiation: the HTTP side (libevent) cannot drive one
     * and the binding is fixed at the handshake.  No resumption by default: the module's
     * attach_openssl enables it when its own policy (resumption = bounded) allows. */
    SSL_CTX_set_mode(ctx, SSL_MODE_ASYNC);
    SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_TICKET |
                                 SSL_OP_CIPHER_SERVER_PREFERENCE);
    SSL_CTX_set_num_tickets(ctx, 0);
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
    /* The application's slot: the host owns app_data; a module allocates its own indexes. */
    SSL_CTX_set_app_data(ctx, srv);
    /* The host's own PSK callback goes first: it serves alone when the module does not
     * attach, and the module keeps it (handed over in chain, since OpenSSL has no getter) for
     * identities that are not Key Identifiers.  TLS 1.3 uses it through OpenSSL's fallback
     * from the find-session to the PSK server callback. */
    if (srv->cfg.host_psk_file != NULL) {
        SSL_CTX_set_psk_server_callback(ctx, csed_tls_host_psk_cb);
        chain.psk_server = csed_tls_host_psk_cb;
    }
    rc = srv->mod->attach_openssl(srv->inst, ctx, &chain);
    if (rc == SAEF_OK) {
        srv->module_tls = 1;
    } else if (rc == SAEF_E_NOT_SUPPORTED) {
        csed_log(srv, SAEF_LOG_WARNING,
                 "module: attach_openssl not supported by this module build: TLS serves only "
                 "the host's own PSK identities (%zu in host_psk_file)",
                 srv->psk.n);
    } else {
        csed_log(srv, SAEF_LOG_ERROR, "module: attach_openssl: %s", srv->mod->strerror(rc));
        return -1;
    }
    if (!srv->module_tls && srv->psk.n == 0)
        csed_log(srv, SAEF_LOG_WARNING,
                 "no PSK source for TLS (module not attached, no host_psk_file entries): every "
                 "handshake will fail");
    return 0;
}

/* ---- signals, pidfile ---- */

static void on_signal(evutil_socket_t sig, short what, void *arg)
{
    csed_t *srv = arg;
    static const char *const names[] = {[SIGINT] = "SIGINT", [SIGTERM] = "SIGTERM"};

    (void)what;
    if (srv->stopping) {
        csed_log(srv, SAEF_LOG_NOTICE, "%s again: stopping now", names[sig]);
        event_base_loopbreak(srv->base);
        return;
    }
    srv->stopping = 1;
    csed_log(srv, SAEF_LOG_NOTICE, "%s: stopping", names[sig]);
    csed_tls_stop(srv);
}

static int write_pidfile(const char *path)
{
    char buf[32];
    int fd, n;

    fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0)
        return -1;
    n = snprintf(buf, sizeof(buf), "%ld\n", (long)getpid());
    if (write(fd, buf, (size_t)n) != n) {
        close(fd);
        return -1;
    }
    return close(fd);
}

static void usage(FILE *f)
{
    fprintf(f, "usage: saef-csed -c CONFIG.ini [--pidfile FILE] [-t]\n"
               "  -c, --config FILE   host configuration ([cse]) and the module's [saef] "
               "sections\n"
               "  -p, --pidfile FILE  write the process id once listening; removed at exit\n"
               "  -t, --check         load the configuration and the module, then exit\n"
               "  -V, --version       print the version\n"
               "  SIGTERM or SIGINT stops the daemon (exit status 0).\n");
}

/* ---- main ---- */

static void format_now(char *buf, size_t len)
{
    time_t now = time(NULL);
    struct tm tm;

    gmtime_r(&now, &tm);
    strftime(buf, len, "%Y%m%dT%H%M%S", &tm);
}

/* Start the event loop and the listeners, run until a signal, then tear down. */
static int serve(csed_t *srv, const char *pidfile)
{
    struct event *sigterm = NULL, *sigint = NULL;
    int status = 1;

    srv->base = event_base_new();
    if (srv->base == NULL) {
        csed_log(srv, SAEF_LOG_ERROR, "event_base_new failed");
        return 1;
    }
    if (tls_ctx_setup(srv) != 0 || csed_tls_start(srv) != 0)
        goto out;
    if (srv->cfg.coap_listen != NULL && csed_coap_start(srv) != 0)
        goto out;
    sigterm = evsignal_new(srv->base, SIGTERM, on_signal, srv);
    sigint = evsignal_new(srv->base, SIGINT, on_signal, srv);
    if (sigterm == NULL || sigint == NULL || evsignal_add(sigterm, NULL) != 0 ||
        evsignal_add(sigint, NULL) != 0) {
        csed_log(srv, SAEF_LOG_ERROR, "cannot install signal events");
        goto out;
    }
    if (pidfile != NULL && write_pidfile(pidfile) != 0) {
        csed_log(srv, SAEF_LOG_ERROR, "cannot write pidfile %s: %s", pidfile, strerror(errno));
        goto out;
    }
    /* Scripts wait for these lines: only now is everything in place (signals, pidfile). */
    printf("saef-csed: http listening on %s\n", srv->http_addr);
    if (srv->coap_addr[0] != '\0')
        printf("saef-csed: coap listening on %s\n", srv->coap_addr);
    fflush(stdout);
    if (event_base_dispatch(srv->base) < 0)
        csed_log(srv, SAEF_LOG_ERROR, "event loop failed");
    else
        status = 0;
    if (pidfile != NULL)
        unlink(pidfile);
out:
    /* Order (module.h, stop): first no handshake and no connection is left on the attached
     * contexts (CoAP thread joined, its sessions freed; every SSL freed), then the module stops
     * (no module thread calls the host afterwards, so the close-request queues can go), then
     * the contexts, and the module is destroyed last (module_unload). */
    csed_coap_release(srv);
    csed_tls_release(srv);
    if (srv->mod != NULL && srv->inst != NULL)
        srv->mod->stop(srv->inst);
    csed_coap_free(srv);
    csed_tls_free(srv);
    if (sigterm != NULL)
        event_free(sigterm);
    if (sigint != NULL)
        event_free(sigint);
    SSL_CTX_free(srv->ssl_ctx);
    srv->ssl_ctx = NULL;
    event_base_free(srv->base);
    srv->base = NULL;
    return status;
}

int main(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"config", required_argument, NULL, 'c'}, {"pidfile", required_argument, NULL, 'p'},
        {"check", no_argument, NULL, 't'},        {"version", no_argument, NULL, 'V'},
        {"help", no_argument, NULL, 'h'},         {NULL, 0, NULL, 0},
    };
    const char *cfg_path = NULL, *pidfile = NULL;
    csed_t srv;
    ini_pairs_t pairs = {0};
    char err[512];
    int opt, check = 0, status = 1;

    while ((opt = getopt_long(argc, argv, "c:p:tVh", longopts, NULL)) != -1) {
        switch (opt) {
        case 'c':
            cfg_path = optarg;
            break;
        case 'p':
            pidfile = optarg;
            break;
        case 't':
            check = 1;
            break;
        case 'V':
            printf("saef-csed %s\n", PACKAGE_VERSION);
            return 0;
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
    }
    if (cfg_path == NULL || optind != argc) {
        usage(stderr);
        return 2;
    }
    /* A peer that vanishes mid-write must not kill the daemon. */
    signal(SIGPIPE, SIG_IGN);

    memset(&srv, 0, sizeof(srv));
    pthread_mutex_init(&srv.counters.lock, NULL);
    srv.cfg.log_level = SAEF_LOG_NOTICE;
    if (csed_config_load(cfg_path, &srv.cfg, err, sizeof(err)) != 0) {
        fprintf(stderr, "saef-csed: %s\n", err);
        goto out;
    }
    if (srv.cfg.host_psk_file != NULL &&
        csed_psk_load(srv.cfg.host_psk_file, &srv.psk, err, sizeof(err)) != 0) {
        fprintf(stderr, "saef-csed: %s\n", err);
        goto out;
    }
    if (ini_pairs_load(cfg_path, &pairs, err, sizeof(err)) != 0) {
        fprintf(stderr, "saef-csed: %s\n", err);
        goto out;
    }
    format_now(srv.ct, sizeof(srv.ct));
    /* Module threads may ask the loop to close a connection: libevent needs its lock
     * callbacks before the base exists.  Both are process-wide by libevent's design. */
    if (evthread_use_pthreads() != 0) {
        fprintf(stderr, "saef-csed: evthread_use_pthreads failed\n");
        goto out;
    }
    /* libcoap's global start-up belongs to the application, never to the module. */
    coap_startup();
    if (module_load(&srv, &pairs) != 0)
        goto unload;
    if (check) {
        printf("saef-csed: configuration %s ok (module %s %s)\n", cfg_path, srv.mod->name,
               srv.mod->version);
        status = 0;
        goto unload;
    }
    status = serve(&srv, pidfile);
    log_counters(&srv);
unload:
    module_unload(&srv);
    coap_cleanup();
    if (status == 0 && !check)
        csed_log(&srv, SAEF_LOG_NOTICE, "stopped");
out:
    ini_pairs_free(&pairs);
    csed_psk_free(&srv.psk);
    csed_config_free(&srv.cfg);
    pthread_mutex_destroy(&srv.counters.lock);
    libevent_global_shutdown();
    return status;
}
