"""History in words: the one registry of audit-log action labels, and state labels.

Each app lists its action codes (``AuditEntry.action``, e.g. ``members.relief.submitted``) with a
translated label in ``<app>/history.py`` as ``ACTIONS``; the registry collects them on first use.
States (``from_state``, ``to_state``) are shown with the labels of the object's ``status``
choices. Staff pages and member pages show these labels, never the codes.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterable

from django.apps import apps
from django.core.exceptions import FieldDoesNotExist
from django.db import models
from django.utils.text import format_lazy
from django.utils.translation import gettext_lazy as _

_ACTIONS: dict[str, object] = {}
_loaded = False

# The core's own actions.
ACTIONS = {
    "core.account.privacy_consented": _("Privacy notice accepted"),
    "core.outbox.retried": _("Mail queued again"),
    "core.outbox.expired": _("Mail expired (its deadline had passed)"),
    "core.personal_data.exported": _("A person's data shown or downloaded by staff"),
    "core.personal_data.erased": _("A person's data erased by staff"),
}

# States that are not a model's status choices (publishing).
GENERIC_STATES = {
    "draft": _("Draft"),
    "published": _("Published"),
    "unpublished": _("Not published"),
}


def state_actions(prefix: str, noun, choices: type[models.TextChoices], *, only=None) -> dict:
    """Labels for actions named after a state (``<prefix>.<state>``): "<noun>: <state label>"."""
    return {
        f"{prefix}.{value}": format_lazy(_("{noun}: {state}"), noun=noun, state=label)
        for value, label in choices.choices
        if only is None or value in only
    }


def actions() -> dict[str, object]:
    """Every registered action code and its label."""
    global _loaded
    if not _loaded:
        for config in apps.get_app_configs():
            try:
                module = importlib.import_module(f"{config.name}.history")
            except ModuleNotFoundError:
                continue
            _ACTIONS.update(getattr(module, "ACTIONS", {}))
        _loaded = True
    return _ACTIONS


def action_label(code: str) -> str:
    return str(actions().get(code, code))


def state_label(model: type[models.Model] | None, value: str) -> str:
    """The label of a state code among the model's ``status`` choices (the code itself if the
    value is not one of them, e.g. a date)."""
    if not value:
        return value
    choices = {}
    if model is not None:
        try:
            choices = dict(model._meta.get_field("status").flatchoices)
        except FieldDoesNotExist:
            pass
    return str(choices.get(value) or GENERIC_STATES.get(value, value))


def unlabelled(codes: Iterable[str]) -> list[str]:
    """Codes without a label (for the test that every action in the code has one)."""
    known = actions()
    return sorted(code for code in set(codes) if code not in known)
