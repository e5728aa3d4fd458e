"""``kapclinic protocols`` and ``kapclinic dose``: argument parsing and output.

The host CLI calls ``add_list_arguments`` / ``run_list`` and ``add_dose_arguments`` /
``run_dose``; each returns the exit code (0, or 2 with one line on stderr naming the field
for impossible input) and never calls ``sys.exit``.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from datetime import date
from typing import TextIO

from ..usage import usage_error
from .definitions import Protocol, load_all, load_protocols, resolve
from .dose import calculate_dose
from .errors import DoseInputError, ProtocolError


def _add_common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print JSON")
    parser.add_argument("--protocols-dir", action="append", default=[], metavar="DIR",
                        help="also load the clinic's protocols (*.json) from DIR")


def add_list_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``kapclinic protocols``."""
    _add_common(parser)


def add_dose_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``kapclinic dose``. Numbers are read as text so that a bad one is refused
    in one line naming the field, like every other impossible input."""
    parser.add_argument("--protocol", required=True, help="protocol id (see 'kapclinic protocols')")
    parser.add_argument("--weight-kg", required=True, metavar="KG", help="today's weight in kg")
    parser.add_argument("--weight-date", metavar="YYYY-MM-DD",
                        help="the day the weight was taken (default: today)")
    parser.add_argument("--dose-mg-per-kg", metavar="D", help="the dose in mg/kg")
    parser.add_argument("--dose-mg", metavar="D", help="the dose in mg")
    parser.add_argument("--age", metavar="YEARS", help="the patient's age in years (a label's "
                        "doses from an age on: esketamine from 65)")
    parser.add_argument("--first-dose", action="store_true",
                        help="the patient's first dose of the drug (the label's day-1 dose)")
    _add_common(parser)


def _protocols(args: argparse.Namespace) -> dict[str, Protocol]:
    dirs = getattr(args, "protocols_dir", None) or []
    return load_protocols(*dirs) if dirs else load_all()


def _float(field: str, text: str | None) -> float | None:
    if text is None:
        return None
    try:
        value = float(text)
    except ValueError:
        raise DoseInputError(field, f"'{text}' is not a number") from None
    if not math.isfinite(value):
        raise DoseInputError(field, "must be a finite number")
    return value


def run_list(args: argparse.Namespace, out: TextIO | None = None, err: TextIO | None = None) -> int:
    """Execute ``kapclinic protocols``."""
    out, err = out or sys.stdout, err or sys.stderr
    try:
        protocols = _protocols(args)
    except ProtocolError as exc:
        return usage_error(exc, err)
    rows = [protocols[k].summary() for k in sorted(protocols)]
    if args.json:
        json.dump(rows, out, indent=2)
        out.write("\n")
        return 0
    for row in rows:
        unit = "mg/kg" if row["dose_unit"] == "mg_per_kg" else "mg"
        lo, hi = row["range"]
        print(f"{row['id']:<30} {row['drug']:<11} {row['route']:<12} {lo:g}-{hi:g} {unit:<6} "
              f"cap {row['cap']:g} {unit}", file=out)
    return 0


def run_dose(args: argparse.Namespace, out: TextIO | None = None, err: TextIO | None = None,
             today: date | None = None) -> int:
    """Execute ``kapclinic dose``; 0 (whether or not the dose is within the protocol), or 2
    with one line naming the field for impossible input."""
    out, err = out or sys.stdout, err or sys.stderr
    today = today or date.today()
    try:
        if (args.dose_mg_per_kg is None) == (args.dose_mg is None):
            raise DoseInputError("dose", "give exactly one of --dose-mg-per-kg and --dose-mg")
        protocol = resolve(args.protocol, _protocols(args))
        weight_date = today
        if args.weight_date is not None:
            try:
                weight_date = date.fromisoformat(args.weight_date)
            except ValueError:
                raise DoseInputError("weight_date", f"'{args.weight_date}' is not a date "
                                                    "written YYYY-MM-DD") from None
        result = calculate_dose(protocol, _float("weight_kg", args.weight_kg),
                                dose_mg_per_kg=_float("dose_mg_per_kg", args.dose_mg_per_kg),
                                dose_mg=_float("dose_mg", args.dose_mg),
                                weight_date=weight_date, today=today,
                                age_years=_float("age_years", args.age), first_dose=args.first_dose)
    except ProtocolError as exc:
        return usage_error(exc, err)
    if args.json:
        json.dump(result.to_dict(), out)
        out.write("\n")
        return 0
    per_kg = "-" if result.dose_mg_per_kg is None else f"{result.dose_mg_per_kg:g}"
    print(f"{protocol.label}: {result.dose_mg:g} mg ({per_kg} mg/kg), route {result.route}", file=out)
    print(f"within protocol: {'yes' if result.within_protocol else 'NO'}", file=out)
    for message in result.messages:
        print(f"- {message}", file=out)
    return 0
