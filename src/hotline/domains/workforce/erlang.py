"""Erlang B, Erlang C (M/M/N) and Erlang A (M/M/N+M) maths for staffing (R-C7).

Units — one convention for the whole module:

* ``arrival_rate``: calls per **second** (λ). Convert a forecast volume with
  :func:`calls_per_second`, e.g. ``calls_per_second(100, 1800)`` for 100 calls per 30 min.
* ``aht``: average handling time in seconds (1/μ).
* ``patience``: mean caller patience in seconds (1/θ, exponential); Erlang A only.
  ``np.inf`` means callers never abandon and the Erlang C result is returned.
* ``target_time``, ``max_asa``: seconds. ``target_sl``, ``max_occupancy``, ``max_abandon``:
  fractions in (0, 1].
* ``agents``: non-negative integers (agents available to take calls).
* ``load``: offered traffic in Erlangs, ``A = arrival_rate * aht``.

Every function accepts scalars or numpy arrays, broadcasts them against each other (e.g.
arrival rates of shape (96, 50) with a scalar AHT) and returns an ``ndarray`` of the broadcast
shape (0-d for scalar inputs). Functions are pure: no I/O, no state.

Numerics. Nothing is computed as ``A**N / N!``: Erlang B comes from the regularized upper
incomplete gamma, ``1/B(N, A) = Q(N+1, A) / pois(N; A)``, with ``log pois`` evaluated by
Loader's saddle-point form (``stirlerr`` + ``bd0``) so that it keeps ~1e-15 absolute accuracy
at N, A ~ 1e5 and beyond. Where the incomplete gamma underflows (far tails), the same ratio is
summed as a convergent series instead. Erlang A uses the exact birth–death solution written
with the regularized lower incomplete gamma (Garnett, Mandelbaum & Reiman 2002; Mandelbaum &
Zeltyn 2007), evaluated the same way. All combinations of terms happen in log space.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy import special

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]
BoolArray = NDArray[np.bool_]

__all__ = [
    "calls_per_second",
    "erlang_a_asa",
    "erlang_a_mean_wait",
    "erlang_a_occupancy",
    "erlang_a_p_abandon",
    "erlang_a_p_wait",
    "erlang_a_service_level",
    "erlang_a_staffing",
    "erlang_b",
    "erlang_c_asa",
    "erlang_c_occupancy",
    "erlang_c_p_wait",
    "erlang_c_service_level",
    "erlang_c_staffing",
    "offered_load",
]

# Below this the incomplete gamma is in (or near) underflow; switch to the series form.
_TINY = 1e-280
# Relative size of the last series term we still add (below double precision).
_SERIES_RTOL = 1e-17
_SERIES_BLOCK = 32
_LOG_2PI = math.log(2.0 * math.pi)
# Coefficients of the Stirling-series remainder (Loader 2000, "Fast and accurate computation
# of binomial probabilities").
_S0 = 1.0 / 12.0
_S1 = 1.0 / 360.0
_S2 = 1.0 / 1260.0
_S3 = 1.0 / 1680.0
_S4 = 1.0 / 1188.0
# Width (in standard deviations) of the Poisson window summed for the answered-ASA series;
# e^{-50} is far below double precision.
_WINDOW_SD = 10.0
_WINDOW_PAD = 30.0
_WINDOW_CHUNK = 128
_MAX_DOUBLINGS = 62


# --------------------------------------------------------------------------------------------
# Input handling
# --------------------------------------------------------------------------------------------


def _broadcast(*args: ArrayLike) -> tuple[tuple[int, ...], list[FloatArray]]:
    """Broadcast inputs to one shape; return the shape and flat float64 copies."""
    arrays = np.broadcast_arrays(*(np.asarray(a, dtype=np.float64) for a in args))
    shape = arrays[0].shape
    return shape, [np.array(a, dtype=np.float64).ravel() for a in arrays]


def _check_agents(agents: FloatArray) -> None:
    if not np.all((agents >= 0) & np.isfinite(agents) & (agents == np.floor(agents))):
        raise ValueError("agents must be non-negative integers")


def _check_range(
    name: str,
    values: FloatArray,
    *,
    low: float,
    high: float = math.inf,
    low_open: bool = False,
    high_open: bool = False,
) -> None:
    """Raise if any value is NaN or outside the interval (NaN fails both comparisons)."""
    above = values > low if low_open else values >= low
    below = values < high if high_open else values <= high
    if not np.all(above & below):
        lb = "(" if low_open else "["
        rb = ")" if high_open else "]"
        raise ValueError(f"{name} must lie in {lb}{low}, {high}{rb}")


def _check_rates(arrival_rate: FloatArray, aht: FloatArray) -> None:
    _check_range("arrival_rate", arrival_rate, low=0.0, high_open=True)
    _check_range("aht", aht, low=0.0, low_open=True, high_open=True)


def _check_patience(patience: FloatArray) -> None:
    # inf is allowed on purpose: it means "no abandonment" (Erlang C).
    _check_range("patience", patience, low=0.0, low_open=True)


def _check_time(name: str, t: FloatArray) -> None:
    _check_range(name, t, low=0.0, high_open=True)


# --------------------------------------------------------------------------------------------
# Special-function building blocks (all on flat float64 arrays)
# --------------------------------------------------------------------------------------------


def _stirlerr(n: FloatArray) -> FloatArray:
    """log Γ(n+1) − [(n+½)·log n − n + ½·log 2π], for n > 15 (asymptotic series)."""
    nn = n * n
    out: FloatArray = (_S0 - (_S1 - (_S2 - (_S3 - _S4 / nn) / nn) / nn) / nn) / n
    return out


def _bd0(k: FloatArray, lam: FloatArray) -> FloatArray:
    """k·log(k/λ) + λ − k ≥ 0 without cancellation when k ≈ λ (λ > 0, k > 0)."""
    d = (k - lam) / lam
    near = np.abs(d) < 0.5
    # Near k = λ the naive form cancels; λ·((1+d)·log1p(d) − d) keeps absolute accuracy.
    with np.errstate(divide="ignore", invalid="ignore"):
        out = np.where(near, lam * ((1.0 + d) * np.log1p(d) - d), k * np.log(k / lam) + lam - k)
    return np.asarray(out, dtype=np.float64)


def _log_pois(k: FloatArray, lam: FloatArray) -> FloatArray:
    """log(λ^k e^{−λ} / Γ(k+1)) for real k ≥ 0, λ ≥ 0 (any shape)."""
    out = np.empty(np.broadcast(k, lam).shape, dtype=np.float64)
    small = k <= 15.0
    with np.errstate(divide="ignore", invalid="ignore"):
        ks, ls = k[small], lam[small]
        # Small k: the terms are small too, so the direct form has no damaging cancellation.
        out[small] = special.xlogy(ks, ls) - ls - special.gammaln(ks + 1.0)
        big = ~small
        kb, lb = k[big], lam[big]
        val = -_stirlerr(kb) - 0.5 * (_LOG_2PI + np.log(kb)) - _bd0(kb, lb)
        out[big] = np.where(lb > 0.0, val, -np.inf)
    return out


def _log_series_lower(x: FloatArray, a: FloatArray) -> FloatArray:
    """log Σ_{j≥0} Π_{i=1..j} x/(a+i), used only where x is well below a (fast convergence)."""
    # Terms are generated in blocks with cumprod to keep the Python loop short.
    out = np.zeros_like(x)
    idx = np.arange(x.size)
    xs, as_ = x.copy(), a.copy()
    last = np.ones_like(x)
    total = np.ones_like(x)
    j = 1.0
    steps = np.arange(_SERIES_BLOCK, dtype=np.float64)
    while idx.size:
        terms = last[:, None] * np.cumprod(xs[:, None] / (as_[:, None] + j + steps), axis=1)
        total += terms.sum(axis=1)
        last = terms[:, -1]
        j += _SERIES_BLOCK
        done = last <= _SERIES_RTOL * total
        if done.any():
            out[idx[done]] = np.log(total[done])
            keep = ~done
            idx, xs, as_, last, total = idx[keep], xs[keep], as_[keep], last[keep], total[keep]
    return out


def _log_j_tail(x: FloatArray, a: FloatArray) -> FloatArray:
    """log J(x, a) = log ₁F₁(1; a+1; x) where P(a, x) underflows (so x is well below a).

    The direct series needs about 40 / log((a+1)/x) terms; where that is long (huge a with
    x/a near 1, e.g. patience → ∞) scipy's ``hyp1f1`` is used instead, keeping the series as
    the reference and as fallback should ``hyp1f1`` return something unusable.
    """
    out = np.empty_like(x)
    with np.errstate(divide="ignore"):
        terms = 40.0 / np.log((a + 1.0) / x)
    long = terms > 8 * _SERIES_BLOCK
    if long.any():
        val = np.asarray(special.hyp1f1(1.0, a[long] + 1.0, x[long]), dtype=np.float64)
        bad = ~(np.isfinite(val) & (val >= 1.0))
        with np.errstate(divide="ignore", invalid="ignore"):
            out[long] = np.log(val)
        long[np.flatnonzero(long)[bad]] = False
    short = ~long
    if short.any():
        out[short] = _log_series_lower(x[short], a[short])
    return out


def _log_series_upper(n: FloatArray, load: FloatArray) -> FloatArray:
    """log Σ_{j=0..n} Π_{i=0..j−1} (n−i)/A = log(1/B(n, A)), used only where n is well below A."""
    out = np.zeros_like(n)
    idx = np.arange(n.size)
    ns, ls = n.copy(), load.copy()
    last = np.ones_like(n)
    total = np.ones_like(n)
    j = 0.0
    steps = np.arange(_SERIES_BLOCK, dtype=np.float64)
    while idx.size:
        # Factors hit exactly zero once i > n, so the (finite) sum terminates by itself.
        factors = np.maximum(ns[:, None] - (j + steps), 0.0) / ls[:, None]
        terms = last[:, None] * np.cumprod(factors, axis=1)
        total += terms.sum(axis=1)
        last = terms[:, -1]
        j += _SERIES_BLOCK
        done = last <= _SERIES_RTOL * total
        if done.any():
            out[idx[done]] = np.log(total[done])
            keep = ~done
            idx, ns, ls, last, total = idx[keep], ns[keep], ls[keep], last[keep], total[keep]
    return out


def _log_inv_erlang_b(n: FloatArray, load: FloatArray) -> FloatArray:
    """log(1/B(n, A)) ≥ 0 for integer n ≥ 0 and A > 0 (flat arrays)."""
    q = np.asarray(special.gammaincc(n + 1.0, load), dtype=np.float64)
    out = np.empty_like(load)
    good = q > _TINY
    with np.errstate(divide="ignore"):
        out[good] = np.log(q[good]) - _log_pois(n[good], load[good])
    bad = ~good
    if bad.any():
        out[bad] = _log_series_upper(n[bad], load[bad])
    # 1/B ≥ 1 exactly; rounding must not push the log below 0 (it would make P(wait) > 1).
    return np.maximum(out, 0.0)


def _log_gammainc(b: FloatArray, y: FloatArray) -> FloatArray:
    """log P(b, y), the log regularized lower incomplete gamma, b ≥ 0, y ≥ 0 (flat arrays)."""
    with np.errstate(invalid="ignore"):
        p = np.asarray(special.gammainc(b, y), dtype=np.float64)
    out = np.empty_like(y)
    good = p > _TINY
    out[good] = np.log(p[good])
    bad = ~good
    if bad.any():
        bb, yb = b[bad], y[bad]
        res = np.full(bb.shape, -np.inf)
        pos = yb > 0.0
        # P(b, y) = pois(b; y) · Σ_j Π_{i≤j} y/(b+i); the series converges fast here (y ≪ b).
        res[pos] = _log_pois(bb[pos], yb[pos]) + _log_j_tail(yb[pos], bb[pos])
        out[bad] = res
    return out


# --------------------------------------------------------------------------------------------
# Unit helpers
# --------------------------------------------------------------------------------------------


def calls_per_second(calls: ArrayLike, interval: ArrayLike = 1800.0) -> FloatArray:
    """Convert a volume of ``calls`` per interval of ``interval`` seconds to calls per second."""
    shape, (c, i) = _broadcast(calls, interval)
    _check_range("calls", c, low=0.0, high_open=True)
    _check_range("interval", i, low=0.0, low_open=True, high_open=True)
    return (c / i).reshape(shape)


def offered_load(arrival_rate: ArrayLike, aht: ArrayLike) -> FloatArray:
    """Offered traffic in Erlangs, ``A = arrival_rate [1/s] * aht [s]``."""
    shape, (lam, h) = _broadcast(arrival_rate, aht)
    _check_rates(lam, h)
    return (lam * h).reshape(shape)


# --------------------------------------------------------------------------------------------
# Erlang B and C
# --------------------------------------------------------------------------------------------


def erlang_b(agents: ArrayLike, load: ArrayLike) -> FloatArray:
    """Erlang B blocking probability B(N, A) of an M/M/N/N loss system (load A in Erlangs)."""
    shape, (n, a) = _broadcast(agents, load)
    _check_agents(n)
    _check_range("load", a, low=0.0, high_open=True)
    out = np.where(n == 0, 1.0, 0.0)  # no traffic: nothing is blocked unless N = 0
    pos = a > 0
    out[pos] = np.exp(-_log_inv_erlang_b(n[pos], a[pos]))
    return out.reshape(shape)


def _erlang_c_flat(n: FloatArray, load: FloatArray) -> FloatArray:
    """P(wait) of M/M/N: 1 when N ≤ A (unstable), 0 without traffic."""
    out = np.where(load > 0, 1.0, 0.0)
    s = (n > load) & (load > 0)
    if s.any():
        lb = _log_inv_erlang_b(n[s], load[s])
        rho = load[s] / n[s]
        # 1/C = 1 + (1 − ρ)(1/B − 1); expm1 may overflow to inf, which correctly gives C = 0.
        with np.errstate(over="ignore"):
            out[s] = 1.0 / (1.0 + (1.0 - rho) * np.expm1(lb))
    return out


def erlang_c_p_wait(agents: ArrayLike, arrival_rate: ArrayLike, aht: ArrayLike) -> FloatArray:
    """Erlang C probability that a caller waits, P(W > 0), in M/M/N.

    Returns 1 when ``agents <= load`` (the queue is unstable) and 0 when ``arrival_rate`` is 0.
    """
    shape, (n, lam, h) = _broadcast(agents, arrival_rate, aht)
    _check_agents(n)
    _check_rates(lam, h)
    return _erlang_c_flat(n, lam * h).reshape(shape)


def _erlang_c_sl_flat(n: FloatArray, load: FloatArray, h: FloatArray, t: FloatArray) -> FloatArray:
    pw = _erlang_c_flat(n, load)
    stable = n > load
    with np.errstate(invalid="ignore", over="ignore"):
        sl = 1.0 - pw * np.exp(-(n - load) * t / h)
    sl = np.where(stable, sl, 0.0)
    return np.asarray(np.clip(np.where(load > 0, sl, 1.0), 0.0, 1.0), dtype=np.float64)


def erlang_c_service_level(
    agents: ArrayLike, arrival_rate: ArrayLike, aht: ArrayLike, target_time: ArrayLike
) -> FloatArray:
    """Erlang C service level P(W ≤ t) = 1 − C·exp(−(N − A)·t / AHT).

    In Erlang C every caller is answered, so this is also the fraction of calls answered
    within ``target_time`` seconds. 0 when the queue is unstable, 1 without traffic.
    """
    shape, (n, lam, h, t) = _broadcast(agents, arrival_rate, aht, target_time)
    _check_agents(n)
    _check_rates(lam, h)
    _check_time("target_time", t)
    return _erlang_c_sl_flat(n, lam * h, h, t).reshape(shape)


def _erlang_c_asa_flat(n: FloatArray, load: FloatArray, h: FloatArray) -> FloatArray:
    pw = _erlang_c_flat(n, load)
    with np.errstate(divide="ignore", invalid="ignore"):
        asa = np.where(n > load, pw * h / (n - load), np.inf)
    return np.asarray(np.where(load > 0, asa, 0.0), dtype=np.float64)


def erlang_c_asa(agents: ArrayLike, arrival_rate: ArrayLike, aht: ArrayLike) -> FloatArray:
    """Erlang C average speed of answer E[W] = C·AHT / (N − A), in seconds (all callers).

    ``inf`` when the queue is unstable (N ≤ A), 0 without traffic.
    """
    shape, (n, lam, h) = _broadcast(agents, arrival_rate, aht)
    _check_agents(n)
    _check_rates(lam, h)
    return _erlang_c_asa_flat(n, lam * h, h).reshape(shape)


def _erlang_c_occ_flat(n: FloatArray, load: FloatArray) -> FloatArray:
    with np.errstate(divide="ignore", invalid="ignore"):
        occ = np.where(n > load, load / n, 1.0)
    return np.asarray(np.where(load > 0, occ, 0.0), dtype=np.float64)


def erlang_c_occupancy(agents: ArrayLike, arrival_rate: ArrayLike, aht: ArrayLike) -> FloatArray:
    """Agent occupancy A / N (1 when the queue is unstable, 0 without traffic)."""
    shape, (n, lam, h) = _broadcast(agents, arrival_rate, aht)
    _check_agents(n)
    _check_rates(lam, h)
    return _erlang_c_occ_flat(n, lam * h).reshape(shape)


# --------------------------------------------------------------------------------------------
# Vectorised minimal-N search
# --------------------------------------------------------------------------------------------

Predicate = Callable[[IntArray, IntArray], BoolArray]


def _minimal_agents(pred: Predicate, guess: IntArray, known_fail: IntArray) -> IntArray:
    """Smallest n > known_fail with pred true, for a predicate monotone in n (per cell).

    ``pred(idx, n)`` evaluates cells ``idx`` at agent counts ``n``. Starting from a close
    guess, gallop (steps 1, 2, 4, …) up or down to bracket the answer, then bisect: with a
    square-root-staffing guess this needs about two evaluations per cell.
    """
    lo = known_fail.copy()  # largest n known to fail
    hi = np.maximum(guess, lo + 1)  # smallest n known (or about to be tested) to pass
    all_idx = np.arange(guess.size)
    ok = pred(all_idx, hi)
    # Cells whose guess fails: gallop upwards.
    idx = all_idx[~ok]
    lo[idx] = hi[idx]
    step = 1
    while idx.size:
        if step > 2**_MAX_DOUBLINGS:
            raise RuntimeError("staffing search did not converge; is the target feasible?")
        cand = lo[idx] + step
        r = pred(idx, cand)
        hi[idx[r]] = cand[r]
        lo[idx[~r]] = cand[~r]
        idx = idx[~r]
        step *= 2
    # Cells whose guess passes: gallop downwards until a failure or the known lower bound.
    idx = all_idx[ok]
    step = 1
    while idx.size:
        cand = hi[idx] - step
        stop = cand <= lo[idx]
        idx, cand = idx[~stop], cand[~stop]
        if not idx.size:
            break
        r = pred(idx, cand)
        hi[idx[r]] = cand[r]
        lo[idx[~r]] = cand[~r]
        idx = idx[r]
        step *= 2
    # Bisection inside (lo, hi].
    idx = all_idx[hi - lo > 1]
    while idx.size:
        mid = (lo[idx] + hi[idx]) // 2
        r = pred(idx, mid)
        hi[idx[r]] = mid[r]
        lo[idx[~r]] = mid[~r]
        idx = idx[hi[idx] - lo[idx] > 1]
    return hi


def _sqrt_staffing_beta(
    load: FloatArray,
    tau: FloatArray,
    target_sl: FloatArray | None,
    asa_over_aht: FloatArray | None,
) -> FloatArray:
    """Halfin–Whitt β with N ≈ A + β√A meeting the targets (a starting point only).

    Uses P(wait) ≈ 1 / (1 + β·Φ(β)/φ(β)); Φ/φ = √(π/2)·erfcx(−β/√2) avoids overflow.
    """
    sq = np.sqrt(load)
    lo = np.zeros_like(load)
    hi = np.full_like(load, 12.0)
    for _ in range(12):  # resolution 12/4096 in β: well within one agent for A ≲ 1e5
        beta = 0.5 * (lo + hi)
        pw = 1.0 / (1.0 + beta * math.sqrt(math.pi / 2.0) * special.erfcx(-beta / math.sqrt(2.0)))
        ok = np.ones(load.shape, dtype=bool)
        if target_sl is not None:
            ok &= pw * np.exp(-beta * sq * tau) <= 1.0 - target_sl
        if asa_over_aht is not None:
            ok &= pw <= asa_over_aht * beta * sq
        hi = np.where(ok, beta, hi)
        lo = np.where(ok, lo, beta)
    return hi


def _optional(value: ArrayLike | None) -> ArrayLike:
    # Disabled targets travel through broadcasting as NaN and are masked out afterwards.
    return np.nan if value is None else value


def erlang_c_staffing(
    arrival_rate: ArrayLike,
    aht: ArrayLike,
    *,
    target_sl: ArrayLike | None = 0.8,
    target_time: ArrayLike = 20.0,
    max_occupancy: ArrayLike | None = None,
    max_asa: ArrayLike | None = None,
) -> IntArray:
    """Minimal number of agents N meeting every given target under Erlang C.

    Targets (each optional, all must hold): ``erlang_c_service_level(N) >= target_sl`` with
    ``target_time`` seconds (default 80 % in 20 s); ``A / N <= max_occupancy``;
    ``erlang_c_asa(N) <= max_asa`` seconds. The result is always a stable staffing
    (N > A) and is exactly minimal: N − 1 fails a target. Cells without traffic get 0.

    Vectorised over all broadcast inputs; the search starts from the square-root staffing
    estimate and corrects it with exact Erlang C evaluations, typically two per cell.
    """
    shape, (lam, h, sl, t, occ, asa) = _broadcast(
        arrival_rate,
        aht,
        _optional(target_sl),
        target_time,
        _optional(max_occupancy),
        _optional(max_asa),
    )
    _check_rates(lam, h)
    _check_time("target_time", t)
    if target_sl is not None:
        _check_range("target_sl", sl, low=0.0, high=1.0, low_open=True, high_open=True)
    if max_occupancy is not None:
        _check_range("max_occupancy", occ, low=0.0, high=1.0, low_open=True)
    if max_asa is not None:
        _check_range("max_asa", asa, low=0.0, low_open=True, high_open=True)

    load = lam * h
    result = np.zeros(load.shape, dtype=np.int64)
    cells = np.flatnonzero(load > 0)
    if not cells.size:
        return result.reshape(shape)
    a, hh, tt = load[cells], h[cells], t[cells]
    sl_c = sl[cells] if target_sl is not None else None
    occ_c = occ[cells] if max_occupancy is not None else None
    asa_c = asa[cells] if max_asa is not None else None

    def pred(idx: IntArray, n: IntArray) -> BoolArray:
        nf = n.astype(np.float64)
        ai = a[idx]
        ok: BoolArray = nf > ai
        if sl_c is not None:
            ok &= _erlang_c_sl_flat(nf, ai, hh[idx], tt[idx]) >= sl_c[idx]
        if occ_c is not None:
            ok &= _erlang_c_occ_flat(nf, ai) <= occ_c[idx]  # same expression as the public one
        if asa_c is not None:
            ok &= _erlang_c_asa_flat(nf, ai, hh[idx]) <= asa_c[idx]
        return ok

    beta = _sqrt_staffing_beta(a, tt / hh, sl_c, None if asa_c is None else asa_c / hh)
    guess = np.ceil(a + beta * np.sqrt(a))
    if occ_c is not None:
        guess = np.maximum(guess, np.ceil(a / occ_c))
    known_fail = np.floor(a).astype(np.int64)  # N ≤ A is unstable, so it always fails
    result[cells] = _minimal_agents(pred, guess.astype(np.int64), known_fail)
    return result.reshape(shape)


# --------------------------------------------------------------------------------------------
# Erlang A (M/M/N+M)
# --------------------------------------------------------------------------------------------
#
# Birth–death chain: up-rate λ; down-rate kμ for k ≤ N and Nμ + (k−N)θ above. With
# x = λ/θ, a = Nμ/θ and t_j = Π_{i=1..j} x/(a+i), the queue part of the chain is
# π_{N+j} = π_N·t_j, and J = Σ_j t_j = P(a, x) / pois(a; x) (P: regularized lower incomplete
# gamma). Then 1/π_N = 1/B(N, A) + J − 1, and (PASTA):
#   P(wait)            = π_N·J
#   P(abandon | wait)  = (x − a)/x + a/(x·J)                   (flow balance θ·E[Q] = λ·P(ab))
#   E[W] (all callers) = P(abandon)/θ                            (Little)
# A caller finding j others queued is served iff its offered wait V beats its patience;
# V is a sum of exponentials with rates (a+i)θ, i = 0..j, i.e. e^{−θV} ~ Beta(a, j+1).
# Mixing over j gives P(wait, served, V > t) = P(wait)·(a/x)·P(a+1, x e^{−θt}) / P(a, x).


class _ErlangA:
    """Shared Erlang A intermediates for flat arrays with λ > 0 and finite patience."""

    def __init__(self, n: FloatArray, lam: FloatArray, h: FloatArray, patience: FloatArray) -> None:
        self.n, self.lam, self.h, self.patience = n, lam, h, patience
        self.load = lam * h
        self.x = lam * patience
        self.a = n * patience / h
        log_inv_b = _log_inv_erlang_b(n, self.load)
        self.log_p_ax = _log_gammainc(self.a, self.x)
        self.log_j = np.maximum(self.log_p_ax - _log_pois(self.a, self.x), 0.0)  # J ≥ 1
        # (1/B − 1)/J, formed in log space; −expm1(−L) = 1 − B avoids overflow of 1/B.
        with np.errstate(over="ignore", invalid="ignore"):
            ratio = np.exp(log_inv_b - self.log_j) * -np.expm1(-log_inv_b)
        self.p_wait = np.asarray(1.0 / (1.0 + ratio), dtype=np.float64)
        p_ab_wait = (self.x - self.a) / self.x + (self.a / self.x) * np.exp(-self.log_j)
        self.p_abandon = np.asarray(self.p_wait * np.clip(p_ab_wait, 0.0, 1.0), dtype=np.float64)

    def sl_failure(self, t: FloatArray) -> FloatArray:
        """1 − SL = P(abandon) + P(served after waiting more than t); no cancellation."""
        y = self.x * np.exp(-t / self.patience)
        log_p = _log_gammainc(self.a + 1.0, y)
        with np.errstate(divide="ignore", invalid="ignore"):
            late = self.p_wait * np.where(
                self.a > 0, (self.a / self.x) * np.exp(log_p - self.log_p_ax), 0.0
            )
        return np.asarray(np.clip(self.p_abandon + late, 0.0, 1.0), dtype=np.float64)

    def occupancy(self) -> FloatArray:
        with np.errstate(divide="ignore", invalid="ignore"):
            occ = np.where(self.n > 0, self.load * (1.0 - self.p_abandon) / self.n, 0.0)
        return np.asarray(np.clip(occ, 0.0, 1.0), dtype=np.float64)

    def asa_answered(self) -> FloatArray:
        """E[W | answered] in seconds; NaN when nobody is answered (N = 0).

        E[W; served] = (P(wait)/θ)·Σ_j w_j·a/(a+j+1)·(ψ(a+j+2) − ψ(a+1)) with weights
        w_j ∝ pois(a+j; x) (j callers ahead). The weights are summed over a window around
        their mode that holds all but ~e^{-50} of the mass; the cost grows like √x per cell.
        """
        x, a = self.x, self.a
        sx = np.sqrt(x)
        mode = np.maximum(np.floor(x - a), 0.0)
        j_lo = np.maximum(np.floor(x - a - _WINDOW_SD * sx - _WINDOW_PAD), 0.0)
        upper_poisson = np.ceil(x - a + _WINDOW_SD * sx + _WINDOW_PAD)
        with np.errstate(divide="ignore"):
            # When x < a the weights fall at least geometrically with ratio x/(a+1) and at
            # least like exp(−j²/2(a+j)); take the tighter of the two bounds.
            geometric = np.ceil(45.0 / np.log((a + 1.0) / x)) + 1.0
        upper_small = np.minimum(geometric, np.ceil(_WINDOW_SD * np.sqrt(a + 1.0) + _WINDOW_PAD))
        j_hi = np.maximum(np.where(x >= a, upper_poisson, upper_small), j_lo)
        width = (j_hi - j_lo + 1.0).astype(np.int64)
        ref = _log_pois(a + mode, x)
        s0 = np.zeros_like(x)
        s1 = np.zeros_like(x)
        psi_a1 = special.digamma(a + 1.0)
        offsets = np.arange(_WINDOW_CHUNK, dtype=np.float64)
        start = 0
        idx = np.arange(x.size)
        while idx.size:
            j = j_lo[idx, None] + (start + offsets)[None, :]
            valid = j <= j_hi[idx, None]
            ai, xi = a[idx, None], x[idx, None]
            aj = ai + j
            w = np.exp(_log_pois(aj, np.broadcast_to(xi, aj.shape)) - ref[idx, None])
            w = np.where(valid, w, 0.0)
            f = (ai / (aj + 1.0)) * (special.digamma(aj + 2.0) - psi_a1[idx, None])
            s0[idx] += w.sum(axis=1)
            s1[idx] += (w * f).sum(axis=1)
            start += _WINDOW_CHUNK
            idx = idx[width[idx] > start]
        with np.errstate(divide="ignore", invalid="ignore"):
            served_wait = self.p_wait * self.patience * (s1 / s0)
            asa = served_wait / (1.0 - self.p_abandon)
        return np.asarray(np.where(self.n > 0, asa, np.nan), dtype=np.float64)


def _erlang_a_prepare(
    agents: ArrayLike,
    arrival_rate: ArrayLike,
    aht: ArrayLike,
    patience: ArrayLike,
    *extra: ArrayLike,
) -> tuple[tuple[int, ...], list[FloatArray]]:
    shape, arrays = _broadcast(agents, arrival_rate, aht, patience, *extra)
    n, lam, h, pat = arrays[:4]
    _check_agents(n)
    _check_rates(lam, h)
    _check_patience(pat)
    return shape, arrays


def _regular(lam: FloatArray, pat: FloatArray) -> BoolArray:
    """Cells handled by the Erlang A formulas (traffic and finite patience)."""
    return np.asarray((lam > 0) & np.isfinite(pat), dtype=np.bool_)


def erlang_a_p_wait(
    agents: ArrayLike, arrival_rate: ArrayLike, aht: ArrayLike, patience: ArrayLike
) -> FloatArray:
    """Erlang A probability that an arriving caller finds all agents busy and has to wait."""
    shape, (n, lam, h, pat) = _erlang_a_prepare(agents, arrival_rate, aht, patience)
    out = _erlang_c_flat(n, lam * h)  # right for patience = inf and for no traffic
    m = _regular(lam, pat)
    if m.any():
        out[m] = _ErlangA(n[m], lam[m], h[m], pat[m]).p_wait
    return out.reshape(shape)


def erlang_a_p_abandon(
    agents: ArrayLike, arrival_rate: ArrayLike, aht: ArrayLike, patience: ArrayLike
) -> FloatArray:
    """Erlang A probability that a caller abandons (fraction of all arrivals)."""
    shape, (n, lam, h, pat) = _erlang_a_prepare(agents, arrival_rate, aht, patience)
    out = np.zeros_like(lam)
    m = _regular(lam, pat)
    if m.any():
        out[m] = _ErlangA(n[m], lam[m], h[m], pat[m]).p_abandon
    return out.reshape(shape)


def erlang_a_service_level(
    agents: ArrayLike,
    arrival_rate: ArrayLike,
    aht: ArrayLike,
    patience: ArrayLike,
    target_time: ArrayLike,
) -> FloatArray:
    """Erlang A service level: the fraction of **all arrivals** answered within ``target_time``.

    SL = P(answered and W ≤ t). Callers who abandon count as failures, even if they hang up
    before t (the strictest of the usual definitions; it equals Erlang C's P(W ≤ t) when
    ``patience`` is inf). ``target_time = 0`` gives 1 − P(wait).
    """
    shape, (n, lam, h, pat, t) = _erlang_a_prepare(agents, arrival_rate, aht, patience, target_time)
    _check_time("target_time", t)
    out = _erlang_c_sl_flat(n, lam * h, h, t)
    m = _regular(lam, pat)
    if m.any():
        out[m] = 1.0 - _ErlangA(n[m], lam[m], h[m], pat[m]).sl_failure(t[m])
    return out.reshape(shape)


def erlang_a_mean_wait(
    agents: ArrayLike, arrival_rate: ArrayLike, aht: ArrayLike, patience: ArrayLike
) -> FloatArray:
    """Mean time in queue over **all arrivals** (answered and abandoned), in seconds.

    Exact closed form E[W] = P(abandon)·patience. Equals :func:`erlang_c_asa` for inf patience.
    """
    shape, (n, lam, h, pat) = _erlang_a_prepare(agents, arrival_rate, aht, patience)
    out = _erlang_c_asa_flat(n, lam * h, h)
    m = _regular(lam, pat)
    if m.any():
        out[m] = _ErlangA(n[m], lam[m], h[m], pat[m]).p_abandon * pat[m]
    return out.reshape(shape)


def erlang_a_asa(
    agents: ArrayLike, arrival_rate: ArrayLike, aht: ArrayLike, patience: ArrayLike
) -> FloatArray:
    """Average speed of answer: mean wait of **answered** callers, E[W | answered], seconds.

    Exact (a series over the queue length seen on arrival, summed in log space); costs
    O(√(arrival_rate·patience)) per cell, so prefer :func:`erlang_a_mean_wait` in tight loops.
    NaN when ``agents`` is 0 (nobody is answered); 0 without traffic.
    """
    shape, (n, lam, h, pat) = _erlang_a_prepare(agents, arrival_rate, aht, patience)
    out = _erlang_c_asa_flat(n, lam * h, h)
    m = _regular(lam, pat)
    if m.any():
        out[m] = _ErlangA(n[m], lam[m], h[m], pat[m]).asa_answered()
    return out.reshape(shape)


def erlang_a_occupancy(
    agents: ArrayLike, arrival_rate: ArrayLike, aht: ArrayLike, patience: ArrayLike
) -> FloatArray:
    """Agent occupancy: carried load A·(1 − P(abandon)) divided by N (0 when N = 0)."""
    shape, (n, lam, h, pat) = _erlang_a_prepare(agents, arrival_rate, aht, patience)
    out = _erlang_c_occ_flat(n, lam * h)
    m = _regular(lam, pat)
    if m.any():
        out[m] = _ErlangA(n[m], lam[m], h[m], pat[m]).occupancy()
    return out.reshape(shape)


def _erlang_a_secant_guess(
    lam: FloatArray,
    h: FloatArray,
    pat: FloatArray,
    t: FloatArray,
    target_sl: FloatArray,
    n0: FloatArray,
) -> tuple[FloatArray, FloatArray]:
    """Bracketed secant search on g(N) = log(1 − SL(N)) − log(1 − target), from n0.

    g is smooth and nearly linear in N, so a few secant steps land on the service-level
    answer even when abandonment moves it far from the Erlang C estimate n0. Returns a
    guess (the smallest N seen to meet the SL target, else the last iterate) and the largest
    N seen to fail it (−1 if none); the exact search then only confirms the boundary.
    """
    goal = np.log1p(-target_sl)

    def g(idx: IntArray, n: FloatArray) -> FloatArray:
        fail = _ErlangA(n, lam[idx], h[idx], pat[idx]).sl_failure(t[idx])
        with np.errstate(divide="ignore"):
            return np.asarray(np.log(fail) - goal[idx], dtype=np.float64)

    all_idx = np.arange(n0.size)
    n1 = np.maximum(n0 - np.maximum(2.0, np.ceil(0.5 * np.sqrt(lam * h))), 0.0)
    na, ga = n0.copy(), g(all_idx, n0)
    nb, gb = n1, g(all_idx, n1)
    known_fail = np.where(ga > 0, na, np.where(gb > 0, nb, -1.0))
    known_pass = np.where(gb <= 0, nb, np.where(ga <= 0, na, np.inf))
    idx = all_idx
    for _ in range(4):
        idx = idx[known_pass[idx] - known_fail[idx] > 1]
        if not idx.size:
            break
        with np.errstate(divide="ignore", invalid="ignore"):
            slope = (ga[idx] - gb[idx]) / (na[idx] - nb[idx])
            cand = np.ceil(na[idx] - ga[idx] / slope)
        # Fall back to bisection of the bracket when the secant is unusable.
        mid = np.where(
            np.isfinite(known_pass[idx]),
            np.floor(0.5 * (known_fail[idx] + known_pass[idx])),
            2.0 * na[idx] + 1.0,
        )
        cand = np.where(np.isfinite(cand) & (slope < 0), cand, mid)
        cand = np.clip(
            cand, known_fail[idx] + 1.0, np.minimum(known_pass[idx] - 1.0, 4.0 * n0[idx] + 10.0)
        )
        gc = g(idx, cand)
        known_fail[idx] = np.where(gc > 0, np.maximum(known_fail[idx], cand), known_fail[idx])
        known_pass[idx] = np.where(gc <= 0, np.minimum(known_pass[idx], cand), known_pass[idx])
        nb[idx], gb[idx] = na[idx], ga[idx]
        na[idx], ga[idx] = cand, gc
    guess = np.where(np.isfinite(known_pass), known_pass, np.maximum(na, known_fail + 1.0))
    return np.asarray(guess, dtype=np.float64), np.asarray(known_fail, dtype=np.float64)


def erlang_a_staffing(
    arrival_rate: ArrayLike,
    aht: ArrayLike,
    patience: ArrayLike,
    *,
    target_sl: ArrayLike | None = 0.8,
    target_time: ArrayLike = 20.0,
    max_abandon: ArrayLike | None = None,
    max_occupancy: ArrayLike | None = None,
    max_asa: ArrayLike | None = None,
) -> IntArray:
    """Minimal number of agents N meeting every given target under Erlang A.

    Targets (each optional, all must hold): ``erlang_a_service_level(N) >= target_sl``
    (fraction of all arrivals answered within ``target_time`` s); ``erlang_a_p_abandon(N) <=
    max_abandon``; ``erlang_a_occupancy(N) <= max_occupancy``; ``erlang_a_asa(N) <= max_asa``
    seconds (answered callers; noticeably slower). N may be below the offered load, since
    abandonment keeps the queue stable. Cells with inf patience are staffed with Erlang C;
    cells without traffic get 0. The result is exactly minimal: N − 1 fails a target.
    """
    shape, (lam, h, pat, sl, t, ab, occ, asa) = _broadcast(
        arrival_rate,
        aht,
        patience,
        _optional(target_sl),
        target_time,
        _optional(max_abandon),
        _optional(max_occupancy),
        _optional(max_asa),
    )
    _check_rates(lam, h)
    _check_patience(pat)
    _check_time("target_time", t)
    if target_sl is not None:
        _check_range("target_sl", sl, low=0.0, high=1.0, low_open=True, high_open=True)
    if max_abandon is not None:
        _check_range("max_abandon", ab, low=0.0, high=1.0, low_open=True)
    if max_occupancy is not None:
        _check_range("max_occupancy", occ, low=0.0, high=1.0, low_open=True)
    if max_asa is not None:
        _check_range("max_asa", asa, low=0.0, low_open=True, high_open=True)
    if target_sl is None and max_abandon is None and max_occupancy is None and max_asa is None:
        raise ValueError("give at least one target")

    result = np.zeros(lam.shape, dtype=np.int64)
    inf_pat = (lam > 0) & ~np.isfinite(pat)
    if inf_pat.any():
        if target_sl is None and max_occupancy is None and max_asa is None:
            raise ValueError("max_abandon alone cannot be met without abandonment (inf patience)")
        result[inf_pat] = erlang_c_staffing(
            lam[inf_pat],
            h[inf_pat],
            target_sl=None if target_sl is None else sl[inf_pat],
            target_time=t[inf_pat],
            max_occupancy=None if max_occupancy is None else occ[inf_pat],
            max_asa=None if max_asa is None else asa[inf_pat],
        )
    cells = np.flatnonzero(_regular(lam, pat))
    if not cells.size:
        return result.reshape(shape)
    lam_c, h_c, pat_c, t_c = lam[cells], h[cells], pat[cells], t[cells]
    sl_c, ab_c, occ_c, asa_c = sl[cells], ab[cells], occ[cells], asa[cells]

    def pred(idx: IntArray, n: IntArray) -> BoolArray:
        model = _ErlangA(n.astype(np.float64), lam_c[idx], h_c[idx], pat_c[idx])
        ok = np.ones(idx.shape, dtype=np.bool_)
        if target_sl is not None:
            ok &= 1.0 - model.sl_failure(t_c[idx]) >= sl_c[idx]
        if max_abandon is not None:
            ok &= model.p_abandon <= ab_c[idx]
        if max_occupancy is not None:
            ok &= model.occupancy() <= occ_c[idx]
        if max_asa is not None:
            # Only evaluate the costly series where the cheaper targets already pass.
            sub = np.flatnonzero(ok)
            if sub.size:
                part = _ErlangA(
                    n[sub].astype(np.float64), lam_c[idx[sub]], h_c[idx[sub]], pat_c[idx[sub]]
                )
                ok[sub] = part.asa_answered() <= asa_c[idx[sub]]
        return ok

    # Start from the Erlang C square-root estimate; abandonment usually moves the answer by a
    # few agents, which the gallop/bisection absorbs in a handful of evaluations.
    load = lam_c * h_c
    beta = _sqrt_staffing_beta(load, t_c / h_c, None if target_sl is None else sl_c, None)
    guess = np.ceil(load + beta * np.sqrt(load))
    if max_occupancy is not None:
        guess = np.maximum(guess, np.ceil(load / occ_c))
    guess = np.maximum(guess, 1.0)
    known_fail = np.full(cells.shape, -1.0)
    if target_sl is not None:
        guess, known_fail = _erlang_a_secant_guess(lam_c, h_c, pat_c, t_c, sl_c, guess)
    result[cells] = _minimal_agents(pred, guess.astype(np.int64), known_fail.astype(np.int64))
    return result.reshape(shape)
