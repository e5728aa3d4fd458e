"""How drugs and routes are named on screen (the ids themselves are the clinical core's)."""

DRUG_LABELS = {"ketamine": "Racemic ketamine", "esketamine": "Esketamine (Spravato)"}
ROUTE_LABELS = {
    "iv-bolus": "IV bolus", "iv-infusion": "IV infusion", "im": "Intramuscular",
    "intranasal": "Intranasal", "sublingual": "Sublingual", "oral": "Oral",
}


def route_in_sentence(route: str) -> str:
    """A route's label inside a sentence ("35 mg IV infusion", "by intramuscular"): lower
    case, except an abbreviation (IV) that stays as clinicians write it; "" if unknown."""
    label = ROUTE_LABELS.get(route, "")
    return label if label[:2].isupper() else label[:1].lower() + label[1:]
