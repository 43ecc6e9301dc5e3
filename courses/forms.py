from django import forms
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext_lazy as _

from cqa_portal.core.forms import EmailField, PortalForm, PrivacyConsentField

from .selectors import ScheduleFilters


class ScheduleFilterForm(PortalForm):
    """Filters of the schedule. Choices come from lists the page already loaded, so the form
    costs no queries of its own."""

    topic = forms.ChoiceField(label=_("Topic"), required=False)
    series = forms.ChoiceField(label=_("Series"), required=False)
    month = forms.ChoiceField(label=_("Month"), required=False)

    def __init__(self, *args, topics, series, months, **kwargs):
        super().__init__(*args, **kwargs)
        self._topics = {t.slug: t for t in topics}
        self._series = {s.slug: s for s in series}
        self._months = {f"{m:%Y-%m}": m for m in months}
        self.fields["topic"].choices = [("", _("All topics"))] + [(t.slug, t.label) for t in topics]
        self.fields["series"].choices = [("", _("All series"))] + [
            (s.slug, s.label) for s in series
        ]
        self.fields["month"].choices = [("", _("All months"))] + [
            (key, date_format(timezone.localtime(m), "YEAR_MONTH_FORMAT"))
            for key, m in self._months.items()
        ]

    def filters(self) -> ScheduleFilters:
        """The chosen filters; an invalid choice is reported by the form and ignored here."""
        if not self.is_bound or not self.is_valid():
            data = self.cleaned_data if self.is_bound else {}
        else:
            data = self.cleaned_data
        return ScheduleFilters(
            topic=self._topics.get(data.get("topic") or ""),
            series=self._series.get(data.get("series") or ""),
            month=self._months.get(data.get("month") or ""),
        )

    @property
    def active(self) -> bool:
        return any(self.filters().__dict__.values())


class VisitorRegistrationForm(PortalForm):
    """A visitor registers with name, email and organisation, then confirms by email."""

    name = forms.CharField(label=_("Full name"), max_length=150)
    email = EmailField(
        label=_("Email"),
        help_text=_("We send the confirmation link, the join link and reminders here."),
    )
    organisation = forms.CharField(
        label=_("Organisation"),
        max_length=200,
        help_text=_("Company or institution you work for."),
    )
    privacy_consent = PrivacyConsentField()
