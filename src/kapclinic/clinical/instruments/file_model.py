"""The shape and types of an instrument definition file (a clinic's own or a shipped one).

``InstrumentFile`` is what ``kapclinic instruments schema`` publishes as JSON Schema
(docs/schemas/instrument.schema.json). It checks shape and types only; what needs the
whole file (bands contiguous and covering the total range, rules naming real items and
settings, LOINC check digits, wording only under a licence that allows it) is checked by
``definitions.parse_definition`` afterwards. Conditions (``when``) are typed here as the
small language of ``conditions.py``; the items, scores and settings they name are checked
there, with the same field paths.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, Union

from pydantic import Discriminator, Field, Tag

from kapclinic.clinical.definitions import NonEmpty, Strict, Text, pattern_words

Evidence = Literal["verified", "secondary", "derived", "unverified", "policy"]
Rounding = Literal["half_up", "up"]
ChangeKind = Literal["percent_reduction", "point_reduction"]
InstrumentId = Annotated[str, pattern_words(
    r"^[a-z][a-z0-9_]{0,39}$", "must be lower-case letters, digits and _ (starting with a letter)")]
LinkId = Annotated[str, pattern_words(r"^[A-Za-z0-9_./-]{1,64}$",
                                      "must be 1-64 letters, digits or _ . / -")]
class Code(Strict):
    """A coded concept (e.g. LOINC) with its evidence tag and source."""

    system: Text
    code: Text
    display: Text | None = None
    evidence: Evidence
    source: Text


class Licence(Strict):
    text_may_be_shipped: Literal["yes", "non_commercial", "no", "unknown", "unverified"]
    note: Text
    source: Text


class WordingSource(Strict):
    """The published artefact item wording was copied from verbatim."""

    id: Text
    artefact: Text
    url: Text
    identifier: Text
    licence: Text
    file: Text
    note: Text | None = None


class AnswerOption(Strict):
    value: int
    label: Text | None = None
    code: Code | None = None
    anchor: bool = False
    counts_as_missing: bool = False


AnswerOptions = NonEmpty[AnswerOption]


def _answers_kind(value: Any) -> str:
    return "·set" if isinstance(value, str) else "·options"


class EnableWhen(Strict):
    item: Text
    op: Literal["==", "!="]
    value: int


class Item(Strict):
    link_id: LinkId
    answers: Annotated[
        Annotated[str, Tag("·set")] | Annotated[AnswerOptions, Tag("·options")],
        Discriminator(_answers_kind),
        Field(description="The name of an answer set, or the answer options themselves"),
    ]
    label: Text | None = None
    text: Text | None = None
    text_source: Text | None = None
    code: Code | None = None
    scored: bool = True
    enable_when: list[EnableWhen] = []
    enable_behavior: Literal["all", "any"] = "all"


class Setting(Strict):
    """A choice the reference leaves to the clinic, with a labelled default."""

    label: Text
    default: int
    allowed: NonEmpty[int]
    evidence: Evidence
    source: Text


class Group(Strict):
    id: Text
    items: NonEmpty[str]


class RoundingSetting(Strict):
    label: Text
    default: Rounding
    allowed: NonEmpty[Rounding]
    evidence: Evidence
    source: Text


class Prorate(Strict):
    max_missing: int
    method: Literal["mean_of_answered"]
    evidence: Evidence
    source: Text
    rounding: RoundingSetting | None = None


Op = Literal[">=", ">", "<=", "<", "==", "!="]


class SettingRef(Strict):
    setting: Text


def _threshold_kind(value: Any) -> str:
    return "·setting" if isinstance(value, dict) else "·number"


# A number, or {"setting": name} for a clinic setting.
Threshold = Annotated[
    Annotated[float, Tag("·number")] | Annotated[SettingRef, Tag("·setting")],
    Discriminator(_threshold_kind),
    Field(description='A number, or {"setting": name} for a clinic setting'),
]


class ItemCondition(Strict):
    """One item's answer compared with a number."""

    item: Text
    op: Op
    value: Threshold


class ScoreCondition(Strict):
    """The total or a subscale compared with a number."""

    score: Text
    op: Op
    value: Threshold


class SumCondition(Strict):
    """The sum of some items' answers compared with a number."""

    sum: NonEmpty[Text]
    op: Op
    value: Threshold


class CountCondition(Strict):
    """How many of the conditions hold, compared with a number."""

    count: NonEmpty[Condition]
    op: Op
    value: Threshold


class AnyCondition(Strict):
    any: NonEmpty[Condition]


class AllCondition(Strict):
    all: NonEmpty[Condition]


class NotCondition(Strict):
    not_: Condition = Field(alias="not")


class ContextCondition(Strict):
    """A fact the caller passes in (e.g. the patient's sex)."""

    context: Text
    equals: Text


CONDITION_KINDS = ("item", "score", "sum", "count", "any", "all", "not", "context")


def _condition_kind(value: Any) -> str | None:
    """The tag of the one condition key an object has; None (refused) for none or two."""
    if not isinstance(value, dict):
        return "·item"  # refused as "must be an object"
    kinds = [k for k in CONDITION_KINDS if k in value]
    return f"·{kinds[0]}" if len(kinds) == 1 else None


Condition = Annotated[
    Union[  # noqa: UP007 -- the members are forward references
        Annotated[ItemCondition, Tag("·item")], Annotated[ScoreCondition, Tag("·score")],
        Annotated[SumCondition, Tag("·sum")], Annotated[CountCondition, Tag("·count")],
        Annotated[AnyCondition, Tag("·any")], Annotated[AllCondition, Tag("·all")],
        Annotated[NotCondition, Tag("·not")], Annotated[ContextCondition, Tag("·context")],
    ],
    Discriminator(_condition_kind, custom_error_type="condition_kind",
                  custom_error_message=f"must have exactly one of {', '.join(CONDITION_KINDS)}"),
    Field(description="A condition: {item|score|sum|count, op, value}, {any|all: [...]}, "
                      "{not: ...} or {context, equals} (kapclinic/clinical/instruments/conditions.py)"),
]
for _model in (CountCondition, AnyCondition, AllCondition, NotCondition):
    _model.model_rebuild()


class SkipRule(Strict):
    may_skip: NonEmpty[str]
    when: Condition


class MissingRule(Strict):
    rule: Literal["complete", "conditional", "partial_groups", "sum_of_rated"]
    note: Text
    evidence: Evidence
    source: Text
    always_required: NonEmpty[str] | None = None
    skip_rules: NonEmpty[SkipRule] | None = None
    prorate: Prorate | None = None


class Scoring(Strict):
    kind: Literal["sum", "max_of_groups", "single", "triage"]
    missing: MissingRule
    evidence: Evidence
    source: Text
    groups: NonEmpty[Group] | None = None


class Subscale(Strict):
    id: Text
    label: Text
    items: NonEmpty[str]


class Band(Strict):
    code: Text
    label: Text
    min: int
    max: int


class Severity(Strict):
    bands: NonEmpty[Band]
    evidence: Evidence
    source: Text
    note: str = ""


class TriageLevel(Strict):
    code: Text
    label: Text
    when: Condition | None = None
    otherwise: bool = False
    evidence: Evidence
    source: Text
    answer_code: Code | None = None


class Rule(Strict):
    """A finding or an alert (only an alert has a priority)."""

    id: Text
    label: Text
    when: Condition
    evidence: Evidence
    source: Text
    priority: Literal["urgent", "follow_up"] | None = None


class ChangeRule(Strict):
    id: Text
    kind: ChangeKind
    at_least: float
    evidence: Evidence
    source: Text


class Remission(Strict):
    op: Literal["<=", "<"]
    value: Annotated[
        Annotated[int, Tag("·number")] | Annotated[SettingRef, Tag("·setting")],
        Discriminator(_threshold_kind),
        Field(description='A whole number, or {"setting": name} for a clinic setting'),
    ]
    evidence: Evidence
    source: Text


class InstrumentFile(Strict):
    """A kapclinic instrument definition: a questionnaire or rating scale as data, every
    cut-off and code with its evidence tag and source. A clinic adds an instrument by
    putting such a file (named ``<id>.json``) in its instruments folder."""

    schema_version: Literal[1]
    id: InstrumentId
    name: Text
    short_name: Text
    version: Text
    rater: Literal["self", "clinician", "observer", "mixed", "unspecified"]
    recall_period: Text | None = None
    reference: Text
    citation: Text
    licence: Licence
    text_notice: Text | None = None
    wording_sources: list[WordingSource] = []
    code: Code | None = None
    total_code: Code | None = None
    triage_code: Code | None = None
    answer_sets: dict[str, AnswerOptions] = {}
    items: NonEmpty[Item]
    settings: dict[str, Setting] = {}
    scoring: Scoring
    total_range: list[int] | None = None
    subscales: list[Subscale] = []
    subscales_partition_total: bool = False
    severity: Severity | None = None
    triage: NonEmpty[TriageLevel] | None = None
    findings: list[Rule] = []
    alerts: list[Rule] = []
    change_rules: list[ChangeRule] = []
    remission: Remission | None = None


SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"


def instrument_schema() -> dict[str, Any]:
    """The JSON Schema of an instrument definition file (``kapclinic instruments schema``;
    checked in as docs/schemas/instrument.schema.json)."""
    return {"$schema": SCHEMA_DIALECT, **InstrumentFile.model_json_schema()}


def instrument_schema_text() -> str:
    """The schema as the checked-in file holds it: two-space indented, ending in a newline."""
    import json

    return json.dumps(instrument_schema(), indent=2, ensure_ascii=False) + "\n"
