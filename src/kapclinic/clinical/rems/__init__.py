"""The Spravato REMS Patient Monitoring Form (sessions.md 1.1): its editions as data
(``forms/*.json``) and its content built from plain facts of a session. Pure: no Django."""

from kapclinic.clinical.rems.content import FormContent, Reading, RemsFacts, build_form
from kapclinic.clinical.rems.definitions import (
    DEFAULT_VERSION,
    RemsForm,
    RemsFormError,
    get_form,
    load_forms,
)

# Only sessions of this drug have a form (sessions.md 1: the Spravato REMS).
REMS_DRUG = "esketamine"

__all__ = ["DEFAULT_VERSION", "REMS_DRUG", "FormContent", "Reading", "RemsFacts", "RemsForm",
           "RemsFormError", "build_form", "get_form", "load_forms"]
