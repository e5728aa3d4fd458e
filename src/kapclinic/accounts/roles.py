"""The roles a person can hold in a clinic."""

from django.db import models


class Role(models.TextChoices):
    PRESCRIBER = "prescriber", "Prescriber"
    NURSE = "nurse", "Nurse"
    THERAPIST = "therapist", "Therapist"
    COORDINATOR = "coordinator", "Coordinator"
    ADMIN = "admin", "Clinic admin"
    RESEARCHER = "researcher", "Researcher"
    PATIENT = "patient", "Patient"
