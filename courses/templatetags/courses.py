from django import template
from django.utils.translation import gettext as _

from courses import mails
from cqa_portal.core.localize import in_english

register = template.Library()


@register.filter
def when(session, zone=True) -> str:
    """Date, weekday and time of a session (Beijing time), in the active language;
    ``session|when:False`` leaves out the words "Beijing time"."""
    return mails.when(session, zone=bool(zone))


@register.filter
def lecturer_label(lecturer) -> str:
    """ "Name (organisation)" with the brackets of the active language."""
    if not lecturer.organisation:
        return lecturer.name
    return _("%(name)s (%(organisation)s)") % {
        "name": lecturer.name,
        "organisation": lecturer.organisation,
    }


@register.filter
def lecturer_list(lecturers) -> str:
    """Lecturers joined with the list separator of the active language."""
    separator = ", " if in_english() else "、"
    return separator.join(lecturer_label(lecturer) for lecturer in lecturers)


@register.filter
def lecturers_of(session) -> str:
    """The session's lecturers in the active language: the English line when the visitor chose
    English and it is filled in, else the lecturer list."""
    return session.english_lecturers or lecturer_list(session.lecturers.all())
