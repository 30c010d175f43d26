"""Independent reference for libs/core/src/base/rng.ts: xoshiro128** seeded by splitmix32.

Prints the first outputs for a seed; the unit test pins them.
Usage: python3 tools/rng_reference.py [seed] [count]
"""
import sys

M = 0xFFFFFFFF


def splitmix32(seed):
    a = seed & M
    while True:
        a = (a + 0x9E3779B9) & M
        z = a
        z = ((z ^ (z >> 16)) * 0x21F0AAAD) & M
        z = ((z ^ (z >> 15)) * 0x735A2D97) & M
        yield (z ^ (z >> 15)) & M


def rotl(x, k):
    return ((x << k) | (x >> (32 - k))) & M


def xoshiro128ss(seed):
    gen = splitmix32(seed)
    s = [next(gen) for _ in range(4)]
    while True:
        result = (rotl((s[1] * 5) & M, 7) * 9) & M
        t = (s[1] << 9) & M
        s[2] ^= s[0]
        s[3] ^= s[1]
        s[1] ^= s[2]
        s[0] ^= s[3]
        s[2] ^= t
        s[3] = rotl(s[3], 11)
        yield result


if __name__ == "__main__":
    seed = int(sys.argv[1]) if len(sys.argv) > 1 else 0
    count = int(sys.argv[2]) if len(sys.argv) > 2 else 3
    g = xoshiro128ss(seed)
    print([next(g) for _ in range(count)])
