"""Writes of the surveys app: filing responses, survey status, structure guard, summary
snapshots and reminders."""

from __future__ import annotations

import logging
import threading
import time
import uuid
from contextlib import contextmanager
from datetime import timedelta
from zoneinfo import ZoneInfo

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction
from django.db.models import Exists, Max, OuterRef, Prefetch, Q
from django.db.models.functions import TruncDate
from django.urls import reverse
from django.utils import timezone
from django.utils.crypto import get_random_string
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from cqa_portal.core import mail
from cqa_portal.core.errors import PortalError
from cqa_portal.core.models import OutboxMessage
from cqa_portal.core.reference import region_group_of
from cqa_portal.core.services import audit_log, outbox_dispatch, outbox_enqueue_many
from cqa_portal.core.site import absolute_url
from members.models import CompanyMembership, MemberCompany

from . import tally
from .forms import CleanAnswer
from .models import (
    Answer,
    Question,
    QuestionOption,
    Response,
    SummarySnapshot,
    Survey,
)
from .summary import compute_summary

logger = logging.getLogger(__name__)

# The summary claim is a lease: renewed every third of it while the worker computes, so a claim
# not renewed for this long belongs to a worker that died and is taken over.
SUMMARY_LEASE_SECONDS = 45
REMINDER_BATCH = 100
# Snapshots kept per survey (beat makes one every 15 minutes while a survey is open).
SNAPSHOTS_KEPT = 50
SNAPSHOT_DAY_TZ = ZoneInfo("Asia/Shanghai")
# Question fields that are wording, not structure: staff may fix them after responses exist.
WORDING_FIELDS = frozenset({"text", "text_en", "help_text", "help_text_en", "label_zh", "label_en"})


# --- Filing ---------------------------------------------------------------------------------


@transaction.atomic
def response_save(
    *,
    survey: Survey,
    company: MemberCompany,
    user,
    answers: list[CleanAnswer],
    submit: bool,
) -> Response:
    """Store a company's answers as a draft, or submit them (again, while the survey is open).

    The answers are already validated by ``ResponseForm``; they replace whatever was stored.
    On submission the company's province, industry and size are copied onto the response.
    """
    survey = Survey.objects.get(pk=survey.pk)
    if not survey.is_accepting:
        raise PortalError(_("This survey is not open for answers."))
    response, _created = Response.objects.get_or_create(
        survey=survey, company=company, defaults={"created_by": user}
    )
    response = Response.objects.select_for_update().get(pk=response.pk)
    if response.is_submitted and not submit:
        raise PortalError(
            _("Your response is already submitted: submit your changes instead of a draft.")
        )
    # What the response counted for in the tally, before its answers and groups are replaced.
    counted = (
        tally.response_cells(response, Answer.objects.filter(response=response))
        if response.is_submitted
        else {}
    )
    Answer.objects.filter(response=response).delete()
    rows = []
    for answer in answers:
        question = answer.question
        if question.survey_id != survey.pk:
            raise PortalError(_("An answer does not belong to this survey."))
        if question.is_choice:
            for option in answer.options:
                rows.append(
                    Answer(
                        response=response,
                        question=question,
                        option=option,
                        text=answer.other_text if option.is_other else "",
                    )
                )
        else:
            rows.append(
                Answer(
                    response=response,
                    question=question,
                    number=answer.number,
                    text=answer.text,
                    date=answer.date,
                )
            )
    Answer.objects.bulk_create(rows)
    if submit:
        company = MemberCompany.objects.get(pk=company.pk)
        was = response.status
        response.status = Response.Status.SUBMITTED
        response.province = company.province
        response.region_group = region_group_of(company.province)
        response.industry_section = company.industry_section
        response.industry_division = company.industry_division
        response.size_band = company.size_band
        response.submitted_at = timezone.now()
        response.submitted_by = user
        response.save()
        tally.tally_apply(
            survey_id=survey.pk, remove=counted, add=tally.response_cells(response, rows)
        )
        audit_log(
            actor=user,
            action="surveys.response.submitted"
            if was != response.status
            else "surveys.response.updated",
            obj=response,
            from_state=was,
            to_state=response.status,
        )
    else:
        response.save(update_fields=["updated_at"])
    return response


# --- Survey status and structure ------------------------------------------------------------


@transaction.atomic
def survey_set_status(*, survey: Survey, status: str, actor=None, reason: str = "") -> bool:
    """Open, close or reopen a survey. Returns False when it already had that status."""
    survey = Survey.objects.select_for_update().get(pk=survey.pk)
    if survey.status == status:
        return False
    if status == Survey.Status.OPEN:
        if not survey.questions.exists():
            raise PortalError(_("A survey needs at least one question before it can open."))
        if survey.questions.filter(kind__in=Question.CHOICE_KINDS, options__isnull=True).exists():
            raise PortalError(_("Every choice question needs answer options before opening."))
    if status == Survey.Status.DRAFT and survey.responses.exists():
        raise PortalError(_("A survey with responses cannot go back to draft."))
    was = survey.status
    survey.status = status
    survey.save(update_fields=["status", "updated_at"])
    audit_log(
        actor=actor,
        action=f"surveys.survey.{status}",
        obj=survey,
        from_state=was,
        to_state=status,
        detail=reason,
    )
    return True


@transaction.atomic
def survey_set_published(*, survey: Survey, published: bool, actor=None) -> bool:
    survey = Survey.objects.select_for_update().get(pk=survey.pk)
    if survey.results_published == published:
        return False
    survey.results_published = published
    survey.save(update_fields=["results_published", "updated_at"])
    audit_log(
        actor=actor,
        action="surveys.survey.published" if published else "surveys.survey.unpublished",
        obj=survey,
        from_state="published" if not published else "unpublished",
        to_state="published" if published else "unpublished",
    )
    return True


def surveys_close_due(*, now=None) -> int:
    """Close every open survey whose closing time has passed (beat)."""
    now = now or timezone.now()
    closed = 0
    for survey in Survey.objects.filter(status=Survey.Status.OPEN, closes_at__lte=now):
        closed += survey_set_status(
            survey=survey, status=Survey.Status.CLOSED, reason="closing time reached"
        )
    return closed


def structure_locked(survey: Survey | None) -> int:
    """Number of responses that freeze the survey's structure (0: free to change)."""
    if survey is None or survey.pk is None:
        return 0
    return Response.objects.filter(survey_id=survey.pk).count()


def structure_error(count: int) -> ValidationError:
    return ValidationError(
        ngettext(
            "This survey already has %(count)d response, so its questions and options can no "
            "longer be changed (wording fixes are allowed). Duplicate the survey to make a new "
            "version.",
            "This survey already has %(count)d responses, so its questions and options can no "
            "longer be changed (wording fixes are allowed). Duplicate the survey to make a new "
            "version.",
            count,
        )
        % {"count": count},
        code="structure_locked",
    )


def structure_check(*, survey: Survey | None, changed_fields, added: bool, deleted: bool) -> None:
    """Raise when a structural change is attempted on a survey that has responses."""
    structural = set(changed_fields) - WORDING_FIELDS
    if not (structural or added or deleted):
        return
    count = structure_locked(survey)
    if count:
        raise structure_error(count)


def question_condition_check(*, question: Question, condition_options) -> None:
    """The condition refers to an earlier single-choice question of the same survey."""
    parent = question.condition_question
    options = list(condition_options or [])
    if parent is None:
        if options:
            raise PortalError(_("Choose the question the condition refers to."))
        return
    if parent.survey_id != question.survey_id or parent.kind != Question.Kind.SINGLE:
        raise PortalError(_("A condition must refer to a single-choice question."))
    if (parent.order, parent.pk or 0) >= (question.order, question.pk or 10**12):
        raise PortalError(_("A condition must refer to an earlier question."))
    if not options:
        raise PortalError(_("Choose the answers that show this question."))
    if any(o.question_id != parent.pk for o in options):
        raise PortalError(_("The chosen answers must belong to the condition's question."))


@transaction.atomic
def survey_duplicate(*, survey: Survey, actor=None) -> Survey:
    """Copy a survey with its questions and options as a new draft (a new version)."""
    source = Survey.objects.get(pk=survey.pk)
    questions = list(source.questions.prefetch_related("options", "condition_options"))
    copy = Survey.objects.create(
        title=_("%(title)s (copy)") % {"title": source.title},
        title_en=source.title_en,
        slug=f"{source.slug[:60]}-{get_random_string(6).lower()}",
        description=source.description,
        description_en=source.description_en,
        opens_at=source.opens_at,
        closes_at=source.closes_at,
        reminder_days=source.reminder_days,
        status=Survey.Status.DRAFT,
    )
    question_map, option_map = {}, {}
    for question in questions:
        new = Question.objects.create(
            survey=copy,
            **{
                f: getattr(question, f)
                for f in (
                    "order",
                    "code",
                    "kind",
                    "text",
                    "text_en",
                    "help_text",
                    "help_text_en",
                    "required",
                    "min_value",
                    "max_value",
                    "decimal_places",
                )
            },
        )
        question_map[question.pk] = new
        for option in question.options.all():
            option_map[option.pk] = QuestionOption.objects.create(
                question=new,
                order=option.order,
                code=option.code,
                label_zh=option.label_zh,
                label_en=option.label_en,
                is_other=option.is_other,
            )
    for question in questions:
        if question.condition_question_id:
            new = question_map[question.pk]
            new.condition_question = question_map[question.condition_question_id]
            new.save(update_fields=["condition_question"])
            new.condition_options.set([option_map[o.pk] for o in question.condition_options.all()])
    audit_log(actor=actor, action="surveys.survey.duplicated", obj=copy, detail=source.slug)
    return copy


# --- Summary snapshots ----------------------------------------------------------------------


@transaction.atomic
def summary_refresh_request(*, survey: Survey, actor=None) -> bool:
    """Ask for a new summary snapshot. False when one is already being made.

    The claim is a conditional UPDATE on the survey row, so two concurrent requests (two staff,
    or staff and beat) cannot both start a computation. It is a lease of
    ``SUMMARY_LEASE_SECONDS`` that the computing worker renews; a lease not renewed in time
    (the worker died) is taken over. Each request has an id, stored with the claim and on the
    snapshot it makes, so the task, even delivered twice, makes one snapshot per request.
    """
    now = timezone.now()
    stale = now - timedelta(seconds=SUMMARY_LEASE_SECONDS)
    request_id = uuid.uuid4().hex
    claimed = (
        Survey.objects.filter(pk=survey.pk)
        .filter(Q(summary_claimed_at__isnull=True) | Q(summary_claimed_at__lt=stale))
        .update(summary_claimed_at=now, summary_request_id=request_id)
    )
    if not claimed:
        return False
    from .tasks import summary_snapshot_task

    summary_snapshot_task.delay_on_commit(survey.pk, request_id)
    return True


@contextmanager
def _lease_renewed(survey_id: int, request_id: str):
    """Renew the claim every third of the lease from a thread while the body runs. Not inside
    a transaction (the renewal would wait for its lock and be invisible anyway)."""
    if connection.in_atomic_block:
        yield
        return
    done = threading.Event()

    def renew():
        from django.db import connection as thread_connection

        try:
            while not done.wait(SUMMARY_LEASE_SECONDS / 3):
                Survey.objects.filter(pk=survey_id, summary_request_id=request_id).update(
                    summary_claimed_at=timezone.now()
                )
        except Exception:  # noqa: BLE001 - the lease then lapses; another request takes over
            logger.warning("summary lease of survey %s not renewed", survey_id, exc_info=True)
        finally:
            thread_connection.close()

    thread = threading.Thread(target=renew, name=f"summary-lease-{survey_id}", daemon=True)
    thread.start()
    try:
        yield
    finally:
        done.set()
        thread.join(5)


def summary_snapshot_make(
    *, survey_id: int, request_id: str | None = None
) -> SummarySnapshot | None:
    """Compute the summary and store it as the latest snapshot; then release the claim.

    With ``request_id`` (every request has one): a redelivered task whose request already has
    its snapshot returns that one; a task whose claim was taken over by a newer request (its
    lease lapsed) leaves the work to that request.
    """
    claim = Survey.objects.filter(pk=survey_id)
    if request_id is not None:
        done = SummarySnapshot.objects.filter(request_id=request_id).first()
        if done is not None:
            claim.filter(summary_request_id=request_id).update(
                summary_claimed_at=None, summary_request_id=""
            )
            return done
        claim = claim.filter(summary_request_id=request_id)
        if not claim.update(summary_claimed_at=timezone.now()):
            logger.info("summary request %s of survey %s superseded", request_id, survey_id)
            return None
    try:
        survey = Survey.objects.filter(pk=survey_id).first()
        if survey is None:
            return None
        started = time.monotonic()
        with _lease_renewed(survey_id, request_id or ""):
            data = compute_summary(survey)
        try:
            with transaction.atomic():
                snapshot = SummarySnapshot.objects.create(
                    survey=survey,
                    response_count=data["totals"]["responses"],
                    duration_ms=int((time.monotonic() - started) * 1000),
                    data=data,
                    request_id=request_id,
                )
        except IntegrityError:  # the same request, delivered twice, finished first elsewhere
            return SummarySnapshot.objects.get(request_id=request_id)
        _snapshots_prune(survey)
        return snapshot
    finally:
        claim.update(summary_claimed_at=None, summary_request_id="")


def _snapshots_prune(survey: Survey) -> None:
    """Keep the newest ``SNAPSHOTS_KEPT`` snapshots, and the last one of every earlier day
    (Beijing time), so the figures as they stood on any past day remain (the programme report
    as of a date reads them)."""
    snapshots = SummarySnapshot.objects.filter(survey=survey)
    last_of_day = (
        snapshots.annotate(day=TruncDate("created_at", tzinfo=SNAPSHOT_DAY_TZ))
        .order_by()
        .values("day")
        .annotate(last=Max("pk"))
        .values_list("last", flat=True)
    )
    old = snapshots.order_by("-created_at", "-pk")[SNAPSHOTS_KEPT:]
    SummarySnapshot.objects.filter(pk__in=list(old.values_list("pk", flat=True))).exclude(
        pk__in=list(last_of_day)
    ).delete()


def summary_refresh_open_surveys() -> int:
    """Beat: ask for a fresh snapshot of every survey open now (or closed within a day)."""
    since = timezone.now() - timedelta(days=1)
    requested = 0
    for survey in Survey.objects.filter(
        Q(status=Survey.Status.OPEN) | Q(status=Survey.Status.CLOSED, closes_at__gte=since)
    ):
        requested += summary_refresh_request(survey=survey)
    return requested


# --- Reminders ------------------------------------------------------------------------------


def reminder_recipients(company: MemberCompany) -> list[tuple[str, str]]:
    """The company's administrators and their languages; its contact email (in the portal's
    first language) when it has none."""
    recipients = {
        m.user.email: mail.user_language(m.user)
        for m in company.admin_memberships
        if m.user.is_active and m.user.email
    }
    if not recipients and company.contact_email:
        recipients = {company.contact_email: settings.LANGUAGE_CODE}
    return sorted(recipients.items())


REMINDER_PURPOSE = "surveys.reminder"


def reminder_key(survey_id: int, company_id: int, step: str, email: str) -> str:
    """The ledger of reminders is the outbox: one key per survey, company, step, recipient."""
    return f"{REMINDER_PURPOSE}:{survey_id}:{company_id}:{step}:{email}"


def reminded_companies(*, survey: Survey, step: str) -> set[int]:
    """Companies already reminded at ``step`` (any of their recipients' keys is in the outbox).
    One query on the key's prefix."""
    prefix = f"{REMINDER_PURPOSE}:{survey.pk}:"
    reminded = set()
    for key in OutboxMessage.objects.filter(key__startswith=prefix).values_list("key", flat=True):
        company_id, key_step = key[len(prefix) :].split(":", 2)[:2]
        if key_step == step:
            reminded.add(int(company_id))
    return reminded


def companies_to_remind(*, survey: Survey, step: str):
    """Active members that have not submitted (the caller leaves out those reminded)."""
    return (
        MemberCompany.objects.filter(status=MemberCompany.Status.ACTIVE)
        .filter(
            ~Exists(
                Response.objects.filter(
                    survey=survey, company=OuterRef("pk"), status=Response.Status.SUBMITTED
                )
            ),
        )
        .prefetch_related(
            Prefetch(
                "members",
                queryset=CompanyMembership.objects.filter(
                    role=CompanyMembership.Role.ADMIN
                ).select_related("user"),
                to_attr="admin_memberships",
            )
        )
        .order_by("pk")
    )


def _reminder_mail(survey: Survey, company: MemberCompany, lang: str) -> dict:
    """A reminder in one language, the recipient's."""
    link = mail.with_language(absolute_url(reverse("surveys:fill", args=[survey.slug])), lang)
    return mail.render_mail(
        template="surveys/mail/reminder",
        context={
            "survey": survey,
            "company": company,
            "link": link,
            "closes": timezone.localtime(survey.closes_at),
        },
        lang=lang,
        list_kind=REMINDER_PURPOSE,
    )


def reminders_send(*, survey: Survey, step: str, actor=None) -> int:
    """Remind each active member that has not submitted, once per survey, company and step.

    The bulk path: the mails are written to the outbox in batches (the key per survey, company,
    step and recipient is the ledger: a second run writes nothing; recipients who opted out of
    survey reminders are skipped) and sent after commit in chunks by the mail queue. Returns
    the number of companies reminded.
    """
    if not survey.is_accepting:
        return 0
    reminded: set[int] = set()

    def messages():
        done = reminded_companies(survey=survey, step=step)
        for company in companies_to_remind(survey=survey, step=step).iterator(chunk_size=500):
            if company.pk in done:
                continue
            recipients = reminder_recipients(company)
            if not recipients:
                logger.warning("survey reminder: company %s has no address", company.pk)
                continue
            texts: dict[str, dict] = {}
            for email, lang in recipients:
                if lang not in texts:
                    texts[lang] = _reminder_mail(survey, company, lang)
                yield {
                    **texts[lang],
                    "key": reminder_key(survey.pk, company.pk, step, email),
                    "purpose": REMINDER_PURPOSE,
                    "to": email,
                    # "please answer before it closes" makes no sense after it closed
                    "deadline": survey.closes_at,
                }
            reminded.add(company.pk)

    with transaction.atomic():
        message_ids = outbox_enqueue_many(messages=messages())
        if reminded:
            audit_log(
                actor=actor,
                action="surveys.survey.reminded",
                obj=survey,
                detail=f"step {step}: {len(reminded)} companies",
            )
        outbox_dispatch(message_ids=message_ids, batch_size=REMINDER_BATCH)
    return len(reminded)


def reminder_step_due(survey: Survey, *, now=None) -> str | None:
    """The latest scheduled step whose time has come (earlier missed steps are not sent)."""
    now = now or timezone.now()
    if not (survey.opens_at <= now < survey.closes_at):
        return None
    due = [d for d in survey.reminder_steps() if now >= survey.closes_at - timedelta(days=d)]
    return f"d{min(due)}" if due else None


def reminders_sweep(*, now=None) -> int:
    """Beat: send the due reminder step of every open survey."""
    total = 0
    for survey in Survey.objects.filter(status=Survey.Status.OPEN):
        step = reminder_step_due(survey, now=now)
        if step:
            total += reminders_send(survey=survey, step=step)
    return total


def reminders_send_now(*, survey: Survey, actor=None) -> int:
    """Staff send a reminder now (at most one such reminder per company and day)."""
    step = "manual-" + timezone.localdate().strftime("%Y%m%d")
    return reminders_send(survey=survey, step=step, actor=actor)
