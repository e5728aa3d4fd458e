"""Ketamine / esketamine pharmacokinetics: published models as data, closed-form simulator.

Pure numpy; no Django, no I/O beyond the model files in ``models/``. Every parameter,
bioavailability and Tmax comes from ``shared/reference/pk.md`` with its evidence tag.
This is decision support from published population models, not a dosing order.

Public API: ``list_models``, ``get_model``, ``simulate``, ``envelope``,
``equivalent_dose``, ``Dose``, ``SimulationResult``, ``PKInputError``.
"""

from __future__ import annotations

from .api import Envelope, EquivalentDose, envelope, equivalent_dose, get_model, list_models
from .definitions import ModelDefinition
from .errors import ModelDefinitionError, PKInputError, UnknownModelError, UnknownRouteError
from .routes import Dose
from .simulate import SimulationResult, simulate

__all__ = [
    "Dose", "Envelope", "EquivalentDose", "ModelDefinition", "ModelDefinitionError",
    "PKInputError", "SimulationResult", "UnknownModelError", "UnknownRouteError",
    "envelope", "equivalent_dose", "get_model", "list_models", "simulate",
]
