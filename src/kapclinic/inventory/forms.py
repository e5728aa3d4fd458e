"""The ledger's forms. Choices of lots and locations are the active clinic's only, so an id
of another clinic's row is refused as an invalid choice."""

from __future__ import annotations

from django import forms
from django.utils import timezone

from kapclinic.accounts.scoping import for_clinic
from kapclinic.inventory.models import (
    PRESET_NAMES,
    PRESETS,
    CountKind,
    DisposalKind,
    Drug,
    Form,
    Location,
    Lot,
    NoticeStep,
    Product,
)
from kapclinic.platform import text

DATETIME = {"type": "datetime-local"}


class ProductForm(forms.Form):
    ndc = forms.CharField(label="NDC", max_length=20, help_text="As on the label, e.g. 42023-113.")
    name = forms.CharField(label="Name on the label", max_length=120,
                           help_text="e.g. Ketalar (ketamine HCl) 10 mg/mL.")
    drug = forms.ChoiceField(label="Drug", choices=Drug.choices)
    form = forms.ChoiceField(label="Form", choices=Form.choices)
    concentration_mg_per_ml = forms.DecimalField(
        label="Concentration (mg/mL)", max_digits=10, decimal_places=3, min_value=0,
        help_text="A 28 mg nasal device of 0.2 mL: 140.")
    container_ml = forms.DecimalField(label="Volume per vial or device (mL)", max_digits=10,
                                      decimal_places=3, min_value=0)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        text.guard(self, names=("ndc", "name"))


class LocationForm(forms.Form):
    name = forms.CharField(label="Name", max_length=80, help_text="e.g. Locked safe, Room 2 cart.")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        text.guard(self, names=("name",))


class LotForm(forms.Form):
    product = forms.ModelChoiceField(label="Product", queryset=Product.objects.none())
    lot_number = forms.CharField(label="Lot number", max_length=60)
    expires_on = forms.DateField(label="Expires on", widget=forms.DateInput(attrs={"type": "date"}))
    supplier_name = forms.CharField(label="Supplier", max_length=120)
    supplier_address = forms.CharField(label="Supplier's address", max_length=300)
    supplier_dea = forms.CharField(label="Supplier's DEA number", max_length=20,
                                   help_text="Two letters and seven digits, from the invoice.")
    invoice = forms.CharField(label="Invoice number", max_length=60,
                              help_text="Schedule III orders are documented by the invoice "
                                        "(no DEA Form 222).")

    def __init__(self, *args, clinic_id: int, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["product"].queryset = for_clinic(Product, clinic_id)
        text.guard(self, names=("lot_number", "supplier_name", "supplier_dea", "invoice"),
                   free_text=("supplier_address",))


def _lots(clinic_id: int):
    return for_clinic(Lot, clinic_id).select_related("product").order_by("product__name", "expires_on")


class LotChoice(forms.ModelChoiceField):
    def label_from_instance(self, obj: Lot) -> str:
        return f"{obj.product.name}, lot {obj.lot_number} (expires {obj.expires_on:%Y-%m-%d})"


def _local_now() -> str:
    return timezone.localtime(timezone.now()).strftime("%Y-%m-%dT%H:%M")


class ReceiptForm(forms.Form):
    lot = LotChoice(label="Lot", queryset=Lot.objects.none())
    location = forms.ModelChoiceField(label="Put in", queryset=Location.objects.none())
    containers = forms.IntegerField(label="Full vials or devices received", min_value=1,
                                    max_value=10000)
    at = forms.DateTimeField(label="Received at", widget=forms.DateTimeInput(attrs=DATETIME))

    def __init__(self, *args, clinic_id: int, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["lot"].queryset = _lots(clinic_id)
        self.fields["location"].queryset = for_clinic(Location, clinic_id)
        self.fields["at"].initial = _local_now()


class AmountMixin(forms.Form):
    amount_mg = forms.DecimalField(label="Amount (mg)", required=False, max_digits=12,
                                   decimal_places=3, min_value=0)
    amount_ml = forms.DecimalField(label="or amount (mL)", required=False, max_digits=12,
                                   decimal_places=3, min_value=0)

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("amount_mg") is None and cleaned.get("amount_ml") is None \
                and "amount_mg" not in self.errors:
            self.add_error("amount_mg", "Give the amount in mg or in mL.")
        return cleaned


class WasteForm(AmountMixin):
    method = forms.CharField(label="How it was wasted", max_length=200,
                             help_text="e.g. Drawn into a syringe and emptied into a waste "
                                       "container that makes it unrecoverable.")
    at = forms.DateTimeField(label="Wasted at", widget=forms.DateTimeInput(attrs=DATETIME))
    witness = forms.CharField(label="Witness's username", max_length=150, required=False)
    witness_password = forms.CharField(label="Witness's password", required=False,
                                       widget=forms.PasswordInput(attrs={"autocomplete": "off"}))
    witness_code = forms.CharField(label="Witness's authenticator code (if they use one)",
                                   required=False, max_length=10,
                                   widget=forms.TextInput(attrs={"autocomplete": "off",
                                                                 "inputmode": "numeric"}))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["at"].initial = _local_now()
        text.guard(self, free_text=("method",))


class TransferForm(AmountMixin):
    source = forms.ModelChoiceField(label="From", queryset=Location.objects.none())
    destination = forms.ModelChoiceField(label="To", queryset=Location.objects.none())
    at = forms.DateTimeField(label="Moved at", widget=forms.DateTimeInput(attrs=DATETIME))
    reason = forms.CharField(label="Why (optional)", max_length=500, required=False)

    def __init__(self, *args, clinic_id: int, **kwargs):
        super().__init__(*args, **kwargs)
        for name in ("source", "destination"):
            self.fields[name].queryset = for_clinic(Location, clinic_id)
        self.fields["at"].initial = _local_now()
        text.guard(self, free_text=("reason",))


class ReverseForm(forms.Form):
    reason = forms.CharField(label="Why this line is wrong", max_length=2000,
                             widget=forms.Textarea(attrs={"rows": 3}))
    # a correction (not one's own draw or move): a second person authenticates now
    witness = forms.CharField(label="Witness's username", max_length=150, required=False)
    witness_password = forms.CharField(label="Witness's password", required=False,
                                       widget=forms.PasswordInput(attrs={"autocomplete": "off"}))
    witness_code = forms.CharField(label="Witness's authenticator code (if they use one)",
                                   required=False, max_length=10,
                                   widget=forms.TextInput(attrs={"autocomplete": "off",
                                                                 "inputmode": "numeric"}))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        text.guard(self, free_text=("reason",))


class DrawForm(forms.Form):
    patient = forms.IntegerField(widget=forms.HiddenInput)
    administration = forms.IntegerField(widget=forms.HiddenInput)
    lot = LotChoice(label="Lot", queryset=Lot.objects.none())
    location = forms.ModelChoiceField(label="Drawn from", queryset=Location.objects.none())
    expired_confirmed = forms.BooleanField(label="The dose was drawn from this lot although it "
                                                 "had expired", required=False)

    def __init__(self, *args, clinic_id: int, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["lot"].queryset = _lots(clinic_id)
        self.fields["location"].queryset = for_clinic(Location, clinic_id)


class SettingsForm(forms.Form):
    preset = forms.ChoiceField(
        label="Start from the rules of", required=False,
        choices=[("", "Keep the values below")] + list(PRESET_NAMES.items()),
        help_text="Fills retention, inventory interval and exact counts with that jurisdiction's "
                  "rule; check your state board's rules too.")
    retention_years = forms.IntegerField(label="Keep records for (years)", min_value=2, max_value=50,
                                         help_text="At least 2 years under federal law; Nebraska 5.")
    inventory_months = forms.IntegerField(label="Take inventory every (months)", min_value=1,
                                          max_value=24,
                                          help_text="Biennial (24) under federal law; annual (12) "
                                                    "in Iowa and Puerto Rico.")
    exact_counts = forms.BooleanField(label="Count opened containers exactly (no estimates)",
                                      required=False,
                                      help_text="Federal law allows an estimate of an opened "
                                                "liquid container; Iowa requires exact counts.")
    witness_waste = forms.BooleanField(
        label="A witness authenticates each wastage", required=False,
        help_text="DEA encourages two people to witness and record the wastage of a partly "
                  "used dose; it is a recommendation, not a federal rule. Your state board "
                  "may require it.")
    late_entry_days = forms.IntegerField(
        label="Movements may be recorded up to (days) after they happened", min_value=1,
        max_value=90, help_text="Clinic setting, 14 by default. Older movements are found by a "
                                "count and resolved by the admin, not back-dated.")
    registrant_name = forms.CharField(label="Registrant (as on the DEA registration)",
                                      max_length=200, required=False)
    registrant_address = forms.CharField(label="Registered address", max_length=300, required=False)
    registrant_dea = forms.CharField(label="DEA registration number", max_length=20, required=False,
                                     help_text="Two letters and seven digits; printed on every "
                                               "record.")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        text.guard(self, names=("registrant_name", "registrant_dea"),
                   free_text=("registrant_address",))

    def clean(self):
        cleaned = super().clean()
        preset = PRESETS.get(cleaned.get("preset") or "")
        if preset:
            cleaned.update(preset)
            for field in preset:
                self.errors.pop(field, None)
        cleaned.pop("preset", None)
        return cleaned


class CountForm(forms.Form):
    location = forms.ModelChoiceField(label="Counted at", queryset=Location.objects.none())
    kind = forms.ChoiceField(label="Which count", choices=CountKind.choices)
    counted_mg = forms.DecimalField(label="Counted (mg)", required=False, max_digits=12,
                                    decimal_places=3, min_value=0)
    counted_ml = forms.DecimalField(label="or counted (mL)", required=False, max_digits=12,
                                    decimal_places=3, min_value=0)
    estimated = forms.BooleanField(label="An estimate of an opened container", required=False)
    note = forms.CharField(label="Note (optional)", max_length=2000, required=False)

    def __init__(self, *args, clinic_id: int, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["location"].queryset = for_clinic(Location, clinic_id)
        text.guard(self, free_text=("note",))

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("counted_mg") is None and cleaned.get("counted_ml") is None \
                and "counted_mg" not in self.errors:
            self.add_error("counted_mg", "Give what was counted in mg or in mL (0 if none is left).")
        return cleaned


class ResolveForm(forms.Form):
    reason = forms.CharField(label="What explains the difference", max_length=2000,
                             widget=forms.Textarea(attrs={"rows": 3}))
    adjust = forms.BooleanField(label="Set the balance to the count (an adjustment line)",
                                required=False)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        text.guard(self, free_text=("reason",))


def _witness_fields(label: str) -> tuple[forms.Field, forms.Field, forms.Field]:
    """A witness's username, password and authenticator code, typed by them now."""
    return (forms.CharField(label=f"{label}: username", max_length=150, required=False),
            forms.CharField(label=f"{label}: password", required=False,
                            widget=forms.PasswordInput(attrs={"autocomplete": "off"})),
            forms.CharField(label=f"{label}: authenticator code (if they use one)",
                            required=False, max_length=10,
                            widget=forms.TextInput(attrs={"autocomplete": "off",
                                                          "inputmode": "numeric"})))


class DisposalForm(AmountMixin):
    """A destruction of inventory (Form 41) or a return to a reverse distributor."""

    kind = forms.ChoiceField(label="What happened", choices=[
        (DisposalKind.DESTRUCTION, "Destroyed (expired, damaged or unwanted stock: DEA Form 41)"),
        (DisposalKind.RETURN, "Returned to a reverse distributor")])
    location = forms.ModelChoiceField(label="Taken from", queryset=Location.objects.none())
    happened_at = forms.DateTimeField(label="When", widget=forms.DateTimeInput(attrs=DATETIME))
    method = forms.CharField(label="Method of destruction", max_length=200, required=False,
                             help_text="How it was made non-retrievable.")
    place = forms.CharField(label="Place of destruction", max_length=200, required=False)
    recipient_name = forms.CharField(label="Reverse distributor", max_length=200, required=False)
    recipient_address = forms.CharField(label="Its address", max_length=300, required=False)
    recipient_dea = forms.CharField(label="Its DEA number", max_length=20, required=False)
    description = forms.CharField(label="Note (optional)", max_length=2000, required=False,
                                  widget=forms.Textarea(attrs={"rows": 2}))
    witness, witness_password, witness_code = _witness_fields("First witness")
    second_witness, second_witness_password, second_witness_code = _witness_fields("Second witness")

    def __init__(self, *args, clinic_id: int, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["location"].queryset = for_clinic(Location, clinic_id)
        self.fields["happened_at"].initial = _local_now()
        text.guard(self, names=("recipient_name", "recipient_dea"),
                   free_text=("method", "place", "recipient_address", "description"))


class LossForm(AmountMixin):
    """A theft or significant loss, as discovered (the Form 106 data)."""

    kind = forms.ChoiceField(label="What happened", choices=[
        (DisposalKind.THEFT, "Theft"), (DisposalKind.LOSS, "Significant loss")])
    location = forms.ModelChoiceField(label="Missing from", queryset=Location.objects.none())
    happened_at = forms.DateTimeField(label="Discovered at", widget=forms.DateTimeInput(attrs=DATETIME))
    description = forms.CharField(label="What happened, and what was done", max_length=2000,
                                  widget=forms.Textarea(attrs={"rows": 4}),
                                  help_text="How it was discovered, who was told (police, "
                                            "security), and anything DEA Form 106 will ask.")

    def __init__(self, *args, clinic_id: int, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["location"].queryset = for_clinic(Location, clinic_id)
        self.fields["happened_at"].initial = _local_now()
        text.guard(self, free_text=("description",))


class NoticeForm(forms.Form):
    step = forms.ChoiceField(label="Step done", choices=NoticeStep.choices)
    done_at = forms.DateTimeField(label="Done at", widget=forms.DateTimeInput(attrs=DATETIME))
    reference = forms.CharField(label="Reference (optional)", max_length=100, required=False,
                                help_text="e.g. the Form 106 number the DEA gave.")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["done_at"].initial = _local_now()
        text.guard(self, names=("reference",))
