"""The session settings form (built from the protocol files and the monitoring rules) and the
clinic's REMS form details form.

A protocol or monitoring setting left empty follows the chosen preset, or the file's labelled
default; a number typed in is the clinic's own value. Every value is checked against its
allowed range here (the message names the range) and again by the save action.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django import forms

from kapclinic.clinical import protocols as core
from kapclinic.clinical import rems
from kapclinic.clinical.monitoring import load_rules
from kapclinic.clinical.protocols.course import OPEN_WEEKS_BOUNDS, THERAPY_DAYS_BOUNDS
from kapclinic.platform import text
from kapclinic.treatment import settings_catalog as catalog
from kapclinic.treatment import settings_words as words
from kapclinic.treatment.models import (
    INTEGRATION_DAYS_AFTER_DEFAULT,
    LATE_ENTRY_MINUTES_BOUNDS,
    LATE_ENTRY_MINUTES_DEFAULT,
    OPEN_WEEKS_DEFAULT,
    PREPARATION_DAYS_BEFORE_DEFAULT,
    TreatmentSettings,
)
from kapclinic.treatment.rems_models import RemsFormDetails
from kapclinic.treatment.settings_actions import (
    COURSE_FIELDS,
    MAX_CHAIRS,
    MAX_ROOMS,
    SettingsError,
    check_rooms,
    configured_protocol,
    rems_fingerprint,
)

MONITORING = "monitoring"
SEP = "--"  # between a protocol id and a setting name in a field's name (ids never hold "-")


def field_name(owner: str, setting: str) -> str:
    return f"{owner}{SEP}{setting}"


def rooms_text(rooms: list[dict[str, Any]]) -> str:
    return "\n".join(f"{r['name']}: {', '.join(r['chairs'])}" if r.get("chairs") else r["name"]
                     for r in rooms or [])


def parse_rooms(value: str) -> list[dict[str, Any]]:
    """'Room 1: A, B' a line -> [{"name": "Room 1", "chairs": ["A", "B"]}]."""
    out = []
    for line in value.splitlines():
        if not line.strip():
            continue
        name, _, chairs = line.partition(":")
        out.append({"name": name.strip(), "chairs": [c.strip() for c in chairs.split(",") if c.strip()]})
    return out


@dataclass
class Row:
    """A setting on the page: its description and its bound field."""

    info: catalog.SettingRow
    field: forms.BoundField
    now: str  # what applies when the field is left empty, and why


@dataclass
class Section:
    """One protocol (or the monitoring rules) on the page."""

    key: str
    title: str
    subtitle: str
    preset: forms.BoundField
    presets: tuple[catalog.PresetRow, ...]
    groups: list[tuple[str, list[Row]]]
    errors: list[str]

    @property
    def changed(self) -> int:
        return sum(1 for _, rows in self.groups for row in rows if row.field.value() not in (None, ""))

    @property
    def has_errors(self) -> bool:
        return bool(self.errors) or any(row.field.errors for _, rows in self.groups for row in rows) \
            or bool(self.preset.errors)


def _value_field(info: catalog.SettingRow, now: float | str) -> forms.Field:
    s = info.setting
    if s.allowed is not None:
        return forms.ChoiceField(
            label=info.label, required=False,
            choices=[("", f"As the preset or default: {words.choice(str(now)).lower()}")]
            + [(a, words.choice(str(a))) for a in s.allowed])
    attrs = {"min": f"{s.minimum:g}", "max": f"{s.maximum:g}", "inputmode": "decimal",
             "placeholder": f"{now:g}" if isinstance(now, int | float) else "",
             "step": "1" if s.integer else "any"}
    field_class = forms.IntegerField if s.integer else forms.FloatField
    return field_class(label=info.label, required=False, widget=forms.NumberInput(attrs=attrs))


def _preset_field(presets: tuple[catalog.PresetRow, ...]) -> forms.ChoiceField:
    return forms.ChoiceField(label="Preset", required=False, widget=forms.RadioSelect,
                             choices=[("", "None: each setting's default")]
                             + [(p.name, p.label) for p in presets])


def _now_words(info: catalog.SettingRow, value: float | str, default: float | str,
               preset_label: str | None) -> str:
    if value != default and preset_label:
        return f"Left empty: {info.shown(value)}, from the preset “{preset_label}”."
    return "Leave it empty for the default."


class SessionSettingsForm(forms.Form):
    """Late-entry allowance, rooms, each protocol's preset and settings, the monitoring
    rules' preset and thresholds. ``sections`` is what the page lays out."""

    version = forms.IntegerField(widget=forms.HiddenInput, min_value=1, max_value=2**31,
                                 error_messages={"required": "This form has no version: reload "
                                                             "the page and save again."})
    late_entry_minutes = forms.IntegerField(
        label=f"An entry made this many minutes after the event needs a reason "
              f"(default {LATE_ENTRY_MINUTES_DEFAULT})",
        min_value=LATE_ENTRY_MINUTES_BOUNDS[0], max_value=LATE_ENTRY_MINUTES_BOUNDS[1],
        help_text=f"Allowed: {LATE_ENTRY_MINUTES_BOUNDS[0]} to {LATE_ENTRY_MINUTES_BOUNDS[1]} minutes.",
        error_messages={"min_value": "Allowed: %(limit_value)s minutes or more.",
                        "max_value": "Allowed: up to %(limit_value)s minutes."})
    preparation_days_before = forms.IntegerField(
        label=f"Preparation therapy: days before a course's first dose "
              f"(default {PREPARATION_DAYS_BEFORE_DEFAULT})",
        min_value=THERAPY_DAYS_BOUNDS[0], max_value=THERAPY_DAYS_BOUNDS[1],
        help_text=f"Allowed: {THERAPY_DAYS_BOUNDS[0]} to {THERAPY_DAYS_BOUNDS[1]} days.")
    integration_days_after = forms.IntegerField(
        label=f"Integration therapy: days after each dose (default {INTEGRATION_DAYS_AFTER_DEFAULT}; "
              f"0 is the same day)",
        min_value=THERAPY_DAYS_BOUNDS[0], max_value=THERAPY_DAYS_BOUNDS[1],
        help_text=f"Allowed: {THERAPY_DAYS_BOUNDS[0]} to {THERAPY_DAYS_BOUNDS[1]} days.")
    course_open_weeks = forms.IntegerField(
        label=f"Maintenance without an end: weeks planned ahead (default {OPEN_WEEKS_DEFAULT})",
        min_value=OPEN_WEEKS_BOUNDS[0], max_value=OPEN_WEEKS_BOUNDS[1],
        help_text=f"Allowed: {OPEN_WEEKS_BOUNDS[0]} to {OPEN_WEEKS_BOUNDS[1]} weeks.")
    rooms = forms.CharField(
        label="Rooms and chairs", required=False, max_length=MAX_ROOMS * 400,
        widget=forms.Textarea(attrs={"rows": 5, "placeholder": "Room 1: Chair A, Chair B\nRoom 2"}),
        help_text=f"One room a line; its chairs after a colon, separated by commas. Up to "
                  f"{MAX_ROOMS} rooms of {MAX_CHAIRS} chairs.")

    def __init__(self, *args: Any, stored: TreatmentSettings, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.stored = stored
        self.initial.setdefault("version", stored.version)
        self.initial.setdefault("late_entry_minutes", stored.late_entry_minutes)
        for name in COURSE_FIELDS:
            self.initial.setdefault(name, getattr(stored, name))
        self.initial.setdefault("rooms", rooms_text(stored.rooms))
        text.guard(self, free_text=("rooms",))
        self.protocols = core.load_all()
        self._specs: dict[str, dict[str, catalog.SettingRow]] = {}
        self._build_protocol_fields()
        self._build_monitoring_fields()
        self.sections: list[Section] = []  # filled by layout(), after validation

    # ---- fields ----------------------------------------------------------------------
    def _build_protocol_fields(self) -> None:
        presets_chosen = self.stored.protocol_presets or {}
        chosen = self.stored.protocol_settings or {}
        for pid, protocol in self.protocols.items():
            presets = catalog.protocol_presets(protocol)
            preset = presets_chosen.get(pid) or ""
            self.fields[field_name(pid, "preset")] = _preset_field(presets)
            self.initial.setdefault(field_name(pid, "preset"), preset)
            try:
                applied = protocol.configured(preset=preset or None)
            except core.ProtocolSettingError:  # a preset the file no longer has
                applied = protocol
            self._specs[pid] = {}
            for group in catalog.protocol_groups(protocol):
                for info in group.rows:
                    self._specs[pid][info.name] = info
                    now = applied.chosen.get(info.name, info.setting.default)
                    name = field_name(pid, info.name)
                    self.fields[name] = _value_field(info, now)
                    self.initial.setdefault(name, (chosen.get(pid) or {}).get(info.name))

    def _build_monitoring_fields(self) -> None:
        rules = load_rules()
        presets = catalog.monitoring_presets()
        preset = self.stored.monitoring_preset or ""
        self.fields[field_name(MONITORING, "preset")] = _preset_field(presets)
        self.initial.setdefault(field_name(MONITORING, "preset"), preset)
        try:
            applied = rules.resolve(preset=preset or None).values
        except ValueError:
            applied = rules.resolve().values
        self._specs[MONITORING] = catalog.monitoring_setting_rows()
        for name, info in self._specs[MONITORING].items():
            self.fields[field_name(MONITORING, name)] = _value_field(info, applied[name])
            self.initial.setdefault(field_name(MONITORING, name),
                                    (self.stored.monitoring_values or {}).get(name))

    # ---- checks ----------------------------------------------------------------------
    def clean_rooms(self) -> list[dict[str, Any]]:
        try:
            return check_rooms(parse_rooms(self.cleaned_data.get("rooms") or ""))
        except SettingsError as exc:
            raise forms.ValidationError(exc.message[:1].upper() + exc.message[1:] + ".") from exc

    def _values_of(self, owner: str) -> dict[str, float | str]:
        out: dict[str, float | str] = {}
        for name, info in self._specs[owner].items():
            value = self.cleaned_data.get(field_name(owner, name))
            if value is None or value == "":
                continue
            s = info.setting
            if s.allowed is None:
                assert isinstance(value, int | float)
                if not (s.minimum or 0) <= value <= (s.maximum or 0):
                    self.add_error(field_name(owner, name),
                                   f"{words.number(value, s.unit)} is outside the allowed range: "
                                   f"{info.allowed_words.removeprefix('Allowed: ').rstrip('.')}.")
                    continue
            out[name] = value
        return out

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        self.chosen: dict[str, dict[str, float | str]] = {}
        self.presets: dict[str, str] = {}
        for pid in self.protocols:
            values = self._values_of(pid)
            preset = cleaned.get(field_name(pid, "preset")) or ""
            self.chosen[pid], self.presets[pid] = values, preset
            if not any(name.startswith(pid + SEP) for name in self.errors):
                try:
                    configured_protocol(pid, values, preset)
                except SettingsError as exc:
                    self.add_settings_error(exc)
        self.monitoring_values = self._values_of(MONITORING)
        self.monitoring_preset = cleaned.get(field_name(MONITORING, "preset")) or ""
        return cleaned

    def add_settings_error(self, exc: SettingsError) -> None:
        """A refusal from the core or the save action, on the field it is about."""
        owner, _, setting = exc.field.partition(".")
        if owner in self.protocols:
            setting = catalog.setting_paths(self.protocols[owner]).get(setting, setting)
        message = exc.message[:1].upper() + exc.message[1:] + "."
        if owner in self._specs and setting in self._specs[owner]:
            # the core's message starts with the setting's label: the field says it already
            label = self._specs[owner][setting].setting.label
            message = message.removeprefix(f"{label}: ")
            self.add_error(field_name(owner, setting), message[:1].upper() + message[1:])
        elif owner in self._specs and setting == "preset":
            self.add_error(field_name(owner, "preset"), message)
        elif exc.field in self.fields:
            self.add_error(exc.field, message)
        else:
            title = self.protocols[owner].label if owner in self.protocols else "Monitoring rules"
            self.add_error(None, f"{title}: {words.plain(message)}")

    def values(self) -> dict[str, Any]:
        """The cleaned settings, for settings_actions.save_session_settings."""
        return {"late_entry_minutes": self.cleaned_data["late_entry_minutes"],
                **{name: self.cleaned_data[name] for name in COURSE_FIELDS},
                "rooms": self.cleaned_data["rooms"],
                "protocol_settings": self.chosen, "protocol_presets": self.presets,
                "monitoring_values": self.monitoring_values,
                "monitoring_preset": self.monitoring_preset}

    # ---- layout ----------------------------------------------------------------------
    def _section(self, key: str, title: str, subtitle: str, presets: tuple[catalog.PresetRow, ...],
                 groups: list[tuple[str, list[catalog.SettingRow]]],
                 applied: dict[str, float | str], preset_label: str | None) -> Section:
        rows = [(heading, [Row(info, self[field_name(key, info.name)],
                               _now_words(info, applied.get(info.name, info.setting.default),
                                          info.setting.default, preset_label))
                           for info in infos]) for heading, infos in groups]
        errors = [str(e) for e in self.non_field_errors() if str(e).startswith(f"{title}:")]
        return Section(key, title, subtitle, self[field_name(key, "preset")], presets, rows, errors)

    def layout(self) -> list[Section]:
        """The page's sections: each protocol, then the monitoring rules."""
        sections = []
        for pid, protocol in self.protocols.items():
            presets = catalog.protocol_presets(protocol)
            preset = (self.stored.protocol_presets or {}).get(pid)
            try:
                applied = dict(protocol.configured(preset=preset or None).chosen)
            except core.ProtocolSettingError:
                applied, preset = {}, None
            label = next((p.label for p in presets if p.name == preset), None)
            view = catalog.ProtocolView(protocol, False)
            sections.append(self._section(
                pid, protocol.label, f"{view.drug} · {view.route} · {view.dose_range}, cap {view.cap}",
                presets, [(g.title, list(g.rows)) for g in catalog.protocol_groups(protocol)],
                applied, label))
        rules = load_rules()
        preset = self.stored.monitoring_preset or None
        try:
            applied_monitoring: dict[str, float | str] = dict(rules.resolve(preset=preset).values)
        except ValueError:
            applied_monitoring, preset = dict(rules.resolve().values), None
        presets = catalog.monitoring_presets()
        label = next((p.label for p in presets if p.name == preset), None)
        before = [r for r in catalog.monitoring_rules() if r.settings and r.phases == "before dosing"]
        during = [r for r in catalog.monitoring_rules() if r.settings and r.phases != "before dosing"]
        groups = [(f"Before dosing · {r.label}", list(r.settings)) for r in before] + \
                 [(f"During and after dosing · {r.label}" if r.id != "overdue" else r.label,
                   list(r.settings)) for r in during]
        sections.append(self._section(MONITORING, "Monitoring rules",
                                      "Holds before dosing and alerts during and after it, for every "
                                      "protocol", presets, groups, applied_monitoring, label))
        self.sections = sections
        return sections


class RemsDetailsForm(forms.ModelForm):
    """The clinic's healthcare-setting details printed on each Spravato REMS form."""

    fingerprint = forms.CharField(widget=forms.HiddenInput, max_length=64)
    form_version = forms.ChoiceField(label="Edition of the form")
    zip_code = forms.RegexField(
        label="ZIP code", required=False, regex=r"^\s*\d{5}(-\d{4})?\s*$", max_length=20,
        error_messages={"invalid": "A 5-digit ZIP code (or ZIP+4, 12345-6789)."})

    class Meta:
        model = RemsFormDetails
        fields = ["setting_name", "address", "city", "state", "zip_code", "form_version",
                  "remind_after_days"]
        labels = {"setting_name": "Name of the healthcare setting", "address": "Street address",
                  "city": "City", "state": "State"}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        details: RemsFormDetails = self.instance
        self.initial.setdefault("fingerprint", rems_fingerprint(details))
        self.fields["setting_name"].help_text = (
            f"As enrolled in the Spravato REMS. Left empty, the form prints the clinic's name "
            f"({details.clinic.name}).")
        self.fields["form_version"].choices = [
            (version, f"{form.title}, {version} edition") for version, form in rems.load_forms().items()]
        self.fields["form_version"].help_text = "The edition the session's form is printed from."
        setting = rems.get_form(details.form_version).remind_after_days
        lo, hi = int(setting.minimum or 1), int(setting.maximum or 1)
        allowed = f"Allowed: {lo} to {hi} days."
        self.fields["remind_after_days"] = forms.IntegerField(
            label=words.plain(setting.label), min_value=lo, max_value=hi,
            help_text=f"{allowed} The form is due within 7 days of the treatment.",
            error_messages={"min_value": allowed, "max_value": allowed})
        text.guard(self, names=("setting_name",), free_text=("address", "city", "state"))

    def values(self) -> dict[str, Any]:
        return {name: self.cleaned_data[name] for name in self.Meta.fields}

    @property
    def missing(self) -> list[str]:
        """What the printed form will leave blank until it is filled in here."""
        d = self.instance
        return [label for label, value in (("street address", d.address), ("city", d.city),
                                           ("state", d.state), ("ZIP code", d.zip_code)) if not value]
