"""The dose against the protocol with a second clinician outside it, and vital signs: keying
errors refused naming the field, a reading stored once, two nurses never losing a reading."""

from __future__ import annotations

import pytest
from django_otp.plugins.otp_totp.models import TOTPDevice

from kapclinic.accounts.roles import Role
from kapclinic.alerts.models import Alert
from kapclinic.audit.models import AuditEntry
from kapclinic.treatment import actions
from kapclinic.treatment.errors import ConfirmationRefused, FieldError, StepRefused
from kapclinic.treatment.models import Administration, VitalReading
from tests.conftest import PASSWORD, code_from_secret, make_user
from tests.treatment.helpers import CALM, LATE, cleared, eligible_and_consented, minutes_ago, step

pytestmark = pytest.mark.django_db


@pytest.fixture
def ready(patient, prescriber, nurse):
    eligible_and_consented(patient, prescriber)
    return cleared(patient, prescriber, nurse, start=20)


def test_a_dose_within_the_protocol_is_given_without_a_second_clinician(ready, nurse):
    given = actions.record_administration(ready, at=minutes_ago(1), by=nurse, dose_mg_per_kg=0.75)
    assert (given.dose_mg, given.within_protocol, given.second_clinician) == (52.5, True, None)


def test_a_dose_above_the_cap_without_a_reason_is_refused_naming_the_cap(ready, nurse):
    with pytest.raises(FieldError) as exc:
        actions.record_administration(ready, at=minutes_ago(1), by=nurse, dose_mg_per_kg=1.2)
    assert exc.value.field == "override_reason"
    assert "above the hard cap of 1 mg/kg" in exc.value.message
    assert not Administration.objects.exists()


def test_a_dose_above_the_cap_is_given_with_a_reason_and_a_prescriber_who_authenticates(
        ready, nurse, prescriber):
    given = actions.record_administration(
        ready, at=minutes_ago(1), by=nurse, dose_mg_per_kg=1.2, override_reason="Partial response "
        "at 1 mg/kg over four sessions", second_clinician=prescriber, second_password=PASSWORD)
    assert (given.within_protocol, given.second_clinician, given.dose_mg) == (False, prescriber, 84.0)
    assert given.second_clinician_confirmed_at is not None
    assert AuditEntry.objects.filter(action="dose_confirmed", object_id=str(ready.pk)).exists()
    assert step(ready, "dosing", minutes_ago(1), nurse).state == "dosing"


def test_a_wrong_password_of_the_second_clinician_is_refused_and_audited(ready, nurse, prescriber):
    with pytest.raises(ConfirmationRefused) as exc:
        actions.record_administration(ready, at=minutes_ago(1), by=nurse, dose_mg_per_kg=1.2,
                                      override_reason="Partial response", second_clinician=prescriber,
                                      second_password="not it")
    assert exc.value.field == "second_password"
    assert not Administration.objects.exists()
    denial = AuditEntry.objects.get(action="denied", object_type="administration")
    assert "wrong password" in denial.detail_json


def test_an_enrolled_second_clinician_also_gives_their_authenticator_code(ready, nurse, prescriber):
    device = TOTPDevice.objects.create(user=prescriber, name="phone", confirmed=True)
    secret = __import__("base64").b32encode(device.bin_key).decode()
    common = {"at": minutes_ago(1), "by": nurse, "dose_mg_per_kg": 1.2,
              "override_reason": "Partial response", "second_clinician": prescriber,
              "second_password": PASSWORD}
    with pytest.raises(ConfirmationRefused) as exc:
        actions.record_administration(ready, **common, second_code="000000")
    assert exc.value.field == "second_code"
    given = actions.record_administration(ready, **common, second_code=code_from_secret(secret))
    assert given.second_clinician == prescriber


def test_the_second_clinician_is_someone_else_with_a_clinical_role(ready, nurse, clinic_a):
    therapist = make_user("tess", clinic_a, Role.THERAPIST)
    for second, field in ((nurse, "second_clinician"), (therapist, "second_clinician")):
        with pytest.raises(ConfirmationRefused) as exc:
            actions.record_administration(ready, at=minutes_ago(1), by=nurse, dose_mg_per_kg=1.2,
                                          override_reason="Partial response", second_clinician=second,
                                          second_password=PASSWORD)
        assert exc.value.field == field


def test_a_weight_based_dose_without_todays_weight_cannot_be_calculated(patient, prescriber, nurse):
    from tests.treatment.helpers import checklist_done, session

    eligible_and_consented(patient, prescriber)
    s = session(patient, prescriber, started_minutes_ago=10)
    step(s, "checked_in", minutes_ago(9), nurse)
    checklist_done(s, nurse, at=minutes_ago(8), skip=("weight_today",))
    actions.record_vitals(s, observed_at=minutes_ago(7), values=CALM, by=nurse)
    with pytest.raises(StepRefused) as exc:
        step(s, "cleared", minutes_ago(6), nurse)
    assert [u.guard for u in exc.value.unmet] == ["weight_today"]


@pytest.mark.parametrize(("field", "value"), [("sbp_mmhg", 400), ("spo2_pct", 120),
                                              ("heart_rate_bpm", 0)])
def test_a_keying_error_is_refused_naming_the_field(ready, nurse, field, value):
    with pytest.raises(FieldError) as exc:
        actions.record_vitals(ready, observed_at=minutes_ago(1), by=nurse, values={**CALM, field: value})
    assert exc.value.field == field
    assert "check the entry" in exc.value.message
    assert not VitalReading.objects.filter(session=ready, phase="pre_dose").exclude(
        sbp_mmhg=CALM["sbp_mmhg"]).exists()


def test_the_same_reading_sent_twice_is_stored_once(ready, nurse):
    at = minutes_ago(1)
    first = actions.record_vitals(ready, observed_at=at, by=nurse, values={"spo2_pct": 97})
    again = actions.record_vitals(ready, observed_at=at, by=nurse, values={"spo2_pct": 97})
    assert (first.created, again.created, again.reading.pk) == (True, False, first.reading.pk)
    assert VitalReading.objects.filter(session=ready, observed_at=at).count() == 1


def test_two_nurses_recording_on_one_session_keep_both_readings(ready, nurse, prescriber, clinic_a):
    other = make_user("nell", clinic_a, Role.NURSE)
    at = minutes_ago(1)
    actions.record_vitals(ready, observed_at=at, by=nurse, values={"sbp_mmhg": 124, "dbp_mmhg": 80})
    actions.record_vitals(ready, observed_at=at, by=other, values={"heart_rate_bpm": 71})
    assert set(VitalReading.objects.filter(session=ready, observed_at=at)
               .values_list("recorded_by__username", flat=True)) == {nurse.username, "nell"}


def test_a_low_spo2_during_dosing_raises_an_urgent_alert_with_the_recommended_action(ready, nurse):
    ready = step(ready, "dosing", minutes_ago(10), nurse, administration={"dose_mg_per_kg": 0.5})
    recorded = actions.record_vitals(ready, observed_at=minutes_ago(1), by=nurse,
                                     values={"spo2_pct": 89, "resp_rate_per_min": 14})
    [alert] = recorded.alerts
    assert (alert.source, alert.kind, alert.priority) == ("treatment", "spo2_low", Alert.Priority.URGENT)
    assert alert.record_type == "treatment.vital_reading" and alert.record_id == recorded.reading.pk
    assert "stop dosing" in alert.recommended_action.lower()
    assert "89" in alert.label
    # sent again: the same alert, not a second one
    again = actions.record_vitals(ready, observed_at=recorded.reading.observed_at,
                                  by=nurse, values={"spo2_pct": 89, "resp_rate_per_min": 14})
    assert [a.pk for a in again.alerts] == [alert.pk]
    assert Alert.objects.filter(source="treatment").count() == 1


def test_readings_are_refused_once_the_session_has_ended(patient, prescriber, nurse):
    from tests.treatment.helpers import session

    s = session(patient, prescriber, started_minutes_ago=5)
    s = step(s, "cancelled", minutes_ago(1), nurse, reason="Unwell")
    with pytest.raises(FieldError) as exc:
        actions.record_vitals(s, observed_at=minutes_ago(1), by=nurse, values=CALM)
    assert exc.value.field == "session"


def test_a_late_reading_needs_a_reason(ready, nurse):
    with pytest.raises(FieldError) as exc:
        actions.record_vitals(ready, observed_at=minutes_ago(95), by=nurse, values=CALM)
    assert exc.value.field == "late_reason"
    assert actions.record_vitals(ready, observed_at=minutes_ago(95), by=nurse, values=CALM,
                                 late_reason=LATE).created


def test_wrong_passwords_for_a_second_clinician_lock_them_out_for_a_while(
        ready, nurse, prescriber, settings):
    """A refusal rolls the dose back, so the count of wrong tries is kept in the audited
    denials: past the login limit even the right password is refused until the cool-off."""
    common = {"at": minutes_ago(1), "by": nurse, "dose_mg_per_kg": 1.2,
              "override_reason": "Partial response", "second_clinician": prescriber}
    for _ in range(settings.AXES_FAILURE_LIMIT):
        with pytest.raises(ConfirmationRefused):
            actions.record_administration(ready, **common, second_password="guess")
    with pytest.raises(ConfirmationRefused) as exc:
        actions.record_administration(ready, **common, second_password=PASSWORD)
    assert "Too many wrong passwords or codes" in exc.value.message
    assert not Administration.objects.exists()
    settings.AXES_COOLOFF_TIME = 0  # the cool-off over
    assert actions.record_administration(ready, **common, second_password=PASSWORD).within_protocol is False


def test_an_enrolled_second_clinicians_code_is_checked_before_their_password(ready, nurse, prescriber):
    """Without the code of the moment, a refusal does not tell whether the password was right."""
    TOTPDevice.objects.create(user=prescriber, name="phone", confirmed=True)
    for password in ("guess", PASSWORD):
        with pytest.raises(ConfirmationRefused) as exc:
            actions.record_administration(ready, at=minutes_ago(1), by=nurse, dose_mg_per_kg=1.2,
                                          override_reason="Partial response", second_clinician=prescriber,
                                          second_password=password, second_code="000000")
        assert exc.value.field == "second_code"


@pytest.fixture
def esketamine_ready(patient, prescriber, nurse):
    from tests.treatment.helpers import ESKETAMINE

    eligible_and_consented(patient, prescriber, drug="esketamine", route="intranasal")
    return cleared(patient, prescriber, nurse, ESKETAMINE, start=20)


def test_a_first_esketamine_dose_of_84_mg_under_65_needs_a_reason_as_the_label_starts_at_56(
        esketamine_ready, nurse):
    with pytest.raises(FieldError) as exc:
        actions.record_administration(esketamine_ready, at=minutes_ago(1), by=nurse, dose_mg=84)
    assert exc.value.field == "override_reason"
    assert "first dose under 65 (56 mg on day 1), not 84 mg" in exc.value.message
    given = actions.record_administration(esketamine_ready, at=minutes_ago(1), by=nurse, dose_mg=56)
    assert given.within_protocol


def test_a_patient_of_70_is_given_a_first_esketamine_dose_of_28_mg_within_the_label(
        esketamine_ready, nurse, patient):
    from datetime import date

    from kapclinic.patients.models import Patient
    from tests.conftest import set_directly

    set_directly(Patient.objects.filter(pk=patient.pk), date_of_birth=date(1950, 1, 15))
    esketamine_ready = type(esketamine_ready).objects.select_related("patient__clinic").get(
        pk=esketamine_ready.pk)
    given = actions.record_administration(esketamine_ready, at=minutes_ago(1), by=nurse, dose_mg=28)
    assert given.within_protocol
    assert "from 65 (28 mg)" in " ".join(given.calculation["messages"])
