from django import forms
from django.forms.boundfield import BoundField
from django.forms.renderers import TemplatesSetting
from django.urls import reverse_lazy
from django.utils import timezone
from django.utils.functional import lazy
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from .validators import (
    EMAIL_MAX_LENGTH,
    validate_email_length,
    validate_multi_line,
    validate_single_line,
)


class PortalBoundField(BoundField):
    """A field as the portal's templates show it: a visible * on required fields, and the id
    the error summary links to.

    A field the form checks itself (a survey question: a draft may leave it empty, a submission
    may not) sets ``required_on_submit = True``; it is marked and announced like a required one.
    """

    @property
    def is_required(self) -> bool:
        return bool(self.field.required or getattr(self.field, "required_on_submit", False))

    @property
    def error_anchor(self) -> str:
        """The id of the element an error summary link moves to: the input, or the first
        choice of a group of radio buttons or check boxes."""
        if self.use_fieldset and self.auto_id:
            return f"{self.auto_id}_0"
        return self.id_for_label

    def build_widget_attrs(self, attrs, widget=None):
        attrs = super().build_widget_attrs(attrs, widget)
        widget = widget or self.field.widget
        if (
            self.is_required
            and not self.field.required
            and widget.use_required_attribute(self.initial)
            and self.form.use_required_attribute
        ):
            attrs["required"] = True  # forms are novalidate: this only informs assistive tech
        return attrs


class PortalFormRenderer(TemplatesSetting):
    """Every form in the portal renders with the same accessible layout: required marks, an
    error summary at the top (focused by static/js/portal.js) and errors tied to their fields."""

    form_template_name = "forms/portal_form.html"
    field_template_name = "forms/portal_field.html"
    bound_field_class = PortalBoundField


class TextCheckMixin:
    """Every text field of the form refuses control characters when it is cleaned: one-line
    inputs refuse line breaks too, text areas keep them (core.validators). Every email field
    refuses an address longer than its column once lower-cased. Fields added in a form's
    __init__ are covered as well. Passwords are left as typed."""

    def full_clean(self):
        for field in self.fields.values():
            if (
                isinstance(field, forms.EmailField)
                and validate_email_length not in field.validators
            ):
                field.validators.append(validate_email_length)
            if not isinstance(field, forms.CharField) or isinstance(
                field.widget, forms.PasswordInput
            ):
                continue
            check = (
                validate_multi_line
                if isinstance(field.widget, forms.Textarea)
                else validate_single_line
            )
            if check not in field.validators:
                field.validators.append(check)
        super().full_clean()

    def clean(self):
        """A single-choice field (radio buttons, a drop-down) sent two values or more is refused:
        the form would otherwise keep one of them silently."""
        cleaned = super().clean()
        getlist = getattr(self.data, "getlist", None)
        if getlist is None:
            return cleaned
        for name, field in self.fields.items():
            if (
                isinstance(field, forms.ChoiceField | forms.ModelChoiceField)
                and not isinstance(
                    field, forms.MultipleChoiceField | forms.ModelMultipleChoiceField
                )
                and len(getlist(self.add_prefix(name))) > 1
                and name not in self.errors
            ):
                self.add_error(name, _("Choose only one answer."))
        return cleaned


class EmailField(forms.EmailField):
    """An email address that fits its column (254 characters) once lower-cased, with the
    browser's maxlength. Portal forms check every email field this way (TextCheckMixin); this
    class adds the maxlength attribute to forms that declare their own."""

    def __init__(self, **kwargs):
        kwargs.setdefault("max_length", EMAIL_MAX_LENGTH)
        super().__init__(**kwargs)
        self.validators.append(validate_email_length)


class PortalForm(TextCheckMixin, forms.Form):
    """The base of every form of the portal."""


class PortalModelForm(TextCheckMixin, forms.ModelForm):
    """The base of every model form of the portal (the model's own validators run as well)."""


def _privacy_label():
    return format_html(
        '{} <a href="{}" target="_blank">{}</a>',
        _("I have read and agree to the"),
        reverse_lazy("core:privacy"),
        _("privacy notice"),
    )


privacy_label = lazy(_privacy_label, str)


class PrivacyConsentField(forms.BooleanField):
    """A required tick-box linking the privacy notice; every form that collects personal data
    uses it."""

    def __init__(self, **kwargs):
        kwargs.setdefault("label", privacy_label())
        kwargs.setdefault("required", True)
        kwargs.setdefault(
            "error_messages",
            {"required": _("Please read and accept the privacy notice to continue.")},
        )
        super().__init__(**kwargs)


class SignupForm(PortalForm):
    """Extra fields on allauth's signup form: the person's name and privacy consent."""

    name = forms.CharField(label=_("Full name"), max_length=150)
    privacy_consent = PrivacyConsentField()

    field_order = ["email", "name", "password1", "password2", "privacy_consent"]

    def signup(self, request, user) -> None:
        from .services import account_signup_complete

        account_signup_complete(user=user, name=self.cleaned_data["name"], at=timezone.now())


_PK_MAX = 2**63 - 1


def _check_pk(field, value):
    """Refuse ids no database column can hold before they reach a query (which would raise
    an overflow error instead of a form error)."""
    if value in field.empty_values:
        return
    try:
        number = int(str(value))
    except ValueError:
        number = None
    if number is None or not 0 < number <= _PK_MAX:
        raise forms.ValidationError(
            field.error_messages["invalid_choice"], code="invalid_choice", params={"value": value}
        )


class BoundedModelChoiceField(forms.ModelChoiceField):
    def to_python(self, value):
        _check_pk(self, value)
        return super().to_python(value)


class BoundedModelMultipleChoiceField(forms.ModelMultipleChoiceField):
    def _check_values(self, value):
        for item in value:
            _check_pk(self, item)
        return super()._check_values(value)
