from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import FileResponse, Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _

from cqa_portal.core import errors, links, pagecache
from cqa_portal.core.decorators import login_required, post_only

from . import selectors, services
from .access import company_admin_required, company_member_required, get_membership
from .forms import (
    CompanyProfileForm,
    InvitationForm,
    MembershipApplicationForm,
    ReliefRequestForm,
)
from .models import (
    INVITATION_LINK,
    CompanyMembership,
    Invitation,
    ReliefDocument,
    ReliefRequest,
)


@pagecache.page()
@login_required
def dashboard(request):
    membership = get_membership(request.user)
    if membership is None:
        return render(
            request,
            "members/no_company.html",
            {
                "application": selectors.pending_application(user=request.user),
                "invitations": [
                    (invitation, services.invitation_link(invitation))
                    for invitation in selectors.open_invitations_for(email=request.user.email)
                ],
            },
        )
    context = selectors.member_area(company=membership.company)
    context["membership"] = membership
    return render(request, "members/dashboard.html", context)


@login_required
def apply(request):
    if get_membership(request.user) is not None:
        return redirect("members:dashboard")
    form = MembershipApplicationForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            services.membership_apply(
                user=request.user,
                company=form.save(commit=False),
                message=form.cleaned_data["message"],
            )
        except ValidationError as exc:
            errors.add_to_form(form, exc)
        else:
            messages.success(
                request,
                _("Thank you. Your application has been sent; we will email you the decision."),
            )
            return redirect("members:dashboard")
    return render(request, "members/apply.html", {"form": form})


@company_admin_required(active=False)
def profile_edit(request):
    company = request.membership.company
    form = CompanyProfileForm(request.POST or None, instance=company)
    if request.method == "POST" and form.is_valid():
        services.company_update(
            company=form.save(commit=False), actor=request.user, changed_fields=form.changed_data
        )
        messages.success(request, _("The company profile has been saved."))
        return redirect("members:dashboard")
    return render(request, "members/profile_form.html", {"form": form})


@pagecache.page()
@company_admin_required(active=False)
def users(request):
    company = request.membership.company
    form = InvitationForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            services.invitation_create(
                company=company, email=form.cleaned_data["email"], actor=request.user
            )
        except ValidationError as exc:
            errors.add_to_form(form, exc)
        else:
            messages.success(
                request,
                _("An invitation has been sent to %(email)s.")
                % {"email": form.cleaned_data["email"]},
            )
            return redirect("members:users")
    context = selectors.member_area(company=company)
    context.update(form=form, membership=request.membership)
    return render(request, "members/users.html", context)


@post_only(back="members:users")
@company_admin_required(active=False)
def user_remove(request, pk: int):
    membership = get_object_or_404(
        CompanyMembership.objects.select_related("user"),
        pk=pk,
        company=request.membership.company,
    )
    try:
        services.company_user_remove(membership=membership, actor=request.user)
    except ValidationError as exc:
        errors.add_to_messages(request, exc)
    else:
        messages.success(
            request, _("%(email)s no longer has access.") % {"email": membership.user.email}
        )
    return redirect("members:users")


@post_only(back="members:users")
@company_admin_required(active=False)
def invitation_revoke(request, pk: int):
    invitation = get_object_or_404(Invitation, pk=pk, company=request.membership.company)
    services.invitation_revoke(invitation=invitation, actor=request.user)
    messages.success(request, _("The invitation has been withdrawn."))
    return redirect("members:users")


def invitation(request, token: str):
    """The link in an invitation mail. Anonymous visitors are asked to sign up or log in first."""
    check = links.check(INVITATION_LINK, token)
    if not check.ok:
        return _invitation_problem(request, check)
    invitation = check.obj
    if request.method == "POST" and request.user.is_authenticated:
        try:
            services.invitation_accept(invitation=invitation, user=request.user)
        except ValidationError as exc:
            errors.add_to_messages(request, exc)
        else:
            messages.success(
                request,
                _("Welcome! You now have access to %(company)s in the member area.")
                % {"company": invitation.company.name},
            )
            return redirect("members:dashboard")
    return render(request, "members/invitation.html", {"invitation": invitation})


def _invitation_problem(request, check: links.LinkCheck):
    """Expired, used, withdrawn (410) or not valid (404): only the company's administrator can
    invite again, so the page says whom to ask."""
    invitation = check.obj
    if invitation is not None and invitation.accepted_at:
        message = _("This invitation has already been accepted.")
    elif invitation is not None and invitation.revoked_at:
        message = _("This invitation has been withdrawn.")
    else:
        message = ""
    if check.state is not links.LinkState.INVALID:
        message = " ".join(
            [message, _("Ask your company administrator to send a new invitation.")]
        ).strip()
    back = reverse("members:dashboard") if request.user.is_authenticated else reverse("core:home")
    return render(
        request,
        "core/link_problem.html",
        {
            "state": check.state.value,
            "message": message,
            "back_url": back,
            "back_label": _("Go to the member area")
            if request.user.is_authenticated
            else _("Go to the home page"),
        },
        status=check.http_status,
    )


@pagecache.page()
@company_admin_required
def relief_new(request):
    return _relief_form(request, ReliefRequest(company=request.membership.company))


@pagecache.page()
@company_admin_required
def relief_edit(request, pk: int):
    relief = selectors.relief_request_for_company(company=request.membership.company, pk=pk)
    if relief.status != ReliefRequest.Status.DRAFT:
        messages.info(request, _("Only a draft can be changed."))
        return redirect("members:relief_detail", pk=relief.pk)
    return _relief_form(request, relief)


def _relief_form(request, relief: ReliefRequest):
    form = ReliefRequestForm(
        request.POST or None,
        request.FILES or None,
        instance=relief,
        company=request.membership.company,
    )
    if request.method == "POST" and form.is_valid():
        submit = "submit" in request.POST
        try:
            relief = services.relief_request_save(
                relief=form.save(commit=False),
                reasons=form.cleaned_data["reasons"],
                files=form.cleaned_data["documents"],
                actor=request.user,
                submit=submit,
            )
        except ValidationError as exc:
            errors.add_to_form(form, exc)
        else:
            messages.success(
                request,
                _("Your request has been submitted. We will email you the decision.")
                if submit
                else _("Your draft has been saved. Submit it when it is complete."),
            )
            return redirect("members:relief_detail", pk=relief.pk)
    return render(request, "members/relief_form.html", {"form": form, "relief": relief})


@pagecache.page()
@company_member_required(active=False)
def relief_detail(request, pk: int):
    relief = selectors.relief_request_for_company(company=request.membership.company, pk=pk)
    context = selectors.relief_request_page(relief=relief)
    context["membership"] = request.membership
    return render(request, "members/relief_detail.html", context)


@post_only(back="members:relief_detail")
@company_admin_required
def relief_submit(request, pk: int):
    relief = selectors.relief_request_for_company(company=request.membership.company, pk=pk)
    try:
        services.relief_request_submit(relief=relief, actor=request.user)
    except ValidationError as exc:
        errors.add_to_messages(request, exc)
    else:
        messages.success(request, _("Your request has been submitted."))
    return redirect("members:relief_detail", pk=relief.pk)


@post_only(back="members:relief_detail")
@company_admin_required(active=False)
def relief_withdraw(request, pk: int):
    relief = selectors.relief_request_for_company(company=request.membership.company, pk=pk)
    try:
        services.relief_request_withdraw(relief=relief, actor=request.user)
    except ValidationError as exc:
        errors.add_to_messages(request, exc)
    else:
        messages.success(request, _("Your request has been withdrawn."))
    return redirect("members:relief_detail", pk=relief.pk)


@login_required
def relief_document(request, pk: int, doc_pk: int):
    """Serve a supporting document to the company's users and to staff, never inline."""
    document = get_object_or_404(
        ReliefDocument.objects.select_related("request"), pk=doc_pk, request_id=pk
    )
    if not request.user.is_staff:
        membership = get_membership(request.user)
        if membership is None or membership.company_id != document.request.company_id:
            raise Http404
    try:
        handle = document.file.open("rb")
    except FileNotFoundError:
        raise Http404 from None
    response = FileResponse(
        handle,
        as_attachment=True,
        filename=document.original_name,
        content_type=document.content_type,
    )
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = "default-src 'none'; sandbox"
    return response
