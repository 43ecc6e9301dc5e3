"""The audit log: who changed what, written in the transaction that makes the change."""

from __future__ import annotations

from collections.abc import Iterable

from django.contrib.contenttypes.models import ContentType
from django.db import connection, models, transaction
from django.db.models import Value
from django.db.models.functions import Cast, Substr
from django.utils import timezone

from ..models import AuditEntry


def audit_log(
    *,
    actor,
    action: str,
    obj: models.Model,
    from_state: str = "",
    to_state: str = "",
    detail: str = "",
) -> AuditEntry:
    """Record a change. Call it inside the transaction that makes the change."""
    entry = audit_entry(
        actor=actor,
        action=action,
        obj=obj,
        from_state=from_state,
        to_state=to_state,
        detail=detail,
    )
    entry.save()
    return entry


def audit_entry(
    *,
    actor,
    action: str,
    obj: models.Model,
    from_state: str = "",
    to_state: str = "",
    detail: str = "",
) -> AuditEntry:
    """An unsaved audit entry, for ``audit_log_many`` (set-based changes)."""
    user = actor if getattr(actor, "is_authenticated", False) else None
    return AuditEntry(
        actor=user,
        action=action,
        content_type=ContentType.objects.get_for_model(obj),
        object_id=str(obj.pk),
        object_repr=str(obj)[:255],
        from_state=str(from_state or ""),
        to_state=str(to_state or ""),
        detail=detail,
    )


@transaction.atomic
def audit_log_many(*, entries: Iterable[AuditEntry], batch_size: int = 1000) -> int:
    """Record many changes at once (entries built with ``audit_entry``): one insert per
    ``batch_size``. Call it inside the transaction that makes the changes."""
    entries = list(entries)
    AuditEntry.objects.bulk_create(entries, batch_size=batch_size)
    return len(entries)


@transaction.atomic
def audit_log_select(
    *,
    queryset: models.QuerySet,
    actor,
    action: str,
    object_repr,
    from_state="",
    to_state="",
    detail: str = "",
) -> int:
    """Record one entry for every row of ``queryset`` in a single INSERT ... SELECT, for
    set-based changes of many rows (an import's new companies): nothing goes through Python
    per row. ``object_repr``, ``from_state`` and ``to_state`` are strings or expressions on the
    queryset's model (``F("status")``); ``object_repr`` should match the model's ``__str__``."""

    def expression(value):
        return value if hasattr(value, "resolve_expression") else Value(str(value))

    user = actor if getattr(actor, "is_authenticated", False) else None
    content_type = ContentType.objects.get_for_model(queryset.model)
    columns = {
        "actor": Value(user.pk if user else None, output_field=models.IntegerField()),
        "action": Value(action),
        "content_type": Value(content_type.pk),
        "object_id": Cast("pk", models.CharField()),
        "object_repr": Substr(expression(object_repr), 1, 255),
        "from_state": expression(from_state),
        "to_state": expression(to_state),
        "detail": Value(str(detail)),
        "created_at": Value(timezone.now(), output_field=models.DateTimeField()),
    }
    select = (
        queryset.order_by()
        .annotate(**{f"_audit_{name}": value for name, value in columns.items()})
        .values_list(*(f"_audit_{name}" for name in columns))
    )
    sql, params = select.query.sql_with_params()
    table = connection.ops.quote_name(AuditEntry._meta.db_table)
    names = ", ".join(
        connection.ops.quote_name(AuditEntry._meta.get_field(name).column) for name in columns
    )
    with connection.cursor() as cursor:
        cursor.execute(f"INSERT INTO {table} ({names}) {sql}", params)  # noqa: S608 - names are
        # the model's own columns, values are parameters
        return cursor.rowcount
