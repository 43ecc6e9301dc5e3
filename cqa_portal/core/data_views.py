"""Thin views of the personal-data pages (``core.services.personal_data``): a signed-in
person's own data (``/me/data/``), the mailed link for people without an account
(``/me/data/request/`` → ``/me/data/<token>/``) and the staff page for requests received by
post or telephone (``/me/data/staff/``). Every page: see, download (JSON or XLSX), correct,
erase. Nothing changes on a GET."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.contrib.auth import logout
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods

from . import errors, exports, links, throttle
from .decorators import login_required, staff_required
from .errors import PortalError
from .forms import PortalForm
from .services import personal_data as data

REQUEST_RATE = (5, 3600)  # link requests per client address and hour


class CorrectForm(PortalForm):
    name = forms.CharField(label=gettext_lazy("Full name"), max_length=100, required=False)
    organisation = forms.CharField(
        label=gettext_lazy("Organisation"), max_length=200, required=False
    )
    phone = forms.CharField(label=gettext_lazy("Telephone"), max_length=30, required=False)


class EraseForm(PortalForm):
    confirm = forms.BooleanField(
        label=gettext_lazy("Yes, erase my data. I understand that this cannot be undone.")
    )
    successor = forms.TypedChoiceField(
        label=gettext_lazy("Colleague who becomes the company's administrator"),
        coerce=int,
        required=False,
        choices=[],
    )

    def __init__(self, *args, successors=(), **kwargs):
        super().__init__(*args, **kwargs)
        if successors:
            self.fields["successor"].choices = [(m.pk, str(m.user)) for m in successors]
            self.fields["successor"].required = True
        else:
            del self.fields["successor"]


class RequestForm(PortalForm):
    email = forms.EmailField(label=gettext_lazy("Email address"))


class StaffForm(PortalForm):
    email = forms.EmailField(label=gettext_lazy("Email address of the person"))
    reason = forms.CharField(
        label=gettext_lazy("How the request was received (letter, telephone, date)"),
        max_length=200,
    )


def _successors(user):
    from members.models import CompanyMembership

    company = data.sole_admin_company(user) if user is not None else None
    if company is None:
        return []
    return list(
        CompanyMembership.objects.filter(company=company).exclude(user=user).select_related("user")
    )


def _download(sections, fmt: str):
    if fmt == "json":
        response = HttpResponse(
            data.personal_data_json(sections), content_type="application/json; charset=utf-8"
        )
        response["Content-Disposition"] = 'attachment; filename="my-data.json"'
        response["Cache-Control"] = "no-store"
        return response
    if fmt == "xlsx":
        return exports.xlsx_response(data.personal_data_sheets(sections), filename="my-data")
    raise Http404


def _page(request, *, subject, base: str, user=None, status=200, **extra):
    sections = data.personal_data_collect(email=subject.email, user=user)
    context = {
        "sections": sections,
        "base": base,
        "correct_form": extra.pop("correct_form", None) or CorrectForm(),
        "erase_form": extra.pop("erase_form", None) or EraseForm(successors=_successors(user)),
        "has_account": user is not None,
        **extra,
    }
    return render(request, "core/my_data.html", context, status=status)


def _act(request, *, subject, user, base: str, actor):
    """The page's POST: correct or erase. Returns (response or None, forms for the page)."""
    action = request.POST.get("action")
    if action == "correct":
        form = CorrectForm(request.POST)
        if form.is_valid():
            data.personal_data_correct(email=subject.email, user=user, **form.cleaned_data)
            messages.success(request, _("Your details have been corrected."))
            return redirect(base), {}
        return None, {"correct_form": form}
    if action == "erase":
        form = EraseForm(request.POST, successors=_successors(user))
        if form.is_valid():
            try:
                data.personal_data_erase(
                    email=subject.email,
                    user=user,
                    actor=actor,
                    successor_id=form.cleaned_data.get("successor"),
                )
            except PortalError as exc:
                errors.add_to_form(form, exc)
                return None, {"erase_form": form}
            if user is not None:
                logout(request)
            return render(request, "core/my_data_erased.html"), {}
        return None, {"erase_form": form}
    return redirect(base), {}


@never_cache
@require_http_methods(["GET", "POST"])
@login_required
def my_data(request):
    """A signed-in person's own data."""
    user = request.user
    subject = data.Subject.of(user=user)
    base = reverse("core:my_data")
    extra = {}
    if request.method == "POST":
        response, extra = _act(request, subject=subject, user=user, base=base, actor=user)
        if response is not None:
            return response
    return _page(
        request, subject=subject, base=base, user=user, status=400 if extra else 200, **extra
    )


@never_cache
@require_GET
@login_required
def my_data_download(request, fmt: str):
    return _download(data.personal_data_collect(user=request.user), fmt)


@require_http_methods(["GET", "POST"])
def data_request(request):
    """A person without an account asks for a link to their data by mail. The answer is the
    same whether or not the portal knows the address."""
    form = RequestForm(request.POST or None)
    if request.method == "POST":
        if not throttle.allow(
            scope="core.data_request", key=throttle.ip_hash(request), rate=REQUEST_RATE
        ):
            return render(request, "429.html", status=429)
        if form.is_valid():
            data.personal_data_link_send(email=form.cleaned_data["email"])
            return render(request, "core/data_request_sent.html")
    return render(request, "core/data_request.html", {"form": form})


def _from_link(request, token: str):
    check = links.check(data.DATA_LINK, token)
    if check.ok:
        return check.obj, None
    return None, render(
        request,
        "core/link_problem.html",
        {
            "state": check.state.value,
            "message": _("You can ask for a new link to your data."),
            "back_url": reverse("core:data_request"),
            "back_label": _("Ask for a new link"),
        },
        status=check.http_status,
    )


@never_cache
@require_http_methods(["GET", "POST"])
def data_link(request, token: str):
    """The mailed link: the same page for the address (and its account, if any)."""
    found, problem = _from_link(request, token)
    if problem:
        return problem
    subject = data.Subject.of(email=found.email)
    base = reverse("core:data_link", args=[token])
    extra = {}
    if request.method == "POST":
        response, extra = _act(request, subject=subject, user=subject.user, base=base, actor=None)
        if response is not None:
            return response
    return _page(
        request,
        subject=subject,
        base=base,
        user=subject.user,
        status=400 if extra else 200,
        token=token,
        **extra,
    )


@never_cache
@require_GET
def data_link_download(request, token: str, fmt: str):
    found, problem = _from_link(request, token)
    if problem:
        return problem
    return _download(data.personal_data_collect(email=found.email), fmt)


@never_cache
@require_http_methods(["GET", "POST"])
@staff_required
def data_staff(request):
    """Staff: export or erase a person's data on a request received by post or telephone
    (logged in the audit log)."""
    form = StaffForm(request.POST or None)
    sections, done = None, ""
    if request.method == "POST" and form.is_valid():
        email, reason = form.cleaned_data["email"], form.cleaned_data["reason"]
        action = request.POST.get("action")
        if action == "erase":
            try:
                done = data.personal_data_erase_logged(
                    staff=request.user, email=email, reason=reason
                )
            except PortalError as exc:
                errors.add_to_form(form, exc)
        elif action in ("json", "xlsx"):
            sections = data.personal_data_export_logged(
                staff=request.user, email=email, reason=reason
            )
            return _download(sections, action)
        else:  # seeing it is an export too: logged
            sections = data.personal_data_export_logged(
                staff=request.user, email=email, reason=reason
            )
    return render(
        request, "core/data_staff.html", {"form": form, "sections": sections, "done": done}
    )
