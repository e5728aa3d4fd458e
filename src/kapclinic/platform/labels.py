"""How drugs and routes are named on screen (the ids themselves are the clinical core's)."""

DRUG_LABELS = {"ketamine": "Racemic ketamine", "esketamine": "Esketamine (Spravato)"}
ROUTE_LABELS = {
    "iv-bolus": "IV bolus", "iv-infusion": "IV infusion", "im": "Intramuscular",
    "intranasal": "Intranasal", "sublingual": "Sublingual", "oral": "Oral",
}
