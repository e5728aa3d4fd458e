"""Reference concentration bands from pk.md section 4, for orientation on charts."""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path

BANDS_FILE = Path(__file__).with_name("reference_bands.json")


@dataclass(frozen=True)
class ReferenceBand:
    """A concentration range (ng/mL); ``high_ng_per_ml`` None means a threshold line."""

    id: str
    label: str
    low_ng_per_ml: float
    high_ng_per_ml: float | None
    source: str
    evidence: str


@cache
def reference_bands() -> tuple[ReferenceBand, ...]:
    raw = json.loads(BANDS_FILE.read_text())
    return tuple(ReferenceBand(**band) for band in raw["bands"])
