"""Loading the REMS form editions (``forms/*.json``): one file per edition, its fields and
where each number comes from. The edition a session's form is built with is kept with the
form, because the form's fields changed between 2021 and 2025 (sessions.md 1.1)."""

from __future__ import annotations

from dataclasses import dataclass, replace
from functools import cache
from pathlib import Path

from kapclinic.clinical.definitions import Setting, read_json, validate
from kapclinic.clinical.protocols.definitions import settings_of
from kapclinic.clinical.protocols.file_model import Param
from kapclinic.clinical.rems.facts import known_facts
from kapclinic.clinical.rems.file_model import FormFile

FORMS_DIR = Path(__file__).with_name("forms")
DEFAULT_VERSION = "2021"


class RemsFormError(ValueError):
    """A form file that cannot be used, naming the file and the field."""

    def __init__(self, where: str, field: str, problem: str) -> None:
        super().__init__(f"{where}: {field}: {problem}")
        self.field, self.problem = field, problem


@dataclass(frozen=True)
class RemsForm:
    """One edition of the Patient Monitoring Form, as data."""

    spec: FormFile

    @property
    def version(self) -> str:
        return self.spec.version

    @property
    def title(self) -> str:
        return self.spec.title

    @property
    def submit_within_days(self) -> int:
        return int(self.spec.submit_within_days.value)

    @property
    def bp_after_dose_minutes(self) -> float:
        return float(self.spec.bp_after_dose_minutes.value)

    @property
    def minimum_duration_minutes(self) -> float:
        return float(self.spec.minimum_duration_minutes.value)

    @property
    def methods(self) -> dict[str, str]:
        return {m.id: m.label for m in self.spec.submission_methods}

    @property
    def remind_after_days(self) -> Setting[float | str]:
        """The clinic setting (labelled default, whole days) for the reminder day."""
        setting = self.spec.remind_after_days.as_setting()
        return replace(setting, default=int(setting.default), unit="days")


def load_form(path: Path) -> RemsForm:
    def fail(field: str, problem: str) -> RemsFormError:
        return RemsFormError(path.name, field, problem)

    spec = validate(FormFile, read_json(path, fail), fail)
    params: list[tuple[str, Param]] = [
        (name, getattr(spec, name)) for name in ("submit_within_days", "remind_after_days",
                                                 "bp_after_dose_minutes", "minimum_duration_minutes")]
    for name, param in params:
        if isinstance(param.value, str):
            raise fail(f"{name}.value", "must be a number")
    remind, due = spec.remind_after_days.value, spec.submit_within_days.value
    assert not isinstance(remind, str) and not isinstance(due, str)  # refused above
    if not remind < due:
        raise fail("remind_after_days.value", "must come before the form is due")
    settings_of(params, fail)
    known = known_facts()
    for s, section in enumerate(spec.sections):
        for f, field in enumerate(section.fields):
            if field.fact not in known:
                raise fail(f"sections[{s}].fields[{f}].fact", f"'{field.fact}' is not a fact the "
                                                              "session gives")
    if spec.remind_after_days.setting is None:
        raise fail("remind_after_days.setting", "is required")
    return RemsForm(spec)


@cache
def load_forms() -> dict[str, RemsForm]:
    forms = [load_form(path) for path in sorted(FORMS_DIR.glob("*.json"))]
    return {form.version: form for form in forms}


def get_form(version: str = DEFAULT_VERSION) -> RemsForm:
    forms = load_forms()
    if version not in forms:
        raise RemsFormError("forms", "version", f"'{version}' is not a known edition; known: "
                                                f"{', '.join(sorted(forms))}")
    return forms[version]
