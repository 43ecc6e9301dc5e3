"""Admin imports as background jobs, with a report staff can act on.

``core.admin.SpreadsheetImportMixin`` saves the upload with a job of kind ``core.import_check``
(the dry run) and sends staff to the job's page. The worker reads the file (CSV in UTF-8 or
GB 18030, or XLSX), runs the admin's import-export resource without writing, and stores the
report: counts, and every bad row with its row number as the spreadsheet shows it (the header
is row 1, the first data row 2), column (the file's own header), value and reason. When no row
is bad, the page offers to confirm: ``import_confirm_start`` queues a ``core.import_run`` job
with the same file, which imports it for real (all or nothing) and reports what it did.

The bad rows can be downloaded (CSV or XLSX through ``core.exports``) with the upload's columns
and a reason column, corrected and uploaded again.
"""

from __future__ import annotations

from typing import Any

from django.apps import apps
from django.contrib import admin
from django.core.exceptions import NON_FIELD_ERRORS
from django.db import transaction
from django.utils.encoding import force_str
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from import_export.signals import post_import

from . import exports
from .jobs import JobError, Outcome, Progress, handler, job_start, worker_request
from .models import Job
from .spreadsheets import decode_csv

CHECK_KIND = "core.import_check"
RUN_KIND = "core.import_run"
# The page lists this many problems; the download holds every bad row.
PROBLEMS_KEPT = 1000


def _model_admin(job: Job):
    model = apps.get_model(job.params["model"])
    return admin.site._registry[model]


def _dataset(job: Job, model_admin):
    input_format = model_admin.get_import_formats()[int(job.params["format"])]()
    raw = job.input_file.open("rb").read()
    job.input_file.close()
    unreadable = _(
        "The file could not be read. Check that it is a CSV file (UTF-8 or GBK) or an XLSX "
        "workbook with a header row, and that you chose the matching format."
    )
    try:
        data = raw if input_format.is_binary() else decode_csv(raw)
        dataset = input_format.create_dataset(data)
    except Exception as exc:  # any reader error: say it plainly
        raise JobError(unreadable) from exc
    if not dataset or not dataset.headers:
        raise JobError(
            _(
                "No valid data to import. Ensure your file has the correct headers or data for "
                "import."
            )
        )
    return dataset


def _import(job: Job, progress: Progress, *, dry_run: bool):
    model_admin = _model_admin(job)
    request = worker_request(job)
    if not model_admin.has_import_permission(request):
        raise JobError(_("You may no longer import into this list."))
    dataset = _dataset(job, model_admin)
    original = [force_str(h) if h is not None else "" for h in dataset.headers]
    snapshot = [list(row) for row in dataset]
    progress.set_total(len(dataset))
    resource_class = model_admin.get_import_resource_classes(request)[int(job.params["resource"])]
    resource = resource_class(**model_admin.get_import_resource_kwargs(request))
    after_row = resource.after_import_row

    def counted(row, row_result, **kwargs):
        after_row(row, row_result, **kwargs)
        progress.step()

    resource.after_import_row = counted
    result = resource.import_data(
        dataset,
        dry_run=dry_run,
        raise_errors=False,
        use_transactions=True,
        rollback_on_validation_errors=True,
        file_name=job.input_name,
        user=job.owner,
        retain_instance_in_row_result=not dry_run,  # for the admin's log entries
    )
    progress.flush()
    report = import_report(resource, result, original, snapshot, renamed=list(dataset.headers))
    return model_admin, request, result, report


def _bad(report: dict) -> bool:
    return bool(report["file_errors"] or report["bad_rows"])


@handler(CHECK_KIND)
def import_check(job: Job, progress: Progress) -> Outcome:
    _admin, _request, _result, report = _import(job, progress, dry_run=True)
    if _bad(report):
        message = ngettext(
            "%(count)d row has problems; nothing was imported.",
            "%(count)d rows have problems; nothing was imported.",
            len(report["bad_rows"]),
        ) % {"count": len(report["bad_rows"])}
        if report["file_errors"] and not report["bad_rows"]:
            message = _("The file has problems; nothing was imported.")
    else:
        message = _("Every row is good: confirm to import them.")
    return Outcome(message=message, report=report)


@handler(RUN_KIND)
def import_run(job: Job, progress: Progress) -> Outcome:
    model_admin, request, result, report = _import(job, progress, dry_run=False)
    if _bad(report):
        return Outcome(
            message=_(
                "The data changed since the check; nothing was imported. Check the file again."
            ),
            report=report,
        )
    model_admin.generate_log_entries(result, request)
    post_import.send(sender=None, model=model_admin.model)
    report["imported"] = True
    return Outcome(message=model_admin.import_done_message(result), report=report)


@transaction.atomic
def import_confirm_start(*, job: Job, actor) -> Job:
    """Queue the real import of a checked file (once: a second confirmation gets the job the
    first one started)."""
    job = Job.objects.select_for_update().get(pk=job.pk)
    if job.kind != CHECK_KIND or job.status != Job.Status.DONE or _bad(job.report or {}):
        raise JobError(_("This file cannot be imported: check it again."))
    existing = job.followers.filter(kind=RUN_KIND).first()
    if existing is not None:
        return existing
    follower = job_start(
        kind=RUN_KIND,
        owner=actor,
        title=_("Import %(file)s") % {"file": job.input_name},
        params=job.params,
        total=job.total,
        parent=job,
    )
    follower.input_file.name = job.input_file.name  # the same stored upload
    follower.input_name = job.input_name
    follower.save(update_fields=["input_file", "input_name"])
    return follower


# --- the report --------------------------------------------------------------------------------


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return force_str(value)


def import_report(resource, result, original: list[str], rows: list[list], *, renamed) -> dict:
    """What the import found, as JSON: counts, problems (row, column, value, reason) and the
    bad rows (their values as uploaded, and the reasons)."""
    # A key of an error is a column name or a field's attribute: find its column.
    column_of: dict[str, int] = {}
    for index, header in enumerate(renamed):
        column_of.setdefault(force_str(header), index)
    for field in resource.get_import_fields():
        if field.column_name in column_of and field.attribute:
            column_of.setdefault(field.attribute, column_of[field.column_name])
            column_of.setdefault(field.attribute.removesuffix("_id"), column_of[field.column_name])
    problems: list[dict] = []
    reasons: dict[int, list[str]] = {}

    def add(number: int, key: str | None, message: str) -> None:
        index = column_of.get(key) if key else None
        row = rows[number - 1] if 0 < number <= len(rows) else []
        value = _text(row[index]) if index is not None and index < len(row) else ""
        column = original[index] if index is not None and index < len(original) else ""
        text = force_str(message)
        reasons.setdefault(number, []).append(f"{column}: {text}" if column else text)
        problems.append({"row": number + 1, "column": column, "value": value[:200], "reason": text})

    for number, errors in result.row_errors():
        for error in errors:
            add(number, None, _text(error.error))
    for invalid in result.invalid_rows:
        for key, messages in invalid.error_dict.items():
            for message in messages:
                add(invalid.number, None if key == NON_FIELD_ERRORS else key, message)
    totals = result.totals
    return {
        "headers": original,
        "rows": len(rows),
        "totals": {
            "new": totals.get("new", 0),
            "update": totals.get("update", 0),
            "skip": totals.get("skip", 0),
            "delete": totals.get("delete", 0),
        },
        "file_errors": [_text(e.error) for e in result.base_errors],
        "problems": sorted(problems, key=lambda p: p["row"])[:PROBLEMS_KEPT],
        "problem_count": len(problems),
        "bad_rows": [
            [number + 1, [_text(v) for v in rows[number - 1]], "；".join(texts)]
            for number, texts in sorted(reasons.items())
            if 0 < number <= len(rows)
        ],
    }


def import_page_url(job: Job) -> str | None:
    """The admin import page a check or import job came from (to upload a corrected file)."""
    from django.urls import NoReverseMatch, reverse

    if job.kind not in (CHECK_KIND, RUN_KIND):
        return None
    try:
        opts = apps.get_model(job.params["model"])._meta
        return reverse(f"admin:{opts.app_label}_{opts.model_name}_import")
    except (KeyError, LookupError, NoReverseMatch):
        return None


def bad_rows_sheet(job: Job) -> exports.Sheet:
    """The bad rows with the upload's columns and a reason column, to correct and upload
    again."""
    report = job.report or {}
    header = [*report.get("headers", []), _("Reason (delete this column or leave it)")]
    rows = ([*values, reason] for _number, values, reason in report.get("bad_rows", []))
    return exports.Sheet(title=_("Rows to correct"), header=header, rows=rows)
