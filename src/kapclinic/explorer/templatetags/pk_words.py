"""Template filters for the dose explorer: ``{{ note|plain }}``, ``{{ tag|evidence }}``."""

from django import template

from kapclinic.explorer import words

register = template.Library()
register.filter("plain", words.plain)
register.filter("evidence", words.evidence)
