"""Labels of the courses app's audit-log actions (collected by ``cqa_portal.core.history``)."""

from django.utils.translation import gettext_lazy as _

ACTIONS = {
    "courses.session.created": _("Session created"),
    "courses.session.status_changed": _("Session status changed"),
    "courses.session.rescheduled": _("Session moved"),
    "courses.session.cancelled": _("Session cancelled"),
    "courses.session.duplicated": _("Session copied"),
    "courses.session.ended": _("Session ended"),
    "courses.session.attendance_recorded": _("Attendance recorded"),
    "courses.registration.requested": _("Registration requested"),
    "courses.registration.registered": _("Registered"),
    "courses.registration.confirmed": _("Registration confirmed"),
    "courses.registration.cancelled": _("Registration cancelled"),
    "courses.registration.promoted": _("Moved up from the waiting list"),
}
