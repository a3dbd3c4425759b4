"""Hot statements whose SQL the ORM builds once per database connection.

Building a statement costs Django more CPU than running it: a lead read with its site and partner (125
columns) took 0.75 ms to build against 0.15 ms to run, a step's claim (an UPDATE with a CASE) 0.6 ms in
all against 0.12 ms built once. A statement that every lead sends, always of the same shape with only
some values (its keys) changing, is built once per connection (per process and thread, as Django's
connections are) and then sent with the real values in the keys' places. A read's rows still become
model instances through Django's own iterator, so select_related, annotations and deferred fields behave
as in the queryset it was built from; an INSERT's values are prepared as Model.save() prepares them.

A key is an int, a str or an aware datetime that reaches the SQL as a query parameter: of an exact or
range lookup (`pk=`, `created_at__gte=`), or a column's new value in an UPDATE. Each statement is built
twice, with two sets of stand-ins for its keys, and building fails loudly unless the two differ in the
keys' parameters alone.
"""

from __future__ import annotations

import itertools
from datetime import datetime, timezone
from typing import Any, Callable, Generic, Sequence, TypeVar

from django.db import DEFAULT_DB_ALIAS, IntegrityError, connections, models, transaction
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models.query import ModelIterable
from django.db.models.constants import OnConflict
from django.db.models.signals import post_save, pre_save
from django.db.models.sql import InsertQuery, UpdateQuery

M = TypeVar("M", bound=models.Model)
_serial = itertools.count()


def _stand_in(kind: type, n: int, round_: int) -> Any:
    """A value for the n-th key while a statement is built; each of the two builds has its own. An int
    stays within a small integer column's range, as Django drops a lookup that no value in range could
    match (`number__gt=` a huge number)."""
    if kind is int:
        return 30_001 + 1_000 * round_ + n
    if kind is str:
        return f"\x1fkey {n} {round_}\x1f"
    if kind is datetime:
        return datetime(1901 + round_, 1, 1, microsecond=n + 1, tzinfo=timezone.utc)
    raise TypeError(f"a key is an int, a str or a datetime, not {kind.__name__}")


class _Slots:
    """Where each key goes in a statement's parameters. The statement is built twice, with two sets of
    stand-ins: the SQL must come out the same (no key was written into it), and a key's places are
    those where the parameters differ by exactly its two stand-ins (so that a constant equal to one of
    them by chance is never taken for the key)."""

    def __init__(self, connection: BaseDatabaseWrapper, keys: dict[str, type],
                 builds: tuple[tuple[str, Sequence, dict[str, Any]], tuple[str, Sequence, dict[str, Any]]]) -> None:
        (sql, first, stand_ins), (other_sql, second, other_stand_ins) = builds
        self.connection, self.keys, self.template = connection, keys, tuple(first)
        if sql != other_sql or len(first) != len(second):
            raise ValueError("a key does not reach the SQL as a query parameter (it changed the SQL)")
        # (position, the parameter's type): an int may reach the driver as a subclass naming its SQL type
        # (psycopg's Int8 for a BigIntegerField's value), and is sent as that again.
        self.slots: dict[str, list[tuple[int, type]]] = {}
        for name, kind in keys.items():
            one, two = self._adapt(kind, stand_ins[name]), self._adapt(kind, other_stand_ins[name])
            self.slots[name] = [(i, type(a)) for i, (a, b) in enumerate(zip(first, second))
                                if self._same(a, one) and self._same(b, two)]
            if not self.slots[name]:
                raise ValueError(f"key {name!r} does not reach the SQL as a query parameter")
        taken = sorted(i for slots in self.slots.values() for i, _kind in slots)
        if [i for i, (a, b) in enumerate(zip(first, second)) if a != b] != taken:
            raise ValueError("a key reaches the SQL changed (not as the value given)")

    @staticmethod
    def _same(param: Any, stand_in: Any) -> bool:
        return isinstance(param, type(stand_in)) and not isinstance(param, bool) and param == stand_in

    def _adapt(self, kind: type, value: Any) -> Any:
        # What a DateTimeField lookup does to its value (SQLite stores text; PostgreSQL takes it as it is).
        return self.connection.ops.adapt_datetimefield_value(value) if kind is datetime else value

    def params(self, values: dict[str, Any]) -> tuple:
        if values.keys() != self.keys.keys():
            raise TypeError(f"expected the keys {sorted(self.keys)}, got {sorted(values)}")
        params = list(self.template)
        for name, value in values.items():
            if not isinstance(value, self.keys[name]):
                raise TypeError(f"key {name!r} must be {self.keys[name].__name__}")
            adapted = self._adapt(self.keys[name], value)
            for slot, kind in self.slots[name]:
                params[slot] = adapted if type(adapted) is kind else kind(adapted)
        return tuple(params)


class _Compiled:
    """Per connection, once per statement: its SQL and slots (and, for a read, the iterator's queryset)."""

    def __init__(self, keys: dict[str, type], using: str) -> None:
        self.keys, self.using = keys, using
        # A number of its own, not id(): a statement made after another was dropped must not find its SQL.
        self.attribute = f"_leadcaller_compiled_{next(_serial)}"

    def _built(self, build: Callable[[dict[str, Any]], tuple[str, Sequence, Any]]) -> tuple[str, _Slots, Any]:
        """`build(stand_ins)` gives (sql, params, what the statement keeps of the first build)."""
        # Kept on Django's connection object, which is the thread's own: nothing built is shared by threads.
        connection = connections[self.using]
        built = connection.__dict__.get(self.attribute)
        if built is None:
            made = []
            for round_ in (0, 1):
                stand_ins = {name: _stand_in(kind, n, round_) for n, (name, kind) in enumerate(self.keys.items())}
                made.append((*build(stand_ins), stand_ins))
            (sql, params, kept, stand_ins), (other_sql, other_params, _kept, other_stand_ins) = made
            slots = _Slots(connection, self.keys, ((sql, params, stand_ins), (other_sql, other_params, other_stand_ins)))
            built = connection.__dict__[self.attribute] = (sql, slots, kept)
        return built


class _Read:
    """The first build's queryset, whose compiler (filled in by building the SQL) Django's iterator reads."""

    def __init__(self, queryset: models.QuerySet, using: str) -> None:
        self.compiler = compiler = queryset.query.get_compiler(using=using)
        self.sql, self.params = compiler.as_sql()
        compiler.as_sql = lambda *args, **kwargs: (self.sql, self.params)
        # The columns' converters depend on the columns alone: worked out once (the iterator asks each time).
        converters = compiler.get_converters([column[0] for column in compiler.select[:compiler.col_count]])
        compiler.get_converters = lambda expressions: converters
        queryset.query.get_compiler = lambda *args, **kwargs: self.compiler
        self.queryset = queryset

    def rows(self, params: tuple) -> list:
        self.params = params
        return list(ModelIterable(self.queryset))


class CompiledRead(_Compiled, Generic[M]):
    """A read of one model: `build(**keys)` returns its queryset, whose shape (filters, select_related,
    locks, only, annotations) must not depend on the keys' values. `keys` names each key's type."""

    def __init__(self, build: Callable[..., models.QuerySet], *, using: str = DEFAULT_DB_ALIAS, **keys: type) -> None:
        super().__init__(keys, using)
        self._build = build

    def rows(self, **values: Any) -> list[M]:
        def build(stand_ins: dict[str, Any]) -> tuple[str, Sequence, _Read]:
            read = _Read(self._build(**stand_ins), self.using)
            return read.sql, read.params, read

        _sql, slots, read = self._built(build)
        return read.rows(slots.params(values))

    def first(self, **values: Any) -> M | None:
        found = self.rows(**values)
        return found[0] if found else None


class CompiledSQL(_Compiled):
    """SQL composed from querysets: `build(**keys)` returns (sql, params), of a shape that must not depend
    on the keys' values. `sql_params(**values)` gives it with the values in their places."""

    def __init__(self, build: Callable[..., tuple[str, Sequence]], *, using: str = DEFAULT_DB_ALIAS,
                 **keys: type) -> None:
        super().__init__(keys, using)
        self._build = build

    def sql_params(self, **values: Any) -> tuple[str, tuple]:
        sql, slots, _kept = self._built(lambda stand_ins: (*self._build(**stand_ins), None))
        return sql, slots.params(values)


class CompiledUpdate(_Compiled):
    """An UPDATE of one table: `build(**keys)` returns (queryset, changes) as for `queryset.update(**changes)`,
    of a shape that must not depend on the keys' values. `run(**values)` returns the rows updated."""

    def __init__(self, build: Callable[..., tuple[models.QuerySet, dict[str, Any]]], *,
                 using: str = DEFAULT_DB_ALIAS, **keys: type) -> None:
        super().__init__(keys, using)
        self._build = build

    def run(self, **values: Any) -> int:
        def build(stand_ins: dict[str, Any]) -> tuple[str, Sequence, None]:
            queryset, changes = self._build(**stand_ins)
            query = queryset.query.chain(UpdateQuery)  # as QuerySet.update() builds it
            query.add_update_values(changes)
            query.annotations = {}
            if query.related_updates or query.count_active_tables() > 1:
                raise ValueError("an UPDATE of one table, filtered on its own columns")
            return (*query.get_compiler(using=self.using).as_sql(), None)

        sql, slots, _kept = self._built(build)
        params = slots.params(values)
        with transaction.mark_for_rollback_on_error(using=self.using), connections[self.using].cursor() as cursor:
            cursor.execute(sql, params)
            return cursor.rowcount


def _is_key(value: Any) -> bool:
    return isinstance(value, (int, str, datetime)) and not isinstance(value, bool)


def _kind(value: Any) -> type:
    return next(kind for kind in (datetime, str, int) if isinstance(value, kind))


class CompiledUpdates:
    """UPDATEs of one model given as `run(shape, where, changes)`, i.e. `filter(**where).update(**changes)`:
    their int, str and datetime values are keys; the rest (None, booleans, expressions) and the names
    make the statement's shape, which the caller names with `shape` (a few per call site). A call whose
    shape differs from the one its name was built with is refused."""

    def __init__(self, model: type[models.Model], *, using: str = DEFAULT_DB_ALIAS) -> None:
        self._model, self._using = model, using
        self._statements: dict[object, tuple[CompiledUpdate, dict, dict]] = {}

    def run(self, shape: object, where: dict[str, Any], changes: dict[str, Any]) -> int:
        fixed_where = {name: value for name, value in where.items() if not _is_key(value)}
        fixed_changes = {name: value for name, value in changes.items() if not _is_key(value)}
        values = {**{f"w_{name}": value for name, value in where.items() if _is_key(value)},
                  **{f"c_{name}": value for name, value in changes.items() if _is_key(value)}}
        known = self._statements.get(shape)
        if known is None:
            known = self._statements[shape] = (CompiledUpdate(
                lambda **keys: (self._model._default_manager.filter(**fixed_where, **{
                    name: keys[f"w_{name}"] for name in where if f"w_{name}" in keys}),
                    {**fixed_changes, **{name: keys[f"c_{name}"] for name in changes if f"c_{name}" in keys}}),
                using=self._using, **{key: _kind(value) for key, value in values.items()}), fixed_where, fixed_changes)
        statement, built_where, built_changes = known
        if (fixed_where, fixed_changes) != (built_where, built_changes) or values.keys() != statement.keys.keys():
            raise ValueError(f"UPDATE {shape!r} was built for another shape")
        return statement.run(**values)


def _unique_violation(exc: IntegrityError) -> bool:
    """PostgreSQL's unique_violation (SQLSTATE 23505), or SQLite's "UNIQUE constraint failed"."""
    return getattr(exc.__cause__, "sqlstate", None) == "23505" or "UNIQUE constraint failed" in str(exc)


class CompiledInsert(_Compiled):
    """INSERTs of new rows of one model: every concrete column but the automatic primary key, the SQL
    built once per connection (and number of rows), each row's values prepared as Model.save() prepares
    them (defaults, auto_now_add, the fields' conversions). A row that needs more than that (a primary key
    of its own, a value that is an SQL expression, a model with save signals or a save() of its own) is
    saved by its save().

    `left_null` names nullable columns that the rows are written without (they are NULL): an insert
    whose rows never set them passes fewer parameters. A row with a value in one is saved by its save().

    `ignore_conflicts`: `insert_new()` writes a row unless a unique constraint holds one like it already:
    on PostgreSQL in one statement (ON CONFLICT DO NOTHING), without an error in the database's log.
    """

    # Rows in one statement at most (more go in several): one statement per number of rows is built. A few
    # rows of plain values cost psycopg less than the arrays of Django's bulk_create on PostgreSQL (a call
    # result's three timeline entries, in a transaction of their own: 0.60 ms of client CPU as arrays,
    # 0.33-0.38 ms as rows).
    MAX_ROWS = 10

    def __init__(self, model: type[M], *, using: str = DEFAULT_DB_ALIAS, left_null: Sequence[str] = (),
                 ignore_conflicts: bool = False) -> None:
        super().__init__({}, using)
        self.model = model
        self.on_conflict = OnConflict.IGNORE if ignore_conflicts else None
        meta = model._meta
        self.left_null = [meta.get_field(name) for name in left_null]
        for field in self.left_null:
            automatic = getattr(field, "auto_now", False) or getattr(field, "auto_now_add", False)
            if not field.null or field.has_default() or field.has_db_default() or automatic:
                raise ValueError(f"{model.__name__}.{field.name} is not NULL when left out of an INSERT")
        self.fields = [field for field in meta.local_concrete_fields
                       if field is not meta.auto_field and not field.generated and field not in self.left_null]
        self.returning = meta.db_returning_fields
        self.own_save = model.save is not models.Model.save

    def insert(self, obj: M) -> M:
        self.insert_many([obj])
        return obj

    def insert_new(self, obj: M) -> bool:
        """Write the row; False (and nothing written) when a unique constraint holds a row like it."""
        if self.on_conflict is None:
            raise TypeError("insert_new() needs ignore_conflicts=True")
        by_statement = not self._needs_save([obj])
        if by_statement and self._conflicts_skipped():
            written = self._written([obj])
            if written is not None:
                return bool(written)
            by_statement = False
        try:
            with transaction.atomic(using=self.using):
                if not by_statement or self._written([obj]) is None:
                    obj.save(force_insert=True, using=self.using)
        except IntegrityError as exc:
            if not _unique_violation(exc):  # a NULL where none may be, say: not a row like it
                raise
            return False
        return True

    def _conflicts_skipped(self) -> bool:
        """PostgreSQL's ON CONFLICT DO NOTHING skips only a row that a unique constraint holds. SQLite's
        INSERT OR IGNORE would skip a NULL in a NOT NULL column as well: there a savepoint catches the
        unique violation instead."""
        return connections[self.using].vendor == "postgresql"

    def insert_many(self, objs: list[M]) -> list[M]:
        """Insert the rows in one statement (as `insert` would one by one); their ids are set on them."""
        if self.on_conflict is not None:
            raise TypeError("an insert that ignores conflicts may write nothing: use insert_new()")
        if len(objs) > self.MAX_ROWS:
            for start in range(0, len(objs), self.MAX_ROWS):
                self.insert_many(objs[start:start + self.MAX_ROWS])
            return objs
        if not objs:
            return objs
        if self._needs_save(objs) or self._written(objs) is None:
            return self._saved(objs)
        return objs

    def _needs_save(self, objs: list[M]) -> bool:
        connection = connections[self.using]
        return bool(self.own_save or pre_save.has_listeners(self.model)
                    or post_save.has_listeners(self.model) or not connection.features.can_return_columns_from_insert
                    or (len(objs) > 1 and not connection.features.can_return_rows_from_bulk_insert)
                    or any(obj.pk is not None for obj in objs)
                    or any(getattr(obj, field.attname) is not None for obj in objs for field in self.left_null))

    def _written(self, objs: list[M]) -> list[M] | None:
        """One statement for the rows; returns those written (all, unless conflicts are ignored), or None
        when a value is an SQL expression (the rows are for save())."""
        connection = connections[self.using]
        for obj in objs:
            obj._prepare_related_fields_for_save(operation_name="save")
        sql, compiler = self._one_row(connection, objs[0])
        values = [compiler.prepare_value(field, field.pre_save(obj, add=True)) for obj in objs for field in self.fields]
        if any(hasattr(value, "as_sql") for value in values):
            return None
        if len(objs) > 1:
            sql = self._rows_sql(connection, sql, len(objs))
        with transaction.mark_for_rollback_on_error(using=self.using), connection.cursor() as cursor:
            cursor.execute(sql, values)
            rows = (connection.ops.fetch_returned_insert_rows(cursor) if len(objs) > 1
                    else [row for row in [cursor.fetchone()] if row is not None])
        for obj, row in zip(objs, rows):
            for field, value in zip(self.returning, row):
                setattr(obj, field.attname, value)
            obj._state.adding, obj._state.db = False, self.using
        return objs[:len(rows)]

    def _saved(self, objs: list[M]) -> list[M]:
        for obj in objs:
            obj.save(force_insert=True, using=self.using)
        return objs

    def _one_row(self, connection: BaseDatabaseWrapper, obj: M) -> tuple[str, Any]:
        """The one-row statement and its compiler (which prepares the values), built once per connection."""
        built = connection.__dict__.get(self.attribute)
        if built is None:
            query = InsertQuery(self.model, on_conflict=self.on_conflict if self._conflicts_skipped() else None)
            query.insert_values(self.fields, [obj])
            compiler = query.get_compiler(using=self.using)
            compiler.returning_fields = self.returning
            [(sql, _params)] = compiler.as_sql()
            if any(getattr(field, "get_placeholder", None) for field in self.fields) or \
                    sql.count("%s") != len(self.fields) or sql.count(self._row()) != 1:
                raise ValueError(f"{self.model.__name__} rows need placeholders of their own")
            built = connection.__dict__[self.attribute] = (sql, compiler)
        return built

    def _rows_sql(self, connection: BaseDatabaseWrapper, sql: str, rows: int) -> str:
        """The statement for `rows` rows: the one-row statement's row of placeholders, repeated."""
        key = f"{self.attribute}_rows_{rows}"
        many = connection.__dict__.get(key)
        if many is None:
            many = connection.__dict__[key] = sql.replace(self._row(), ", ".join([self._row()] * rows))
        return many

    def _row(self) -> str:
        return "(" + ", ".join(["%s"] * len(self.fields)) + ")"
