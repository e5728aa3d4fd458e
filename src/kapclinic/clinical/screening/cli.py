"""``kapclinic screen``: evaluate an intake file and print the decision.

The host CLI calls ``add_arguments(screen_parser)`` and then ``run(args)`` for its exit code:
0 when a decision was made (whatever its status), 2 with one line on stderr naming the field
when the input is invalid. Never calls ``sys.exit``.
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import date
from pathlib import Path
from typing import Any, TextIO

from ..usage import usage_error
from .definitions import DRUGS, ROUTES
from .engine import Decision, evaluate
from .errors import RuleDefinitionError, ScreeningError
from .schema import HISTORY_LABELS

DISCLAIMER = "Decision support for the prescriber's review, not an eligibility order."
# as the screening page says it
UNASSESSED = "Also answered yes (no screening rule weighs it; the prescriber does)"


def history_label(field: str) -> str:
    """'history.seizures' as the intake form asks it ('Seizures')."""
    key = field.removeprefix("history.")
    return HISTORY_LABELS.get(key, key.replace("_", " ").capitalize())


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add ``--intake``, ``--drug``, ``--route``, ``--as-of``, ``--settings`` and ``--json``."""
    parser.add_argument("--intake", required=True, metavar="FILE.json", help="intake file (JSON object)")
    parser.add_argument("--drug", choices=DRUGS, default="ketamine", help="default: ketamine (racemic)")
    parser.add_argument("--route", choices=ROUTES, default=None,
                        help="administration route; omit to apply every route's rules")
    parser.add_argument("--as-of", metavar="YYYY-MM-DD", default=None,
                        help="evaluation date that ages are computed against (default: today)")
    parser.add_argument("--settings", metavar="FILE.json", default=None,
                        help="clinic settings (thresholds, rule_severity, disabled_rules)")
    parser.add_argument("--json", action="store_true", help="print the decision as JSON")


def run(args: argparse.Namespace, out: TextIO | None = None, err: TextIO | None = None) -> int:
    """Execute a parsed ``screen`` command; 0 on a decision, 2 with a one-line message on bad input."""
    out = out or sys.stdout
    err = err or sys.stderr
    try:
        intake = _read_json(args.intake, "intake")
        settings = None if args.settings is None else _read_json(args.settings, "settings")
        as_of = _date(args.as_of)
        decision = evaluate(intake, drug=args.drug, route=args.route, settings=settings, as_of=as_of)
    except (ScreeningError, RuleDefinitionError) as exc:
        return usage_error(exc, err)
    if args.json:
        json.dump(decision.to_dict(), out, indent=2, ensure_ascii=False)
        out.write("\n")
    else:
        print(render_text(decision), file=out)
    return 0


class _CliInputError(ScreeningError):
    pass


def _read_json(name: str, what: str) -> Any:
    try:
        text = Path(name).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise _CliInputError(what, f"cannot read {name}: {reason}") from exc
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise _CliInputError(what, f"{name} is not valid JSON: {exc.msg} at line {exc.lineno} "
                                   f"column {exc.colno}") from exc


def _date(text: str | None) -> date | None:
    if text is None:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError as exc:
        raise _CliInputError("as-of", f"'{text}' is not a date written YYYY-MM-DD") from exc


def render_text(decision: Decision) -> str:
    """The decision as plain text a clinician reads, most severe rule first."""
    route = decision.route or "any route (not chosen)"
    lines = [
        f"Status: {decision.status}",
        f"Drug: {decision.drug}; route: {route}; evaluated on {decision.evaluated_on.isoformat()}"
        + (f"; age {decision.age_years}" if decision.age_years is not None else ""),
    ]
    for rule in decision.rules:
        lines.append(f"[{rule.severity}] {rule.id}: {rule.message}")
        if rule.details:
            lines.append(f"    matched: {'; '.join(rule.details)}")
        lines.append(f"    action: {rule.action}")
        lines.append(f"    source [{rule.evidence}]: {rule.citation}")
        if rule.evidence_note:
            lines.append(f"    note: {rule.evidence_note}")
    for field in decision.missing:
        lines.append(f"[missing] {field} (needed by {', '.join(decision.missing_for[field])})")
    for warning in decision.warnings:
        lines.append(f"[check] {warning}")
    if decision.unassessed:
        lines.append(f"{UNASSESSED}: " + "; ".join(history_label(f) for f in decision.unassessed))
    if decision.medications:
        lines.append("Medications: " + "; ".join(decision.medications))
    lines.append(f"Rule set {decision.ruleset_version} ({decision.ruleset_digest})")
    if decision.settings_changed:
        lines.append("Clinic settings: " + json.dumps(decision.settings_changed, sort_keys=True))
    lines.append(DISCLAIMER)
    return "\n".join(lines)
