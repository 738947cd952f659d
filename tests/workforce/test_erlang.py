"""Erlang B / C / A maths (R-C7): published values, exact references, properties."""

from __future__ import annotations

import math
import time
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from scipy import linalg
from scipy.special import logsumexp

from hotline.domains.workforce import erlang as e

PROPS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


# --------------------------------------------------------------------------------------------
# Published and exactly derivable values
# --------------------------------------------------------------------------------------------


def test_published_example_100_calls_30_min() -> None:
    # The classic worked example: 100 calls / 30 min, AHT 180 s, 80 % in 20 s → A = 10 Erl.
    lam = e.calls_per_second(100, 1800)
    assert float(e.offered_load(lam, 180)) == pytest.approx(10.0)
    assert int(e.erlang_c_staffing(lam, 180, target_sl=0.8, target_time=20)) == 14
    assert float(e.erlang_c_p_wait(14, lam, 180)) == pytest.approx(0.1741, abs=5e-5)
    assert float(e.erlang_c_service_level(14, lam, 180, 20)) == pytest.approx(0.8884, abs=5e-5)
    assert float(e.erlang_c_asa(14, lam, 180)) == pytest.approx(7.84, abs=5e-3)
    assert float(e.erlang_c_occupancy(14, lam, 180)) == pytest.approx(10 / 14)
    # 13 agents miss the target (≈ 79.6 %), which is why 14 is the answer.
    assert float(e.erlang_c_service_level(13, lam, 180, 20)) == pytest.approx(0.7956, abs=5e-5)


def _exact_b_c(n: int, load: Fraction) -> tuple[Fraction, Fraction]:
    """Erlang B and C from their definitions in exact rational arithmetic."""
    terms = [load**k / math.factorial(k) for k in range(n + 1)]
    b = terms[-1] / sum(terms)
    c = n * b / (n - load * (1 - b))
    return b, c


@pytest.mark.parametrize(
    ("n", "load"),
    [(1, Fraction(1, 2)), (2, Fraction(1)), (5, Fraction(3)), (10, Fraction(5)),
     (14, Fraction(10)), (30, Fraction(51, 2)), (60, Fraction(49))],
)  # fmt: skip
def test_erlang_b_and_c_match_exact_rationals(n: int, load: Fraction) -> None:
    b, c = _exact_b_c(n, load)
    assert float(e.erlang_b(n, float(load))) == pytest.approx(float(b), rel=1e-13)
    # arrival_rate × aht = load with aht = 1 s
    assert float(e.erlang_c_p_wait(n, float(load), 1.0)) == pytest.approx(float(c), rel=1e-13)


def test_two_agents_one_erlang_is_one_third() -> None:
    # M/M/2 with A = 1: B = 1/5 and C = 1/3 exactly.
    assert float(e.erlang_b(2, 1.0)) == pytest.approx(0.2, rel=1e-15)
    assert float(e.erlang_c_p_wait(2, 1 / 240, 240)) == pytest.approx(1 / 3, rel=1e-14)


@pytest.mark.parametrize("rho", [0.1, 0.5, 0.9, 0.99])
def test_single_agent_is_mm1(rho: float) -> None:
    aht, t = 300.0, 20.0
    lam = rho / aht
    assert float(e.erlang_c_p_wait(1, lam, aht)) == pytest.approx(rho, rel=1e-13)
    assert float(e.erlang_c_asa(1, lam, aht)) == pytest.approx(rho / (1 - rho) * aht, rel=1e-12)
    sl = 1 - rho * math.exp(-(1 - rho) * t / aht)
    assert float(e.erlang_c_service_level(1, lam, aht, t)) == pytest.approx(sl, rel=1e-13)


def test_degenerate_cells() -> None:
    assert float(e.erlang_c_p_wait(3, 0.0, 200)) == 0.0
    assert float(e.erlang_c_service_level(0, 0.0, 200, 20)) == 1.0
    assert float(e.erlang_c_p_wait(10, 10 / 180, 180)) == 1.0  # N = A: unstable
    assert float(e.erlang_c_service_level(10, 10 / 180, 180, 20)) == 0.0
    assert math.isinf(float(e.erlang_c_asa(9, 10 / 180, 180)))
    assert int(e.erlang_c_staffing(0.0, 180)) == 0
    assert int(e.erlang_a_staffing(0.0, 180, 60)) == 0
    assert float(e.erlang_a_p_wait(0, 0.1, 180, 60)) == 1.0
    assert float(e.erlang_a_p_abandon(0, 0.1, 180, 60)) == pytest.approx(1.0)
    assert float(e.erlang_a_service_level(0, 0.1, 180, 60, 20)) == pytest.approx(0.0, abs=1e-15)
    assert math.isnan(float(e.erlang_a_asa(0, 0.1, 180, 60)))


@pytest.mark.parametrize(
    "call",
    [
        lambda: e.erlang_c_p_wait(-1, 0.1, 180),
        lambda: e.erlang_c_p_wait(2.5, 0.1, 180),
        lambda: e.erlang_c_p_wait(2, -0.1, 180),
        lambda: e.erlang_c_p_wait(2, float("nan"), 180),
        lambda: e.erlang_c_p_wait(2, 0.1, 0),
        lambda: e.erlang_c_staffing(0.1, 180, target_sl=1.0),
        lambda: e.erlang_c_staffing(0.1, 180, max_occupancy=0.0),
        lambda: e.erlang_a_p_wait(2, 0.1, 180, 0.0),
        lambda: e.erlang_a_staffing(0.1, 180, 60, target_sl=None),
    ],
)
def test_invalid_inputs_raise(call: object) -> None:
    with pytest.raises(ValueError):
        call()  # type: ignore[operator]


# --------------------------------------------------------------------------------------------
# Erlang A against an independent birth–death / tagged-caller solution
# --------------------------------------------------------------------------------------------


def _birth_death(n: int, lam: float, aht: float, patience: float) -> dict[str, object]:
    """Stationary distribution of the truncated M/M/n+M chain, solved directly."""
    mu, theta = 1 / aht, 1 / patience
    x = lam / theta
    extra = int(max(0.0, x - n * mu / theta) + 20 * math.sqrt(x + 1) + 200)
    k = np.arange(1, n + extra + 1)
    death = np.minimum(k, n) * mu + np.maximum(k - n, 0) * theta
    log_pi = np.concatenate([[0.0], np.cumsum(np.log(lam) - np.log(death))])
    pi = np.exp(log_pi - logsumexp(log_pi))
    assert pi[-1] < 1e-30  # truncation is harmless
    queue = np.arange(pi.size) - n
    p_wait = pi[n:].sum()
    mean_q = (queue[n:] * pi[n:]).sum()
    return {
        "p_wait": p_wait,
        "p_abandon": theta * mean_q / lam,
        "mean_wait": mean_q / lam,
        "occupancy": (np.minimum(np.arange(pi.size), n) * pi).sum() / n if n else 0.0,
        "queue_dist": pi[n:],  # P(an arrival finds j callers queued), j = 0, 1, …
    }


def _tagged_caller(n: int, aht: float, patience: float, jmax: int) -> tuple[np.ndarray, ...]:
    """Sub-generator of a tagged waiting caller with i callers ahead (i = 0..jmax).

    From stage i it moves to i−1 at rate nμ + iθ (someone ahead leaves), is answered from
    stage 0 at rate nμ, and abandons at rate θ from every stage.
    """
    mu, theta = 1 / aht, 1 / patience
    i = np.arange(jmax + 1)
    t = np.diag(-(n * mu + (i + 1) * theta))
    t[i[1:], i[1:] - 1] = n * mu + i[1:] * theta
    answer = np.zeros(jmax + 1)
    answer[0] = n * mu
    return t, answer


CASES = [
    # agents, calls/s, aht, patience — includes under-staffing (N < A) and N = 1
    (14, 100 / 1800, 180.0, 120.0),
    (10, 100 / 1800, 180.0, 60.0),
    (6, 100 / 1800, 180.0, 300.0),
    (1, 1 / 200, 180.0, 90.0),
    (3, 0.05, 100.0, 5.0),
    (40, 0.25, 180.0, 240.0),
    (250, 1.5, 180.0, 200.0),
]


@pytest.mark.parametrize(("n", "lam", "aht", "patience"), CASES)
def test_erlang_a_matches_birth_death(n: int, lam: float, aht: float, patience: float) -> None:
    ref = _birth_death(n, lam, aht, patience)
    assert float(e.erlang_a_p_wait(n, lam, aht, patience)) == pytest.approx(
        ref["p_wait"], rel=1e-9, abs=1e-12
    )
    assert float(e.erlang_a_p_abandon(n, lam, aht, patience)) == pytest.approx(
        ref["p_abandon"], rel=1e-9, abs=1e-12
    )
    assert float(e.erlang_a_mean_wait(n, lam, aht, patience)) == pytest.approx(
        ref["mean_wait"], rel=1e-9, abs=1e-10
    )
    assert float(e.erlang_a_occupancy(n, lam, aht, patience)) == pytest.approx(
        ref["occupancy"], rel=1e-9
    )


@pytest.mark.parametrize(("n", "lam", "aht", "patience"), CASES[:6])
@pytest.mark.parametrize("t", [0.0, 20.0, 60.0])
def test_erlang_a_service_level_and_asa_match_tagged_caller(
    n: int, lam: float, aht: float, patience: float, t: float
) -> None:
    ref = _birth_death(n, lam, aht, patience)
    dist = np.asarray(ref["queue_dist"])
    jmax = int(np.flatnonzero(dist > 1e-25).max())
    dist = dist[: jmax + 1]
    sub, answer = _tagged_caller(n, aht, patience, jmax)
    # P(answered by t | start stage j) via the matrix exponential of the absorbing chain.
    gen = np.zeros((jmax + 2, jmax + 2))
    gen[: jmax + 1, : jmax + 1] = sub
    gen[: jmax + 1, jmax + 1] = answer
    answered_by_t = linalg.expm(gen * t)[: jmax + 1, jmax + 1]
    sl = 1 - ref["p_wait"] + dist @ answered_by_t  # type: ignore[operator]
    got = float(e.erlang_a_service_level(n, lam, aht, patience, t))
    assert got == pytest.approx(sl, rel=1e-8, abs=1e-12)
    # E[W; answered | j] = ((−T)^{-2} r)_j; ASA = E[W; answered] / P(answered).
    p_ans = np.linalg.solve(-sub, answer)
    w_ans = np.linalg.solve(-sub, p_ans)
    asa = (dist @ w_ans) / (1 - ref["p_abandon"])  # type: ignore[operator]
    assert float(e.erlang_a_asa(n, lam, aht, patience)) == pytest.approx(asa, rel=1e-8)


def test_erlang_a_staffing_published_example_with_abandonment() -> None:
    lam = e.calls_per_second(100, 1800)
    n = int(e.erlang_a_staffing(lam, 180, 120.0, target_sl=0.8, target_time=20))
    assert float(e.erlang_a_service_level(n, lam, 180, 120.0, 20)) >= 0.8
    assert float(e.erlang_a_service_level(n - 1, lam, 180, 120.0, 20)) < 0.8
    assert n <= 14  # abandonment can only help a waiting-time target this mild


# --------------------------------------------------------------------------------------------
# Vectorisation and scale
# --------------------------------------------------------------------------------------------


def _grid(seed: int = 7) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return rng.uniform(0, 2000, (96, 50)) / 1800, rng.uniform(120, 600, (96, 50))


def test_vectorised_results_equal_scalar_results() -> None:
    lam, aht = _grid()
    nc = e.erlang_c_staffing(lam, aht)
    na = e.erlang_a_staffing(lam, aht, 150.0, max_abandon=0.05)
    assert nc.shape == na.shape == (96, 50)
    assert nc.dtype == np.int64
    sl = e.erlang_a_service_level(na, lam, aht, 150.0, 20.0)
    for i, j in [(0, 0), (5, 17), (95, 49), (40, 3)]:
        assert int(e.erlang_c_staffing(lam[i, j], aht[i, j])) == nc[i, j]
        assert int(e.erlang_a_staffing(lam[i, j], aht[i, j], 150.0, max_abandon=0.05)) == na[i, j]
        assert (
            float(e.erlang_a_service_level(na[i, j], lam[i, j], aht[i, j], 150.0, 20)) == sl[i, j]
        )


def test_staffing_grid_is_fast() -> None:
    # The real measurement is bench/erlang_staffing.py; this only guards against a regression
    # to per-cell loops, with headroom for slow or busy CI machines.
    lam, aht = _grid()
    e.erlang_c_staffing(lam, aht)
    times = []
    for _ in range(5):
        start = time.perf_counter()
        e.erlang_c_staffing(lam, aht)
        times.append(time.perf_counter() - start)
    assert sorted(times)[2] < 0.25


def test_j_tail_hyp1f1_agrees_with_series() -> None:
    a = np.array([1e5, 1e6, 1e8, 1e8, 5e3])
    x = a * np.array([0.9, 0.95, 0.95, 0.999, 0.3])
    series = e._log_series_lower(x, a)
    np.testing.assert_allclose(e._log_j_tail(x, a), series, rtol=1e-12, atol=1e-13)


@PROPS
@given(
    n=st.integers(1, 100_000),
    load=st.floats(1e-3, 1.2e5),
    aht=st.floats(30, 3600),
    patience=st.floats(1, 3600),
)
def test_huge_inputs_stay_finite(n: int, load: float, aht: float, patience: float) -> None:
    lam = load / aht
    for val in (
        e.erlang_b(n, load),
        e.erlang_c_p_wait(n, lam, aht),
        e.erlang_c_service_level(n, lam, aht, 20),
        e.erlang_a_p_wait(n, lam, aht, patience),
        e.erlang_a_p_abandon(n, lam, aht, patience),
        e.erlang_a_service_level(n, lam, aht, patience, 20),
        e.erlang_a_occupancy(n, lam, aht, patience),
    ):
        v = float(val)
        assert math.isfinite(v) and 0.0 <= v <= 1.0
    assert math.isfinite(float(e.erlang_a_mean_wait(n, lam, aht, patience)))


def test_hundred_thousand_agents() -> None:
    n = np.array([99_000, 100_000, 100_500, 101_000, 50_000, 150_000])
    load, aht = 100_000.0, 180.0
    lam = load / aht
    pw = e.erlang_c_p_wait(n, lam, aht)
    assert np.all(np.isfinite(pw)) and pw[0] == 1.0 and pw[1] == 1.0
    assert 0 < pw[3] < pw[2] < 1
    sl = e.erlang_c_service_level(n, lam, aht, 20)
    assert np.all(np.isfinite(sl))
    staff = int(e.erlang_c_staffing(lam, aht))
    assert 100_000 < staff < 101_000
    assert float(e.erlang_c_service_level(staff, lam, aht, 20)) >= 0.8
    assert float(e.erlang_c_service_level(staff - 1, lam, aht, 20)) < 0.8
    for f in (e.erlang_a_p_wait, e.erlang_a_p_abandon, e.erlang_a_asa, e.erlang_a_occupancy):
        assert np.all(np.isfinite(f(n, lam, aht, 300.0)))
    # Erlang B in the deep overload tail, where the incomplete gamma underflows: B ≈ 1 − N/A.
    assert float(e.erlang_b(50_000, 100_000.0)) == pytest.approx(0.5, rel=1e-4)


# --------------------------------------------------------------------------------------------
# Properties
# --------------------------------------------------------------------------------------------

loads = st.floats(0.01, 2000.0)
ahts = st.floats(20.0, 1200.0)
patiences = st.floats(2.0, 2000.0)
times = st.floats(0.0, 120.0)


@PROPS
@given(load=loads, aht=ahts, t=times, extra=st.integers(0, 200))
def test_erlang_c_monotone_in_agents(load: float, aht: float, t: float, extra: int) -> None:
    lam = load / aht
    load = lam * aht  # exactly the load the module sees
    n = np.arange(max(0, math.floor(load) - 5), math.floor(load) + 2 + extra)
    pw = e.erlang_c_p_wait(n, lam, aht)
    sl = e.erlang_c_service_level(n, lam, aht, t)
    asa = e.erlang_c_asa(n, lam, aht)
    assert np.all((pw >= 0) & (pw <= 1)) and np.all((sl >= 0) & (sl <= 1))
    assert np.all(np.diff(pw) <= 1e-12)
    assert np.all(np.diff(sl) >= -1e-12)
    stable = asa[n > load]
    assert np.all(np.isinf(asa[n <= load])) and np.all(np.isfinite(stable))
    assert np.all(np.diff(stable) <= 1e-9 * stable[1:])


@PROPS
@given(load=loads, aht=ahts, patience=patiences, t=times, extra=st.integers(0, 100))
def test_erlang_a_monotone_in_agents(
    load: float, aht: float, patience: float, t: float, extra: int
) -> None:
    lam = load / aht
    load = lam * aht  # exactly the load the module sees
    n = np.arange(max(0, math.floor(load) - 30), math.floor(load) + 2 + extra)
    pw = e.erlang_a_p_wait(n, lam, aht, patience)
    pab = e.erlang_a_p_abandon(n, lam, aht, patience)
    sl = e.erlang_a_service_level(n, lam, aht, patience, t)
    for p in (pw, pab, sl):
        assert np.all((p >= 0) & (p <= 1))
    assert np.all(pab <= pw + 1e-15)
    assert np.all(np.diff(pw) <= 1e-12)
    assert np.all(np.diff(pab) <= 1e-12)
    assert np.all(np.diff(sl) >= -1e-12)


@PROPS
@given(
    load=st.floats(0.01, 5000.0),
    aht=ahts,
    target=st.floats(0.05, 0.99),
    t=times,
    occ=st.one_of(st.none(), st.floats(0.5, 1.0)),
    asa=st.one_of(st.none(), st.floats(1.0, 120.0)),
)
def test_erlang_c_staffing_is_minimal(
    load: float, aht: float, target: float, t: float, occ: float | None, asa: float | None
) -> None:
    lam = load / aht
    load = lam * aht  # exactly the load the module sees
    n = int(e.erlang_c_staffing(lam, aht, target_sl=target, target_time=t,
                                max_occupancy=occ, max_asa=asa))  # fmt: skip

    def ok(k: int) -> bool:
        good = k > load and float(e.erlang_c_service_level(k, lam, aht, t)) >= target
        if occ is not None:
            good &= float(e.erlang_c_occupancy(k, lam, aht)) <= occ
        if asa is not None:
            good &= float(e.erlang_c_asa(k, lam, aht)) <= asa
        return good

    assert ok(n)
    assert not ok(n - 1)


@PROPS
@given(
    load=st.floats(0.01, 3000.0),
    aht=ahts,
    patience=patiences,
    target=st.floats(0.05, 0.99),
    t=times,
    max_ab=st.one_of(st.none(), st.floats(0.01, 0.5)),
)
def test_erlang_a_staffing_is_minimal(
    load: float, aht: float, patience: float, target: float, t: float, max_ab: float | None
) -> None:
    lam = load / aht
    n = int(e.erlang_a_staffing(lam, aht, patience, target_sl=target, target_time=t,
                                max_abandon=max_ab))  # fmt: skip

    def ok(k: int) -> bool:
        good = float(e.erlang_a_service_level(k, lam, aht, patience, t)) >= target
        if max_ab is not None:
            good &= float(e.erlang_a_p_abandon(k, lam, aht, patience)) <= max_ab
        return good

    assert ok(n)
    assert n == 0 or not ok(n - 1)


@PROPS
@given(load=st.floats(0.05, 50.0), aht=ahts, t=times, extra=st.integers(1, 10))
def test_erlang_a_tends_to_erlang_c_as_patience_grows(
    load: float, aht: float, t: float, extra: int
) -> None:
    lam = load / aht
    load = lam * aht  # exactly the load the module sees
    n = math.floor(load) + extra
    assume(n - load > 0.2)
    pw_c = float(e.erlang_c_p_wait(n, lam, aht))
    sl_c = float(e.erlang_c_service_level(n, lam, aht, t))
    asa_c = float(e.erlang_c_asa(n, lam, aht))
    # Waits scale like AHT/(N − A) and their spread like its square, hence this patience.
    base = aht / (n - load) ** 2
    gaps = []
    for factor in (1e4, 1e5):
        patience = factor * base
        pw = float(e.erlang_a_p_wait(n, lam, aht, patience))
        sl = float(e.erlang_a_service_level(n, lam, aht, patience, t))
        asa = float(e.erlang_a_asa(n, lam, aht, patience))
        assert float(e.erlang_a_p_abandon(n, lam, aht, patience)) <= pw
        gaps.append((abs(pw - pw_c), abs(sl - sl_c), abs(asa / asa_c - 1)))
    assert gaps[1][0] < 1e-3 and gaps[1][1] < 1e-3 and gaps[1][2] < 1e-2
    # …and the gap keeps shrinking as patience grows (abandonment vanishes like 1/patience).
    # The slack covers gaps that cross zero: abandonment both adds failures and shortens the
    # waits of the others, so e.g. the SL difference can change sign on the way.
    for small, big in zip(gaps[1], gaps[0], strict=True):
        assert small <= big * 0.5 + 1e-5
    # patience = inf is Erlang C exactly.
    assert float(e.erlang_a_p_wait(n, lam, aht, math.inf)) == pw_c
    assert float(e.erlang_a_asa(n, lam, aht, math.inf)) == asa_c


def test_erlang_a_staffing_with_every_target_is_minimal() -> None:
    lam = np.array([0.05, 0.4, 1.1, 3.0])
    aht, patience, t = 240.0, np.array([60.0, 180.0, 600.0, np.inf]), 20.0
    targets = {"target_sl": 0.8, "max_abandon": 0.03, "max_occupancy": 0.9, "max_asa": 25.0}
    n = e.erlang_a_staffing(lam, aht, patience, target_time=t, **targets)

    def ok(k: np.ndarray) -> np.ndarray:
        return (
            (e.erlang_a_service_level(k, lam, aht, patience, t) >= targets["target_sl"])
            & (e.erlang_a_p_abandon(k, lam, aht, patience) <= targets["max_abandon"])
            & (e.erlang_a_occupancy(k, lam, aht, patience) <= targets["max_occupancy"])
            & (e.erlang_a_asa(k, lam, aht, patience) <= targets["max_asa"])
        )

    assert np.all(ok(n))
    assert not np.any(ok(n - 1))
    # The inf-patience cell is plain Erlang C.
    assert n[3] == int(e.erlang_c_staffing(3.0, aht, max_occupancy=0.9, max_asa=25.0))
