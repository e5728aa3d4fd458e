"""What the treatment app writes to the audit trail (declared from TreatmentConfig.ready)."""

from django.db import models


class AuditActions(models.TextChoices):
    TRANSITION = "transition", "Session step"
    DOSE_CONFIRMED = "dose_confirmed", "Dose confirmed by a second clinician"
    MOVE = "move", "Moved to another time"
    CANCEL = "cancel", "Cancelled"
    ATTENDED = "attended", "Marked attended"
    END = "end", "Ended"
    EXPORT = "export", "Exported"


class AuditRecords(models.TextChoices):
    SESSION = "session", "Dosing session"
    SESSION_EVENT = "session_event", "Session step"
    CHECKLIST_ENTRY = "checklist_entry", "Session checklist answer"
    ADMINISTRATION = "administration", "Dose administration"
    ADMINISTRATION_EVENT = "administration_event", "Infusion pause, resume or stop; nasal device"
    VITAL_READING = "vital_reading", "Vital signs reading"
    SESSION_OBSERVATION = "session_observation", "Side effect or intervention in a session"
    TREATMENT_SETTINGS = "treatment_settings", "Session settings"
    ROOM_BOARD = "room_board", "Room board"
    REMS_SUBMISSION = "rems_submission", "Spravato REMS monitoring form submitted"
    REMS_FORM_DETAILS = "rems_form_details", "REMS form details of the clinic"
    COURSE = "course", "Treatment course"
    SCHEDULE_CHANGE = "schedule_change", "Course change (moved, cancelled, added)"
    THERAPY_VISIT = "therapy_visit", "Therapy visit (preparation or integration)"
    CALENDAR = "calendar", "Session calendar"
    VISIT_CODES = "visit_codes", "Session visit codes (CSV for billing)"
    ADVERSE_EVENT = "adverse_event", "Adverse event"
    ADVERSE_EVENT_REVIEW = "adverse_event_review", "Adverse event reviewed by the prescriber"
    ADVERSE_EVENT_REMS_REPORT = "adverse_event_rems_report", "Adverse event reported to the REMS"
    ADVERSE_EVENT_CLOSURE = "adverse_event_closure", "Adverse event closed"
    ADVERSE_EVENT_SETTINGS = "adverse_event_settings", "Adverse-event terms and lists"
    SAFETY_LISTING = "safety_listing", "Safety listing (adverse events per period)"
    AFTER_SESSION_CHECK_IN = "after_session_check_in", "The patient's answer the day after a session"
    NOTE_DRAFT = "note_draft", "Therapy note draft"
    NOTE = "note", "Therapy note (signed)"
    NOTE_ADDENDUM = "note_addendum", "Addendum to a therapy note"
    NOTE_COSIGNATURE = "note_cosignature", "Co-signature of a trainee's note"
    NOTE_SETTINGS = "note_settings", "Note templates and emergency access rules"
    SUPERVISION = "supervision", "Trainee's supervisor for co-signing"
    PSYCHOTHERAPY_NOTE = "psychotherapy_note", "Psychotherapy note (kept apart)"
    PSYCHOTHERAPY_AUTHORIZATION = ("psychotherapy_authorization",
                                   "Patient's written authorization for psychotherapy notes")
    EMERGENCY_ACCESS = "emergency_access", "Emergency access to a patient's notes"
    MONITOR_MESSAGE = "monitor_message", "Bedside monitor message (HL7)"
    MONITOR_DEVICE = "monitor_device", "Bedside monitor registered to a room"
