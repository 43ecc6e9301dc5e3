"""django-import-export resources: attendance import (from the live platform's export) and the
registrants export.

Attendance files (CSV or XLSX) have a ``session`` column (the session number shown in the
admin) and, per session, either a ``participants`` column with the count or an ``email`` column
with one row per attendee. Chinese headers from the platforms' exports are accepted too. Every
row is checked first; the resource itself writes nothing: when all rows are good it passes the
whole file to ``services.attendance_record`` in the import's transaction, so a file with a bad
row writes nothing.
"""

from __future__ import annotations

from collections import defaultdict
from decimal import Decimal, InvalidOperation

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from import_export import fields, resources

from .models import AttendanceRecord, Registration, Session

HEADER_ALIASES = {
    "session": "session",
    "session id": "session",
    "session number": "session",
    "场次": "session",
    "场次编号": "session",
    "课程编号": "session",
    "participants": "participants",
    "participant count": "participants",
    "count": "participants",
    "参与人次": "participants",
    "观看人次": "participants",
    "人次": "participants",
    "email": "email",
    "e-mail": "email",
    "attendee email": "email",
    "邮箱": "email",
    "电子邮箱": "email",
    "邮件地址": "email",
}


def _text(value) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(value).strip()


# The largest id a database column holds, and the largest count the participants column holds:
# beyond them a value is refused in the row instead of failing in the database.
MAX_ID = 2**63 - 1
MAX_PARTICIPANTS = 2**31 - 1
EMAIL_MAX_LENGTH = AttendanceRecord._meta.get_field("email").max_length
# One row per attendee: a session draws a few thousand. A larger file is refused with a message
# instead of being checked for longer than a request may take (about 5 s for this many rows).
MAX_ROWS = 50_000


def _integer(value: str) -> int | None:
    """A whole number, allowing thousands separators and XLSX's 12.0; None if not one (text,
    NaN, infinity, fractions, or more than a database column holds)."""
    cleaned = value.replace(",", "").replace("，", "").replace(" ", "")
    if len(cleaned) > 40:
        return None
    try:
        number = Decimal(cleaned)
    except InvalidOperation:
        return None
    if not number.is_finite() or number != number.to_integral_value() or abs(number) > MAX_ID:
        return None
    return int(number)


def _count(value: str) -> int | None:
    """A participant count the database can hold, or None."""
    number = _integer(value)
    return number if number is not None and 0 <= number <= MAX_PARTICIPANTS else None


def _valid_email(value: str) -> bool:
    if len(value) > EMAIL_MAX_LENGTH:
        return False
    try:
        validate_email(value)
    except ValidationError:
        return False
    return True


class AttendanceResource(resources.ModelResource):
    session = fields.Field(attribute="session_id", column_name="session")
    participants = fields.Field(attribute="participants", column_name="participants")
    email = fields.Field(attribute="email", column_name="email")

    class Meta:
        model = AttendanceRecord
        fields = ("session", "participants", "email")
        import_id_fields = ()
        force_init_instance = True
        skip_diff = True
        use_transactions = True
        clean_model_instances = False
        name = "Attendance (participant count or attendee emails per session)"

    def __init__(self, **kwargs):
        super().__init__()
        self.summary = None
        self._sessions: dict[int, Session] = {}
        self._row_errors: dict[int, dict[str, str]] = {}
        self._counts: dict[int, int] = {}
        self._emails: dict[int, list[str]] = defaultdict(list)

    # --- whole-file checks, before any row ---------------------------------------------------

    def before_import(self, dataset, **kwargs):
        headers = [
            HEADER_ALIASES.get(_text(h).lower(), _text(h).lower()) for h in dataset.headers or []
        ]
        problem = ""
        if "session" not in headers:
            problem = _("The file has no “session” column (the session number).")
        elif "participants" not in headers and "email" not in headers:
            problem = _("The file needs a “participants” column (a count) or an “email” column.")
        elif len(dataset) > MAX_ROWS:
            problem = _("The file has %(count)d rows; import at most %(limit)d rows at a time.") % {
                "count": len(dataset),
                "limit": MAX_ROWS,
            }
        if problem:
            del dataset[0 : len(dataset)]  # one clear message, not one per row
            raise ValueError(problem)
        dataset.headers = headers
        rows = [dict(zip(headers, values, strict=False)) for values in dataset]
        numbers = {_integer(_text(r.get("session"))) for r in rows}
        self._sessions = Session.objects.in_bulk([n for n in numbers if n])
        kinds: dict[int, set[str]] = defaultdict(set)
        count_row: dict[int, int] = {}
        for number, row in enumerate(rows, 1):
            session_id = _integer(_text(row.get("session")))
            count = _count(_text(row.get("participants")))
            has_count = count is not None
            has_email = _valid_email(_text(row.get("email")))
            if not session_id or has_count == has_email:
                continue
            kinds[session_id].add("count" if has_count else "email")
            if has_count:
                if session_id in count_row:
                    self._row_errors.setdefault(number, {})["participants"] = _(
                        "Session %(session)s already has a participant count in row %(row)d."
                    ) % {"session": session_id, "row": count_row[session_id] + 1}  # spreadsheet row
                else:
                    count_row[session_id] = number
        for number, row in enumerate(rows, 1):
            session_id = _integer(_text(row.get("session")))
            if session_id and len(kinds.get(session_id, ())) > 1:
                self._row_errors.setdefault(number, {})["session"] = _(
                    "Session %(session)s has both a participant count and attendee emails in "
                    "this file; give one or the other."
                ) % {"session": session_id}

    # --- one row -----------------------------------------------------------------------------

    def import_instance(self, instance, row, **kwargs):
        number = kwargs.get("row_number")
        session_text = _text(row.get("session"))
        count_text = _text(row.get("participants"))
        email = _text(row.get("email")).lower()
        instance._blank = not (session_text or count_text or email)
        if instance._blank:
            return
        errors: dict[str, list[str]] = {}

        def add(field, message):
            errors.setdefault(field, []).append(message)

        for field, message in self._row_errors.get(number, {}).items():
            add(field, message)
        session_id = _integer(session_text)
        session = self._sessions.get(session_id) if session_id else None
        if not session_text:
            add("session", _("The session number is missing."))
        elif not session_id:
            add("session", _("“%(value)s” is not a session number.") % {"value": session_text})
        elif session is None:
            add("session", _("There is no session number %(value)s.") % {"value": session_id})
        elif session.status == Session.Status.CANCELLED:
            add(
                "session",
                _("Session %(value)s was cancelled; it has no attendance.") % {"value": session_id},
            )
        elif session.starts_at > timezone.now():
            add(
                "session",
                _("Session %(value)s has not taken place yet.") % {"value": session_id},
            )
        if count_text and email:
            add("participants", _("Give either a participant count or an email, not both."))
        elif not count_text and not email:
            add("participants", _("Give a participant count or an attendee email."))
        elif count_text:
            count = _count(count_text)
            if count is None:
                add(
                    "participants",
                    _("“%(value)s” is not a number of participants.") % {"value": count_text},
                )
            else:
                instance.participants = count
        else:
            if not _valid_email(email):
                add("email", _("“%(value)s” is not an email address.") % {"value": email})
            instance.email = email
        if errors:
            raise ValidationError(errors)
        instance.session = session

    def skip_row(self, instance, original, row, import_validation_errors=None):
        return getattr(instance, "_blank", False) and not import_validation_errors

    def save_instance(self, instance, is_create, row, **kwargs):
        """Collect the row; ``after_import`` records the whole file at once."""
        if instance.email:
            self._emails[instance.session_id].append(instance.email)
        else:
            self._counts[instance.session_id] = instance.participants

    def after_import(self, dataset, result, **kwargs):
        if result.has_errors() or result.has_validation_errors():
            return
        if not self._counts and not self._emails:
            raise ValueError(_("The file has no attendance rows."))
        from .services import attendance_record

        self.summary = attendance_record(
            counts=self._counts, emails=dict(self._emails), actor=kwargs.get("user")
        )
        result.attendance_summary = self.summary


class RegistrantResource(resources.ModelResource):
    """The registrants of sessions, for staff. Written by the portal's one export layer
    (cqa_portal.core.exports): times are date cells in Beijing time, numbers are numbers."""

    session_id = fields.Field(attribute="session_id", column_name=gettext_lazy("session number"))
    session_title = fields.Field(column_name=gettext_lazy("course"))
    session_start = fields.Field(column_name=gettext_lazy("starts at (Beijing time)"))
    name = fields.Field(attribute="name", column_name=gettext_lazy("full name"))
    email = fields.Field(attribute="email", column_name=gettext_lazy("email"))
    organisation = fields.Field(attribute="organisation", column_name=gettext_lazy("organisation"))
    status = fields.Field(column_name=gettext_lazy("status"))
    position = fields.Field(attribute="position", column_name=gettext_lazy("queue position"))
    account = fields.Field(column_name=gettext_lazy("portal account"))
    registered = fields.Field(column_name=gettext_lazy("registered at"))
    confirmed = fields.Field(column_name=gettext_lazy("confirmed at"))
    attended = fields.Field(column_name=gettext_lazy("attended"))

    class Meta:
        model = Registration
        name = gettext_lazy("Registrants")
        fields = export_order = (
            "session_id",
            "session_title",
            "session_start",
            "name",
            "email",
            "organisation",
            "status",
            "position",
            "account",
            "registered",
            "confirmed",
            "attended",
        )

    def filter_export(self, queryset, **kwargs):
        return queryset.select_related("session", "user")

    def dehydrate_session_title(self, registration):
        return registration.session.title

    def dehydrate_session_start(self, registration):
        return registration.session.starts_at

    def dehydrate_status(self, registration):
        return str(registration.get_status_display())

    def dehydrate_account(self, registration):
        return registration.user.email if registration.user_id else ""

    def dehydrate_registered(self, registration):
        return registration.created_at

    def dehydrate_confirmed(self, registration):
        return registration.confirmed_at

    def dehydrate_attended(self, registration):
        return _("yes") if getattr(registration, "attended", 0) else ""


class AttendanceRecordResource(resources.ModelResource):
    """Export only: what the attendance imports recorded, with the session and the registrant's
    name instead of ids."""

    session_id = fields.Field(attribute="session_id", column_name=gettext_lazy("session number"))
    session_title = fields.Field(attribute="session__title", column_name=gettext_lazy("course"))
    session_start = fields.Field(
        attribute="session__starts_at", column_name=gettext_lazy("starts at (Beijing time)")
    )
    registrant = fields.Field(attribute="registration__name", column_name=gettext_lazy("full name"))

    class Meta:
        model = AttendanceRecord
        name = gettext_lazy("Attendance")
        fields = export_order = (
            "session_id",
            "session_title",
            "session_start",
            "participants",
            "email",
            "registrant",
            "imported_at",
        )

    def filter_export(self, queryset, **kwargs):
        return queryset.select_related("session", "registration")
