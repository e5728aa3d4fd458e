"""Fast evaluation of a Solution on a uniform time grid, with per-patient Cmax/Tmax and
per-time percentiles computed block by block (time-major) so memory stays small.

Within a segment ``exp(lam (t_k - t_s)) = exp(lam delta) * exp(lam j h)``: the second
factor is a small table computed once per patient (``j < block``), the first is updated
by one multiplication per block. The exponentials are thus amortised and the inner
loop is a multiply-add over contiguous rows; two threads split the time axis (numpy
releases the GIL in ufuncs and in partition).
"""

from __future__ import annotations

import math
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np

from .engine import FloatArray, Solution

PERCENTILES = (5.0, 50.0, 95.0)
_BLOCK_ELEMENTS = 1 << 17  # rows x patients per block: stays within cache


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


def evaluate_grid(sol: Solution, output: int, n_points: int, step_min: float, *,
                  keep_curves: bool = True, percentiles: bool = False,
                  threads: int = 2) -> GridResult:
    """Concentrations of one output on ``t_k = k * step_min``, k < n_points."""
    p, n = sol.lam.shape
    block = int(min(n_points, max(8, _BLOCK_ELEMENTS // max(p, 1))))
    seg_first = [first_index_at_or_after(t, step_min) for t in sol.starts] + [n_points]
    table = np.exp(sol.lam.T[:, None, :] * (np.arange(block) * step_min)[None, :, None])
    step_factor = np.exp(sol.lam * (block * step_min))  # (P, n)
    curves = np.empty((n_points, p)) if keep_curves else None
    qs = PERCENTILES if percentiles else ()

    def run(k_lo: int, k_hi: int) -> tuple[FloatArray, np.ndarray, FloatArray]:
        cmax = np.full(p, -np.inf)
        tidx = np.zeros(p, dtype=np.int64)
        pct = np.empty((len(qs), k_hi - k_lo))
        scratch = np.empty((block, p))
        tmp = np.empty((block, p))
        cache: dict[int, tuple[int, FloatArray]] = {}
        for k0 in range(k_lo, k_hi, block):
            k1 = min(k0 + block, k_hi)
            buf = curves[k0:k1] if curves is not None else scratch[: k1 - k0]
            for s in range(len(sol.starts)):
                a, b = max(k0, seg_first[s]), min(k1, seg_first[s + 1])
                if a >= b:
                    continue
                prev = cache.get(s)
                if prev is not None and prev[0] + block == a:
                    coef = prev[1] * step_factor[:, None, :]
                else:
                    delta = a * step_min - sol.starts[s]
                    coef = sol.alpha[s] * np.exp(sol.lam * delta)[:, None, :]
                cache[s] = (a, coef)
                rows = buf[a - k0 : b - k0]
                rows[...] = sol.c0[s, :, output]
                for i in range(n):
                    np.multiply(table[i, : b - a], coef[:, output, i], out=tmp[: b - a])
                    rows += tmp[: b - a]
            _update_peak(buf, k0, cmax, tidx)
            for j in range(k1 - k0):
                if qs:
                    pct[:, k0 - k_lo + j] = row_percentiles(buf[j], qs)
        return cmax, tidx, pct

    ranges = _split(n_points, block, threads if p * n_points > 2_000_000 else 1)
    if len(ranges) == 1:
        parts = [run(*ranges[0])]
    else:
        with ThreadPoolExecutor(len(ranges)) as pool:
            parts = list(pool.map(lambda r: run(*r), ranges))
    cmax, tidx = parts[0][0], parts[0][1]
    for c, t, _ in parts[1:]:
        later_higher = c > cmax  # ties keep the earlier time
        cmax = np.where(later_higher, c, cmax)
        tidx = np.where(later_higher, t, tidx)
    pct_all = np.concatenate([x[2] for x in parts], axis=1) if qs else None
    return GridResult(curves.T if curves is not None else None, cmax, tidx, pct_all)


def _split(n_points: int, block: int, threads: int) -> list[tuple[int, int]]:
    n_blocks = -(-n_points // block)
    per = -(-n_blocks // max(threads, 1))
    edges = [min(i * per * block, n_points) for i in range(threads + 1)]
    return [(lo, hi) for lo, hi in zip(edges, edges[1:], strict=False) if hi > lo]


def _update_peak(buf: FloatArray, k0: int, cmax: FloatArray, tidx: np.ndarray) -> None:
    block_max = buf.max(axis=0)
    better = np.nonzero(block_max > cmax)[0]
    if better.size:
        tidx[better] = k0 + buf[:, better].argmax(axis=0)
        cmax[better] = block_max[better]


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
    if not ks:
        return {}
    mid = ks[len(ks) // 2]
    y = np.partition(x, mid - offset)
    out = {mid: float(y[mid - offset])}
    rest_right = [k for k in ks if k > mid]
    if rest_right and rest_right[0] == mid + 1:  # the next order statistic is a min away
        out[mid + 1] = float(y[mid - offset + 1 :].min())
        rest_right = rest_right[1:]
    out.update(_order_stats(y[: mid - offset], [k for k in ks if k < mid], offset))
    out.update(_order_stats(y[mid - offset + 1 :], rest_right, mid + 1))
    return out
