"""``{{ value|half_up:1 }}`` and ``{% percent part whole %}``: rounding half up in templates
(``floatformat`` rounds a float half to even), through ``core.numbers``."""

from django import template

from cqa_portal.core import numbers

register = template.Library()


@register.filter
def half_up(value, places=1) -> str:
    return numbers.text(value, int(places))


@register.simple_tag
def percent(part, whole, places=1) -> str:
    return numbers.text(numbers.percent(part, whole, int(places)), int(places))
