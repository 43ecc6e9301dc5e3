"""``{{ path|absolute_url }}``: a path of the portal as an absolute link from ``SITE_URL``."""

from django import template

from cqa_portal.core import site

register = template.Library()


@register.filter
def absolute_url(path: str) -> str:
    return site.absolute_url(str(path))
