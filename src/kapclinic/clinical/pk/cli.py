"""``kapclinic pk models`` and ``kapclinic pk simulate``: argument parsing and output.

The host CLI calls ``add_arguments(pk_parser)`` and then ``run(args)`` for its exit code.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any, TextIO

from ..usage import usage_error
from .api import list_models
from .errors import ModelDefinitionError, PKInputError
from .simulate import simulate
from .svg import render

DISCLAIMER = "Decision support from published population models, not a dosing order."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the ``models`` and ``simulate`` subcommands to the ``pk`` parser."""
    sub = parser.add_subparsers(dest="pk_command", required=True, metavar="{models,simulate}")
    models = sub.add_parser("models", help="list the published PK models")
    models.add_argument("--json", action="store_true", help="print JSON")
    sim = sub.add_parser("simulate", help="simulate plasma concentrations for a regimen")
    sim.add_argument("--model", required=True, help="model id (see 'pk models')")
    sim.add_argument("--route", required=True,
                     help="iv-bolus, iv-infusion, im, intranasal, sublingual or oral")
    dose = sim.add_mutually_exclusive_group(required=True)
    dose.add_argument("--dose-mg-per-kg", type=float, metavar="D")
    dose.add_argument("--dose-mg", type=float, metavar="D")
    sim.add_argument("--weight-kg", type=float, required=True, metavar="W")
    sim.add_argument("--duration-min", type=float, metavar="T",
                     help="infusion duration (iv-infusion only; default 40)")
    sim.add_argument("--hours", type=float, default=24.0, metavar="H")
    sim.add_argument("--step-min", type=float, default=1.0, metavar="S")
    sim.add_argument("--population", type=int, metavar="N", help="virtual patients")
    sim.add_argument("--seed", type=int, metavar="S")
    sim.add_argument("--asian", action="store_true", default=None,
                     help="patient is Asian (esketamine model: kel x0.36, noresketamine CL x0.81)")
    sim.add_argument("--japanese", action="store_true", default=None,
                     help="patient is Japanese (esketamine model: FRn x1.34, plus the Asian "
                          "effects)")
    sim.add_argument("--age-years", type=float, metavar="A",
                     help="age (esketamine model: hepatic flow -2.19 L/h per year above 60)")
    sim.add_argument("--json", action="store_true", help="print JSON")
    sim.add_argument("--plot", metavar="FILE.svg", help="write the curve as SVG")


def run(args: argparse.Namespace, out: TextIO | None = None, err: TextIO | None = None) -> int:
    """Execute a parsed ``pk`` command; 0 on success, 2 with a one-line message on bad input."""
    out = out or sys.stdout
    err = err or sys.stderr
    try:
        if args.pk_command == "models":
            return _models(args, out)
        return _simulate(args, out)
    except (PKInputError, ModelDefinitionError) as exc:
        return usage_error(exc, err)


def _models(args: argparse.Namespace, out: TextIO) -> int:
    rows = list_models()
    if args.json:
        json.dump(rows, out, indent=2)
        out.write("\n")
        return 0
    for row in rows:
        flags = ", ".join(sorted({c["kind"] for c in row["caveats"]}))
        print(f"{row['id']:<24} {row['drug']:<11} [{row['evidence']}] "
              f"{', '.join(row['routes'])}", file=out)
        print(f"{'':<24} population: {row['population']}", file=out)
        print(f"{'':<24} source: {row['source']}", file=out)
        if flags:
            print(f"{'':<24} caveats: {flags}", file=out)
    return 0


def _simulate(args: argparse.Namespace, out: TextIO) -> int:
    plot = Path(args.plot) if args.plot else None
    if plot is not None and plot.suffix.lower() != ".svg":
        what = "PNG needs a raster plotting library we do not ship" \
            if plot.suffix.lower() == ".png" else f"unknown plot format '{plot.suffix}'"
        raise PKInputError("plot", f"{what}; use --plot FILE.svg")
    result = simulate(args.model, args.route, dose_mg=args.dose_mg,
                      dose_mg_per_kg=args.dose_mg_per_kg, weight_kg=args.weight_kg,
                      duration_min=args.duration_min, hours=args.hours, step_min=args.step_min,
                      population=args.population, seed=args.seed, asian=args.asian,
                      japanese=args.japanese, age_years=args.age_years)
    if plot is not None:
        try:
            plot.write_text(render(result), encoding="utf-8")
        except OSError as exc:
            raise PKInputError("plot", f"cannot write {plot}: {exc.strerror}") from exc
    if args.json:
        data: dict[str, Any] = result.to_dict()
        data["disclaimer"] = DISCLAIMER
        json.dump(data, out)
        out.write("\n")
        return 0
    lines = [
        f"{result.model_name} ({result.model}), {result.route} {result.dose_mg:g} mg, "
        f"{result.weight_kg:g} kg",
        f"Cmax {result.cmax_ng_per_ml:.1f} ng/mL at {result.tmax_h:.2f} h",
        f"AUC 0-{result.times_h[-1]:g} h {result.auc_ng_h_per_ml:.1f} ng*h/mL; "
        f"AUC 0-inf {result.auc_inf_ng_h_per_ml:.1f} ng*h/mL",
    ]
    if result.population is not None:
        s = result.population_summary["cmax_ng_per_ml"]
        lines.append(f"population {result.population} (seed {result.seed}): Cmax 5/50/95th "
                     f"percentile {s['p05']:.1f} / {s['p50']:.1f} / {s['p95']:.1f} ng/mL")
    lines += [f"warning: {m}" for m in result.extrapolations]
    lines += [f"warning: {m}" for m in result.observed_misses]
    lines += [f"warning: {m}" for m in result.discrepancies]
    lines += [f"note: {m}" for m in result.unchecked]
    lines += [f"note: {m}" for m in result.fitted_bioavailability]
    lines += [f"source [{result.evidence}]: {result.citation}"]
    lines += [f"caveat ({c['kind']}): {c['text']}" for c in result.caveats]
    lines += [f"assumption: {a}" for a in result.assumptions]
    if plot is not None:
        lines.append(f"plot written to {plot}")
    lines.append(DISCLAIMER)
    print("\n".join(lines), file=out)
    return 0
