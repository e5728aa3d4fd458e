"""Fast evaluation of a Solution on a uniform time grid, with per-patient Cmax/Tmax and
per-time percentiles.

Within a segment starting at ``t_s`` the grid offsets are ``tau_j = delta + j h``.
Writing ``j = a B + b`` factorises ``alpha_i exp(lam_i tau_j)`` into
``[alpha_i exp(lam_i (delta + a B h))] * [exp(lam_i b h)]``, so the whole segment of one
patient is a small matrix product (A x n) @ (n x B): numpy runs it batched over patients
in one call, summing the modes without temporaries. The two factors come from two
exponentials per mode and cumulative products. Patients are processed in cache-sized
chunks split between threads (numpy releases the GIL in matmul, reductions, partition).
"""

from __future__ import annotations

import math
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np

from .engine import FloatArray, Solution

PERCENTILES = (5.0, 50.0, 95.0)
_CHUNK_PATIENTS = 256  # a chunk's curves (256 x 1441 doubles) stay in L2/L3 cache
_FLOAT32_PATIENTS = 4096  # from here on percentiles are computed in float32


@dataclass(frozen=True)
class GridResult:
    """curves (P, K) or None; cmax (P,) ng/mL; tmax_index (P,); percentiles (q, K) or None."""

    curves: FloatArray | None
    cmax: FloatArray
    tmax_index: np.ndarray
    percentiles: FloatArray | None


def first_index_at_or_after(t_min: float, step_min: float) -> int:
    """Grid index k of the first point k*h >= t (a dose at exactly k*h belongs to its segment)."""
    return max(0, math.ceil(t_min / step_min - 1e-9))


def _powers(base: FloatArray, count: int) -> FloatArray:
    """(P, n) -> (P, n, count): base**0 .. base**(count-1) by cumulative product."""
    out = np.empty(base.shape + (count,))
    out[..., 0] = 1.0
    if count > 1:
        out[..., 1:] = base[..., None]
        np.cumprod(out, axis=-1, out=out)
    return out


def evaluate_grid(sol: Solution, output: int, n_points: int, step_min: float, *,
                  keep_curves: bool = True, percentiles: bool = False,
                  threads: int = 2) -> GridResult:
    """Concentrations of one output on ``t_k = k * step_min``, k < n_points.

    Returns curves (P, K) if ``keep_curves``, Cmax (P,) and its grid index (first on
    ties), and the 5/50/95th percentile across patients at every time if ``percentiles``.
    """
    p, n = sol.lam.shape
    seg_first = [min(first_index_at_or_after(t, step_min), n_points) for t in sol.starts]
    seg_first.append(n_points)
    width = max(1, math.isqrt(n_points))  # B: columns per factor row
    curves = np.empty((p, n_points)) if keep_curves else None
    # Percentiles of a large population are taken in float32: 7 significant digits are far
    # finer than any chart or summary, and the (K, P) matrix and its partitions halve.
    by_time = np.empty((n_points, p), dtype=np.float32 if p >= _FLOAT32_PATIENTS
                       else np.float64) if percentiles else None
    cmax = np.empty(p)
    tidx = np.empty(p, dtype=np.int64)

    def run(p0: int, p1: int) -> None:
        lam = sol.lam[p0:p1]
        inner = _powers(np.exp(lam * step_min), width)  # (Pc, n, B)
        outer_step = np.exp(lam * (width * step_min))
        buf = np.empty((p1 - p0, n_points + width))
        for s, t_s in enumerate(sol.starts):
            k_a, k_b = seg_first[s], seg_first[s + 1]
            if k_a >= k_b:
                continue
            rows = -(-(k_b - k_a) // width)
            coef = sol.alpha[s, p0:p1, output] * np.exp(lam * (k_a * step_min - t_s))
            outer = _powers(outer_step, rows) * coef[:, :, None]  # (Pc, n, A)
            # later segments overwrite the spill past k_b, so order matters
            target = np.reshape(buf[:, k_a : k_a + rows * width], (p1 - p0, rows, width),
                                copy=False)
            np.matmul(np.swapaxes(outer, 1, 2), inner, out=target)
            c0 = sol.c0[s, p0:p1, output]
            if np.any(c0 != 0):
                buf[:, k_a:k_b] += c0[:, None]
        view = buf[:, :n_points]
        tidx[p0:p1] = view.argmax(axis=1)
        cmax[p0:p1] = view[np.arange(p1 - p0), tidx[p0:p1]]
        if curves is not None:
            curves[p0:p1] = view
        if by_time is not None:
            by_time[:, p0:p1] = view.T

    chunks = [(i, min(i + _CHUNK_PATIENTS, p)) for i in range(0, p, _CHUNK_PATIENTS)]
    _parallel(run, chunks, threads if p > _CHUNK_PATIENTS else 1)
    pct = None
    if by_time is not None:
        pct = np.empty((len(PERCENTILES), n_points))

        def rows_pct(k0: int, k1: int) -> None:
            for k in range(k0, k1):
                pct[:, k] = row_percentiles(by_time[k], PERCENTILES)

        step = max(1, n_points // (4 * max(threads, 1)))
        _parallel(rows_pct, [(k, min(k + step, n_points)) for k in range(0, n_points, step)],
                  threads if p >= 4096 else 1)
    return GridResult(curves, cmax, tidx, pct)


def _parallel(fn: object, ranges: list[tuple[int, int]], threads: int) -> None:
    assert callable(fn)
    if threads <= 1 or len(ranges) <= 1:
        for lo, hi in ranges:
            fn(lo, hi)
        return
    with ThreadPoolExecutor(threads) as pool:
        for _ in pool.map(lambda r: fn(*r), ranges):
            pass


def row_percentiles(x: FloatArray, qs: tuple[float, ...]) -> FloatArray:
    """Percentiles of a 1-D array, identical to ``np.percentile`` (linear method).

    numpy's multi-kth partition is much slower than its SIMD single-kth path, so the
    needed order statistics are found by nested single-kth partitions instead.
    """
    m = x.size
    if m < 4096:
        return np.asarray(np.percentile(x, qs), dtype=float)
    need: set[int] = set()
    spots = []
    for q in qs:
        pos = q / 100.0 * (m - 1)
        lo = int(math.floor(pos))
        spots.append((lo, pos - lo))
        need.add(lo)
        if pos > lo:
            need.add(lo + 1)
    stats = _order_stats(x, sorted(need), 0)
    return np.array([stats[lo] + (stats[lo + 1] - stats[lo]) * frac if frac else stats[lo]
                     for lo, frac in spots])


def _order_stats(x: FloatArray, ks: list[int], offset: int) -> dict[int, float]:
    """Order statistics ``ks`` (sorted, absolute ranks) of ``x`` (ranks from ``offset``).

    A needed rank k+1 next to a needed k costs a minimum over the right part instead of
    a partition; the anchors (ranks whose predecessor is not needed) split the array.
    """
    anchors = [k for k in ks if k - 1 not in ks]
    if not anchors:
        return {}
    a = anchors[len(anchors) // 2]
    y = np.partition(x, a - offset)
    out = {a: float(y[a - offset])}
    if a + 1 in ks:
        out[a + 1] = float(y[a - offset + 1 :].min())
    out.update(_order_stats(y[: a - offset], [k for k in ks if k < a], offset))
    out.update(_order_stats(y[a - offset + 1 :], [k for k in ks if k > a + 1], a + 1))
    return out
