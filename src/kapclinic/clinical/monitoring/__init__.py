"""Session monitoring rules as data (``rules.json``) and their evaluation on each reading.

``load_rules()`` gives the rules and their clinic settings; ``evaluate`` checks a reading
(after the clinical.md 4.4 plausibility limits) and overdue readings against the rules a
protocol names, returning alerts with a severity, a label and the recommended actions.
"""

from .errors import MonitoringError, MonitoringSettingError, ReadingError, RulesFileError
from .evaluate import ACTION_WORDS, Alert, evaluate, next_reading_due, rule_fields, worse
from .plausibility import Reading, check_reading
from .rules import MonitoringRules, MonitoringSettings, load_rules

__all__ = ["ACTION_WORDS", "Alert", "MonitoringError", "MonitoringRules", "MonitoringSettingError",
           "MonitoringSettings", "Reading", "ReadingError", "RulesFileError", "check_reading",
           "evaluate", "load_rules", "next_reading_due", "rule_fields", "worse"]
