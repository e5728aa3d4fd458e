"""Fast evaluation of a Solution on a uniform time grid, with per-patient Cmax/Tmax and
per-time percentiles.

Within a segment starting at ``t_s`` the grid offsets are ``tau_j = delta + j h``.
Writing ``j = a B + b`` factorises ``alpha_i exp(lam_i tau_j)`` into
``[alpha_i exp(lam_i (delta + a B h))] * [exp(lam_i b h)]``, so the whole segment of one
patient is a small matrix product (A x n) @ (n x B): numpy runs it batched over patients
in one call, summing the modes without temporaries. The two factors come from two
exponentials per mode and cumulative products. Patients are processed in cache-sized
chunks split between threads (numpy releases the GIL in matmul, reductions, partition).
Percentiles across patients are taken block by block of time points, so a population
never holds every patient at every time point in memory.
"""

from __future__ import annotations

import math
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np

from .engine import FloatArray, Solution

PERCENTILES = (5.0, 50.0, 95.0)
_CHUNK_ELEMENTS = 256 * 1441  # a chunk's curves (256 patients x 1441 doubles) stay in cache
_FLOAT32_PATIENTS = 4096  # from here on percentiles are computed in float32
# Percentiles need every patient at a time point, so the grid is computed in blocks of
# time points holding at most this many patient-time values at once (16 MB in float32):
# memory stays bounded whatever the population and the window.
BLOCK_ELEMENTS = 4_000_000


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
                  threads: int = 2, block_elements: int = BLOCK_ELEMENTS) -> GridResult:
    """Concentrations of one output on ``t_k = k * step_min``, k < n_points.

    Returns curves (P, K) if ``keep_curves``, Cmax (P,) and its grid index (first on
    ties), and the 5/50/95th percentile across patients at every time if ``percentiles``.
    With percentiles the time points are visited in blocks of at most ``block_elements``
    patient-time values (at least one time point), so memory beyond the kept curves is
    O(block_elements + P), never O(P x K).
    """
    p, n = sol.lam.shape
    seg_first = [min(first_index_at_or_after(t, step_min), n_points) for t in sol.starts]
    seg_first.append(n_points)
    width = max(1, math.isqrt(n_points))  # B: columns per factor row
    block = max(1, min(n_points, block_elements // p)) if percentiles else n_points
    # a chunk's curves stay in cache; short blocks take more patients per chunk
    chunk = max(1, min(-(-p // max(threads, 1)), _CHUNK_ELEMENTS // (block + width)))
    curves = np.empty((p, n_points)) if keep_curves else None
    # Percentiles of a large population are taken in float32: 7 significant digits are far
    # finer than any chart or summary, and the (block, P) matrix and its partitions halve.
    by_time = np.empty((block, p), dtype=np.float32 if p >= _FLOAT32_PATIENTS
                       else np.float64) if percentiles else None
    pct = np.empty((len(PERCENTILES), n_points)) if percentiles else None
    cmax = np.full(p, -np.inf)
    tidx = np.zeros(p, dtype=np.int64)

    chunks = [(i, min(i + chunk, p)) for i in range(0, p, chunk)]
    # per chunk, computed once for every block: exp(lam h b) for b < B, exp(lam h B)
    factors: dict[int, tuple[FloatArray, FloatArray]] = {}

    def run(p0: int, p1: int, t0: int, t1: int) -> None:
        lam = sol.lam[p0:p1]
        if p0 not in factors:
            factors[p0] = (_powers(np.exp(lam * step_min), width),  # (Pc, n, B)
                           np.exp(lam * (width * step_min)))
        inner, outer_step = factors[p0]
        buf = np.empty((p1 - p0, (t1 - t0) + width))
        for s, t_s in enumerate(sol.starts):
            k_a, k_b = max(seg_first[s], t0), min(seg_first[s + 1], t1)
            if k_a >= k_b:
                continue
            rows = -(-(k_b - k_a) // width)
            coef = sol.alpha[s, p0:p1, output] * np.exp(lam * (k_a * step_min - t_s))
            outer = _powers(outer_step, rows) * coef[:, :, None]  # (Pc, n, A)
            # later segments overwrite the spill past k_b, so order matters
            at = k_a - t0
            target = np.reshape(buf[:, at : at + rows * width], (p1 - p0, rows, width),
                                copy=False)
            np.matmul(np.swapaxes(outer, 1, 2), inner, out=target)
            c0 = sol.c0[s, p0:p1, output]
            if np.any(c0 != 0):
                buf[:, at : k_b - t0] += c0[:, None]
        view = buf[:, : t1 - t0]
        where = view.argmax(axis=1)
        peak = view[np.arange(p1 - p0), where]
        later = peak > cmax[p0:p1]  # strictly: the first maximum wins across blocks
        cmax[p0:p1] = np.where(later, peak, cmax[p0:p1])
        tidx[p0:p1] = np.where(later, where + t0, tidx[p0:p1])
        if curves is not None:
            curves[p0:p1, t0:t1] = view
        if by_time is not None:
            by_time[: t1 - t0, p0:p1] = view.T

    with ThreadPoolExecutor(threads) if threads > 1 else _NoPool() as pool:
        for t0 in range(0, n_points, block):
            t1 = min(t0 + block, n_points)
            _parallel(pool, lambda p0, p1, t0=t0, t1=t1: run(p0, p1, t0, t1), chunks,
                      p > chunk)
            if by_time is None or pct is None:
                continue
            rows_here = by_time[: t1 - t0]
            out = pct

            def rows_pct(k0: int, k1: int, t0: int = t0, rows_here: np.ndarray = rows_here,
                         out: np.ndarray = out) -> None:
                out[:, t0 + k0 : t0 + k1] = block_percentiles(rows_here[k0:k1], PERCENTILES)

            part = max(1, -(-(t1 - t0) // max(threads, 1)))
            _parallel(pool, rows_pct,
                      [(k, min(k + part, t1 - t0)) for k in range(0, t1 - t0, part)],
                      p >= _FLOAT32_PATIENTS)
    return GridResult(curves, cmax, tidx, pct)


class _NoPool:
    """Stands in for a thread pool when one thread is asked for."""

    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> None:
        return None


def _parallel(pool: ThreadPoolExecutor | None, fn: object, ranges: list[tuple[int, int]],
              worth_it: bool) -> None:
    assert callable(fn)
    if pool is None or not worth_it or len(ranges) <= 1:
        for lo, hi in ranges:
            fn(lo, hi)
        return
    for _ in pool.map(lambda r: fn(*r), ranges):
        pass


def row_percentiles(x: FloatArray, qs: tuple[float, ...]) -> FloatArray:
    """Percentiles of a 1-D array, identical to ``np.percentile`` (linear method)."""
    if x.size < 4096:
        return np.asarray(np.percentile(x, qs), dtype=float)
    return block_percentiles(x[None, :], qs)[:, 0]


def block_percentiles(x: np.ndarray, qs: tuple[float, ...]) -> FloatArray:
    """Percentiles (q, R) of each row of ``x`` (R, m), as ``np.percentile`` (linear method).

    numpy's multi-kth partition is much slower than its SIMD single-kth path, so the
    needed order statistics are found by nested single-kth partitions along the rows.
    """
    m = x.shape[1]
    if m < 4096:
        return np.asarray(np.percentile(x, qs, axis=1), dtype=float)
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
    return np.stack([stats[lo] + (stats[lo + 1] - stats[lo]) * frac if frac else stats[lo]
                     for lo, frac in spots])


def _order_stats(x: np.ndarray, ks: list[int], offset: int) -> dict[int, FloatArray]:
    """Order statistics ``ks`` (sorted, absolute ranks) of each row of ``x`` (ranks from
    ``offset``), as float64 arrays (R,).

    A needed rank k+1 next to a needed k costs a minimum over the right part instead of
    a partition; the anchors (ranks whose predecessor is not needed) split the rows.
    """
    anchors = [k for k in ks if k - 1 not in ks]
    if not anchors:
        return {}
    a = anchors[len(anchors) // 2]
    y = np.partition(x, a - offset, axis=1)
    out = {a: y[:, a - offset].astype(np.float64)}
    if a + 1 in ks:
        out[a + 1] = y[:, a - offset + 1 :].min(axis=1).astype(np.float64)
    left = [k for k in ks if k < a]
    right = [k for k in ks if k > a + 1]
    if left:
        out.update(_order_stats(y[:, : a - offset], left, offset))
    if right:
        out.update(_order_stats(y[:, a - offset + 1 :], right, a + 1))
    return out
