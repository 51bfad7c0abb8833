/* Jittered exponential back-off for reconnects (writer and listener). */
#include <time.h>
#include <unistd.h>

#include "saef_db_internal.h"

void db_backoff_init(db_backoff_t *b, uint32_t min_ms, uint32_t max_ms, uint64_t seed)
{
    b->min_ms = min_ms > 0 ? min_ms : 1;
    b->max_ms = max_ms >= b->min_ms ? max_ms : b->min_ms;
    b->cur_ms = b->min_ms;
    b->rng = seed != 0 ? seed : UINT64_C(0x9e3779b97f4a7c15);
}

static uint64_t xorshift(uint64_t *s)
{
    uint64_t x = *s;

    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    *s = x;
    return x;
}

uint32_t db_backoff_next(db_backoff_t *b)
{
    uint32_t nominal = b->cur_ms, half = nominal / 2;
    uint32_t wait = nominal - (uint32_t)(xorshift(&b->rng) % ((uint64_t)half + 1));

    b->cur_ms = nominal > b->max_ms / 2 ? b->max_ms : nominal * 2;
    return wait;
}

void db_backoff_reset(db_backoff_t *b)
{
    b->cur_ms = b->min_ms;
}

uint64_t db_backoff_seed(const void *obj)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)(uintptr_t)obj ^ ((uint64_t)ts.tv_nsec << 20) ^ (uint64_t)ts.tv_sec ^
           ((uint64_t)getpid() << 40);
}
