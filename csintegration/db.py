"""Database helpers every app shares: row locks, set-based updates, and a ``model_update`` for services."""

from __future__ import annotations

import json
import operator
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any, TypeVar

import orjson
from django.db import connection, connections, models, transaction
from django.db.models import QuerySet, signals
from django.db.models.base import ModelState

ModelT = TypeVar("ModelT", bound=models.Model)


# --- Reading timestamps at C speed ------------------------------------------------------------------------


def _c_timestamptz_loader() -> type | None:
    """psycopg's own text loader of ``timestamptz`` when its C implementation is installed, else None."""
    try:
        from psycopg import adapters
        from psycopg.pq import Format
        from psycopg.types.datetime import TimestamptzLoader
    except ImportError:  # psycopg 2, or no PostgreSQL driver at all
        return None
    loader = adapters.get_loader(1184, Format.TEXT)  # 1184: timestamptz
    return None if loader is None or loader is TimestamptzLoader else loader


_C_TIMESTAMPTZ_LOADER = _c_timestamptz_loader()


if _C_TIMESTAMPTZ_LOADER is not None:
    from psycopg.adapt import Loader as _PsycopgLoader

    class UtcTimestamptzLoader(_PsycopgLoader):
        """Django registers a Python subclass of psycopg's Python ``timestamptz`` loader, to set the
        connection's time zone on each value it reads: about 4 µs a value, a tenth of a recompute's CPU and
        of every list of rows. Where the session's time zone is UTC (Django sets it from ``TIME_ZONE`` on
        every new connection), psycopg's C loader returns the same instant in ``datetime.timezone.utc``
        already, so its instances are handed out instead (``timezone`` is what Django's cursor compares
        with its own before it would put its loader back)."""

        timezone = UTC

        def __new__(cls, oid: int, context: Any = None) -> Any:
            return _C_TIMESTAMPTZ_LOADER(oid, context)

        def load(self, data: Any) -> Any:  # pragma: no cover - instances are the C loader's
            raise NotImplementedError


def use_c_timestamptz_loader(sender: Any, connection: Any, **kwargs: Any) -> None:
    """``connection_created`` receiver: read ``timestamptz`` with psycopg's C loader on a PostgreSQL
    connection whose session time zone is UTC (``TIME_ZONE = "UTC"``, ``USE_TZ = True``)."""
    if _C_TIMESTAMPTZ_LOADER is None or connection.vendor != "postgresql":
        return
    if connection.timezone != UTC or connection.timezone_name != "UTC":
        return
    connection.connection.adapters.register_loader("timestamptz", UtcTimestamptzLoader)


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
    """Lock and load the rows of ``keys``, in key order so concurrent writers cannot deadlock. On
    PostgreSQL one prepared ``SELECT … WHERE pk = ANY(%s) ORDER BY pk FOR UPDATE OF`` the table, which the
    ORM would compile anew for every call (a request locks its customer on every write)."""
    keys = set(keys)
    if not keys:
        return {}
    if connection.vendor != "postgresql":
        rows = lock_rows(model._default_manager.filter(pk__in=keys).order_by("pk"))
        return {row.pk: row for row in rows}
    meta = model._meta
    sql = _LOCK_SQL.get(model)
    if sql is None:
        quote = connection.ops.quote_name
        table = quote(meta.db_table)
        columns = ", ".join(f"{table}.{quote(field.column)}" for field in meta.concrete_fields)
        key = f"{table}.{quote(meta.pk.column)}"
        # Only quoted model names are interpolated; the keys are one array parameter.
        sql = _LOCK_SQL[model] = (
            f"SELECT {columns} FROM {table} WHERE {key} = ANY(%s) ORDER BY {key} FOR UPDATE OF {table}"  # noqa: S608
        )
    values = [meta.pk.get_db_prep_value(key, connection) for key in keys]
    return {row.pk: row for row in model._default_manager.raw(sql, [values])}


_LOCK_SQL: dict[type[models.Model], str] = {}


def table_stamp_sql(model: type[models.Model], field: str = "updated_at") -> str:
    """The two columns of ``table_stamp`` as scalar subqueries, for a statement that reads the stamp with
    other things (``customers.selectors.score_history``)."""
    quote = connection.ops.quote_name
    table, column = quote(model._meta.db_table), quote(model._meta.get_field(field).column)
    # Only quoted model names are interpolated.
    return f"(SELECT COUNT(*) FROM {table}), (SELECT MAX({column}) FROM {table})"  # noqa: S608


def table_stamp(model: type[models.Model], field: str = "updated_at") -> tuple[int, Any]:
    """``(row count, latest field)`` of a table: moves whenever a row is added, deleted or saved with a new
    ``field`` (a per-process cache's version: scorecards, automation rules). One prepared statement."""
    sql = _STAMP_SQL.get((model, field))
    if sql is None:
        sql = _STAMP_SQL[(model, field)] = f"SELECT {table_stamp_sql(model, field)}"
    with connection.cursor() as cursor:
        cursor.execute(sql)
        count, latest = cursor.fetchone()
    return (count, latest)


_STAMP_SQL: dict[tuple[type[models.Model], str], str] = {}


def _insert_unless_present_sql(obj: models.Model, unique: Sequence[str]) -> tuple[str, list[Any]]:
    meta = obj._meta
    quote = connection.ops.quote_name
    fields = [field for field in meta.concrete_fields if not isinstance(field, models.AutoField)]
    # As Django's own insert: pre_save fills auto_now(_add) and the like, then the database value.
    values = [field.get_db_prep_save(field.pre_save(obj, add=True), connection) for field in fields]
    conflict = ", ".join(quote(meta.get_field(name).column) for name in unique)
    sql = (
        f"INSERT INTO {quote(meta.db_table)} ({', '.join(quote(field.column) for field in fields)}) "  # noqa: S608
        f"VALUES ({', '.join(['%s'] * len(fields))}) ON CONFLICT ({conflict}) DO NOTHING "
        f"RETURNING {quote(meta.pk.column)}"
    )
    return sql, values


def _inserted(obj: models.Model, inserted: bool) -> bool:
    obj._state.adding, obj._state.db = not inserted, connection.alias if inserted else None
    return inserted


def insert_unless_present(obj: models.Model, *, unique: Sequence[str]) -> bool:
    """Insert ``obj`` unless a row with the same ``unique`` columns exists; True when this call wrote
    it. One ``INSERT … ON CONFLICT DO NOTHING RETURNING`` (PostgreSQL, SQLite 3.35+) rather than an
    insert and a read back. ``obj``'s primary key must be set (a client-side default)."""
    sql, values = _insert_unless_present_sql(obj, unique)
    with connection.cursor() as cursor:  # only quoted model names are interpolated
        cursor.execute(sql, values)
        return _inserted(obj, cursor.fetchone() is not None)


def insert_unless_present_and_select(
    obj: models.Model, *, unique: Sequence[str], select: str, params: Sequence[Any] = ()
) -> tuple[bool, list[tuple]]:
    """``insert_unless_present(obj)`` and the rows of the query ``select`` (with ``params``; its first
    column never NULL), in one round trip on PostgreSQL: the insert as a data-modifying ``WITH``, the query
    beside it. Elsewhere the two statements one after the other; so the query should not read the row being
    inserted (PostgreSQL's query does not see it, the second statement elsewhere does)."""
    if connection.vendor != "postgresql":
        inserted = insert_unless_present(obj, unique=unique)
        with connection.cursor() as cursor:
            cursor.execute(select, list(params))
            return inserted, list(cursor.fetchall())
    sql, values = _insert_unless_present_sql(obj, unique)
    # One row at least: whether the row went in, then each row of the query (NULLs when it has none).
    combined = (
        f"WITH inserted AS ({sql}) "  # noqa: S608 (the two statements are built from quoted names only)
        f"SELECT (SELECT COUNT(*) FROM inserted), selected.* FROM (SELECT 1) AS one "
        f"LEFT JOIN ({select}) AS selected ON TRUE"
    )
    with connection.cursor() as cursor:
        cursor.execute(combined, [*values, *params])
        rows = cursor.fetchall()
    inserted = _inserted(obj, rows[0][0] == 1)
    selected = [row[1:] for row in rows if row[1] is not None]
    return inserted, selected


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


_CONSTRUCTION: dict[type[models.Model], tuple[list[tuple[str, Any]], dict[str, models.Field]]] = {}


def new_instance(model: type[ModelT], **values: Any) -> ModelT:
    """``model(**values)`` for a new, unsaved row, in a fraction of its time: for the hot paths that build
    many rows (events, snapshots, deliveries), where ``Model.__init__``'s keyword handling is most of the
    cost of a row. ``values`` names concrete fields (a foreign key by its name, with the related object, or
    by its ``attname``); the others get their defaults, as ``__init__`` gives them. A model with
    ``pre_init``/``post_init`` receivers is built by ``__init__`` itself."""
    plan = _CONSTRUCTION.get(model)
    if plan is None:
        fields = model._meta.concrete_fields
        defaults = [(field.attname, field._get_default) for field in fields]
        relations = {field.name: field for field in fields if field.is_relation}
        plan = _CONSTRUCTION[model] = (defaults, relations)
    if signals.pre_init.has_listeners(model) or signals.post_init.has_listeners(model):
        return model(**values)
    defaults, relations = plan
    obj = model.__new__(model)
    obj._state = ModelState()
    attributes = obj.__dict__
    for name, value in values.items():
        field = relations.get(name)
        if field is not None:  # the related object: its key, and the object in the relation's cache
            attributes[field.attname] = None if value is None else getattr(value, field.target_field.attname)
            field.set_cached_value(obj, value)
        else:
            attributes[name] = value
    for attname, default in defaults:
        if attname not in attributes:
            attributes[attname] = default()
    if len(attributes) != len(defaults) + 1:  # + _state: a name that is no concrete field
        unknown = sorted(set(attributes) - {attname for attname, _ in defaults} - {"_state"})
        raise TypeError(f"{model.__name__} has no field {', '.join(unknown)}.")
    return obj


#: Django's own field classes (never a subclass, which may convert: an encrypted field) whose database
#: value is the Python value itself when it is already of this type.
_PLAIN = {
    **dict.fromkeys(
        (models.CharField, models.TextField, models.EmailField, models.SlugField, models.URLField), str
    ),
    **dict.fromkeys(
        (
            models.IntegerField,
            models.BigIntegerField,
            models.SmallIntegerField,
            models.PositiveIntegerField,
            models.PositiveBigIntegerField,
            models.PositiveSmallIntegerField,
            models.AutoField,
            models.BigAutoField,
        ),
        int,
    ),
    models.FloatField: float,
    models.BooleanField: bool,
}


def _plain_type(field: models.Field) -> type | None:
    """The type whose values go to the database as they are for this field; None: always
    ``get_db_prep_save``. A foreign key's is its target's; a date-time's is ``datetime`` (aware, checked per
    value); a JSON field's is ``_JSON`` (its value is wrapped without the rest of ``get_db_prep_save``)."""
    if type(field) is models.ForeignKey:
        return _plain_type(field.target_field)
    if type(field) is models.DateTimeField:
        return datetime
    if type(field) is models.JSONField:
        return _JSON
    return _PLAIN.get(type(field))


class _JSON:
    """The plain type of a JSON field's values (see ``_plain_type``)."""


_JSON_VALUES = (dict, list, str, int, float, bool)


def _stamps(field: models.Field) -> bool:
    """Whether the field's ``pre_save`` does more than read the attribute (``auto_now``, a file's upload)."""
    declared = type(field).pre_save
    if declared is models.Field.pre_save:
        return False
    if declared in (models.DateField.pre_save, models.DateTimeField.pre_save):
        return field.auto_now or field.auto_now_add
    return True


def _column_plan(fields: Sequence[models.Field]) -> list[tuple[models.Field, str, type | None, bool]]:
    return [(field, field.attname, _plain_type(field), _stamps(field)) for field in fields]


def _copy_rows(
    cursor, table: str, fields: Sequence[models.Field], objects: Sequence[Any], *, adding: bool
) -> None:
    """Stream ``fields`` of ``objects`` into ``table`` (a quoted name) with ``COPY … FROM STDIN``; with
    ``adding``, each field's ``pre_save`` runs first (``auto_now_add``), as for an INSERT."""
    connection_ = cursor.db
    columns = ", ".join(connection_.ops.quote_name(field.column) for field in fields)
    row_of = _RowValues(connection_, fields, adding=adding)
    # Only quoted model names are interpolated; the rows are data, never SQL.
    with cursor.cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
        write = copy.write_row
        for obj in objects:
            write(row_of(obj))


#: what ``json.dumps`` would not encode either goes to it (and it says why): date-times and dataclasses
_ORJSON_OPTIONS = orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS


def json_text(value: Any) -> str:
    """The JSON text of a list or dict, as ``json.dumps(value)`` would give it to PostgreSQL, about ten times
    faster (orjson: a breakdown of six measures 1.2 µs against 11.6): ``[]`` and ``{}`` cost nothing, and
    whatever orjson refuses (a key that is not a string, an integer beyond 64 bits, a date-time) goes to
    ``json.dumps``. The text differs only in spacing and in non-ASCII characters sent as UTF-8 rather than
    escaped, which a ``jsonb`` column stores the same."""
    if type(value) in (list, dict):
        if not value:
            return "[]" if type(value) is list else "{}"
        try:
            return orjson.dumps(value, option=_ORJSON_OPTIONS).decode()
        except TypeError:
            pass
    return json.dumps(value)


#: row type signatures remembered per column plan as needing no conversion (see ``_RowValues``)
_SIGNATURES_KEPT = 256


class _RowValues:
    """The database values of a model's rows, for a COPY or a multi-row INSERT: what ``get_db_prep_save``
    gives for each column (after ``pre_save`` when ``adding``), taking a value as it is where it would return
    it unchanged (most columns: None, a string for a text column, a choice included, an int or float of its
    own type, an aware date-time) and a JSON document as its text (``json.dumps``, as the database adapter
    would send it; PostgreSQL reads it as the column's type). The attributes are read in one call, and the
    check of the plain columns is made once per combination of value types (a batch has a handful), not once
    per value."""

    def __init__(self, connection_, fields: Sequence[models.Field], *, adding: bool) -> None:
        self.connection = connection_
        plan = _column_plan(fields)
        attnames = [attname for _, attname, _, _ in plan]
        read = operator.attrgetter(*attnames)
        self.read = read if len(attnames) > 1 else (lambda obj: (read(obj),))
        self.stamped = [
            (index, field) for index, (field, _, _, stamps) in enumerate(plan) if adding and stamps
        ]
        self.converted = [(index, field) for index, (field, _, plain, _) in enumerate(plan) if plain is None]
        self.documents = [(index, field) for index, (field, _, plain, _) in enumerate(plan) if plain is _JSON]
        self.moments = [
            (index, field) for index, (field, _, plain, _) in enumerate(plan) if plain is datetime
        ]
        self.plain = [
            (index, field, plain)
            for index, (field, _, plain, _) in enumerate(plan)
            if plain is not None and plain is not _JSON and plain is not datetime
        ]
        self.signatures: set[tuple[type, ...]] = set()

    def __call__(self, obj: Any) -> list[Any]:
        row = list(self.read(obj))
        connection_ = self.connection
        for index, field in self.stamped:
            row[index] = field.pre_save(obj, True)
        for index, field in self.converted:
            row[index] = field.get_db_prep_save(row[index], connection_)
        signature = tuple(map(type, row))
        if signature not in self.signatures:
            kept = True
            for index, field, plain in self.plain:
                value = row[index]
                if not (value is None or type(value) is plain or (plain is str and isinstance(value, str))):
                    row[index] = field.get_db_prep_save(value, connection_)
                    kept = False
            if kept and len(self.signatures) < _SIGNATURES_KEPT:
                self.signatures.add(signature)
        for index, field in self.moments:
            value = row[index]
            if value is not None and (not isinstance(value, datetime) or value.tzinfo is None):
                row[index] = field.get_db_prep_save(value, connection_)
        for index, field in self.documents:
            value = row[index]
            if value is None:
                continue
            if isinstance(value, _JSON_VALUES):
                row[index] = (
                    json_text(value)
                    if field.encoder is None
                    else connection_.ops.adapt_json_value(value, field.encoder)
                )
            else:
                row[index] = field.get_db_prep_save(value, connection_)
        return row


#: from this many rows the bulk writes below stream them with COPY; fewer go in one statement, which costs
#: fewer round trips (a request's one event or one snapshot stays one ``INSERT … RETURNING``)
COPY_MIN_ROWS = 100


def bulk_insert(
    model: type[ModelT], objects: Sequence[ModelT], *, ignore_conflicts: bool = False
) -> list[ModelT]:
    """``bulk_create`` for new rows, without Django's query compiler on PostgreSQL. From COPY_MIN_ROWS
    rows, one ``COPY … FROM STDIN``: the rows stream in psycopg's compiled format, where ``bulk_create``
    has psycopg quote one array per column in Python (most of a 1000-row insert's time). Fewer rows (a
    request's event, its deliveries, its snapshot) go in one multi-row ``INSERT … VALUES`` built here
    (``RETURNING`` the keys the database draws), a fraction of ``bulk_create``'s time to build it. An
    auto-increment key missing from a row of a COPY is drawn from its sequence first, so every row has
    its key after. With ``ignore_conflicts``, a row that would break a unique constraint is left out
    (``ON CONFLICT DO NOTHING``) and never COPYed. No signals, as with ``bulk_create``."""
    if not objects:
        return []
    if connection.vendor != "postgresql":
        return model._default_manager.bulk_create(objects, batch_size=500, ignore_conflicts=ignore_conflicts)
    real = connections[connection.alias]  # the connection itself, not the per-attribute proxy
    meta = model._meta
    quote = real.ops.quote_name
    pk = meta.pk
    table = quote(meta.db_table)
    # Errors surface as Django's (an IntegrityError on a duplicate key), as from any other query.
    with real.wrap_database_errors, real.cursor() as cursor:
        missing = [obj for obj in objects if getattr(obj, pk.attname) is None]
        use_copy = len(objects) >= COPY_MIN_ROWS and not ignore_conflicts
        # One INSERT of rows that all lack their key returns the keys it drew; otherwise they are drawn
        # from the key's sequence first (a COPY returns nothing, a skipped conflict returns no row).
        returning = (
            pk if missing and len(missing) == len(objects) and not use_copy and not ignore_conflicts else None
        )
        if missing and returning is None:
            cursor.execute(
                "SELECT nextval(pg_get_serial_sequence(%s, %s)) FROM generate_series(1, %s)",
                [quote(meta.db_table), pk.column, len(missing)],
            )
            for obj, (value,) in zip(missing, cursor.fetchall(), strict=True):
                setattr(obj, pk.attname, value)
        if use_copy:
            _copy_rows(cursor, table, meta.concrete_fields, objects, adding=True)
        else:
            fields = [field for field in meta.concrete_fields if not (returning is not None and field is pk)]
            _insert_rows(
                cursor, table, fields, objects, returning=returning, ignore_conflicts=ignore_conflicts
            )
    for obj in objects:
        obj._state.adding, obj._state.db = False, real.alias
    return list(objects)


def _insert_rows(
    cursor,
    table: str,
    fields: Sequence[models.Field],
    objects: Sequence[Any],
    *,
    returning: models.Field | None,
    ignore_conflicts: bool,
) -> None:
    """``INSERT INTO table (fields) VALUES (…), (…)`` with every value a parameter, in batches under
    PostgreSQL's limit of parameters; ``returning`` (the auto key) is set on each object from the
    ``RETURNING`` rows, which come back in the order of ``VALUES`` as Django's own bulk insert assumes."""
    connection_ = cursor.db
    quote = connection_.ops.quote_name
    row_of = _RowValues(connection_, fields, adding=True)
    columns = ", ".join(quote(field.column) for field in fields)
    row_sql = f"({', '.join(['%s'] * len(fields))})"
    tail = (" ON CONFLICT DO NOTHING" if ignore_conflicts else "") + (
        f" RETURNING {quote(returning.column)}" if returning is not None else ""
    )
    size = max(1, 60_000 // max(1, len(fields)))
    for start in range(0, len(objects), size):
        batch = objects[start : start + size]
        params = [value for obj in batch for value in row_of(obj)]
        # Only quoted model names and placeholders are interpolated; every value is a parameter.
        sql = f"INSERT INTO {table} ({columns}) VALUES {', '.join([row_sql] * len(batch))}{tail}"  # noqa: S608
        cursor.execute(sql, params)
        if returning is not None:
            for obj, (value,) in zip(batch, cursor.fetchall(), strict=True):
                setattr(obj, returning.attname, value)


def update_rows(
    model: type[models.Model],
    *,
    where: dict[str, Sequence[Any]],
    values: dict[str, Any],
    increments: dict[str, int] | None = None,
) -> int:
    """``model.objects.filter(**{f"{name}__in": allowed for where}).update(**values, counter=F(counter) +
    step)`` as one statement built without Django's compiler: on PostgreSQL each list of ``where`` (by
    field name, ``pk`` for the key) is a single array parameter (``= ANY(%s)``), where the ORM quotes one
    placeholder per item. Returns the rows updated. For hot paths (a webhook worker claims and records
    deliveries with several of these per task); a ``where`` list that is empty updates nothing."""
    increments = increments or {}
    if not where or any(len(allowed) == 0 for allowed in where.values()):
        return 0
    if connection.vendor != "postgresql":
        filters = {f"{name}__in": list(allowed) for name, allowed in where.items()}
        changes = {**values, **{name: models.F(name) + step for name, step in increments.items()}}
        return model._default_manager.filter(**filters).update(**changes)
    meta = model._meta
    quote = connection.ops.quote_name
    real = connections[connection.alias]
    assignments, params = [], []
    for name, value in values.items():
        field = meta.get_field(name)
        assignments.append(f"{quote(field.column)} = %s")
        params.append(field.get_db_prep_save(value, real))
    for name, step in increments.items():
        column = quote(meta.get_field(name).column)
        assignments.append(f"{column} = {column} + %s")
        params.append(step)
    conditions = []
    for name, allowed in where.items():
        field = meta.pk if name == "pk" else meta.get_field(name)
        conditions.append(f"{quote(field.column)} = ANY(%s)")
        params.append([field.get_db_prep_value(value, real) for value in allowed])
    # Only quoted model names and placeholders are interpolated; every value is a parameter.
    sql = f"UPDATE {quote(meta.db_table)} SET {', '.join(assignments)} WHERE {' AND '.join(conditions)}"  # noqa: S608
    with real.wrap_database_errors, real.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.rowcount


def bulk_update_values(
    model: type[models.Model], objects: Sequence[models.Model], fields: Sequence[str], batch_size: int = 1000
) -> None:
    """``bulk_update`` for many rows, by primary key. On PostgreSQL, from COPY_MIN_ROWS rows, the
    rows are copied into a temporary table (``COPY``, as ``bulk_insert``) and applied with one
    ``UPDATE … FROM`` it; fewer go in one ``UPDATE … FROM (VALUES …)`` per batch. Both cost a fraction
    of the ``CASE WHEN`` statement Django builds (and of its time to build it)."""
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
    assignments = ", ".join(f"{quote(column.column)} = v.{quote(column.column)}" for column in columns)
    names = ", ".join(quote(column.column) for column in [pk, *columns])
    key = quote(pk.column)
    real = connections[connection.alias]
    if len(objects) >= COPY_MIN_ROWS:
        staging = quote(f"staged_{meta.db_table}")
        # Only quoted model names are interpolated; the rows are data, never SQL.
        with transaction.atomic(using=real.alias), real.wrap_database_errors, real.cursor() as cursor:
            cursor.execute(
                f"CREATE TEMPORARY TABLE {staging} ON COMMIT DROP AS "  # noqa: S608 (quoted names only)
                f"SELECT {names} FROM {table} WITH NO DATA"
            )
            _copy_rows(cursor, staging, [pk, *columns], objects, adding=False)
            cursor.execute(
                f"UPDATE {table} SET {assignments} FROM {staging} AS v "  # noqa: S608 (quoted names only)
                f"WHERE {table}.{key} = v.{key}"
            )
            cursor.execute(f"DROP TABLE {staging}")
        return
    casts = ", ".join(f"CAST(%s AS {column.db_type(connection)})" for column in [pk, *columns])
    with real.cursor() as cursor:
        for start in range(0, len(objects), batch_size):
            batch = objects[start : start + batch_size]
            params = [
                column.get_db_prep_save(getattr(obj, column.attname), real)
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
