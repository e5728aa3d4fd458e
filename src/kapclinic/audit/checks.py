"""A set but unusable audit key stops start-up (kapclinic check), not the first write; a key
kept beside the database is reported."""

from __future__ import annotations

from django.core.checks import Error, Tags, Warning, register

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


@register(Tags.security)
def check_audit_key_place(app_configs, **kwargs):
    try:
        default = keys.default_key_file()
    except OSError:
        return []
    if default is None:
        return []
    return [Warning(
        f"The audit key is read from {default}, in the data folder beside the database: "
        "whoever can copy or change the database there can usually read the key too, and "
        "then rewrite the audit trail and recompute every hash.",
        hint=f"Keep the key elsewhere: set {keys.ENV_KEY} in the service's environment, or "
             f"{keys.ENV_FILE} to a file only the app can read outside the data folder, then "
             f"remove {default}.", id="kapclinic.W010")]
