"""The programme report as of a date: the figures the association reported on 20 March 2020,
for any chosen day, computed from the portal's own records.

"As of a date" means every figure counts only what happened by the end of that day in Beijing
time (``cutoff``: the next midnight in Asia/Shanghai, compared with ``<``):

- commitments and initiative: the open letter published by then, with its items; signatures
  confirmed by then and not withdrawn by then, by kind;
- the alliance: members that had joined by that day; co-signers approved by then;
- survey findings: the latest summary snapshot made by then, shown exactly as the public page
  shows it (``surveys.summary.public_summary`` and ``surveys.presentation.present``: the same
  suppression of small groups), with the number of responses submitted by then;
- courses: sessions that had ended by then (not cancelled) and the participant-times recorded
  for them, by topic;
- fee relief: requests submitted by then and the amounts asked; requests decided by then as
  approved or partly approved and the amounts granted.

A fixed number of queries whatever the data size. Reads only; ``report_docx`` writes the same
content as a Word document (``python-docx``) that LibreOffice opens; CJK text is set in Noto
Sans CJK SC (Debian's ``fonts-noto-cjk``) with the system's fallback when it is missing.
"""

from __future__ import annotations

import datetime
import io
from dataclasses import dataclass, field
from decimal import Decimal
from zoneinfo import ZoneInfo

from django.db.models import Count, DecimalField, OuterRef, Q, Subquery, Sum
from django.db.models.functions import Coalesce
from django.utils.translation import gettext as _

from cqa_portal.core.errors import PortalError

REPORT_TZ = ZoneInfo("Asia/Shanghai")
FIRST_DAY = datetime.date(2000, 1, 1)
ZERO = Decimal("0.00")


def parse_day(text: str | None, *, today: datetime.date) -> datetime.date:
    """The report's day from ``?date=YYYY-MM-DD``; today when empty. Raises ``PortalError``
    with a message for the user when the text is not a date or the day is out of range."""
    text = (text or "").strip()
    if not text:
        return today
    try:
        day = datetime.date.fromisoformat(text)
    except ValueError:
        raise PortalError(
            _("“%(value)s” is not a date. Enter a date as YYYY-MM-DD, e.g. 2020-03-20.")
            % {"value": text[:40]},
            code="bad_date",
        ) from None
    if not FIRST_DAY <= day <= today:
        raise PortalError(
            _("Choose a date from %(first)s to today (%(today)s).")
            % {"first": FIRST_DAY.isoformat(), "today": today.isoformat()},
            code="date_out_of_range",
        )
    return day


def cutoff_of(day: datetime.date) -> datetime.datetime:
    """The first instant after ``day`` in Beijing time: events ``< cutoff`` happened by then."""
    return datetime.datetime.combine(day + datetime.timedelta(days=1), datetime.time(), REPORT_TZ)


@dataclass
class ProgrammeReport:
    day: datetime.date
    cutoff: datetime.datetime
    letter: object | None = None
    commitments: list = field(default_factory=list)
    initiative: object | None = None
    initiative_items: list = field(default_factory=list)
    signatures: dict = field(default_factory=lambda: {"total": 0, "by_kind": []})
    alliance: object | None = None
    alliance_members: list = field(default_factory=list)
    cosigners: list = field(default_factory=list)
    survey: object | None = None
    snapshot: object | None = None
    survey_summary: dict | None = None
    responses_by_day: int = 0
    courses: dict = field(default_factory=dict)
    relief: dict = field(default_factory=dict)


def _pledges(report: ProgrammeReport) -> None:
    from pledges.models import Alliance, CoSignature, OpenLetter, Signature, SignatureKind

    cutoff = report.cutoff
    letter = (
        OpenLetter.objects.filter(is_published=True, published_at__lt=cutoff)
        .select_related("initiative")
        .order_by("-published_at", "-pk")
        .first()
    )
    report.letter = letter
    if letter is not None:
        report.commitments = list(letter.commitments.order_by("order", "pk"))
        report.initiative = letter.initiative
    if report.initiative is not None:
        report.initiative_items = list(report.initiative.items.order_by("order", "pk"))
        held = Q(confirmed_at__lt=cutoff) & (
            Q(withdrawn_at__isnull=True) | Q(withdrawn_at__gte=cutoff)
        )
        counts = Signature.objects.filter(
            held, initiative=report.initiative, is_hidden=False
        ).aggregate(
            total=Count("pk"),
            **{kind: Count("pk", filter=Q(kind=kind)) for kind in SignatureKind.values},
        )
        report.signatures = {
            "total": counts["total"],
            "by_kind": [
                {"kind": kind, "label": label, "count": counts[kind]}
                for kind, label in SignatureKind.choices
            ],
        }
    alliance = (
        Alliance.objects.filter(is_published=True, founded_on__lte=report.day)
        .order_by("-founded_on", "-pk")
        .first()
    )
    report.alliance = alliance
    if alliance is not None:
        report.alliance_members = list(
            alliance.members.filter(joined_on__lte=report.day).order_by("order", "pk")
        )
        report.cosigners = list(
            CoSignature.objects.filter(
                alliance=alliance,
                status=CoSignature.Status.APPROVED,
                decided_at__lt=cutoff,
            ).order_by("decided_at", "pk")
        )


def _survey(report: ProgrammeReport) -> None:
    from surveys.models import Response, SummarySnapshot, Survey
    from surveys.presentation import present
    from surveys.summary import public_summary

    survey = (
        Survey.objects.filter(results_published=True, opens_at__lt=report.cutoff)
        .exclude(status=Survey.Status.DRAFT)
        .order_by("-opens_at", "-pk")
        .first()
    )
    report.survey = survey
    if survey is None:
        return
    report.snapshot = (
        SummarySnapshot.objects.filter(survey=survey, created_at__lt=report.cutoff)
        .order_by("-created_at", "-pk")
        .first()
    )
    report.responses_by_day = Response.objects.filter(
        survey=survey, status=Response.Status.SUBMITTED, submitted_at__lt=report.cutoff
    ).count()
    if report.snapshot is not None:
        report.survey_summary = present(public_summary(report.snapshot.data), public=True)


def _courses(report: ProgrammeReport) -> None:
    from courses.models import AttendanceRecord, Session, Topic

    held = Q(sessions__ends_at__lt=report.cutoff) & ~Q(sessions__status=Session.Status.CANCELLED)
    participants = (
        AttendanceRecord.objects.filter(
            session__topic=OuterRef("pk"),
            session__ends_at__lt=report.cutoff,
        )
        .exclude(session__status=Session.Status.CANCELLED)
        .order_by()
        .values("session__topic")
        .annotate(total=Sum("participants"))
        .values("total")
    )
    rows = list(
        Topic.objects.annotate(
            held=Count("sessions", filter=held), participants=Coalesce(Subquery(participants), 0)
        ).order_by("order", "name")
    )
    topics = [
        {"topic": t, "label": t.label, "held": t.held, "participants": t.participants}
        for t in rows
        if t.held or t.participants
    ]
    report.courses = {
        "held": sum(t["held"] for t in topics),
        "participants": sum(t["participants"] for t in topics),
        "topics": topics,
    }


def _relief(report: ProgrammeReport) -> None:
    from members.models import MembershipFee, ReliefRequest

    cutoff = report.cutoff
    kinds = ReliefRequest.Kind
    fee_due = Subquery(
        MembershipFee.objects.filter(company=OuterRef("company"), year=OuterRef("year")).values(
            "amount_due"
        )[:1],
        output_field=DecimalField(max_digits=10, decimal_places=2),
    )
    submitted = Q(submitted_at__lt=cutoff)
    granted = Q(decided_at__lt=cutoff, status__in=ReliefRequest.GRANTED_STATUSES)
    money = DecimalField(max_digits=14, decimal_places=2)
    figures = (
        ReliefRequest.objects.annotate(fee_due=fee_due)
        .order_by()
        .aggregate(
            requested=Count("pk", filter=submitted),
            waivers=Count("pk", filter=submitted & Q(kind=kinds.WAIVER)),
            reductions=Count("pk", filter=submitted & Q(kind=kinds.REDUCTION)),
            deferrals=Count("pk", filter=submitted & Q(kind=kinds.DEFERRAL)),
            asked_reductions=Coalesce(
                Sum("requested_amount", filter=submitted & Q(kind=kinds.REDUCTION)),
                ZERO,
                output_field=money,
            ),
            asked_waivers=Coalesce(
                Sum("fee_due", filter=submitted & Q(kind=kinds.WAIVER)), ZERO, output_field=money
            ),
            granted=Count("pk", filter=granted),
            granted_amount=Coalesce(
                Sum("granted_amount", filter=granted), ZERO, output_field=money
            ),
            rejected=Count(
                "pk", filter=Q(decided_at__lt=cutoff, status=ReliefRequest.Status.REJECTED)
            ),
            companies=Count("company", filter=submitted, distinct=True),
        )
    )
    figures["asked_amount"] = figures.pop("asked_reductions") + figures.pop("asked_waivers")
    report.relief = figures


def programme_report(day: datetime.date) -> ProgrammeReport:
    """Every figure of the report as of the end of ``day`` (Beijing time)."""
    report = ProgrammeReport(day=day, cutoff=cutoff_of(day))
    _pledges(report)
    _survey(report)
    _courses(report)
    _relief(report)
    return report


def _date(value) -> str:
    return value.astimezone(REPORT_TZ).strftime("%Y-%m-%d") if value else ""


def _money(value) -> str:
    return f"{value:,.2f}"


def report_texts(report: ProgrammeReport) -> dict:
    """The report's sentences in the current language, shared by the page and the document."""
    texts = {
        "title": _("Programme report as of %(day)s") % {"day": report.day.isoformat()},
        "as_of": _(
            "Figures as of the end of %(day)s, Beijing time: everything counted happened "
            "before %(cutoff)s."
        )
        % {"day": report.day.isoformat(), "cutoff": report.cutoff.strftime("%Y-%m-%d %H:%M")},
        "commitments": _("Commitments and initiative"),
        "none": _("Nothing had been published by that date."),
        "kind": _("Signing as"),
        "confirmed": _("Confirmed signatures"),
        "alliance": _("The alliance"),
        "cosigner": _("Co-signing organisation"),
        "approved_on": _("Approved on"),
        "survey": _("Survey findings"),
        "no_snapshot": _("No survey summary had been made by that date."),
        "suppression_note": _(
            "Only aggregate figures are shown. Groups with fewer than 5 responses are not "
            "shown separately."
        ),
        "region_header": [
            _("Region"),
            _("Responses"),
            _("Affected"),
            _("Moderately or severely"),
            _("Not resumed"),
        ],
        "courses": _("Free live courses"),
        "topic": _("Topic"),
        "sessions_held": _("Sessions held"),
        "participant_times": _("Participant-times"),
        "relief": _("Membership-fee relief"),
        "date_of": _date,
    }
    signatures = report.signatures or {"total": 0}
    texts["signatures_total"] = _("%(n)d confirmed signatures of the initiative.") % {
        "n": signatures["total"]
    }
    if report.alliance is not None:
        texts["alliance_line"] = _(
            "%(name)s, founded on %(founded)s: %(members)d member associations; "
            "%(cosigners)d co-signing organisations approved."
        ) % {
            "name": report.alliance.name_display,
            "founded": report.alliance.founded_on.isoformat(),
            "members": len(report.alliance_members),
            "cosigners": len(report.cosigners),
        }
    summary = report.survey_summary
    if summary is not None and report.snapshot is not None:
        texts["survey_line"] = _(
            "From the summary made on %(when)s: %(n)d member companies responded "
            "(%(by_day)d responses submitted by the end of the day)."
        ) % {
            "when": report.snapshot.created_at.astimezone(REPORT_TZ).strftime("%Y-%m-%d %H:%M"),
            "n": summary["totals"]["responses"],
            "by_day": report.responses_by_day,
        }
        key = summary.get("key") or {}
        lines = []
        if key:
            lines.append(
                _("%(pct)s%% were adversely affected to some degree.")
                % {"pct": key["overall"]["affected_pct"]}
            )
            lines.append(
                _("Of those that had resumed work, %(fully)s%% fully and %(partly)s%% partly.")
                % {
                    "fully": key["fully_among_resumed_pct"],
                    "partly": key["partly_among_resumed_pct"],
                }
            )
            hubei = key.get("hubei")
            if hubei and not hubei.get("suppressed"):
                lines.append(
                    _("Hubei: %(affected)s%% affected, %(not_resumed)s%% not resumed.")
                    % {
                        "affected": hubei["affected_pct"],
                        "not_resumed": hubei["not_resumed_pct"],
                    }
                )
            needs = key.get("needs")
            if needs:
                lines.append(
                    _("Needs, most asked first: %(needs)s.")
                    % {
                        "needs": _("; ").join(
                            f"{o['label']} ({_pct(o['pct'])})" for o in needs["ranked"]
                        )
                    }
                )
        texts["survey_key_lines"] = lines
    courses = report.courses
    texts["courses_line"] = _(
        "%(held)d sessions held, %(participants)s participant-times recorded."
    ) % {"held": courses["held"], "participants": f"{courses['participants']:,}"}
    relief = report.relief
    texts["relief_lines"] = [
        _(
            "%(n)d requests submitted by %(companies)d companies (%(waivers)d waivers, "
            "%(reductions)d reductions, %(deferrals)d deferrals); %(asked)s CNY asked."
        )
        % {
            "n": relief["requested"],
            "companies": relief["companies"],
            "waivers": relief["waivers"],
            "reductions": relief["reductions"],
            "deferrals": relief["deferrals"],
            "asked": _money(relief["asked_amount"]),
        },
        _("%(n)d requests approved in full or in part; %(granted)s CNY granted.")
        % {"n": relief["granted"], "granted": _money(relief["granted_amount"])},
        _("%(n)d requests rejected.") % {"n": relief["rejected"]},
    ]
    return texts


# --- The downloadable document --------------------------------------------------------------

CJK_FONT = "Noto Sans CJK SC"
DOCX_CONTENT_TYPE = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"


def _set_cjk_font(style) -> None:
    from docx.oxml.ns import qn

    style.font.name = CJK_FONT
    fonts = style.element.get_or_add_rPr().get_or_add_rFonts()
    for attribute in ("w:ascii", "w:hAnsi", "w:eastAsia", "w:cs"):
        fonts.set(qn(attribute), CJK_FONT)


def _table(document, header: list[str], rows: list[list]) -> None:
    table = document.add_table(rows=1, cols=len(header))
    table.style = "Table Grid"
    for cell, text in zip(table.rows[0].cells, header, strict=True):
        cell.text = str(text)
        for run in cell.paragraphs[0].runs:
            run.bold = True
    for row in rows:
        cells = table.add_row().cells
        for cell, value in zip(cells, row, strict=True):
            cell.text = "" if value is None else str(value)


def _numbered(document, texts: list[str]) -> None:
    """A numbered list that starts at 1 (Word's list styles would continue the last list)."""
    for number, text in enumerate(texts, 1):
        paragraph = document.add_paragraph(f"{number}. {text}")
        paragraph.paragraph_format.left_indent = docx_length_cm(0.6)
        paragraph.paragraph_format.first_line_indent = docx_length_cm(-0.6)


def docx_length_cm(value: float):
    from docx.shared import Cm

    return Cm(value)


def _pct(value) -> str:
    return "–" if value is None else f"{value}%"


def report_docx(report: ProgrammeReport) -> bytes:
    """The report as a .docx in the current language, with the sentences the page shows."""
    import docx

    texts = report_texts(report)

    document = docx.Document()
    for name in ("Normal", "Title", "Heading 1", "Heading 2", "Table Grid"):
        _set_cjk_font(document.styles[name])
    document.add_heading(texts["title"], level=0)
    document.add_paragraph(texts["as_of"])

    document.add_heading(texts["commitments"], level=1)
    if report.letter is not None:
        document.add_paragraph(report.letter.title_display)
        _numbered(document, [item.text_display for item in report.commitments])
    else:
        document.add_paragraph(texts["none"])
    if report.initiative is not None:
        document.add_heading(report.initiative.title_display, level=2)
        _numbered(document, [item.text_display for item in report.initiative_items])
        document.add_paragraph(texts["signatures_total"])
        _table(
            document,
            [texts["kind"], texts["confirmed"]],
            [[row["label"], row["count"]] for row in report.signatures["by_kind"]],
        )

    document.add_heading(texts["alliance"], level=1)
    if report.alliance is not None:
        document.add_paragraph(texts["alliance_line"])
        for member in report.alliance_members:
            document.add_paragraph(member.name_display, style="List Bullet")
        if report.cosigners:
            _table(
                document,
                [texts["cosigner"], texts["approved_on"]],
                [
                    [c.organisation_display, texts["date_of"](c.decided_at)]
                    for c in report.cosigners
                ],
            )
    else:
        document.add_paragraph(texts["none"])

    document.add_heading(texts["survey"], level=1)
    summary = report.survey_summary
    if summary is None:
        document.add_paragraph(texts["no_snapshot"])
    else:
        document.add_paragraph(texts["survey_line"])
        key = summary.get("key") or {}
        for line in texts["survey_key_lines"]:
            document.add_paragraph(line, style="List Bullet")
        for table in key.get("tables", []):
            if table["dimension"] != "region":
                continue
            document.add_heading(table["title"], level=2)
            rows = []
            for row in table["rows"]:
                if row.get("suppressed"):
                    rows.append([row["label"], summary["fewer_than"], "", "", ""])
                else:
                    rows.append(
                        [
                            row["label"],
                            row["responses"],
                            _pct(row["affected_pct"]),
                            _pct(row["serious_pct"]),
                            _pct(row["not_resumed_pct"]),
                        ]
                    )
            # Hidden groups are never in the ranked table: listed apart, without figures.
            rows += [[g["label"], g["note"], "", "", ""] for g in table.get("apart", [])]
            _table(document, texts["region_header"], rows)
        document.add_paragraph(texts["suppression_note"])

    document.add_heading(texts["courses"], level=1)
    document.add_paragraph(texts["courses_line"])
    _table(
        document,
        [texts["topic"], texts["sessions_held"], texts["participant_times"]],
        [[t["label"], t["held"], t["participants"]] for t in report.courses["topics"]],
    )

    document.add_heading(texts["relief"], level=1)
    for line in texts["relief_lines"]:
        document.add_paragraph(line, style="List Bullet")

    out = io.BytesIO()
    document.save(out)
    return out.getvalue()
