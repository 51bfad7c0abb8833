/* Flights: one fetch of one Key Identifier and everyone waiting for it. */
#include "cache_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/crypto.h>

saef_cache_flight_t *saef_cache_flight_create(saef_cache_t *cache, const char *key, size_t len,
                                              uint64_t hash, const struct timespec *now)
{
    size_t size = sizeof(saef_cache_flight_t) + len + 1;
    saef_cache_flight_t *f = cache->mem.alloc(cache->mem.ctx, size);

    if (f == NULL)
        return NULL;
    memset(f, 0, size);
    if (pthread_mutex_init(&f->lock, NULL) != 0) {
        cache->mem.free(cache->mem.ctx, f, size);
        return NULL;
    }
    if (pthread_cond_init(&f->cond, NULL) != 0) {
        pthread_mutex_destroy(&f->lock);
        cache->mem.free(cache->mem.ctx, f, size);
        return NULL;
    }
    f->cache = cache;
    f->hash = hash;
    f->deadline = cache_ts_add_ms(now, cache->flight_timeout_ms);
    f->mem = cache->mem;
    f->alloc_size = size;
    atomic_init(&f->refs, 2u);
    f->key_len = len;
    memcpy(f->key, key, len);
    return f;
}

static void destroy(saef_cache_flight_t *f)
{
    saef_cache_allocator_t mem = f->mem;
    size_t size = f->alloc_size;

    /* Descriptors are closed when they are signalled; any left belong to a flight that never
     * finished (only possible for a discarded one), and must not leak. */
    for (size_t i = 0; i < f->nfds; i++)
        close(f->fds[i].dup);
    free(f->fds);
    pthread_cond_destroy(&f->cond);
    pthread_mutex_destroy(&f->lock);
    OPENSSL_cleanse(f, size);
    mem.free(mem.ctx, f, size);
}

void saef_cache_flight_discard(saef_cache_flight_t *flight)
{
    if (flight != NULL)
        destroy(flight);
}

void saef_cache_flight_release(saef_cache_flight_t *flight)
{
    if (flight == NULL)
        return;
    /* acq_rel: the last releaser must see every write the others made before theirs. */
    if (atomic_fetch_sub_explicit(&flight->refs, 1u, memory_order_acq_rel) == 1u)
        destroy(flight);
}

/* Make fd readable.  An eventfd at its maximum count (EAGAIN) is readable already. */
static void signal_fd(int fd)
{
    const uint64_t one = 1;
    ssize_t n;

    do
        n = write(fd, &one, sizeof(one));
    while (n < 0 && errno == EINTR);
}

bool saef_cache_flight_finish(saef_cache_flight_t *f, saef_rc_t rc, const saef_cache_value_t *value)
{
    struct flight_fd *fds;
    size_t nfds;

    pthread_mutex_lock(&f->lock);
    if (f->done) {
        pthread_mutex_unlock(&f->lock);
        return false;
    }
    f->done = true;
    f->rc = rc;
    if (rc == SAEF_OK && value != NULL)
        f->value = *value;
    fds = f->fds;
    nfds = f->nfds;
    f->fds = NULL;
    f->nfds = f->fds_cap = 0;
    if (nfds > 0)
        f->signalling++;
    pthread_cond_broadcast(&f->cond);
    pthread_mutex_unlock(&f->lock);

    if (nfds == 0) {
        free(fds); /* everyone unsubscribed: an empty list may still be allocated */
        return true;
    }
    /* The writes happen without the lock: a slow descriptor must not stall the waiters. */
    for (size_t i = 0; i < nfds; i++) {
        signal_fd(fds[i].dup);
        close(fds[i].dup);
    }
    free(fds);
    pthread_mutex_lock(&f->lock);
    f->signalling--;
    pthread_cond_broadcast(&f->cond);
    pthread_mutex_unlock(&f->lock);
    return true;
}

/* Copy the finished result out; f->lock held. */
static saef_rc_t result_locked(const saef_cache_flight_t *f, saef_cache_value_t *out_value)
{
    if (f->rc == SAEF_OK && out_value != NULL)
        *out_value = f->value;
    return f->rc;
}

saef_rc_t saef_cache_flight_wait(saef_cache_flight_t *flight, const struct timespec *deadline,
                                 saef_cache_value_t *out_value)
{
    const struct timespec *until;
    bool flight_deadline;
    saef_rc_t rc;
    int err = 0;

    if (flight == NULL || (deadline != NULL && !cache_ts_valid(deadline)))
        return SAEF_E_INVALID_ARG;
    flight_deadline = deadline == NULL || cache_ts_cmp(&flight->deadline, deadline) <= 0;
    until = flight_deadline ? &flight->deadline : deadline;

    pthread_mutex_lock(&flight->lock);
    /* 0 is a wake-up (perhaps spurious): look again.  Anything else is ETIMEDOUT. */
    while (!flight->done && err == 0)
        err = pthread_cond_timedwait(&flight->cond, &flight->lock, until);
    if (flight->done) {
        rc = result_locked(flight, out_value);
        pthread_mutex_unlock(&flight->lock);
        return rc;
    }
    pthread_mutex_unlock(&flight->lock);
    if (!flight_deadline)
        return SAEF_E_TIMEOUT;
    /* The flight itself is overdue: end it for everyone, then report whatever won (a completion
     * may have slipped in just before). */
    saef_cache_flight_expire(flight);
    pthread_mutex_lock(&flight->lock);
    rc = result_locked(flight, out_value);
    pthread_mutex_unlock(&flight->lock);
    return rc;
}

bool saef_cache_flight_poll(saef_cache_flight_t *flight, const struct timespec *now,
                            saef_rc_t *out_rc, saef_cache_value_t *out_value)
{
    bool done;

    if (flight == NULL || out_rc == NULL || (now != NULL && !cache_ts_valid(now))) {
        if (out_rc != NULL)
            *out_rc = SAEF_E_INVALID_ARG;
        return true;
    }
    pthread_mutex_lock(&flight->lock);
    done = flight->done;
    if (done)
        *out_rc = result_locked(flight, out_value);
    pthread_mutex_unlock(&flight->lock);
    if (done || now == NULL || cache_ts_cmp(now, &flight->deadline) < 0)
        return done;

    saef_cache_flight_expire(flight);
    pthread_mutex_lock(&flight->lock);
    *out_rc = result_locked(flight, out_value);
    pthread_mutex_unlock(&flight->lock);
    return true;
}

saef_rc_t saef_cache_flight_subscribe_fd(saef_cache_flight_t *flight, int fd)
{
    int dup;

    if (flight == NULL || fd < 0)
        return SAEF_E_INVALID_ARG;
    /* Our own descriptor: the caller may close fd whenever it likes without the number being
     * reused under us (we would write 8 bytes into someone else's socket). */
    dup = fcntl(fd, F_DUPFD_CLOEXEC, 0);
    if (dup < 0)
        return SAEF_E_IO;

    pthread_mutex_lock(&flight->lock);
    if (flight->done) {
        pthread_mutex_unlock(&flight->lock);
        signal_fd(dup);
        close(dup);
        return SAEF_OK;
    }
    if (flight->nfds == flight->fds_cap) {
        size_t ncap = flight->fds_cap == 0 ? 4 : flight->fds_cap * 2;
        struct flight_fd *n = realloc(flight->fds, ncap * sizeof(*n));

        if (n == NULL) {
            pthread_mutex_unlock(&flight->lock);
            close(dup);
            return SAEF_E_NOMEM;
        }
        flight->fds = n;
        flight->fds_cap = ncap;
    }
    flight->fds[flight->nfds].fd = fd;
    flight->fds[flight->nfds].dup = dup;
    flight->nfds++;
    pthread_mutex_unlock(&flight->lock);
    return SAEF_OK;
}

saef_rc_t saef_cache_flight_unsubscribe_fd(saef_cache_flight_t *flight, int fd)
{
    int dup = -1;

    if (flight == NULL || fd < 0)
        return SAEF_E_INVALID_ARG;
    pthread_mutex_lock(&flight->lock);
    for (size_t i = 0; i < flight->nfds; i++) {
        if (flight->fds[i].fd == fd) {
            dup = flight->fds[i].dup;
            flight->fds[i] = flight->fds[flight->nfds - 1];
            flight->nfds--;
            break;
        }
    }
    /* A finish that already took the list may still write to the file: wait it out, so that
     * the caller can reuse the descriptor for something else as soon as we return. */
    while (flight->signalling > 0)
        pthread_cond_wait(&flight->cond, &flight->lock);
    pthread_mutex_unlock(&flight->lock);
    if (dup < 0)
        return SAEF_E_NOT_FOUND;
    close(dup);
    return SAEF_OK;
}

saef_rc_t saef_cache_flight_deadline(const saef_cache_flight_t *flight, struct timespec *out)
{
    if (flight == NULL || out == NULL)
        return SAEF_E_INVALID_ARG;
    *out = flight->deadline; /* fixed at creation: no lock needed */
    return SAEF_OK;
}
