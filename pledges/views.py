import logging

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from cqa_portal.core import errors, links, pagecache, retention, throttle
from cqa_portal.core.decorators import post_only
from cqa_portal.core.errors import PortalError
from members.access import company_admin_required, get_membership
from members.models import MemberCompany

from . import conf, selectors, services
from .forms import (
    HONEYPOT_FIELD,
    SIGNATURE_FORMS,
    CompanySignForm,
    CoSignForm,
    WallFilterForm,
    signature_forms,
)
from .models import Initiative, Signature

logger = logging.getLogger(__name__)


def _initiatives():
    return Initiative.objects.published().prefetch_related("items")


def _too_many(request, scope: str, rate: tuple[int, int]):
    """The 429 page when this address has posted too often (only its salted hash is kept)."""
    key = throttle.ip_hash(request)
    if throttle.allow(scope=f"pledges.{scope}", key=key, rate=rate):
        return None
    logger.info("pledges: %s throttled", scope)
    return render(request, "429.html", status=429)


def _company_context(request, initiative) -> dict:
    """For a logged-in administrator of an active member company: the one-click signing."""
    if initiative is None or not request.user.is_authenticated:
        return {}
    membership = get_membership(request.user)
    if (
        membership is None
        or not membership.is_admin
        or membership.company.status != MemberCompany.Status.ACTIVE
    ):
        return {}
    return {
        "company_membership": membership,
        "company_signature": Signature.objects.filter(
            initiative=initiative, company=membership.company
        ).first(),
        "company_form": CompanySignForm(),
    }


def _letter_page(request, letter, *, is_current: bool, csrf_token=None):
    initiative = letter.initiative if letter else None
    if initiative is not None and not (
        initiative.is_published
        and initiative.published_at is not None
        and initiative.published_at <= timezone.now()
    ):
        initiative = None
    summary = selectors.tally_summary(initiative_id=initiative.pk if initiative else None)
    context = {
        "letter": letter,
        "is_current": is_current,
        "initiative": initiative,
        "summary": summary,
        "latest": (
            selectors.latest_public_signatures(initiative_id=initiative.pk) if initiative else []
        ),
        "other_letters": selectors.other_letters(exclude_pk=letter.pk if letter else None),
        "forms": signature_forms() if initiative and initiative.accepts_signatures else {},
        "honeypot_field": HONEYPOT_FIELD,
        **_company_context(request, initiative),
    }
    if csrf_token:
        context["csrf_token"] = csrf_token
    return render(request, "pledges/letter.html", context)


def open_letter(request):
    """The current letter; anonymous visitors get it from the page cache (see pagecache)."""
    return pagecache.serve(
        request,
        lambda csrf_token: _letter_page(
            request, selectors.current_letter(), is_current=True, csrf_token=csrf_token
        ),
    )


def letter_detail(request, slug: str):
    def render_letter(csrf_token):
        letter = selectors.letter_by_slug(slug)
        if letter is None:
            raise Http404
        is_current = selectors.current_letter_id() == letter.pk
        return _letter_page(request, letter, is_current=is_current, csrf_token=csrf_token)

    return pagecache.serve(request, render_letter)


@require_http_methods(["GET", "POST"])
@pagecache.page()
def sign(request, slug: str):
    initiative = get_object_or_404(_initiatives(), slug=slug, accepts_signatures=True)
    kind = ""
    if request.method == "POST":
        if response := _too_many(request, "sign", conf.get().sign_rate):
            return response
        kind = request.POST.get("kind", "")
        if kind not in SIGNATURE_FORMS:
            kind = ""
            messages.error(
                request, _("Choose whether you sign as an enterprise or as an individual.")
            )
        elif request.POST.get(HONEYPOT_FIELD):
            # A bot: answer exactly as for a person, store nothing.
            logger.info("pledges: honeypot filled, signature ignored")
            return redirect("pledges:sign_done", slug=initiative.slug)
    forms = signature_forms(request.POST if kind else None, kind=kind)
    if kind:
        form = forms[kind]
        if form.is_valid():
            try:
                services.signature_sign(
                    initiative=initiative,
                    data=form.signature_input(),
                    ip_hash=throttle.ip_hash(request),
                )
            except ValidationError as exc:
                errors.add_to_form(form, exc)
            else:
                return redirect("pledges:sign_done", slug=initiative.slug)
    context = {
        "initiative": initiative,
        "forms": forms,
        "active_kind": kind,
        "honeypot_field": HONEYPOT_FIELD,
        **_company_context(request, initiative),
    }
    return render(request, "pledges/sign.html", context)


def sign_done(request, slug: str):
    initiative = get_object_or_404(Initiative.objects.published(), slug=slug)
    return render(
        request,
        "pledges/sign_done.html",
        {"initiative": initiative, "confirm_days": conf.get().confirm_max_age_days},
    )


def _back(request, initiative) -> str:
    target = request.POST.get("next", "")
    # Only a path on this site: redirect() would take a bare word for a view name.
    if target.startswith("/") and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return reverse("pledges:sign", kwargs={"slug": initiative.slug})


@post_only(back="pledges:sign")
@company_admin_required
def sign_company(request, slug: str):
    initiative = get_object_or_404(_initiatives(), slug=slug, accepts_signatures=True)
    form = CompanySignForm(request.POST)
    show_name = form.cleaned_data["show_name"] if form.is_valid() else False
    try:
        signature, created = services.signature_sign_for_company(
            initiative=initiative, membership=request.membership, show_name=show_name
        )
    except ValidationError as exc:
        errors.add_to_messages(request, exc)
        return redirect(_back(request, initiative))
    if created:
        messages.success(
            request,
            _("%(company)s has signed the initiative. Thank you!")
            % {"company": request.membership.company.name},
        )
    else:
        messages.info(request, _("Your company has already signed this initiative."))
    return redirect(_back(request, initiative))


@post_only(back="pledges:sign")
@company_admin_required
def withdraw_company(request, slug: str):
    initiative = get_object_or_404(Initiative.objects.published(), slug=slug)
    try:
        outcome = services.signature_withdraw_for_company(
            initiative=initiative, membership=request.membership
        )
    except PortalError as exc:
        errors.add_to_messages(request, exc)
    else:
        if outcome == services.LinkOutcome.DONE:
            messages.success(request, _("Your company's signature has been withdrawn."))
    return redirect(_back(request, initiative))


def _link_problem(
    request,
    check: links.LinkCheck,
    *,
    message: str = "",
    resend: str = "",
    resend_view: str = "pledges:confirm_resend",
):
    """The page for a confirm or withdraw link that cannot be used: expired or used up (410),
    not valid (404); ``resend``: the token, when a new confirmation link may be sent."""
    if not message and resend:
        message = _("Your signature is not confirmed yet.")
    elif not message and check.state is links.LinkState.REVOKED:
        message = _(
            "If you withdrew your signature or did not confirm it within %(kept)s days, it no "
            "longer exists. You are welcome to sign again."
        ) % {"kept": retention.get().unconfirmed_signature_days}
    return render(
        request,
        "core/link_problem.html",
        {
            "state": check.state.value,
            "message": message,
            "resend_url": reverse(resend_view, kwargs={"token": resend}) if resend else "",
            "back_url": reverse("pledges:open_letter"),
            "back_label": _("Back to the open letter"),
        },
        status=check.http_status,
    )


@require_http_methods(["GET", "POST"])
def confirm(request, token: str):
    """The link in the confirmation mail. GET (a person, or a mail scanner opening the link)
    shows one button and changes nothing; only the button's POST confirms."""
    check = links.check(services.CONFIRM_LINK, token)
    signature = check.obj
    if check.state is links.LinkState.EXPIRED and signature.status == Signature.Status.PENDING:
        return _link_problem(request, check, resend=token)
    if check.state is links.LinkState.EXPIRED and signature.status == Signature.Status.CONFIRMED:
        # Harmless: the signature was confirmed with it (or a newer link) in time.
        return _confirmed(request, signature, already=True)
    if check.state is links.LinkState.EXPIRED:  # withdrawn since
        check = links.LinkCheck(links.LinkState.REVOKED, signature)
    if not check.ok:
        return _link_problem(request, check)
    if signature.status == Signature.Status.WITHDRAWN:
        return _link_problem(request, links.LinkCheck(links.LinkState.REVOKED, signature))
    if request.method != "POST":
        if signature.status == Signature.Status.CONFIRMED:
            return _confirmed(request, signature, already=True)
        return render(
            request,
            "pledges/confirm.html",
            {"signature": signature, "initiative": signature.initiative},
        )
    try:
        signature, outcome = services.signature_confirm(
            signature_id=signature.pk, link_key=signature.link_key
        )
    except PortalError as exc:
        return _link_problem(
            request, links.LinkCheck(links.LinkState.REVOKED), message=errors.text(exc)
        )
    return _confirmed(request, signature, already=outcome == services.LinkOutcome.ALREADY)


def _confirmed(request, signature, *, already: bool):
    return render(
        request,
        "pledges/confirmed.html",
        {"signature": signature, "initiative": signature.initiative, "already": already},
    )


def _resend_link(request, *, token: str, purpose, resend, context: dict):
    """A new link by mail, from the form on an expired link's page (confirmation or
    withdrawal): the same checks and limits for both."""
    check = links.check(purpose, token)
    if check.state not in {links.LinkState.VALID, links.LinkState.EXPIRED}:
        return _link_problem(request, check)
    if response := _too_many(request, "resend", conf.get().sign_rate):
        return response
    try:
        resend(signature_id=check.obj.pk, link_key=check.obj.link_key)
    except PortalError as exc:
        if exc.code == "link_revoked":
            return _link_problem(
                request, links.LinkCheck(links.LinkState.REVOKED), message=errors.text(exc)
            )
        return _link_problem(request, check, message=errors.text(exc))
    return render(request, "pledges/link_resent.html", context)


@post_only(back="pledges:confirm")
def confirm_resend(request, token: str):
    """The form on an expired confirmation link's page: a new link to the signer's address."""
    return _resend_link(
        request,
        token=token,
        purpose=services.CONFIRM_LINK,
        resend=services.signature_confirmation_resend,
        context={"confirm_days": conf.get().confirm_max_age_days},
    )


@require_http_methods(["GET", "POST"])
def withdraw(request, token: str):
    """The withdraw link in every signature mail: GET shows one button, POST withdraws. The link
    expires (PLEDGES_WITHDRAW_LINK_MAX_AGE_DAYS); its page then offers a new one by mail."""
    check = links.check(services.WITHDRAW_LINK, token)
    signature = check.obj
    if check.state is links.LinkState.EXPIRED:
        if signature.status == Signature.Status.WITHDRAWN:
            return render(request, "pledges/withdrawn.html")
        return _link_problem(
            request,
            check,
            message=_("Your signature still counts."),
            resend=token,
            resend_view="pledges:withdraw_resend",
        )
    if not check.ok:
        return _link_problem(request, check)
    if request.method == "POST":
        try:
            services.signature_withdraw(signature_id=signature.pk, link_key=signature.link_key)
        except PortalError as exc:
            return _link_problem(
                request, links.LinkCheck(links.LinkState.REVOKED), message=errors.text(exc)
            )
        return render(request, "pledges/withdrawn.html")
    if signature.status == Signature.Status.WITHDRAWN:
        return render(request, "pledges/withdrawn.html")
    return render(request, "pledges/withdraw.html", {"signature": signature})


@post_only(back="pledges:withdraw")
def withdraw_resend(request, token: str):
    """The form on an expired withdraw link's page: a new withdraw link to the signer's
    address (same limits as a new confirmation link)."""
    return _resend_link(
        request,
        token=token,
        purpose=services.WITHDRAW_LINK,
        resend=services.signature_withdraw_link_resend,
        context={"withdraw_days": conf.get().withdraw_link_max_age_days},
    )


@pagecache.page()
def wall(request, slug: str):
    initiative = get_object_or_404(Initiative.objects.published(), slug=slug)
    form = WallFilterForm(request.GET or None)
    filters = form.cleaned_data if form.is_valid() else {}
    kind, province = filters.get("kind", ""), filters.get("province", "")
    summary = selectors.tally_summary(initiative_id=initiative.pk)
    page = selectors.wall_page(
        initiative_id=initiative.pk,
        summary=summary,
        kind=kind,
        province=province,
        page_number=request.GET.get("page"),
    )
    query = request.GET.copy()
    query.pop("page", None)
    return render(
        request,
        "pledges/wall.html",
        {
            "initiative": initiative,
            "summary": summary,
            "page": page,
            "form": form,
            "filtered": bool(kind or province),
            "query": query.urlencode(),
        },
    )


@pagecache.page()
def alliance(request):
    current = selectors.current_alliance()
    has_samples = current is not None and any(m.is_sample for m in current.members.all())
    return render(
        request, "pledges/alliance.html", {"alliance": current, "has_samples": has_samples}
    )


@require_http_methods(["GET", "POST"])
@pagecache.page()
def cosign(request):
    alliance = selectors.current_alliance()
    if alliance is None or alliance.initiative is None:
        raise Http404
    form = CoSignForm(request.POST or None)
    if request.method == "POST":
        if response := _too_many(request, "cosign", conf.get().cosign_rate):
            return response
        if request.POST.get(HONEYPOT_FIELD):
            logger.info("pledges: honeypot filled, co-sign application ignored")
            return redirect("pledges:cosign_done")
        if form.is_valid():
            try:
                services.cosign_apply(
                    alliance=alliance, data=form.cleaned_data, ip_hash=throttle.ip_hash(request)
                )
            except ValidationError as exc:
                errors.add_to_form(form, exc)
            else:
                return redirect("pledges:cosign_done")
    return render(
        request,
        "pledges/cosign.html",
        {"alliance": alliance, "form": form, "honeypot_field": HONEYPOT_FIELD},
    )


def cosign_done(request):
    return render(request, "pledges/cosign_done.html")
