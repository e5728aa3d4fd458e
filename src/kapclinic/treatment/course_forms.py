"""The course pages' forms: planning a course, moving or cancelling a visit, adding a session.
Times are read in the clinic's zone (the request activates it); the actions decide the rest."""

from __future__ import annotations

from django import forms

from kapclinic.accounts.models import Membership, User
from kapclinic.accounts.roles import Role
from kapclinic.clinical import protocols as core
from kapclinic.platform import text

REASON_MAX = 2000


def _when(label: str) -> forms.DateTimeField:
    return forms.DateTimeField(label=label, widget=forms.DateTimeInput(attrs={"type": "datetime-local"}))


def _reason(label: str = "Reason") -> forms.CharField:
    return forms.CharField(label=label, max_length=REASON_MAX,
                           widget=forms.TextInput(attrs={"autocomplete": "off"}))


def staff_choices(clinic_id: int, roles: tuple[str, ...]) -> list[tuple[int, str]]:
    """The clinic's current staff in ``roles``, by name, for a picker."""
    members = (Membership.objects.filter(clinic_id=clinic_id, role__in=roles)
               .select_related("user").order_by("user__last_name", "user__first_name", "user__username"))
    return [(m.user_id, f"{m.user.display_name} ({m.get_role_display().lower()})") for m in members]


class StaffChoiceField(forms.TypedChoiceField):
    def __init__(self, label: str, **kwargs):
        super().__init__(label=label, coerce=int, required=False, empty_value=None, **kwargs)


ROOMS_LIST = "clinic-rooms"
CHAIRS_LIST = "clinic-chairs"


def _place(label: str, options: str) -> forms.CharField:
    """A room or chair: the clinic's own offered in a list, anything else typed in."""
    return forms.CharField(label=label, max_length=60, required=False,
                           widget=forms.TextInput(attrs={"list": options, "autocomplete": "off"}))


class CourseForm(forms.Form):
    protocol = forms.ChoiceField(label="Protocol")
    first_dose_at = _when("First dose: date and time")
    room = _place("Room", ROOMS_LIST)
    chair = _place("Chair", CHAIRS_LIST)
    clinician = StaffChoiceField("Supervising clinician")
    therapist = StaffChoiceField("Therapist")

    def __init__(self, *args, clinic_id: int, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["protocol"].choices = [(p.id, p.label) for p in core.load_all().values()]
        self.fields["clinician"].choices = [("", "Not yet")] + staff_choices(
            clinic_id, (Role.PRESCRIBER, Role.NURSE))
        self.fields["therapist"].choices = [("", "Not yet")] + staff_choices(clinic_id, (Role.THERAPIST,))
        self._clinic_id = clinic_id
        text.guard(self, free_text=("room", "chair"))

    def people(self) -> dict[str, User | None]:
        ids = {name: self.cleaned_data.get(name) for name in ("clinician", "therapist")}
        found = User.objects.in_bulk([i for i in ids.values() if i is not None])
        return {name: found.get(i) if i is not None else None for name, i in ids.items()}


class MoveForm(forms.Form):
    version = forms.IntegerField(min_value=1, max_value=2**31, widget=forms.HiddenInput)
    to = _when("New date and time")
    reason = _reason()

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        text.guard(self, free_text=("reason",))


class CancelForm(forms.Form):
    version = forms.IntegerField(min_value=1, max_value=2**31, widget=forms.HiddenInput)
    reason = _reason("Why it is cancelled")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        text.guard(self, free_text=("reason",))


class AddSessionForm(forms.Form):
    at = _when("Date and time")
    reason = _reason()
    room = _place("Room", ROOMS_LIST)
    chair = _place("Chair", CHAIRS_LIST)
    booster = forms.BooleanField(required=False, widget=forms.HiddenInput)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        text.guard(self, free_text=("reason", "room", "chair"))


class EndCourseForm(forms.Form):
    reason = _reason("Why the course ends")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        text.guard(self, free_text=("reason",))
