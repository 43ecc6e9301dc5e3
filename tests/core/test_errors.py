"""One error type and one way to show it: PortalError, errors.add_to_form/add_to_messages."""

import pytest
from django import forms
from django.contrib.messages import get_messages
from django.contrib.messages.storage.fallback import FallbackStorage
from django.core.exceptions import ValidationError
from django.test import RequestFactory

from courses import services as course_services
from cqa_portal.core import errors
from cqa_portal.core.errors import PortalError


class _Form(forms.Form):
    email = forms.EmailField()


def _valid_form():
    form = _Form({"email": "a@example.com"})
    assert form.is_valid()
    return form


def test_portal_error_is_a_validation_error_with_a_code():
    exc = PortalError("Nope", code="throttled")
    assert isinstance(exc, ValidationError)
    assert exc.code == "throttled" and exc.message == "Nope"
    assert PortalError("Nope").code == "refused"


def test_refusal_goes_to_the_top_of_the_form():
    form = _valid_form()
    errors.add_to_form(form, PortalError("Refused here", code="x"))
    assert form.non_field_errors() == ["Refused here"]
    assert not form.is_valid() or form.errors


def test_field_errors_go_next_to_their_field_and_unknown_fields_to_the_top():
    form = _valid_form()
    errors.add_to_form(form, ValidationError({"email": ["Taken"], "not_a_field": ["Elsewhere"]}))
    assert form.errors["email"] == ["Taken"]
    assert form.non_field_errors() == ["Elsewhere"]


def test_refusal_without_a_form_goes_to_the_messages():
    request = RequestFactory().post("/")
    request.session = {}
    request._messages = FallbackStorage(request)
    errors.add_to_messages(request, PortalError("Not now", code="x"))
    assert [str(m) for m in get_messages(request)] == ["Not now"]


def test_there_is_no_course_error_alias_any_more():
    assert not hasattr(course_services, "CourseError")
    assert not hasattr(course_services, "RegistrationClosed")


@pytest.mark.django_db
def test_services_refuse_with_portal_error_and_a_code():
    from tests.courses.factories import RegistrationFactory

    registration = RegistrationFactory()  # confirmed: nothing to resend
    with pytest.raises(PortalError) as caught:
        course_services.registration_confirmation_resend(registration_id=registration.pk)
    assert caught.value.code == "not_pending"
    with pytest.raises(PortalError) as caught:
        course_services.registration_confirm(registration_id=2**62)
    assert caught.value.code == "not_found"
