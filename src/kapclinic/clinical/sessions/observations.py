"""What a nurse ticks during a dosing session besides the vital signs: the side effects seen
and the interventions given, each with where it comes from.

The reference gives no validated side-effect checklist (sessions.md 2 names the Ketamine Side
Effect Tool, Short et al. 2020, without its items), so the list is the effects the labels
and the discharge scores name; anything else is written as "other". Interventions are the
actions the monitoring rules recommend (clinical/monitoring ACTION_WORDS), and "other".
"""

from __future__ import annotations

from dataclasses import dataclass

from kapclinic.clinical.monitoring import ACTION_WORDS


@dataclass(frozen=True)
class Item:
    code: str
    words: str
    source: str  # as a clinician reads it


SIDE_EFFECTS: tuple[Item, ...] = (
    Item("sedation", "Sedation", "Spravato label, boxed warning"),
    Item("dissociation", "Dissociation or perceptual change", "Spravato label, boxed warning"),
    Item("respiratory_depression", "Respiratory depression", "Spravato label, boxed warning"),
    Item("blood_pressure_rise", "Blood pressure rise", "Spravato and ketamine labels"),
    Item("nausea_vomiting", "Nausea or vomiting", "PADSS discharge score domain (Chung)"),
    Item("other", "Other (describe)", "the clinician's own observation"),
)
# giving a reading is not an intervention; the rest are what the monitoring rules recommend
INTERVENTIONS: tuple[Item, ...] = tuple(
    Item(code, words[0].upper() + words[1:], "the monitoring rules' recommended actions")
    for code, words in ACTION_WORDS.items() if code != "take_reading"
) + (Item("other", "Other (describe)", "the clinician's own action"),)

KINDS = {"side_effect": SIDE_EFFECTS, "intervention": INTERVENTIONS}


def words_of(kind: str, code: str) -> str:
    for item in KINDS.get(kind, ()):
        if item.code == code:
            return item.words
    raise KeyError(f"{kind} {code!r}")
