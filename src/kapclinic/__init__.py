"""kapclinic: runs a ketamine-assisted psychotherapy clinic end to end."""

__version__ = "0.1.0"
