"""The Schedule III controlled-substance ledger: products, lots, storage locations, and the
ledger lines that move stock (receipt, administration, wastage, transfer, reversal).

A ``LedgerLine`` is written once and never changed or deleted (a mistake is reversed by a new
line with a reason). ``Balance`` is the running total of one lot at one location: changed
only in the same transaction as the line that moves it, by a conditional UPDATE that cannot
take it below zero, so two nurses drawing from one vial at once cannot overdraw it. Amounts
are in mg (the balance's unit) and mL (mg / the product's concentration, kept on each line as
recorded). DEA record fields: /work/shared/reference/sessions.md section 4 (21 CFR 1304.22(c)).
"""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils import timezone

from kapclinic.accounts import scoping
from kapclinic.accounts.models import Clinic
from kapclinic.audit.models import AppendOnlyRecord, HealthRecord
from kapclinic.patients.models import Patient, paired
from kapclinic.privacy import classify

USER = settings.AUTH_USER_MODEL
MG = {"max_digits": 14, "decimal_places": 3}
ZERO = Decimal("0")

# [policy: labelled default] DEA encourages two people to witness and record the wastage of
# a partly used dose (a recommendation, not a federal rule: sessions.md 4): on by default.
WITNESS_WASTE_DEFAULT = True
# [policy: labelled defaults, presets from sessions.md 4] records kept 2 years (federal;
# Nebraska 5); inventory every 24 months (biennial; Iowa and Puerto Rico annual); estimated
# counts of opened liquid containers allowed (federal; Iowa exact).
RETENTION_YEARS_DEFAULT = 2
INVENTORY_MONTHS_DEFAULT = 24
EXACT_COUNTS_DEFAULT = False
# [policy: labelled default; the reference is silent] a movement may be recorded up to this
# many days after it happened (a dose's draw waits on "Doses to draw" as long); older needs a
# count and an admin's adjustment instead of a back-dated line
LATE_ENTRY_DAYS_DEFAULT = 14
# the presets a clinic picks from (sessions.md 4: stricter states); "federal" is the default
PRESETS = {
    "federal": {"retention_years": 2, "inventory_months": 24, "exact_counts": False},
    "iowa": {"retention_years": 2, "inventory_months": 12, "exact_counts": True},
    "nebraska": {"retention_years": 5, "inventory_months": 24, "exact_counts": False},
    "puerto_rico": {"retention_years": 2, "inventory_months": 12, "exact_counts": False},
}
PRESET_NAMES = {"federal": "US federal rules", "iowa": "Iowa (annual inventory, exact counts)",
                "nebraska": "Nebraska (records kept 5 years)",
                "puerto_rico": "Puerto Rico (annual inventory)"}


class Form(models.TextChoices):
    VIAL = "vial", "Vial (injection)"
    NASAL_DEVICE = "nasal_device", "Nasal spray device"


class Drug(models.TextChoices):
    KETAMINE = "ketamine", "Ketamine hydrochloride"
    ESKETAMINE = "esketamine", "Esketamine hydrochloride"


class LedgerSettings(models.Model):
    """A clinic's record-keeping choices; before its first save, the labelled defaults."""

    clinic = models.OneToOneField(Clinic, on_delete=models.PROTECT, related_name="ledger_settings")
    witness_waste = models.BooleanField(default=WITNESS_WASTE_DEFAULT)
    retention_years = models.PositiveIntegerField(default=RETENTION_YEARS_DEFAULT)
    inventory_months = models.PositiveIntegerField(default=INVENTORY_MONTHS_DEFAULT)
    exact_counts = models.BooleanField(default=EXACT_COUNTS_DEFAULT)
    late_entry_days = models.PositiveIntegerField(default=LATE_ENTRY_DAYS_DEFAULT)
    # the registrant the records are kept for (21 CFR 1304.22(c) records name it)
    registrant_name = models.CharField(max_length=200, blank=True)
    registrant_address = models.CharField(max_length=300, blank=True)
    registrant_dea = models.CharField(max_length=9, blank=True)
    version = models.PositiveIntegerField(default=1)

    clinic_path = "clinic"
    FIELD_CLASSES = classify(none=("id", "clinic", "witness_waste", "retention_years",
                                   "inventory_months", "exact_counts", "late_entry_days", "registrant_name",
                                   "registrant_address", "registrant_dea", "version"))

    class Meta:
        constraints = [
            models.CheckConstraint(condition=Q(retention_years__gte=2),
                                   name="inventory_settings_retention_federal_minimum"),
            models.CheckConstraint(condition=Q(inventory_months__gte=1, inventory_months__lte=24),
                                   name="inventory_settings_inventory_at_least_biennial"),
            models.CheckConstraint(condition=Q(late_entry_days__gte=1, late_entry_days__lte=90),
                                   name="inventory_settings_late_entry_bounded"),
        ]

    def __str__(self) -> str:
        return f"ledger settings of {self.clinic}"

    @classmethod
    def for_clinic(cls, clinic_id: int) -> LedgerSettings:
        return scoping.clinic_settings(cls, clinic_id)


class Product(AppendOnlyRecord):
    """A stocked product: NDC, drug, form, strength and container (e.g. ketamine 10 mg/mL,
    20 mL vial; Spravato 28 mg in 0.2 mL, one device)."""

    clinic = models.ForeignKey(Clinic, on_delete=models.PROTECT, related_name="+")
    ndc = models.CharField(max_length=20)
    name = models.CharField(max_length=120)
    drug = models.CharField(max_length=20, choices=Drug.choices)
    form = models.CharField(max_length=20, choices=Form.choices)
    concentration_mg_per_ml = models.DecimalField(**MG)
    container_ml = models.DecimalField(**MG)
    created_at = models.DateTimeField(default=timezone.now)
    created_by = models.ForeignKey(USER, null=True, on_delete=models.PROTECT, related_name="+")

    clinic_path = "clinic"
    FIELD_CLASSES = classify(
        coded=("ndc", "drug", "form"),
        none=("id", "clinic", "name", "concentration_mg_per_ml", "container_ml", "created_at",
              "created_by"),
    )

    class Meta:
        ordering = ["name", "id"]
        constraints = [
            models.UniqueConstraint(fields=["clinic", "ndc"], name="inventory_product_ndc_once"),
            models.CheckConstraint(condition=Q(concentration_mg_per_ml__gt=0),
                                   name="inventory_product_concentration_positive"),
            models.CheckConstraint(condition=Q(container_ml__gt=0),
                                   name="inventory_product_container_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.ndc})"

    @property
    def mg_per_container(self) -> Decimal:
        return (self.concentration_mg_per_ml * self.container_ml).quantize(Decimal("0.001"))

    @property
    def container_word(self) -> str:
        return "device" if self.form == Form.NASAL_DEVICE else "vial"

    @property
    def strength(self) -> str:
        """As a label reads: '10 mg/mL, 20 mL vial' or '28 mg in 0.2 mL per device'."""
        if self.form == Form.NASAL_DEVICE:
            return (f"{self.mg_per_container.normalize():f} mg in "
                    f"{self.container_ml.normalize():f} mL per device")
        return (f"{self.concentration_mg_per_ml.normalize():f} mg/mL, "
                f"{self.container_ml.normalize():f} mL vial")

    def ml_for(self, mg: Decimal) -> Decimal:
        return (mg / self.concentration_mg_per_ml).quantize(Decimal("0.001"))


class Location(AppendOnlyRecord):
    """Where stock is kept: the safe, a cart."""

    clinic = models.ForeignKey(Clinic, on_delete=models.PROTECT, related_name="+")
    name = models.CharField(max_length=80)
    created_at = models.DateTimeField(default=timezone.now)
    created_by = models.ForeignKey(USER, null=True, on_delete=models.PROTECT, related_name="+")

    clinic_path = "clinic"
    FIELD_CLASSES = classify(none=("id", "clinic", "name", "created_at", "created_by"))

    class Meta:
        ordering = ["name", "id"]
        constraints = [models.UniqueConstraint(fields=["clinic", "name"],
                                               name="inventory_location_name_once")]

    def __str__(self) -> str:
        return self.name


class Lot(AppendOnlyRecord):
    """A lot of a product as received: lot number, expiry, supplier (name, address, DEA
    number: 1304.22(c)) and the invoice that documents a Schedule III order."""

    clinic = models.ForeignKey(Clinic, on_delete=models.PROTECT, related_name="+")
    product = models.ForeignKey(Product, on_delete=models.PROTECT, related_name="lots")
    lot_number = models.CharField(max_length=60)
    expires_on = models.DateField()
    supplier_name = models.CharField(max_length=120)
    supplier_address = models.CharField(max_length=300)
    supplier_dea = models.CharField(max_length=20)
    invoice = models.CharField(max_length=60)
    created_at = models.DateTimeField(default=timezone.now)
    created_by = models.ForeignKey(USER, null=True, on_delete=models.PROTECT, related_name="+")

    clinic_path = "clinic"
    FIELD_CLASSES = classify(
        none=("id", "clinic", "product", "lot_number", "expires_on", "supplier_name",
              "supplier_address", "supplier_dea", "invoice", "created_at", "created_by"),
    )

    class Meta:
        ordering = ["expires_on", "id"]
        constraints = [models.UniqueConstraint(fields=["product", "lot_number"],
                                               name="inventory_lot_number_once")]

    def __str__(self) -> str:
        return f"lot {self.lot_number} of {self.product.name}"


class Kind(models.TextChoices):
    RECEIPT = "receipt", "Received"
    ADMINISTRATION = "administration", "Administered"
    WASTE = "waste", "Wasted (remainder of a dose)"
    TRANSFER_OUT = "transfer_out", "Moved out"
    TRANSFER_IN = "transfer_in", "Moved in"
    REVERSAL = "reversal", "Reversal"
    ADJUSTMENT = "adjustment", "Adjusted to a count"
    DESTRUCTION = "destruction", "Destroyed (DEA Form 41)"
    LOSS = "loss", "Theft or loss (DEA Form 106)"
    RETURN = "return", "Returned to a reverse distributor"


OUTGOING = (Kind.ADMINISTRATION, Kind.WASTE, Kind.TRANSFER_OUT, Kind.DESTRUCTION, Kind.LOSS,
            Kind.RETURN)


class DisposalKind(models.TextChoices):
    DESTRUCTION = "destruction", "Destruction of inventory (DEA Form 41)"
    THEFT = "theft", "Theft (DEA Form 106)"
    LOSS = "loss", "Significant loss (DEA Form 106)"
    RETURN = "return", "Return to a reverse distributor"


class Disposal(AppendOnlyRecord):
    """Stock that left other than by a dose: destroyed (Form 41: method, date, place, two
    authorised employee witnesses), stolen or lost (Form 106: when discovered and what
    happened), or returned to a reverse distributor (who received it). Its ledger lines
    (``LedgerLine.disposal``) say which lots, where from and how much."""

    clinic = models.ForeignKey(Clinic, on_delete=models.PROTECT, related_name="+")
    kind = models.CharField(max_length=20, choices=DisposalKind.choices)
    happened_at = models.DateTimeField()  # destroyed, discovered, or shipped
    method = models.CharField(max_length=200, blank=True)   # destruction: how
    place = models.CharField(max_length=200, blank=True)    # destruction: where
    description = models.TextField(blank=True)              # theft or loss: what happened
    recipient_name = models.CharField(max_length=200, blank=True)  # a return: who received it
    recipient_address = models.CharField(max_length=300, blank=True)
    recipient_dea = models.CharField(max_length=9, blank=True)
    witness = models.ForeignKey(USER, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    witnessed_at = models.DateTimeField(null=True, blank=True)
    second_witness = models.ForeignKey(USER, null=True, blank=True, on_delete=models.PROTECT,
                                       related_name="+")
    second_witnessed_at = models.DateTimeField(null=True, blank=True)
    recorded_at = models.DateTimeField(default=timezone.now)
    recorded_by = models.ForeignKey(USER, null=True, on_delete=models.PROTECT, related_name="+")

    clinic_path = "clinic"
    FIELD_CLASSES = classify(
        date=("happened_at", "witnessed_at", "second_witnessed_at", "recorded_at"),
        free_text=("method", "place", "description"),
        coded=("kind",),
        none=("id", "clinic", "recipient_name", "recipient_address", "recipient_dea", "witness",
              "second_witness", "recorded_by"),
    )

    class Meta:
        ordering = ["-happened_at", "-id"]
        constraints = [
            models.CheckConstraint(condition=Q(kind__in=DisposalKind.values),
                                   name="inventory_disposal_kind_known"),
            paired("witnessed_at", "witness", "inventory_disposal_witness_who_when"),
            paired("second_witnessed_at", "second_witness", "inventory_disposal_second_who_when"),
            # Form 41: two authorised employees witness a destruction, two different people
            models.CheckConstraint(condition=~Q(kind="destruction")
                                   | (Q(witness__isnull=False) & Q(second_witness__isnull=False)
                                      & ~Q(witness=F("second_witness"))),
                                   name="inventory_destruction_two_witnesses"),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.pk}"

    @property
    def is_theft_or_loss(self) -> bool:
        return self.kind in (DisposalKind.THEFT, DisposalKind.LOSS)


class NoticeStep(models.TextChoices):
    WRITTEN_NOTICE = "written_notice", "Written notice to the DEA field division"
    FORM_106 = "form_106", "DEA Form 106 filed"


class DeaNotice(AppendOnlyRecord):
    """A step of reporting a theft or loss to the DEA, once done: the written notice (due
    within one business day of discovery) and the Form 106 filed electronically."""

    disposal = models.ForeignKey(Disposal, on_delete=models.PROTECT, related_name="notices")
    clinic = models.ForeignKey(Clinic, on_delete=models.PROTECT, related_name="+")
    step = models.CharField(max_length=20, choices=NoticeStep.choices)
    done_at = models.DateTimeField()
    reference = models.CharField(max_length=100, blank=True)  # e.g. the Form 106 number
    recorded_at = models.DateTimeField(default=timezone.now)
    recorded_by = models.ForeignKey(USER, null=True, on_delete=models.PROTECT, related_name="+")

    clinic_path = "clinic"
    FIELD_CLASSES = classify(date=("done_at", "recorded_at"), coded=("step",),
                             none=("id", "disposal", "clinic", "reference", "recorded_by"))

    class Meta:
        ordering = ["done_at", "id"]
        constraints = [models.UniqueConstraint(fields=["disposal", "step"],
                                               name="inventory_notice_step_once")]

    def __str__(self) -> str:
        return f"{self.get_step_display()} for {self.disposal_id}"


class LedgerLine(AppendOnlyRecord):
    """One movement of one lot at one location, signed (received +, drawn -), in mg and mL;
    ``balance_after_mg`` is that lot's balance there once the line was written."""

    clinic = models.ForeignKey(Clinic, on_delete=models.PROTECT, related_name="+")
    lot = models.ForeignKey(Lot, on_delete=models.PROTECT, related_name="lines")
    location = models.ForeignKey(Location, on_delete=models.PROTECT, related_name="lines")
    kind = models.CharField(max_length=20, choices=Kind.choices)
    amount_mg = models.DecimalField(**MG)
    amount_ml = models.DecimalField(**MG)
    balance_after_mg = models.DecimalField(**MG)
    containers = models.PositiveIntegerField(null=True, blank=True)  # a receipt's full containers
    at = models.DateTimeField()  # when it happened
    recorded_at = models.DateTimeField(default=timezone.now)
    recorded_by = models.ForeignKey(USER, null=True, on_delete=models.PROTECT, related_name="+")
    # an administration: to whom, in which session and dose (plain ids: the ledger imports no
    # sessions app; the dose's administration id is unique, so a dose is drawn once)
    patient = models.ForeignKey(Patient, null=True, blank=True, on_delete=models.PROTECT,
                                related_name="+")
    session_id = models.BigIntegerField(null=True, blank=True)
    administration_id = models.BigIntegerField(null=True, blank=True)
    # 1 for a dose's first draw, 2 for the draw after that one was reversed...: unique with
    # the administration, so two racing draws for one dose cannot both be stored
    draw_number = models.PositiveIntegerField(null=True, blank=True)
    # wastage: how, and the witness who authenticated in that moment
    method = models.CharField(max_length=200, blank=True)
    witness = models.ForeignKey(USER, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    witnessed_at = models.DateTimeField(null=True, blank=True)
    # a destruction, theft, loss or return this line is part of
    disposal = models.ForeignKey(Disposal, null=True, blank=True, on_delete=models.PROTECT,
                                 related_name="lines")
    # a transfer's other leg, the draw a wastage follows
    related = models.ForeignKey("self", null=True, blank=True, on_delete=models.PROTECT,
                                related_name="+")
    reverses = models.OneToOneField("self", null=True, blank=True, on_delete=models.PROTECT,
                                    related_name="reversed_by")
    reason = models.TextField(blank=True)

    clinic_path = "clinic"
    FIELD_CLASSES = classify(
        date=("at", "recorded_at", "witnessed_at"),
        free_text=("method", "reason"),
        coded=("kind",),
        none=("id", "clinic", "lot", "location", "amount_mg", "amount_ml", "balance_after_mg",
              "containers", "recorded_by", "patient", "session_id", "administration_id", "draw_number",
              "witness", "disposal", "related", "reverses"),
    )

    class Meta:
        ordering = ["at", "id"]
        indexes = [models.Index(fields=["lot", "location", "id"]),
                   # a period's lines in time order, a batch at a time by keyset on (at, id)
                   # (reports): with id in the index PostgreSQL reads each batch in order and
                   # stops, instead of sorting the rest of the period for every batch
                   models.Index(fields=["clinic", "at", "id"], name="inventory_line_clinic_at_id"),
                   # a lot's first and last line at a location, and its lines before a moment:
                   # the balances at a report's start (reports.balances_at)
                   models.Index(fields=["lot", "location", "at"], name="inventory_line_lot_place_at")]
        constraints = [
            models.CheckConstraint(condition=Q(kind__in=Kind.values), name="inventory_line_kind_known"),
            models.CheckConstraint(condition=~Q(amount_mg=0), name="inventory_line_moves_something"),
            models.CheckConstraint(condition=Q(balance_after_mg__gte=0),
                                   name="inventory_line_balance_not_negative"),
            paired("witnessed_at", "witness", "inventory_line_witness_who_when"),
            models.UniqueConstraint(fields=["administration_id", "draw_number"],
                                    condition=Q(kind="administration"),
                                    name="inventory_one_draw_per_dose"),
            models.CheckConstraint(condition=~Q(kind="reversal") | Q(reverses__isnull=False),
                                   name="inventory_reversal_names_its_line"),
            models.CheckConstraint(condition=~Q(kind="reversal") | ~Q(reason=""),
                                   name="inventory_reversal_has_reason"),
            models.CheckConstraint(condition=~Q(kind__in=("destruction", "loss", "return"))
                                   | Q(disposal__isnull=False),
                                   name="inventory_disposal_line_names_its_record"),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.amount_mg} mg, lot {self.lot_id}"


class Balance(HealthRecord):
    """The running balance of a lot at a location (mg), never below zero."""

    clinic = models.ForeignKey(Clinic, on_delete=models.PROTECT, related_name="+")
    lot = models.ForeignKey(Lot, on_delete=models.PROTECT, related_name="balances")
    location = models.ForeignKey(Location, on_delete=models.PROTECT, related_name="balances")
    quantity_mg = models.DecimalField(**MG, default=ZERO)
    lines = models.PositiveIntegerField(default=0)  # how many lines made it (a cheap check)

    clinic_path = "clinic"
    FIELD_CLASSES = classify(none=("id", "clinic", "lot", "location", "quantity_mg", "lines"))

    class Meta:
        ordering = ["lot", "location"]
        constraints = [
            models.UniqueConstraint(fields=["lot", "location"], name="inventory_balance_once"),
            models.CheckConstraint(condition=Q(quantity_mg__gte=0),
                                   name="inventory_balance_not_negative"),
        ]

    def __str__(self) -> str:
        return f"{self.quantity_mg} mg of lot {self.lot_id} at {self.location_id}"

    @property
    def quantity_ml(self) -> Decimal:
        return self.lot.product.ml_for(self.quantity_mg)


class CountKind(models.TextChoices):
    SHIFT = "shift", "Shift change"
    ON_DEMAND = "on_demand", "On demand"
    INITIAL = "initial", "Initial inventory"
    INVENTORY = "inventory", "Biennial or annual inventory"


class StockCount(AppendOnlyRecord):
    """What was counted of a lot at a location, beside what the ledger said then. A count that
    differs is a discrepancy until an admin resolves it (``CountResolution``)."""

    clinic = models.ForeignKey(Clinic, on_delete=models.PROTECT, related_name="+")
    lot = models.ForeignKey(Lot, on_delete=models.PROTECT, related_name="counts")
    location = models.ForeignKey(Location, on_delete=models.PROTECT, related_name="+")
    kind = models.CharField(max_length=20, choices=CountKind.choices)
    counted_mg = models.DecimalField(**MG)
    balance_mg = models.DecimalField(**MG)  # the ledger's balance when counted
    estimated = models.BooleanField(default=False)  # an opened container's estimate
    counted_at = models.DateTimeField(default=timezone.now)
    counted_by = models.ForeignKey(USER, null=True, on_delete=models.PROTECT, related_name="+")
    note = models.TextField(blank=True)

    clinic_path = "clinic"
    FIELD_CLASSES = classify(
        date=("counted_at",), free_text=("note",), coded=("kind",),
        none=("id", "clinic", "lot", "location", "counted_mg", "balance_mg", "estimated",
              "counted_by"),
    )

    class Meta:
        ordering = ["-counted_at", "-id"]
        constraints = [models.CheckConstraint(condition=Q(counted_mg__gte=0),
                                              name="inventory_count_not_negative")]

    def __str__(self) -> str:
        return f"count of lot {self.lot_id} at {self.location_id}: {self.counted_mg} mg"

    @property
    def difference_mg(self) -> Decimal:
        return self.counted_mg - self.balance_mg

    @property
    def difference_words(self) -> str:
        """"5 mg less than the ledger" (or more): a signed "-5 mg" reads as a typo."""
        difference = self.difference_mg
        return (f"{abs(difference).normalize():f} mg {'less' if difference < 0 else 'more'} "
                "than the ledger")


class CountResolution(AppendOnlyRecord):
    """An admin's resolution of a count's discrepancy: why, and the adjustment line if the
    balance was set to the count."""

    count = models.OneToOneField(StockCount, on_delete=models.PROTECT, related_name="resolution")
    clinic = models.ForeignKey(Clinic, on_delete=models.PROTECT, related_name="+")
    reason = models.TextField()
    adjustment = models.ForeignKey(LedgerLine, null=True, blank=True, on_delete=models.PROTECT,
                                   related_name="+")
    resolved_at = models.DateTimeField(default=timezone.now)
    resolved_by = models.ForeignKey(USER, null=True, on_delete=models.PROTECT, related_name="+")

    clinic_path = "clinic"
    FIELD_CLASSES = classify(date=("resolved_at",), free_text=("reason",),
                             none=("id", "count", "clinic", "adjustment", "resolved_by"))

    class Meta:
        constraints = [models.CheckConstraint(condition=~Q(reason=""),
                                              name="inventory_resolution_has_reason")]

    def __str__(self) -> str:
        return f"resolution of count {self.count_id}"
