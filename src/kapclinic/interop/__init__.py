"""FHIR R4 API, bulk export and import, and research exports: the clinic's records in the
shapes others read. The FHIR shapes live here only (``fhir/``); the clinical core stays FHIR-free."""
