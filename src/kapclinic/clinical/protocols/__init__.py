"""Dosing protocols as data (``data/*.json``) and dose calculation against them.

``load_all()`` / ``resolve(id)`` give validated protocols (the shipped ones plus the
clinic's folder named by ``KAPCLINIC_PROTOCOLS_DIR``); ``Protocol.configured`` applies a
clinic's settings or a named preset; ``calculate_dose`` gives mg, mg/kg and whether the
dose is within the protocol. See README.md for where each number comes from.
"""

from .definitions import Protocol, load_all, load_protocol, load_protocols, parse_protocol, resolve
from .dose import WEIGHT_MAX_AGE_DAYS, DoseResult, calculate_dose, usual_dose
from .errors import (
    DoseInputError,
    ProtocolError,
    ProtocolFileError,
    ProtocolSettingError,
    UnknownProtocolError,
)

__all__ = [
    "WEIGHT_MAX_AGE_DAYS", "DoseInputError", "DoseResult", "Protocol", "ProtocolError",
    "ProtocolFileError", "ProtocolSettingError", "UnknownProtocolError", "calculate_dose",
    "load_all", "load_protocol", "load_protocols", "parse_protocol", "resolve", "usual_dose",
]
