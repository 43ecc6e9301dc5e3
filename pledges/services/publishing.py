"""Shared input normalisation and the publishing of open letters and initiatives."""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from cqa_portal.core.services import audit_log
from cqa_portal.core.validators import normalize_uscc, uscc_check_ok, validate_uscc_format


def normalize_email(value: str) -> str:
    return (value or "").strip().lower()


def _uscc_fields(value: str) -> dict:
    """Normalised code and the review flag; a malformed code raises ValidationError."""
    code = normalize_uscc(value)
    if not code:
        return {"uscc": "", "uscc_needs_review": False}
    validate_uscc_format(code)
    return {"uscc": code, "uscc_needs_review": not uscc_check_ok(code)}


@transaction.atomic
def publication_save(*, obj, actor, was_published: bool, at=None):
    """Save a letter, initiative or alliance edited by staff; log publishing and withdrawing.

    Publishing without a date publishes now.
    """
    at = at or timezone.now()
    if obj.is_published and obj.published_at is None:
        obj.published_at = at
    obj.save()
    if obj.is_published != was_published:
        label = obj._meta.model_name
        audit_log(
            actor=actor,
            action=f"pledges.{label}.{'published' if obj.is_published else 'unpublished'}",
            obj=obj,
            from_state="published" if was_published else "draft",
            to_state="published" if obj.is_published else "draft",
        )
    return obj
