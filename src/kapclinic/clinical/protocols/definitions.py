"""Protocols: load and validate the JSON files under ``data/`` (and a clinic's own folder).

A protocol is clinical knowledge as data with a source (shared/reference/clinical.md
sections 3.4, 4 and 5; sessions.md sections 1 and 2): drug, route, dose unit, range, hard
cap, infusion time, spacing, the induction and maintenance schedule, minimum observation,
monitoring interval, the pre-dose checklist, the monitoring rules and discharge criteria.
Numbers the reference leaves to the clinic are clinic settings (the shared ``Setting``
type) with a labelled default; ``Protocol.configured`` applies a clinic's choices or a named
preset. A malformed file is refused with a ``ProtocolFileError`` naming the file and field.
A clinic adds a protocol by putting a file in the folder named by ``KAPCLINIC_PROTOCOLS_DIR``
(no code change).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from kapclinic.clinical.definitions import Setting, load_folders, read_json, validate

from .errors import ProtocolFileError, ProtocolSettingError, UnknownProtocolError
from .file_model import Param, Preset, ProtocolFile

DATA_DIR = Path(__file__).with_name("data")
CLINIC_DIR_ENV = "KAPCLINIC_PROTOCOLS_DIR"

COUNTED_FROM = ("dose_start", "dose_end")
DISCHARGE_CRITERIA = ("modified_aldrete", "padss", "clinician_judgement")
# A number the reference does not give, or gives only unverified, must be a clinic setting.
NEEDS_SETTING = ("policy", "unverified")


def params(node: Any, path: str = "") -> Iterator[tuple[str, Param]]:
    """Every ``Param`` in a parsed file with its field path (``dose.cap``)."""
    if isinstance(node, Param):
        yield path, node
    elif isinstance(node, BaseModel):
        for name in type(node).model_fields:
            yield from params(getattr(node, name), f"{path}.{name}" if path else name)
    elif isinstance(node, list | tuple):
        for i, item in enumerate(node):
            yield from params(item, f"{path}[{i}]")
    elif isinstance(node, dict):
        for key, item in node.items():
            yield from params(item, f"{path}.{key}")


def settings_of(params: Iterable[tuple[str, Param]],
                fail: Callable[[str, str], Exception]) -> dict[str, Setting[float | str]]:
    """The clinic settings among ``params`` (field path, param) by name, each checked: a
    number the reference does not give, or gives only unverified, must be a setting; names
    are unique; a word's setting lists what may be chosen, a number's gives its bounds; the
    file's value is one a clinic could choose. Shared by protocols and monitoring rules."""
    out: dict[str, Setting[float | str]] = {}
    seen: dict[str, str] = {}
    for path, param in params:
        spec = param.setting
        if spec is None:
            if param.evidence in NEEDS_SETTING:
                raise fail(f"{path}.setting", f"is required: a {param.evidence} number is a clinic "
                                              "setting, never a fixed value")
            continue
        if spec.name in seen:
            raise fail(f"{path}.setting.name", f"'{spec.name}' is already the setting at {seen[spec.name]}")
        seen[spec.name] = path
        if isinstance(param.value, str):
            if spec.allowed is None:
                raise fail(f"{path}.setting.allowed", "is required for a setting whose value is a word")
        elif spec.min is None or spec.max is None:
            raise fail(f"{path}.setting.{'min' if spec.min is None else 'max'}",
                       "is required for a numeric setting")
        out[spec.name] = param.as_setting()
        problem = out[spec.name].problem(param.value)
        if problem is not None:
            raise fail(f"{path}.value", problem)
    return out


def check_presets(presets: Mapping[str, Preset], settings: Mapping[str, Setting[float | str]],
                  fail: Callable[[str, str], Exception]) -> None:
    """Every preset names only ``settings`` and gives each a value it allows."""
    for name, preset in presets.items():
        for key, value in preset.values.items():
            if key not in settings:
                raise fail(f"presets.{name}.values.{key}", "is not a setting of this file")
            problem = settings[key].problem(value)
            if problem is not None:
                raise fail(f"presets.{name}.values.{key}", problem)


@dataclass(frozen=True)
class Protocol:
    """A validated protocol and the clinic's choices for its settings (``chosen``)."""

    model: ProtocolFile
    source_file: str
    chosen: Mapping[str, float | str] = field(default_factory=dict)
    preset: str | None = None

    # ---- values -----------------------------------------------------------------------
    def value(self, param: Param) -> float | str:
        """The param's value: the clinic's choice when it is a setting the clinic set."""
        if param.setting is not None and param.setting.name in self.chosen:
            return self.chosen[param.setting.name]
        return param.value

    def number(self, param: Param) -> float:
        value = self.value(param)
        assert not isinstance(value, str), param
        return float(value)

    def text(self, param: Param) -> str:
        return str(self.value(param))

    @property
    def id(self) -> str:
        return self.model.id

    @property
    def label(self) -> str:
        return self.model.label

    @property
    def drug(self) -> str:
        return self.model.drug

    @property
    def route(self) -> str:
        return self.model.route

    @property
    def dose_unit(self) -> str:
        return self.model.dose_unit

    @property
    def weight_based(self) -> bool:
        return self.model.dose_unit == "mg_per_kg"

    @property
    def unit_words(self) -> str:
        return "mg/kg" if self.weight_based else "mg"

    @property
    def dose_range(self) -> tuple[float, float]:
        """(lowest, highest) dose of the protocol, in its dose unit."""
        return self.number(self.model.dose.range_min), self.number(self.model.dose.range_max)

    @property
    def cap(self) -> float:
        """The hard cap, in the dose unit: above it needs a reason and a second clinician."""
        return self.number(self.model.dose.cap)

    @property
    def infusion_minutes(self) -> float | None:
        p = self.model.infusion_minutes
        return None if p is None else self.number(p)

    @property
    def min_observation_minutes(self) -> float:
        return self.number(self.model.observation.minimum_minutes)

    @property
    def observation_counted_from(self) -> str:
        return self.text(self.model.observation.counted_from)

    @property
    def effects_to_resolve(self) -> tuple[str, ...]:
        return tuple(self.model.observation.until_resolved)

    @property
    def monitoring_interval_minutes(self) -> tuple[float, float]:
        """(during dosing, after dosing) minutes between readings."""
        m = self.model.monitoring
        return self.number(m.interval_during_minutes), self.number(m.interval_after_minutes)

    @property
    def marks_minutes(self) -> tuple[float, ...]:
        return tuple(self.number(p) for p in self.model.monitoring.marks_minutes)

    @property
    def monitoring_rules(self) -> tuple[str, ...]:
        return tuple(self.model.monitoring.rules)

    @property
    def checklist(self) -> tuple[str, ...]:
        return tuple(self.model.checklist)

    @property
    def discharge_criteria(self) -> str:
        return self.text(self.model.discharge.criteria)

    @property
    def discharge_score_at_least(self) -> float:
        return self.number(self.model.discharge.score_at_least)

    @property
    def version_id(self) -> str:
        """``{id}@{version}``: stored with every calculation and session."""
        return f"{self.model.id}@{self.model.version}"

    # ---- settings -----------------------------------------------------------------------
    @property
    def settings(self) -> dict[str, Setting[float | str]]:
        """The clinic settings of this protocol by name, each with its labelled default."""
        return {p.setting.name: p.as_setting() for _, p in params(self.model) if p.setting is not None}

    def configured(self, values: Mapping[str, Any] | None = None,
                   preset: str | None = None) -> Protocol:
        """This protocol with a named preset's values, then ``values``, applied; each value
        checked against its setting (``ProtocolSettingError`` naming the setting)."""
        specs = self.settings
        chosen: dict[str, float | str] = dict(self.chosen)
        if preset is not None:
            if preset not in self.model.presets:
                known = ", ".join(sorted(self.model.presets)) or "none"
                raise ProtocolSettingError("preset", f"'{preset}' is not a preset of {self.id}; "
                                                     f"known: {known}")
            chosen.update(self.model.presets[preset].values)
        for name, value in (values or {}).items():
            if name not in specs:
                raise ProtocolSettingError(name, f"is not a setting of {self.id}; known: "
                                                 f"{', '.join(sorted(specs))}")
            problem = specs[name].problem(value)
            if problem is not None:
                raise ProtocolSettingError(name, problem)
            chosen[name] = value if isinstance(value, str) else float(value)
        out = Protocol(self.model, self.source_file, chosen, preset or self.preset)
        order = _dose_order_problem(out)
        if order is not None:
            raise ProtocolSettingError(*order)
        return out

    def summary(self) -> dict[str, Any]:
        """The listing row (``kapclinic protocols``)."""
        lo, hi = self.dose_range
        return {"id": self.id, "label": self.label, "version": self.model.version,
                "drug": self.drug, "route": self.route, "dose_unit": self.dose_unit,
                "range": [lo, hi], "cap": self.cap}


def _dose_order_problem(p: Protocol) -> tuple[str, str] | None:
    lo, hi = p.dose_range
    if lo > hi:
        return "dose.range_min", f"{lo:g} is above the range's top {hi:g} {p.unit_words}"
    if hi > p.cap:
        return "dose.range_max", f"{hi:g} is above the hard cap {p.cap:g} {p.unit_words}"
    standard = p.model.dose.standard
    if standard is not None and not lo <= p.number(standard) <= hi:
        return "dose.standard", f"{p.number(standard):g} is outside the range {lo:g}-{hi:g} {p.unit_words}"
    return None


def parse_protocol(data: Any, filename: str) -> Protocol:
    """Validate a decoded protocol file: shape and types, then the checks between fields."""

    def fail(where: str, problem: str) -> ProtocolFileError:
        return ProtocolFileError(filename, where, problem)

    model = validate(ProtocolFile, data, fail)
    settings = settings_of(params(model), fail)
    protocol = Protocol(model, filename)
    order = _dose_order_problem(protocol)
    if order is not None:
        raise fail(*order)
    if protocol.weight_based != ("weight_today" in model.checklist):
        raise fail("checklist", "a mg/kg protocol asks for today's weight (weight_today), "
                                "a mg protocol does not")
    if protocol.observation_counted_from not in COUNTED_FROM:
        raise fail("observation.counted_from.value", f"must be one of {', '.join(COUNTED_FROM)}")
    if protocol.discharge_criteria not in DISCHARGE_CRITERIA:
        raise fail("discharge.criteria.value", f"must be one of {', '.join(DISCHARGE_CRITERIA)}")
    for i, phase in enumerate(model.schedule):
        if phase.to_week is not None and phase.to_week < phase.from_week:
            raise fail(f"schedule[{i}].to_week", f"must not be before from_week {phase.from_week}")
    from kapclinic.clinical.monitoring.rules import load_rules  # lazy: monitoring reads protocols

    known = load_rules().rules
    for i, rule_id in enumerate(model.monitoring.rules):
        if rule_id not in known:
            raise fail(f"monitoring.rules[{i}]", f"'{rule_id}' is not a monitoring rule")
    check_presets(model.presets, settings, fail)
    for name in model.presets:
        try:
            protocol.configured(preset=name)
        except ProtocolSettingError as exc:
            raise fail(f"presets.{name}", str(exc)) from exc
    return protocol


def load_protocol(path: Path) -> Protocol:
    """One protocol file, validated."""
    return parse_protocol(read_json(path, lambda f, p: ProtocolFileError(path.name, f, p)), path.name)


def load_protocols(*extra_dirs: Path | str, include_shipped: bool = True) -> dict[str, Protocol]:
    """Protocols by id: the shipped ones plus every ``*.json`` in ``extra_dirs``. A clinic's
    file may not reuse an id already loaded (refused naming both files)."""
    dirs = [DATA_DIR, *extra_dirs] if include_shipped else list(extra_dirs)
    return load_folders(dirs, load_protocol, ProtocolFileError)


@cache
def load_all() -> dict[str, Protocol]:
    """The shipped protocols, plus the clinic's folder (``KAPCLINIC_PROTOCOLS_DIR``) when
    set, by id; validated once per process."""
    clinic_dir = os.environ.get(CLINIC_DIR_ENV, "").strip()
    return load_protocols(clinic_dir) if clinic_dir else load_protocols()


def resolve(protocol_id: str, protocols: Mapping[str, Protocol] | None = None) -> Protocol:
    """The protocol with this id, or ``UnknownProtocolError`` listing the known ones."""
    pool = load_all() if protocols is None else protocols
    if protocol_id not in pool:
        raise UnknownProtocolError(protocol_id, sorted(pool))
    return pool[protocol_id]
