"""The course and calendar pages (listed by treatment/urls.py)."""

from django.urls import path

from kapclinic.treatment import course_views

urlpatterns = [
    path("patients/<int:patient_id>/courses/new/", course_views.new_course, name="course-new"),
    path("patients/<int:patient_id>/courses/<int:course_id>/", course_views.course_detail, name="course"),
    path("patients/<int:patient_id>/courses/<int:course_id>/<str:kind>/<int:record_id>/<str:change>/",
         course_views.change_visit, name="course-change"),
    path("patients/<int:patient_id>/courses/<int:course_id>/add/", course_views.add_session,
         name="course-add"),
    path("patients/<int:patient_id>/courses/<int:course_id>/end/", course_views.end_course,
         name="course-end"),
    path("calendar/", course_views.calendar, name="calendar"),
]
