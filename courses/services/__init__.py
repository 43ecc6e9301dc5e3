"""Writes of the courses app. Views, admin actions, the attendance import and tasks call these.

Every registration change locks the session row first (``select_for_update``), so seats are
counted and handed out one registration at a time: concurrent registrations for the last seats
of a session queue on that lock and never oversell it.

One module per job; every public name is importable from ``courses.services``.
"""

from .attendance import AttendanceImport, AttendanceSummary, attendance_import, attendance_record
from .registrations import (
    registration_cancel,
    registration_confirm,
    registration_confirmation_resend,
    registration_register_user,
    registration_request,
)
from .reminders import REMINDER_CHUNK, ReminderRun, reminders_sweep
from .retention import registrations_purge
from .seats import ACTIVE, RESEND_INTERVAL, Outcome, waiting_place
from .sessions import (
    SessionSaveResult,
    session_cancel,
    session_duplicate,
    session_save,
    sessions_close_finished,
)

__all__ = [
    "ACTIVE",
    "AttendanceImport",
    "AttendanceSummary",
    "Outcome",
    "REMINDER_CHUNK",
    "RESEND_INTERVAL",
    "ReminderRun",
    "SessionSaveResult",
    "attendance_import",
    "attendance_record",
    "registration_cancel",
    "registrations_purge",
    "registration_confirm",
    "registration_confirmation_resend",
    "registration_register_user",
    "registration_request",
    "reminders_sweep",
    "session_cancel",
    "session_duplicate",
    "session_save",
    "sessions_close_finished",
    "waiting_place",
]
