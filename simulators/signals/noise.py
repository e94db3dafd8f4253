"""Deterministic randomness: every draw is a pure function of integer keys, never of call order.

A value at time t must come out the same whether a device sends every minute or every hour, whichever
order the fleet's devices are generated in, and in every run with the same seed. So nothing here keeps
state: ``unit(seed, key...)`` hashes its keys (splitmix64) into [0, 1), and the smooth noises interpolate
between hashed lattice points.
"""

from __future__ import annotations

import math

_MASK = (1 << 64) - 1
_GOLDEN = 0x9E3779B97F4A7C15
_TWO_53 = float(1 << 53)
_TWO_32 = float(1 << 32)


def _splitmix(value: int) -> int:
    value = (value + _GOLDEN) & _MASK
    value = ((value ^ (value >> 30)) * 0xBF58476D1CE4E5B9) & _MASK
    value = ((value ^ (value >> 27)) * 0x94D049BB133111EB) & _MASK
    return value ^ (value >> 31)


def mix(*keys: int) -> int:
    """A 64-bit hash of the integer keys (negative keys are fine), order-sensitive."""
    state = _GOLDEN
    for key in keys:
        state = _splitmix(state ^ (key & _MASK))
    return state


def text_key(text: str) -> int:
    """A stable integer key for a name (Python's ``hash`` of a str changes between runs)."""
    state = 0
    for byte in text.encode("utf-8"):
        state = _splitmix(state ^ byte)
    return state


def unit(*keys: int) -> float:
    """A uniform number in [0, 1) for these keys."""
    return (mix(*keys) >> 11) / _TWO_53


def normal(*keys: int) -> float:
    """A standard normal number for these keys (Box-Muller on the two 32-bit halves of one hash)."""
    bits = mix(*keys)
    u1 = (bits >> 32) / _TWO_32
    u2 = (bits & 0xFFFF_FFFF) / _TWO_32
    return math.sqrt(-2.0 * math.log1p(-u1)) * math.cos(2.0 * math.pi * u2)


def smooth(seed: int, t: float, period: float) -> float:
    """Noise in [-1, 1] that changes smoothly over about ``period`` seconds (cosine-interpolated lattice)."""
    x = t / period
    k = math.floor(x)
    w = (1.0 - math.cos(math.pi * (x - k))) / 2.0
    a = 2.0 * unit(seed, k) - 1.0
    b = 2.0 * unit(seed, k + 1) - 1.0
    return a + (b - a) * w


def fractal(seed: int, t: float, period: float, octaves: int = 3) -> float:
    """Weather-like noise in [-1, 1]: slow swings with faster, weaker wiggles on top."""
    total = 0.0
    weight = 1.0
    norm = 0.0
    for octave in range(octaves):
        total += weight * smooth(mix(seed, octave), t, period / (2**octave))
        norm += weight
        weight /= 2.0
    return total / norm


def poisson(mean: float, *keys: int) -> int:
    """A Poisson count with this mean: exact inversion for small means, the normal approximation above."""
    if mean <= 0.0:
        return 0
    if mean > 50.0:
        return max(0, round(mean + math.sqrt(mean) * normal(*keys)))
    target = unit(*keys)
    probability = math.exp(-mean)
    cumulative = probability
    count = 0
    while cumulative <= target and count < 1000:
        count += 1
        probability *= mean / count
        cumulative += probability
    return count


def bounded(value: float, low: float, high: float) -> float:
    """``value`` kept inside [low, high]: signals say their realistic bounds explicitly."""
    return min(high, max(low, value))
