"""The shape and types of ``diagnoses.json`` (``parse_table`` checks every code against the
ICD-10-CM code set and that no two groups claim the same codes) and of ``visit_codes.json``
(``visit_codes.parse_visit_codes`` checks that each drug's dose bands meet end to end)."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from kapclinic.clinical.definitions import NonEmpty, Strict, Text, pattern_words
from kapclinic.clinical.protocols.file_model import Evidence, Param
from kapclinic.clinical.screening.file_model import Drug, Route


class GroupFile(Strict):
    id: Text
    label: Text
    includes: NonEmpty[Text]
    excludes: list[Text] = []
    codes: list[Text] = []
    snomed: str = ""
    snomed_status: Text | None = None


class DiagnosesFile(Strict):
    id: Text
    version: Text
    system: Text
    citation: Text
    note: Text
    groups: NonEmpty[GroupFile]


# ---- visit_codes.json: the visit codes of a session, by drug, route and dose ----------------

# A HCPCS Level II code: a letter and four digits (G2082).
HcpcsCode = Annotated[str, pattern_words(r"^[A-Z][0-9]{4}$", "must be a letter and four digits (e.g. G2082)")]


class CodeBandFile(Strict):
    """One code and the doses it covers: above ``dose_mg_above`` (exclusive) up to
    ``dose_mg_at_most`` (inclusive); an open end is left out."""

    code: HcpcsCode
    description: Text
    dose_mg_above: Annotated[float, Field(ge=0)] | None = None
    dose_mg_at_most: Annotated[float, Field(gt=0)] | None = None
    evidence: Evidence
    source: Text


class VisitFile(Strict):
    """The visits of one drug (and route; none: every other route of the drug): its code
    bands, or why no code is given."""

    drug: Drug
    route: Route | None = None
    label: Text
    included_observation: Param | None = None
    codes: list[CodeBandFile] = []
    no_code: Text | None = None
    source: Text


class VisitCodesFile(Strict):
    id: Text
    version: Text
    system: Text
    citation: Text
    note: Text
    visits: NonEmpty[VisitFile]
