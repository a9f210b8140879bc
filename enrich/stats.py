"""Tail probabilities for the spike detector, in log10 so that huge spikes stay finite.

Hand-written because the only library that has them (scipy) is not a dependency; the
Poisson tail is the regularized incomplete gamma function, computed by its series or its
continued fraction (Numerical Recipes, 3rd ed., 6.2), whichever converges fast.
"""

from __future__ import annotations

import math

_LN10 = math.log(10.0)
_EPS = 1e-15
_TINY = 1e-300
_MAX_ITER = 100_000


def poisson_log10_sf(k: int, lam: float) -> float:
    """log10 P(X >= k) for X ~ Poisson(lam); 0.0 for k <= 0, -inf when lam is 0."""
    if k <= 0:
        return 0.0
    if lam <= 0:
        return -math.inf
    # log of the leading factor lam^k e^-lam / k!
    log_lead = k * math.log(lam) - lam - math.lgamma(k + 1)
    if lam < k + 1:
        # P(k, lam) by its series: lead * sum_n lam^n / ((k+1)...(k+n)); terms shrink
        term = total = 1.0
        n = 0
        while term > total * _EPS and n < _MAX_ITER:
            n += 1
            term *= lam / (k + n)
            total += term
        return (log_lead + math.log(total)) / _LN10
    # Q(k, lam) = 1 - P by its continued fraction (modified Lentz); here P >= ~0.5
    b = lam + 1.0 - k
    c = 1.0 / _TINY
    d = 1.0 / b
    h = d
    for i in range(1, _MAX_ITER):
        an = -i * (i - k)
        b += 2.0
        d = an * d + b
        d = d if abs(d) >= _TINY else _TINY
        c = b + an / c
        c = c if abs(c) >= _TINY else _TINY
        d = 1.0 / d
        delta = d * c
        h *= delta
        if abs(delta - 1.0) < _EPS:
            break
    q = math.exp(log_lead + math.log(k)) * h  # lam^k e^-lam / (k-1)! * h
    return math.log10(max(1.0 - q, _TINY))


def normal_log10_sf(z: float) -> float:
    """log10 P(Z >= z) for a standard normal Z."""
    p = 0.5 * math.erfc(z / math.sqrt(2.0))
    if p > 0:
        return math.log10(p)
    # erfc underflows beyond z ~ 38: the Mills-ratio asymptote is exact to many digits there
    return (-z * z / 2.0 - math.log(z * math.sqrt(2.0 * math.pi))) / _LN10
