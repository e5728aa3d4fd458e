"""What the ledger writes to the audit trail (declared from AuditConfig.ready)."""

from django.db import models


class AuditActions(models.TextChoices):
    WITNESSED = "witnessed", "Witnessed a controlled-substance wastage"
    REVERSE = "reverse", "Reversed"
    WITNESSED_DESTRUCTION = "witnessed_destruction", "Witnessed a destruction of inventory"
    EXPORT = "export", "Exported"  # the same label as the treatment app's


class AuditRecords(models.TextChoices):
    PRODUCT = "product", "Controlled-substance product"
    LOT = "lot", "Controlled-substance lot"
    LOCATION = "location", "Storage location"
    LEDGER_LINE = "ledger_line", "Controlled-substance ledger line"
    STOCK = "stock", "Controlled-substance stock"
    LEDGER_SETTINGS = "ledger_settings", "Controlled-substance record settings"
    STOCK_COUNT = "stock_count", "Controlled-substance count"
    COUNT_RESOLUTION = "count_resolution", "Count discrepancy resolved"
    BALANCE = "balance", "Controlled-substance balance of a lot at a location"
    FORM_CHOICE = "form_choice", "A choice in a form (a lot, a location) not of this clinic"
    DISPOSAL = "disposal", "Controlled substance destroyed, stolen, lost or returned"
    DEA_NOTICE = "dea_notice", "Theft or loss reported to the DEA"
