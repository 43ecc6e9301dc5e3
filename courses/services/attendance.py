"""Attendance recorded from the live platform's export."""

from __future__ import annotations

from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext_lazy as _

from cqa_portal.core.services import audit_log
from cqa_portal.core.spreadsheets import check_workbook, decode_csv

from ..models import AttendanceRecord, Registration, Session
from .registrations import _normalise_email


@dataclass
class AttendanceSummary:
    sessions: int = 0
    participants: int = 0
    emails: int = 0
    matched: int = 0


@transaction.atomic
def attendance_record(
    *,
    counts: dict[int, int],
    emails: dict[int, list[str]],
    actor,
) -> AttendanceSummary:
    """Replace the recorded attendance of the given sessions.

    ``counts`` maps a session id to its participant count; ``emails`` maps a session id to the
    attendee emails (each counts once and is linked to the matching registration). Re-importing
    a session's attendance replaces what was recorded before.
    """
    summary = AttendanceSummary()
    session_ids = sorted(set(counts) | set(emails))
    sessions = {s.pk: s for s in Session.objects.select_for_update().filter(pk__in=session_ids)}
    AttendanceRecord.objects.filter(session_id__in=session_ids).delete()
    registrations = {
        (session_id, email): pk
        for pk, session_id, email in Registration.objects.filter(
            session_id__in=list(emails)
        ).values_list("pk", "session_id", "email")
    }
    records = []
    for session_id in session_ids:
        session = sessions[session_id]
        if session_id in counts:
            records.append(AttendanceRecord(session=session, participants=counts[session_id]))
            total, detail = counts[session_id], "count"
        else:
            unique = sorted({_normalise_email(e) for e in emails[session_id]})
            matched = 0
            for email in unique:
                registration_id = registrations.get((session_id, email))
                matched += registration_id is not None
                records.append(
                    AttendanceRecord(
                        session=session,
                        email=email,
                        participants=1,
                        registration_id=registration_id,
                    )
                )
            total, detail = len(unique), f"{len(unique)} emails, {matched} matched registrations"
            summary.emails += len(unique)
            summary.matched += matched
        summary.sessions += 1
        summary.participants += total
        audit_log(
            actor=actor,
            action="courses.session.attendance_recorded",
            obj=session,
            to_state=str(total),
            detail=detail,
        )
    AttendanceRecord.objects.bulk_create(records, batch_size=1000)
    return summary


@dataclass
class AttendanceImport:
    ok: bool
    errors: list[str]
    summary: AttendanceSummary | None = None


def attendance_import(*, data: bytes, file_format: str, actor, dry_run: bool = False):
    """Import an attendance file (``csv`` or ``xlsx``): all rows or nothing.

    Returns the problems with their row numbers as the spreadsheet shows them (the header is
    row 1, the first data row 2)."""
    from import_export.formats.base_formats import CSV, XLSX

    from ..resources import AttendanceResource

    formats = {"csv": CSV, "xlsx": XLSX}
    if file_format not in formats:
        return AttendanceImport(ok=False, errors=[str(_("Use a CSV or XLSX file."))])
    try:
        if file_format == "csv":
            text = decode_csv(data) if isinstance(data, bytes) else data
            dataset = formats["csv"]().create_dataset(text)
        else:
            check_workbook(data)
            dataset = formats["xlsx"]().create_dataset(data)
    except ValidationError as exc:
        return AttendanceImport(ok=False, errors=[str(m) for m in exc.messages])
    except Exception:  # noqa: BLE001 - any unreadable file gets the same clear answer
        return AttendanceImport(ok=False, errors=[str(_("The file could not be read."))])
    resource = AttendanceResource()
    result = resource.import_data(
        dataset,
        dry_run=dry_run,
        use_transactions=True,
        rollback_on_validation_errors=True,
        user=actor,
    )
    errors = [str(error.error) for error in result.base_errors]
    for number, row_errors in result.row_errors():
        errors.extend(
            str(_("Row %(row)d: %(error)s") % {"row": number + 1, "error": e.error})
            for e in row_errors
        )
    for row in result.invalid_rows:
        for messages in row.error_dict.values():
            errors.extend(
                str(_("Row %(row)d: %(error)s") % {"row": row.number + 1, "error": message})
                for message in messages
            )
    return AttendanceImport(ok=not errors, errors=errors, summary=resource.summary)
