"""Database helpers every app shares: row locks, set-based updates, and a ``model_update`` for services."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from typing import Any, TypeVar

from django.db import connection, models
from django.db.models import QuerySet

ModelT = TypeVar("ModelT", bound=models.Model)


def lock_rows(queryset: QuerySet[ModelT], *, skip_locked: bool = False) -> QuerySet[ModelT]:
    """``SELECT … FOR UPDATE`` (of the queryset's own table, optionally ``SKIP LOCKED``) where the
    database has row locks; SQLite serialises writers instead (IMMEDIATE transactions)."""
    features = connection.features
    if not features.has_select_for_update:
        return queryset
    options: dict[str, Any] = {}
    if skip_locked and features.has_select_for_update_skip_locked:
        options["skip_locked"] = True
    if features.has_select_for_update_of:
        options["of"] = ("self",)
    return queryset.select_for_update(**options)


def locked_by_key(model: type[ModelT], keys: Iterable[Any]) -> dict[Any, ModelT]:
    """Lock and load the rows of ``keys``, in key order so concurrent writers cannot deadlock."""
    rows = lock_rows(model._default_manager.filter(pk__in=set(keys)).order_by("pk"))
    return {row.pk: row for row in rows}


def model_update(
    *, instance: ModelT, data: dict[str, Any], fields: Sequence[str], save: bool = True
) -> dict[str, tuple[Any, Any]]:
    """Set the ``fields`` of ``instance`` that ``data`` names and that differ; returns ``{field: (before,
    after)}`` and saves only those (with ``updated_at`` when the model has it)."""
    changed: dict[str, tuple[Any, Any]] = {}
    for name in fields:
        if name in data and getattr(instance, name) != data[name]:
            changed[name] = (getattr(instance, name), data[name])
            setattr(instance, name, data[name])
    if changed and save:
        update_fields = list(changed)
        if any(field.name == "updated_at" for field in instance._meta.concrete_fields):
            update_fields.append("updated_at")
        instance.save(update_fields=update_fields)
    return changed


def bulk_update_values(
    model: type[models.Model], objects: Sequence[models.Model], fields: Sequence[str], batch_size: int = 1000
) -> None:
    """``bulk_update`` for many rows. On PostgreSQL one ``UPDATE … FROM (VALUES …)`` per batch, which
    costs a fraction of the ``CASE WHEN`` statement Django builds (and of its time to build it)."""
    if not objects:
        return
    if connection.vendor != "postgresql":
        model._default_manager.bulk_update(objects, fields, batch_size=batch_size)
        return
    meta = model._meta
    columns = [meta.get_field(name) for name in fields]
    pk = meta.pk
    quote = connection.ops.quote_name
    table = quote(meta.db_table)
    casts = ", ".join(f"CAST(%s AS {column.db_type(connection)})" for column in [pk, *columns])
    assignments = ", ".join(f"{quote(column.column)} = v.{quote(column.column)}" for column in columns)
    names = ", ".join(quote(column.column) for column in [pk, *columns])
    key = quote(pk.column)
    with connection.cursor() as cursor:
        for start in range(0, len(objects), batch_size):
            batch = objects[start : start + batch_size]
            params = [
                column.get_db_prep_save(getattr(obj, column.attname), connection)
                for obj in batch
                for column in [pk, *columns]
            ]
            rows = ", ".join(f"({casts})" for _ in batch)
            # Only quoted model names and placeholders are interpolated; every value is a parameter.
            sql = " ".join(
                (
                    f"UPDATE {table} SET {assignments}",  # noqa: S608 (quoted names only)
                    f"FROM (VALUES {rows}) AS v({names})",
                    f"WHERE {table}.{key} = v.{key}",
                )
            )
            cursor.execute(sql, params)


def advisory_lock(key: str) -> None:
    """Serialise the rest of the transaction with every other holder of ``key`` (PostgreSQL's
    transaction-scoped advisory lock; SQLite serialises writers already)."""
    if connection.vendor != "postgresql":
        return
    digest = int.from_bytes(hashlib.blake2b(key.encode(), digest_size=8).digest(), "big", signed=True)
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s)", [digest])
