"""``kapclinic score`` and ``kapclinic instruments``: argument parsing and output.

The host CLI calls ``add_score_arguments(parser)`` / ``run_score(args)`` and
``add_list_arguments(parser)`` / ``run_list(args)``; each returns the exit code (0, or 2
with a one-line message on stderr for bad input) and never calls ``sys.exit``.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from typing import TextIO

from ..usage import usage_error
from .definitions import InstrumentDefinition, load_all, load_definitions, resolve
from .errors import AnswerTypeError, DefinitionError
from .file_model import instrument_schema_text
from .scoring import ScoreResult, score_definition


def _add_common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print JSON")
    parser.add_argument("--definitions-dir", action="append", default=[], metavar="DIR",
                        help="also load the clinic's instrument definitions (*.json) from DIR")


# argparse reads a value that starts with '-' as an option, so "--answers -,0,1" failed with
# "expected one argument". It lets through values that look like negative numbers; answers
# lists ("-,0,1", "-,yes,no") are let through the same way (no option of this command looks
# like one).
_VALUE_STARTING_WITH_DASH = re.compile(r"^-\d+$|^-\d*\.\d+$|^-,")


def add_score_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``kapclinic score INSTRUMENT --answers a,b,c``."""
    parser._negative_number_matcher = _VALUE_STARTING_WITH_DASH  # noqa: SLF001 (see above)
    parser.add_argument("instrument", help="instrument id (see 'kapclinic instruments')")
    parser.add_argument("--answers", required=True, metavar="A,B,C",
                        help="answers in item order, comma-separated; '-' for a missing item")
    parser.add_argument("--prorate", action="store_true",
                        help="clinic setting: prorate where the instrument has a prorating rule")
    parser.add_argument("--rounding", choices=("half_up", "up"),
                        help="clinic setting: how a fractional prorated total is rounded "
                             "(default: the instrument's, half up)")
    parser.add_argument("--setting", action="append", default=[], metavar="NAME=VALUE",
                        help="clinic setting of the instrument, e.g. suicide_item_threshold=2")
    parser.add_argument("--sex", choices=("female", "male"),
                        help="for sex-specific cut-offs (AUDIT-C)")
    _add_common(parser)


def add_list_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``kapclinic instruments [schema]``."""
    parser.add_argument("what", nargs="?", choices=("schema",),
                        help="'schema': print the JSON Schema of an instrument definition file "
                             "(for a clinic writing its own)")
    _add_common(parser)


def _definitions(args: argparse.Namespace) -> dict[str, InstrumentDefinition]:
    dirs = getattr(args, "definitions_dir", None) or []
    return load_definitions(*dirs) if dirs else load_all()


def parse_answers(d: InstrumentDefinition, text: str) -> dict[str, int | None]:
    """``"1,0,-,2"`` in item order -> {linkId: value or None}. A token may also be an answer
    label (e.g. ``yes``/``no``). Trailing unscored items may be left off."""
    tokens = [t.strip() for t in text.split(",")] if text.strip() else []
    items = d.items
    if len(tokens) > len(items):
        raise AnswerTypeError(d.id, "(answers)", f"{len(tokens)} answers given but {d.short_name} "
                              f"has {len(items)} items ({', '.join(d.item_ids)})")
    if any(i.scored for i in items[len(tokens):]):
        raise AnswerTypeError(d.id, "(answers)", f"{len(tokens)} answers given but {d.short_name} "
                              f"has {len(items)} items ({', '.join(d.item_ids)}); use '-' for a missing one")
    answers: dict[str, int | None] = {}
    for position, (item, token) in enumerate(zip(items, tokens, strict=False), start=1):
        if token == "":
            # an empty field is a typo (two commas), not a missing answer: with --prorate
            # it would quietly make a prorated total
            raise AnswerTypeError(d.id, item.link_id, f"the answer at position {position} is "
                                  "empty; write '-' if the answer is missing")
        if token == "-":  # noqa: S105 (an answer, not a password)
            answers[item.link_id] = None
            continue
        try:
            answers[item.link_id] = int(token)
            continue
        except ValueError:
            pass
        match = [o.value for o in item.options if o.label and o.label.lower() == token.lower()]
        if not match:
            raise AnswerTypeError(d.id, item.link_id, f"'{token}' is not a whole number"
                                  " (or '-' for missing)")
        answers[item.link_id] = match[0]
    return answers


def _settings(d: InstrumentDefinition, pairs: list[str]) -> dict[str, int]:
    out: dict[str, int] = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        try:
            out[name.strip()] = int(value)
        except ValueError:
            raise ValueError(f"{d.id} --setting '{pair}': expected NAME=WHOLE_NUMBER") from None
        if not sep:
            raise ValueError(f"{d.id} --setting '{pair}': expected NAME=WHOLE_NUMBER")
    return out


def run_score(args: argparse.Namespace, out: TextIO | None = None, err: TextIO | None = None) -> int:
    """Execute ``kapclinic score``; 0 on success, 2 with one line on stderr for bad input."""
    out = out or sys.stdout
    err = err or sys.stderr
    try:
        d = resolve(args.instrument, _definitions(args))
        answers = parse_answers(d, args.answers)
        result = score_definition(d, answers, prorate=args.prorate,
                                  settings=_settings(d, args.setting), sex=args.sex,
                                  rounding=getattr(args, "rounding", None))
    except ValueError as exc:  # every error of this package is one (DefinitionError too)
        return usage_error(exc, err)
    if args.json:
        json.dump(result.to_dict(), out)
        out.write("\n")
    else:
        print(_describe(d, result), file=out)
    return 0


_ROUNDING = {"half_up": "half up", "up": "up", "": ""}


def _item_words(d: InstrumentDefinition, link_id: str) -> str:
    """An item by its label ("Unusual thought content"), not its id."""
    item = d.item(link_id)
    label = item.label if item is not None and item.label else link_id.replace("_", " ")
    return label[:1].upper() + label[1:]


def _describe(d: InstrumentDefinition, r: ScoreResult) -> str:
    head = f"{d.short_name} ({d.id})"
    if d.scoring.kind == "triage":
        why = r.triage_floor["summary"] if r.triage_floor else r.missing.withheld
        line = f"{head}: triage level {r.severity} - {r.severity_label}" if r.severity else \
            f"{head}: triage level withheld - {why}"
    elif r.total is None:
        line = f"{head}: total withheld - {r.missing.withheld}"
    else:
        total = f"{r.total:g}" if isinstance(r.total, float) else str(r.total)
        assert r.total_range is not None
        line = f"{head}: total {total}"
        if not r.partial:
            line += f" (range {r.total_range[0]}-{r.total_range[1]})"
        if r.missing.prorated:
            line += (f" PRORATED ({len(r.missing.missing)} missing; "
                     f"{r.missing.unrounded_total or 0:g} rounded "
                     f"{_ROUNDING[r.missing.rounding or '']})")
        if r.missing.not_rated:
            # a partial total is on the scale of the rated items only, not the full range
            rated = [i for i in d.items if i.scored and i.link_id not in r.missing.not_rated]
            low, high = sum(min(i.values) for i in rated), sum(max(i.values) for i in rated)
            names = ", ".join(_item_words(d, i) for i in r.missing.not_rated)
            line += (f" PARTIAL (sum of {len(rated)} rated item{'s' if len(rated) != 1 else ''}"
                     f", range {low}-{high}; not rated: {names})")
        if r.severity_label:
            line += f", {r.severity_label}"
    lines = [line]
    if r.subscales:
        lines.append("subscales: " + ", ".join(f"{k} {'-' if v is None else v}"
                                                for k, v in r.subscales.items()))
    lines.append("flags: " + (", ".join(r.flags) or "none"))
    if r.undetermined_flags:
        lines.append("undetermined (answer missing): " + ", ".join(r.undetermined_flags))
    for key, value in r.findings.items():
        lines.append(f"{key}: {'undetermined' if value is None else 'yes' if value else 'no'}")
    lines.append("missing: " + (", ".join(r.missing.missing) or "none"))
    if r.missing.not_applicable:
        lines.append("not asked (skip rule): " + ", ".join(r.missing.not_applicable))
    if d.text_notice:
        lines.append(f"note: {d.text_notice}")
    return "\n".join(lines)


def run_list(args: argparse.Namespace, out: TextIO | None = None, err: TextIO | None = None) -> int:
    """Execute ``kapclinic instruments``; lists every definition with its id, or with
    ``schema`` prints the JSON Schema a clinic's own definition file follows."""
    out = out or sys.stdout
    err = err or sys.stderr
    if getattr(args, "what", None) == "schema":
        out.write(instrument_schema_text())
        return 0
    try:
        definitions = _definitions(args)
    except DefinitionError as exc:
        return usage_error(exc, err)
    rows = [definitions[k].summary() for k in sorted(definitions)]
    if args.json:
        json.dump(rows, out, indent=2)
        out.write("\n")
        return 0
    for row in rows:
        rng = "{}-{}".format(*row["total_range"]) if row["total_range"] else "triage"
        text = "item text" if row["item_text_included"] else "no item text"
        print(f"{row['id']:<16} {row['short_name']:<18} {row['items']:>2} items  {rng:<7} "
              f"{row['rater']:<11} {text}", file=out)
    return 0
