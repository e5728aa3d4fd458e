"""The course and calendar pages (listed by treatment/urls.py)."""

from django.urls import path

from kapclinic.treatment import course_views

urlpatterns = [
    path("patients/<int:patient_id>/courses/new/", course_views.new_course, name="course-new"),
    path("patients/<int:patient_id>/courses/<int:course_id>/", course_views.course_detail, name="course"),
    path("patients/<int:patient_id>/courses/<int:course_id>/sessions/<int:session_id>/move/",
         course_views.move_session, name="course-session-move"),
    path("patients/<int:patient_id>/courses/<int:course_id>/sessions/<int:session_id>/cancel/",
         course_views.cancel_session, name="course-session-cancel"),
    path("patients/<int:patient_id>/courses/<int:course_id>/visits/<int:therapy_visit_id>/move/",
         course_views.move_visit, name="course-visit-move"),
    path("patients/<int:patient_id>/courses/<int:course_id>/visits/<int:therapy_visit_id>/cancel/",
         course_views.cancel_visit, name="course-visit-cancel"),
    path("patients/<int:patient_id>/courses/<int:course_id>/add/", course_views.add_session,
         name="course-add"),
    path("patients/<int:patient_id>/courses/<int:course_id>/end/", course_views.end_course,
         name="course-end"),
    path("calendar/", course_views.calendar, name="calendar"),
]
