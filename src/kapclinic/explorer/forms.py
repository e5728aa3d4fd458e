"""The dose explorer's inputs. Range checks live in the PK core; this only shapes them."""

from __future__ import annotations

from django import forms

from kapclinic.clinical.pk import definitions as pk_definitions
from kapclinic.clinical.pk.definitions import DRUGS, ROUTES
from kapclinic.platform.labels import DRUG_LABELS, ROUTE_LABELS

WINDOWS = [(4, "4 hours"), (8, "8 hours"), (24, "24 hours")]


class ExplorerForm(forms.Form):
    drug = forms.ChoiceField(choices=[(d, DRUG_LABELS[d]) for d in DRUGS], initial="ketamine")
    route = forms.ChoiceField(choices=[(r, ROUTE_LABELS[r]) for r in ROUTES], initial="iv-infusion")
    dose = forms.FloatField(label="Dose", initial=0.5, min_value=0.0001,
                            widget=forms.NumberInput(attrs={"step": "any", "inputmode": "decimal"}))
    dose_unit = forms.ChoiceField(label="Unit", choices=[("mg_per_kg", "mg/kg"), ("mg", "mg")],
                                  initial="mg_per_kg")
    weight_kg = forms.FloatField(label="Weight (kg)", initial=70, min_value=0.0001,
                                 widget=forms.NumberInput(attrs={"step": "any",
                                                                 "inputmode": "decimal"}))
    duration_min = forms.FloatField(label="Infusion time (min)", initial=40, required=False,
                                    min_value=0.0001, help_text="IV infusion only",
                                    widget=forms.NumberInput(attrs={"step": "any"}))
    asian = forms.BooleanField(label="Asian", required=False)
    japanese = forms.BooleanField(label="Japanese", required=False,
                                  help_text="Includes the Asian effects")
    age_years = forms.FloatField(label="Age (years)", required=False,
                                 widget=forms.NumberInput(attrs={"step": "any",
                                                                 "inputmode": "decimal"}))
    hours = forms.TypedChoiceField(label="Show", choices=WINDOWS, coerce=int, initial=4)
    compare_route = forms.ChoiceField(
        label="Equivalent dose by", required=False,
        choices=[("", "No comparison")] + [(r, ROUTE_LABELS[r]) for r in ROUTES], initial="im")

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["age_years"].help_text = age_hint()

    def dose_kwargs(self) -> dict:
        data = self.cleaned_data
        key = "dose_mg_per_kg" if data["dose_unit"] == "mg_per_kg" else "dose_mg"
        return {key: data["dose"], "weight_kg": data["weight_kg"],
                "duration_min": data["duration_min"] if data["route"] == "iv-infusion" else None}

    def covariate_kwargs(self) -> dict:
        """The patient's covariates as the PK core takes them (None: not given)."""
        data = self.cleaned_data
        return {"asian": data["asian"] or None, "japanese": data["japanese"] or None,
                "age_years": data["age_years"]}

    @classmethod
    def with_defaults(cls, params) -> ExplorerForm:
        """Bound to the query string, with the initial values filling what is absent."""
        data = {name: field.initial for name, field in cls.base_fields.items()}
        data.update(params.dict())
        return cls(data)


def age_hint() -> str:
    """'Liver blood flow falls above 60 (Perez-Ruixo 2021)': the age from the model file."""
    for model in pk_definitions.load_all().values():
        for effect in model.covariates:
            if effect.effect == "per_year_above" and effect.threshold is not None:
                return (f"Liver blood flow falls above {effect.threshold:g} "
                        f"({' '.join(model.name.split()[:2])})")
    return ""
