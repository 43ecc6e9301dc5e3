"""Thin views of the course schedule: read through selectors, write through services."""

import logging

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import Http404, HttpResponse, HttpResponseNotFound
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import get_language
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods

from cqa_portal.core import errors, links, pagecache, throttle
from cqa_portal.core.decorators import login_required, post_only, staff_required
from cqa_portal.core.errors import PortalError

from . import conf, demand, ics, selectors, services
from .forms import ScheduleFilterForm, VisitorRegistrationForm
from .models import CONFIRM_LINK, MANAGE_LINK, Registration, Session

logger = logging.getLogger(__name__)

MAX_ID = 2**63 - 1
PAST_PER_PAGE = 20
# The schedule lists the next sessions; the month filter reaches the later ones.
UPCOMING_SHOWN = 30


@require_GET
@pagecache.page()
def schedule(request):
    now = timezone.now()
    choices = selectors.filter_choices()
    form = ScheduleFilterForm(request.GET or None, **choices)
    filters = form.filters()
    upcoming_sessions = selectors.upcoming_sessions(filters=filters, now=now)
    upcoming = list(upcoming_sessions[:UPCOMING_SHOWN])
    upcoming_more = upcoming_sessions.count() - len(upcoming)
    past_page = Paginator(
        selectors.past_sessions(filters=filters, now=now), PAST_PER_PAGE
    ).get_page(request.GET.get("page"))
    shown = [*upcoming, *past_page]
    mine = selectors.registrations_of_user(user=request.user, session_ids=[s.pk for s in shown])
    for session in shown:
        session.my_registration = mine.get(session.pk)
    query = request.GET.copy()
    query.pop("page", None)
    return render(
        request,
        "courses/schedule.html",
        {
            "form": form,
            "upcoming": upcoming,
            "upcoming_more": upcoming_more,
            "past_page": past_page,
            "totals": selectors.schedule_totals(now=now),
            "filter_query": query.urlencode(),
            "now": now,
        },
    )


def _session_or_404(pk: int) -> Session:
    try:
        return selectors.session_for_page(pk=pk)
    except Session.DoesNotExist as exc:
        raise Http404 from exc


@require_GET
@pagecache.page()
def session_detail(request, pk: int):
    return _render_session(request, _session_or_404(pk))


def _render_session(request, session: Session, *, form=None, status=200):
    now = timezone.now()
    mine = selectors.registrations_of_user(user=request.user, session_ids=[session.pk]).get(
        session.pk
    )
    place = None
    if mine and mine.status == Registration.Status.WAITING:
        place = services.waiting_place(mine)
    free = None
    if session.capacity is not None:
        free = max(session.capacity - session.confirmed_count, 0)
    return render(
        request,
        "courses/session_detail.html",
        {
            "session": session,
            "status": session.display_status(now),
            "is_open": session.is_open(now),
            "is_past": session.is_past(now),
            "free": free,
            "mine": mine,
            "place": place,
            "manage_token": links.make(MANAGE_LINK, mine) if mine else "",
            "form": form
            or (VisitorRegistrationForm() if not request.user.is_authenticated else None),
        },
        status=status,
    )


def _visitor_allowed(request) -> bool:
    """At most a few registration requests per client address and ten minutes (mail abuse)."""
    return throttle.allow(
        scope="courses.register",
        key=throttle.ip_hash(request),
        rate=conf.get().register_rate,
    )


def _outcome_message(request, outcome: services.Outcome) -> None:
    registration = outcome.registration
    if registration.status == Registration.Status.CONFIRMED:
        if outcome.changed:
            messages.success(
                request,
                _("You are registered. We have sent you the join link and a calendar entry."),
            )
        else:
            messages.info(request, _("You are already registered for this session."))
    elif registration.status == Registration.Status.WAITING:
        place = outcome.place or services.waiting_place(registration)
        messages.warning(
            request,
            _(
                "The session is full. You are on the waiting list, number %(place)d; "
                "we will write to you if a seat becomes free."
            )
            % {"place": place},
        )


@post_only(back="courses:session")
def register(request, pk: int):
    session = _session_or_404(pk)
    if request.user.is_authenticated:
        try:
            outcome = services.registration_register_user(
                session_id=session.pk, user=request.user, language=get_language()
            )
        except PortalError as exc:
            errors.add_to_messages(request, exc)
        else:
            _outcome_message(request, outcome)
        return redirect(session)

    form = VisitorRegistrationForm(request.POST)
    if not form.is_valid():
        return _render_session(request, session, form=form, status=400)
    if not _visitor_allowed(request):
        messages.error(
            request, _("Too many registration requests from your network. Please try later.")
        )
        return _render_session(request, session, form=form, status=429)
    try:
        services.registration_request(
            session_id=session.pk,
            name=form.cleaned_data["name"],
            email=form.cleaned_data["email"],
            organisation=form.cleaned_data["organisation"],
            language=get_language(),
            consent_at=timezone.now(),
        )
    except PortalError as exc:
        errors.add_to_messages(request, exc)
        return redirect(session)
    messages.success(
        request,
        _(
            "Almost done: we have sent a confirmation link to %(email)s. Your registration "
            "counts once you follow it."
        )
        % {"email": form.cleaned_data["email"]},
    )
    return redirect(session)


@post_only(back="courses:session")
@login_required
def cancel_own(request, pk: int):
    """A logged-in user cancels their own registration from the session page."""
    if not 0 < pk <= MAX_ID:  # no such session; a larger number would overflow the query
        raise Http404
    mine = selectors.registrations_of_user(user=request.user, session_ids=[pk]).get(pk)
    if mine is None:
        messages.info(request, _("You have no registration for this session."))
        return redirect("courses:session", pk=pk)
    try:
        services.registration_cancel(registration_id=mine.pk, actor=request.user)
    except PortalError as exc:
        errors.add_to_messages(request, exc)
    else:
        messages.success(request, _("Your registration is cancelled."))
    return redirect("courses:session", pk=pk)


def _link_problem(request, check: links.LinkCheck, *, message: str = "", resend: str = ""):
    """A course link that cannot be used: expired or used up (410), not valid (404);
    ``resend``: the confirmation token, when a new confirmation link may be sent."""
    if not message and resend:
        message = _("Your registration is not confirmed yet.")
    elif not message and check.state is links.LinkState.REVOKED:
        message = _("The registration no longer exists. You are welcome to register again.")
    return render(
        request,
        "core/link_problem.html",
        {
            "state": check.state.value,
            "message": message,
            "resend_url": reverse("courses:confirm_resend", args=[resend]) if resend else "",
            "back_url": reverse("courses:schedule"),
            "back_label": _("Go to the course schedule"),
        },
        status=check.http_status,
    )


def _refused(request, exc: PortalError):
    """A genuine link the rules no longer allow to use (410), with the service's reason."""
    return render(
        request,
        "core/link_problem.html",
        {
            "state": "refused",
            "message": errors.text(exc),
            "back_url": reverse("courses:schedule"),
            "back_label": _("Go to the course schedule"),
        },
        status=410,
    )


def _pending_and_open(registration: Registration) -> bool:
    return registration.status == Registration.Status.PENDING and registration.session.is_open(
        timezone.now()
    )


@require_http_methods(["GET", "POST"])
def confirm(request, token: str):
    """The link in a visitor's confirmation mail. GET (a person, or a mail scanner opening the
    link) shows the registration with one button and changes nothing; only the POST confirms."""
    check = links.check(CONFIRM_LINK, token)
    registration = check.obj
    if check.state is links.LinkState.EXPIRED:
        if registration.status in services.ACTIVE:  # confirmed in time: harmless
            check = links.LinkCheck(links.LinkState.VALID, registration)
        elif _pending_and_open(registration):
            return _link_problem(request, check, resend=token)
        elif registration.status == Registration.Status.CANCELLED:
            check = links.LinkCheck(links.LinkState.REVOKED, registration)
    if not check.ok:
        return _link_problem(request, check)
    if request.method != "POST" and registration.status == Registration.Status.PENDING:
        session = registration.session
        if session.is_cancelled or session.is_past(timezone.now()):
            message = (
                _("This session has been cancelled; registration is closed.")
                if session.is_cancelled
                else _("This session is over; registration is closed.")
            )
            return _refused(request, PortalError(message, code="closed"))
        return render(
            request,
            "courses/confirm.html",
            {"state": "ask", "registration": registration, "session": registration.session},
        )
    if request.method != "POST":
        if registration.status == Registration.Status.CANCELLED:
            return _link_problem(request, links.LinkCheck(links.LinkState.REVOKED, registration))
        outcome = services.Outcome(
            registration=registration,
            changed=False,
            place=services.waiting_place(registration)
            if registration.status == Registration.Status.WAITING
            else None,
        )
    else:
        try:
            outcome = services.registration_confirm(registration_id=registration.pk)
        except PortalError as exc:
            # The registration or the session was cancelled, or the session is over.
            return _refused(request, exc)
    registration = outcome.registration
    context = {
        "state": registration.status,
        "registration": registration,
        "session": registration.session,
        "place": outcome.place,
        "changed": outcome.changed,
        "manage_token": links.make(MANAGE_LINK, registration),
    }
    return render(request, "courses/confirm.html", context)


@post_only(back="courses:confirm")
def confirm_resend(request, token: str):
    """The form on an expired confirmation link's page: a new link to the registration's
    address (behind the visitors' registration throttle)."""
    check = links.check(CONFIRM_LINK, token)
    if check.state not in {links.LinkState.VALID, links.LinkState.EXPIRED}:
        return _link_problem(request, check)
    if not _visitor_allowed(request):
        return render(request, "429.html", status=429)
    try:
        services.registration_confirmation_resend(registration_id=check.obj.pk)
    except PortalError as exc:
        return _refused(request, exc)
    return render(
        request,
        "courses/link_resent.html",
        {"hours": conf.get().confirm_max_age_hours, "session": check.obj.session},
    )


def _registration_from_token(request, token: str):
    """(registration, None) for a valid registration link, else (None, the problem page)."""
    check = links.check(MANAGE_LINK, token)
    if not check.ok:
        return None, _link_problem(request, check)
    return selectors.registration_for_page(pk=check.obj.pk), None


@require_http_methods(["GET", "POST"])
def registration(request, token: str):
    """The link in every mail: see the registration and cancel it (cancelling needs a POST,
    so mail scanners that open links cancel nothing)."""
    found, problem = _registration_from_token(request, token)
    if problem:
        return problem
    if request.method == "POST":
        try:
            services.registration_cancel(registration_id=found.pk, actor=request.user)
        except PortalError as exc:
            errors.add_to_messages(request, exc)
        else:
            messages.success(request, _("Your registration is cancelled."))
        return redirect("courses:registration", token=token)
    now = timezone.now()
    session = found.session
    place = services.waiting_place(found) if found.status == Registration.Status.WAITING else None
    return render(
        request,
        "courses/registration.html",
        {
            "registration": found,
            "session": session,
            "token": token,
            "place": place,
            "can_cancel": found.status != Registration.Status.CANCELLED
            and not session.is_past(now),
        },
    )


def _ics_response(content: bytes, *, filename: str, attachment: bool) -> HttpResponse:
    response = HttpResponse(content, content_type="text/calendar; charset=utf-8")
    disposition = "attachment" if attachment else "inline"
    response["Content-Disposition"] = f'{disposition}; filename="{filename}"'
    response["Cache-Control"] = "public, max-age=900" if not attachment else "private, no-store"
    return response


@require_GET
def calendar_feed(request):
    """All sessions, for calendar apps to subscribe to (optionally one topic or series)."""
    choices = {"topics": [], "series": [], "months": []}
    topic = series = None
    if request.GET.get("topic") or request.GET.get("series"):
        choices = selectors.filter_choices()
        form = ScheduleFilterForm(request.GET, **choices)
        filters = form.filters()
        topic, series = filters.topic, filters.series
        unknown = [name for name in ("topic", "series") if name in form.errors]
        if unknown:
            # Not every session instead: a subscription to a topic that does not exist (a typo,
            # a renamed slug) must not fill the calendar with everything.
            return HttpResponseNotFound(
                _("There is no topic or series “%(value)s”, so there is no calendar to show.")
                % {"value": request.GET.get(unknown[0], "")},
                content_type="text/plain; charset=utf-8",
            )
    sessions = selectors.calendar_sessions(topic=topic, series=series)
    content = ics.calendar_bytes(sessions, name=_("CAQ free live courses"))
    return _ics_response(content, filename="caq-courses.ics", attachment=False)


@require_GET
def session_ics(request, pk: int):
    sessions = list(selectors.calendar_sessions().filter(pk=pk))
    if not sessions:
        raise Http404
    content = ics.calendar_bytes(sessions, name=sessions[0].label)
    return _ics_response(content, filename=f"caq-course-{pk}.ics", attachment=True)


@require_GET
def registration_ics(request, token: str):
    """The registrant's calendar entry, with the join link once the seat is confirmed."""
    found, problem = _registration_from_token(request, token)
    if problem:
        return problem
    sessions = list(selectors.calendar_sessions().filter(pk=found.session_id))
    confirmed = found.status == Registration.Status.CONFIRMED
    content = ics.calendar_bytes(
        sessions,
        name=sessions[0].label,
        join_url_for=lambda s: s.join_url if confirmed else "",
    )
    return _ics_response(content, filename=f"caq-course-{found.session_id}.ics", attachment=True)


@staff_required
@require_GET
def staff_demand(request):
    """Staff: demand for each topic from the survey's needs, beside the sessions per topic."""
    return render(request, "courses/staff_demand.html", demand.demand_by_topic())
