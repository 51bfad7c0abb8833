/*
 * saef-mafd: the reference M2M Authentication Function of docs/maf-binding.md, used by the
 * integration and end-to-end tests and the demo.  State is in memory, or in PostgreSQL with
 * [maf] store = postgresql; see docs/reference-maf.md for how to run it.
 *
 *   saef-mafd -c FILE [-l ADDR:PORT] [--pidfile FILE] [--fault=MODE]
 */
#include <config.h>

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <event2/event.h>
#include <event2/http.h>
#include <openssl/ssl.h>

#include "mafd.h"

static void usage(FILE *f)
{
    fprintf(f, "usage: saef-mafd -c FILE [-l ADDR:PORT] [--pidfile FILE] [--fault=MODE]\n"
               "  -c, --config FILE   configuration (INI; see docs/reference-maf.md)\n"
               "  -l, --listen A:P    override [maf] listen; port 0 picks a free port\n"
               "      --pidfile FILE  write the process ID once listening; removed at exit\n"
               "      --fault=MODE    TEST ONLY: break key retrieval answers; MODE is one of\n"
               "                      stall garbage wrong-suid short-key expired\n"
               "                      duplicate-keys bad-source-id no-admin-fqdn\n"
               "  -h, --help\n");
}

static void on_signal(evutil_socket_t sig, short events, void *arg)
{
    mafd_t *d = arg;
    fprintf(stderr, "saef-mafd: %s, shutting down\n", sig == SIGTERM ? "SIGTERM" : "SIGINT");
    event_base_loopexit(d->base, NULL);
}

/* Expired registrations are already invisible; purging wipes their keys early (section 9). */
static void on_purge(evutil_socket_t fd, short events, void *arg)
{
    mafd_t *d = arg;
    size_t n = 0;
    if (d->store->ops->purge(d->store, time(NULL), &n) != SAEF_OK)
        fprintf(stderr, "saef-mafd: purging expired registrations failed\n");
    else if (n > 0)
        fprintf(stderr, "saef-mafd: purged %zu expired registration(s)\n", n);
}

static bool write_pidfile(const char *path)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0)
        return false;
    char buf[32];
    int n = snprintf(buf, sizeof(buf), "%ld\n", (long)getpid());
    bool ok = write(fd, buf, (size_t)n) == n;
    return close(fd) == 0 && ok;
}

/* The address actually bound (the port may have been 0), as "ADDR:PORT". */
static void bound_name(struct evhttp_bound_socket *bs, char *out, size_t outlen)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof(ss);
    char host[INET6_ADDRSTRLEN] = "?";
    unsigned port = 0;
    if (getsockname(evhttp_bound_socket_get_fd(bs), (struct sockaddr *)&ss, &len) == 0) {
        if (ss.ss_family == AF_INET) {
            const struct sockaddr_in *in = (const struct sockaddr_in *)&ss;
            inet_ntop(AF_INET, &in->sin_addr, host, sizeof(host));
            port = ntohs(in->sin_port);
        } else if (ss.ss_family == AF_INET6) {
            const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)&ss;
            inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof(host));
            port = ntohs(in6->sin6_port);
        }
    }
    snprintf(out, outlen, ss.ss_family == AF_INET6 ? "[%s]:%u" : "%s:%u", host, port);
}

/* Build everything that needs the configuration; false with a message on stderr. */
static bool setup(mafd_t *d, struct event **evs, size_t nevs, const char *pidfile,
                  bool *pid_written)
{
    char err[1024];
    if (mafd_tls_init(d, err, sizeof(err)) != SAEF_OK) {
        fprintf(stderr, "saef-mafd: %s\n", err);
        return false;
    }
    if (d->cfg.store == MAFD_STORE_POSTGRESQL) {
        /* A database that is down at start is a start-up error: serving 5000 to every
         * request instead would hide the misconfiguration. */
        d->store = mafd_store_pg_new(d->cfg.db_conninfo, d->cfg.db_schema, err, sizeof(err));
        if (d->store == NULL) {
            fprintf(stderr, "saef-mafd: %s\n", err);
            return false;
        }
    } else {
        d->store = mafd_store_mem_new();
    }
    d->base = event_base_new();
    d->http = d->base ? evhttp_new(d->base) : NULL;
    if (d->store == NULL || d->http == NULL) {
        fprintf(stderr, "saef-mafd: out of memory\n");
        return false;
    }
    evhttp_set_bevcb(d->http, mafd_tls_bevcb, d);
    evhttp_set_gencb(d->http, mafd_http_handle, d);
    /* Every method reaches the handler, which answers 4005 with Allow itself. */
    evhttp_set_allowed_methods(d->http, EVHTTP_REQ_GET | EVHTTP_REQ_POST | EVHTTP_REQ_HEAD |
                                            EVHTTP_REQ_PUT | EVHTTP_REQ_DELETE |
                                            EVHTTP_REQ_OPTIONS | EVHTTP_REQ_TRACE |
                                            EVHTTP_REQ_CONNECT | EVHTTP_REQ_PATCH);
    evhttp_set_max_body_size(d->http, MAFD_BODY_HARD_MAX);
    evhttp_set_max_headers_size(d->http, MAFD_HEADERS_MAX);
    evhttp_set_timeout(d->http, MAFD_IDLE_TIMEOUT);
    /* No text/html default on empty bodies; bodies get application/json explicitly. */
    evhttp_set_default_content_type(d->http, NULL);

    struct timeval purge = {.tv_sec = d->cfg.purge_interval};
    evs[0] = evsignal_new(d->base, SIGTERM, on_signal, d);
    evs[1] = evsignal_new(d->base, SIGINT, on_signal, d);
    evs[2] = event_new(d->base, -1, EV_PERSIST, on_purge, d);
    for (size_t i = 0; i < nevs; i++)
        if (evs[i] == NULL || event_add(evs[i], i == 2 ? &purge : NULL) != 0) {
            fprintf(stderr, "saef-mafd: cannot set up events\n");
            return false;
        }

    struct evhttp_bound_socket *bs =
        evhttp_bind_socket_with_handle(d->http, d->cfg.listen_host, d->cfg.listen_port);
    if (bs == NULL) {
        fprintf(stderr, "saef-mafd: [maf] listen: cannot listen on %s:%u\n", d->cfg.listen_host,
                d->cfg.listen_port);
        return false;
    }
    {
        /* Answers are small and come after the request is complete: without TCP_NODELAY each
         * one waits for Nagle and the client's delayed ACK (~40 ms).  Linux hands the option on
         * to accepted sockets. */
        int one = 1;

        if (setsockopt(evhttp_bound_socket_get_fd(bs), IPPROTO_TCP, TCP_NODELAY, &one,
                       sizeof(one)) != 0)
            fprintf(stderr, "saef-mafd: warning: TCP_NODELAY: %s\n", strerror(errno));
    }
    if (pidfile != NULL && !write_pidfile(pidfile)) {
        fprintf(stderr, "saef-mafd: --pidfile: cannot write %s\n", pidfile);
        return false;
    }
    *pid_written = pidfile != NULL;
    char name[INET6_ADDRSTRLEN + 16];
    bound_name(bs, name, sizeof(name));
    if (d->fault != MAFD_FAULT_NONE)
        fprintf(stderr,
                "saef-mafd: TEST-ONLY fault mode %s: key retrieval answers are broken "
                "on purpose; never use this instance for anything else\n",
                mafd_fault_name(d->fault));
    fprintf(stderr, "saef-mafd: listening on %s\n", name);
    return true;
}

int main(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"config", required_argument, NULL, 'c'},  {"listen", required_argument, NULL, 'l'},
        {"pidfile", required_argument, NULL, 'p'}, {"fault", required_argument, NULL, 'f'},
        {"help", no_argument, NULL, 'h'},          {NULL, 0, NULL, 0}};
    const char *config = NULL, *listen = NULL, *pidfile = NULL;
    mafd_t d = {.conn_idx = -1};
    int opt;
    while ((opt = getopt_long(argc, argv, "c:l:h", longopts, NULL)) != -1) {
        switch (opt) {
        case 'c':
            config = optarg;
            break;
        case 'l':
            listen = optarg;
            break;
        case 'p':
            pidfile = optarg;
            break;
        case 'f':
            if (!mafd_fault_parse(optarg, &d.fault) || d.fault == MAFD_FAULT_NONE) {
                fprintf(stderr, "saef-mafd: --fault: unknown mode \"%s\"\n", optarg);
                usage(stderr);
                return 2;
            }
            break;
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
    }
    if (config == NULL || optind != argc) {
        usage(stderr);
        return 2;
    }
    char err[768];
    if (mafd_config_load(config, &d.cfg, err, sizeof(err)) != SAEF_OK) {
        fprintf(stderr, "saef-mafd: %s\n", err);
        return 1;
    }
    if (listen != NULL && mafd_config_set_listen(&d.cfg, listen, err, sizeof(err)) != SAEF_OK) {
        fprintf(stderr, "saef-mafd: -l %s\n", err);
        mafd_config_free(&d.cfg);
        return 2;
    }
    /* A peer closing mid-write must not kill the daemon: the write then fails with EPIPE. */
    struct sigaction sa = {.sa_handler = SIG_IGN};
    sigemptyset(&sa.sa_mask);
    sigaction(SIGPIPE, &sa, NULL);

    struct event *evs[3] = {NULL, NULL, NULL};
    bool pid_written = false;
    bool ok = setup(&d, evs, 3, pidfile, &pid_written);
    if (ok && event_base_dispatch(d.base) != 0) {
        fprintf(stderr, "saef-mafd: event loop failed\n");
        ok = false;
    }
    for (size_t i = 0; i < 3; i++)
        if (evs[i] != NULL)
            event_free(evs[i]);
    /* evhttp_free closes every connection, freeing each SSL and its mafd_conn_t. */
    if (d.http != NULL)
        evhttp_free(d.http);
    if (d.base != NULL)
        event_base_free(d.base);
    mafd_store_free(d.store);
    mafd_tls_free(&d);
    mafd_config_free(&d.cfg);
    if (pid_written)
        unlink(pidfile);
    return ok ? 0 : 1;
}
