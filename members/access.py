"""Who may open member-only pages.

Views for member companies use ``company_member_required`` (any user of an active member
company) or ``company_admin_required``; both send anonymous users to login and set
``request.membership`` (with its company). Objects are then fetched with
``get_object_or_404(Model, pk=..., company=request.membership.company)`` so another company's
object is a 404, never a 403 that would confirm it exists.
"""

from functools import wraps

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.shortcuts import redirect
from django.utils.translation import gettext as _

from cqa_portal.core.decorators import login_required

from .models import CompanyMembership, MemberCompany


def get_membership(user) -> CompanyMembership | None:
    if not user.is_authenticated:
        return None
    return (
        CompanyMembership.objects.select_related("company", "company__level")
        .filter(user=user)
        .first()
    )


def company_member_required(view=None, *, admin: bool = False, active: bool = True):
    def decorator(view_func):
        @login_required
        @wraps(view_func)
        def wrapper(request, *args, **kwargs):
            membership = get_membership(request.user)
            if membership is None:
                messages.info(
                    request, _("This page is for member companies. Apply for membership first.")
                )
                return redirect("members:dashboard")
            if active and membership.company.status != MemberCompany.Status.ACTIVE:
                messages.warning(
                    request,
                    _("Your company's membership is not active, so this service is unavailable."),
                )
                return redirect("members:dashboard")
            if admin and not membership.is_admin:
                raise PermissionDenied
            request.membership = membership
            return view_func(request, *args, **kwargs)

        return wrapper

    return decorator(view) if view else decorator


def company_admin_required(view=None, **kwargs):
    return company_member_required(view, admin=True, **kwargs)
