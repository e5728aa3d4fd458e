"""Supervised dosing sessions: their enforced workflow, the administration, vitals and alerts."""
