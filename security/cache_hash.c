/* SipHash-2-4 (Aumasson and Bernstein, 2012) for the key cache's table.  A keyed hash because
 * the Key Identifiers are chosen by whoever opens a handshake: with a plain hash they could all
 * be made to land in one bucket and turn O(1) lookups into a linear scan under the shard lock. */
#include "cache_internal.h"

static uint64_t rotl(uint64_t x, unsigned b)
{
    return (x << b) | (x >> (64u - b));
}

/* Little-endian load independent of the host's byte order and of alignment. */
static uint64_t load_le(const uint8_t *p, size_t n)
{
    uint64_t v = 0;

    for (size_t i = 0; i < n; i++)
        v |= (uint64_t)p[i] << (8u * i);
    return v;
}

struct sip {
    uint64_t v0, v1, v2, v3;
};

static void round_(struct sip *s)
{
    s->v0 += s->v1;
    s->v1 = rotl(s->v1, 13);
    s->v1 ^= s->v0;
    s->v0 = rotl(s->v0, 32);
    s->v2 += s->v3;
    s->v3 = rotl(s->v3, 16);
    s->v3 ^= s->v2;
    s->v0 += s->v3;
    s->v3 = rotl(s->v3, 21);
    s->v3 ^= s->v0;
    s->v2 += s->v1;
    s->v1 = rotl(s->v1, 17);
    s->v1 ^= s->v2;
    s->v2 = rotl(s->v2, 32);
}

static void absorb(struct sip *s, uint64_t m)
{
    s->v3 ^= m;
    round_(s);
    round_(s);
    s->v0 ^= m;
}

uint64_t saef_cache_siphash(const uint8_t key[16], const void *data, size_t len)
{
    const uint8_t *p = data;
    const uint64_t k0 = load_le(key, 8), k1 = load_le(key + 8, 8);
    struct sip s = {
        k0 ^ UINT64_C(0x736f6d6570736575),
        k1 ^ UINT64_C(0x646f72616e646f6d),
        k0 ^ UINT64_C(0x6c7967656e657261),
        k1 ^ UINT64_C(0x7465646279746573),
    };
    size_t full = len - len % 8u;

    for (size_t i = 0; i < full; i += 8)
        absorb(&s, load_le(p + i, 8));
    /* last block: the remaining bytes and the length's low byte on top */
    absorb(&s, load_le(p + full, len - full) | ((uint64_t)(len & 0xffu) << 56));
    s.v2 ^= 0xffu;
    for (int i = 0; i < 4; i++)
        round_(&s);
    return s.v0 ^ s.v1 ^ s.v2 ^ s.v3;
}
