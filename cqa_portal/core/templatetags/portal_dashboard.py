from django import template

from ..dashboard import programme_dashboard as read_dashboard

register = template.Library()


@register.simple_tag(takes_context=True)
def programme_dashboard(context):
    """The staff dashboard's figures (cqa_portal.core.dashboard), for staff only."""
    user = getattr(context.get("request"), "user", None)
    if user is None or not user.is_staff:
        return None
    return read_dashboard(user=user)


@register.filter
def age(delta) -> str:
    """A waiting time in whole hours and minutes, e.g. 2 h 05 min (or days for long ones)."""
    if delta is None:
        return "—"
    minutes = int(delta.total_seconds() // 60)
    days, minutes = divmod(minutes, 24 * 60)
    hours, minutes = divmod(minutes, 60)
    from django.utils.translation import gettext

    if days:
        return gettext("%(days)d d %(hours)d h") % {"days": days, "hours": hours}
    return gettext("%(hours)d h %(minutes)02d min") % {"hours": hours, "minutes": minutes}
