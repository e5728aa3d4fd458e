"""A set-password link that a change of access cancelled never works again, whatever later
brings the access back to how it was."""

from __future__ import annotations

from django.test import Client

from kapclinic.accounts import staff
from kapclinic.accounts.models import Invitation, User


def valid(link: str) -> bool:
    return Client().get(link.replace("http://testserver", ""), follow=True).context["validlink"]


def test_a_link_cancelled_by_ending_access_stays_dead_after_access_is_restored(clinic_admin,
                                                                              nurse):
    membership = nurse.memberships.get()
    link = staff.issue_password_link(membership=membership, base_url="http://testserver/",
                                     by=clinic_admin)
    assert valid(link)
    staff.end_access(membership=membership, by=clinic_admin)
    assert not valid(link)
    staff.restore_access(membership=membership, by=clinic_admin)
    assert not valid(link)


def test_a_link_cancelled_by_a_role_change_stays_dead_after_the_role_changes_back(
        clinic_admin, nurse):
    membership = nurse.memberships.get()
    link = staff.issue_password_link(membership=membership, base_url="http://testserver/",
                                     by=clinic_admin)
    staff.change_role(membership=membership, role="therapist", by=clinic_admin)
    staff.change_role(membership=membership, role="nurse", by=clinic_admin)
    assert not valid(link)


def test_accepting_an_invitation_cancels_links_issued_before(nurse, clinic_b, clinic_admin):
    link = staff.password_link(nurse, "http://testserver/")
    invitation = Invitation.objects.create(user=nurse, clinic=clinic_b, role="nurse")
    staff.answer_invitation(invitation=invitation, accept=True, by=nurse)
    assert not valid(link)


def test_a_password_change_moves_the_security_stamp_on(nurse):
    before = User.objects.get(pk=nurse.pk).security_stamp
    nurse.set_password("another good passphrase")
    nurse.save()
    assert User.objects.get(pk=nurse.pk).security_stamp > before
