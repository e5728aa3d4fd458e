"""A set but unusable audit key stops start-up (kapclinic check), not the first write."""

from __future__ import annotations

from django.core.checks import Error, Tags, register

from kapclinic import config
from kapclinic.audit import keys


@register(Tags.security)
def check_audit_key(app_configs, **kwargs):
    try:
        keys.audit_key()
    except config.ConfigurationError as exc:
        return [Error(f"The audit key cannot be used: {exc}.",
                      hint=f"Fix it, or unset {keys.ENV_KEY} and {keys.ENV_FILE} to run the "
                           "trail unkeyed.", id="kapclinic.E010")]
    return []
