"""FHIR R4 mapping: codes, resources, sources, search and the capability statement."""
