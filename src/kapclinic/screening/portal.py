"""The screening app's part of the patient's portal: the consent to read and sign."""

from __future__ import annotations

from typing import Any

from kapclinic.patients.models import Patient
from kapclinic.screening import actions
from kapclinic.screening.forms import ConsentSignForm
from kapclinic.screening.models import Consent


def load_consent(patient: Patient) -> dict[str, Any]:
    return {
        "document": actions.current_document(patient.clinic_id),
        "consents": list(Consent.objects.filter(patient=patient).select_related("document")),
        "has_consent": actions.has_current_consent(patient),
        "needs_guardian": actions.needs_guardian(patient),
        "sign_form": ConsentSignForm(),
    }
