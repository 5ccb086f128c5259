"""User-defined types: CREATE/ALTER/DROP TYPE, and the driver classes that carry UDT values.

A keyspace's types live in ``KeyspaceDef.types`` in creation order (a type may only use types created before
it). Each type is a driver ``UserType`` subclass of our own (never the driver's shared class cache, which the
client side of the same process uses); ALTER TYPE makes new classes and re-resolves every table and type that
uses the altered one, so stored values (plain tuples) stay valid: a value written before ``ALTER TYPE ADD``
is simply shorter and reads back with the new fields null.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any

from cassandra import cqltypes

from .._errors import InvalidRequest
from .._results import SchemaChange, Void
from ..values._types import ColumnType, resolve
from ._catalog import KeyspaceDef, TableDef, UserTypeDef

if TYPE_CHECKING:
    from .._ast import AlterType, CreateType, DropType, TypeSpec
    from .._context import State


class _UserType(cqltypes.UserType):  # type: ignore[misc]
    """Serializes a tuple shorter than the fields (written before ALTER TYPE ADD) with the rest null."""

    fieldnames: tuple[str, ...] = ()

    @classmethod
    def serialize_safe(cls, val: Any, protocol_version: int) -> bytes:
        if isinstance(val, tuple) and not hasattr(val, "_fields") and len(val) < len(cls.fieldnames):
            val = tuple(val) + (None,) * (len(cls.fieldnames) - len(val))
        return super().serialize_safe(val, protocol_version)  # type: ignore[no-any-return]


def udt_class(keyspace: str, name: str, fields: tuple[tuple[str, ColumnType], ...]) -> Any:
    names = tuple(f for f, _ in fields)
    attrs = {
        "subtypes": tuple(c.cqltype for _, c in fields),
        "cassname": cqltypes.UserType.cassname,
        "typename": name,
        "fieldnames": names,
        "keyspace": keyspace,
        "mapped_class": None,
        "tuple_type": None,
    }
    return type(name, (_UserType,), attrs)


def user_types(ks: KeyspaceDef) -> dict[str, Any]:
    """Type name -> driver class, for ``types.resolve``."""
    return {name: udt_class(ks.name, name, t.fields) for name, t in ks.types.items()}


def resolve_in(ks: KeyspaceDef, spec: TypeSpec) -> ColumnType:
    """A type written in a statement on keyspace ``ks``: its user types are known by their names."""
    try:
        return resolve(spec, user_types(ks))
    except InvalidRequest as exc:
        unknown = exc.message.startswith("Unknown type ") and "." not in exc.message
        if unknown:  # Cassandra names the keyspace it looked in
            raise InvalidRequest(f"Unknown type {ks.name}.{exc.message[len('Unknown type ') :]}") from None
        raise


def uses(ctype: ColumnType, name: str) -> bool:
    def walk(spec: TypeSpec) -> bool:
        return spec.name == name or any(walk(p) for p in spec.params)

    return walk(ctype.spec)


def _keyspace(state: State, ref_ks: str | None, keyspace: str | None) -> KeyspaceDef:
    name = ref_ks or keyspace
    if name is None:
        raise InvalidRequest("No keyspace has been specified. USE a keyspace, or explicitly specify keyspace.tablename")
    ks = state.catalog.keyspaces.get(name)
    if ks is None:
        raise InvalidRequest(f"Keyspace '{name}' doesn't exist")
    return ks


def create_type(state: State, stmt: CreateType, keyspace: str | None) -> SchemaChange | Void:
    ks = _keyspace(state, stmt.ref.keyspace, keyspace)
    name = stmt.ref.name
    if name in ks.types:
        if stmt.if_not_exists:
            return Void()
        raise InvalidRequest(f"A user type with name '{name}' already exists")
    fields: list[tuple[str, ColumnType]] = []
    for field_name, spec in stmt.fields:
        if any(f == field_name for f, _ in fields):
            raise InvalidRequest(f"Duplicate field name {field_name} in type {name}")
        if spec.name == name:
            raise InvalidRequest(f"Cannot use user type {name} within itself")
        ctype = resolve_in(ks, spec)
        if ctype.is_counter:
            raise InvalidRequest("A user type cannot contain counters")
        fields.append((field_name, ctype))
    ks.types[name] = UserTypeDef(ks.name, name, tuple(fields))
    state.catalog.changed()
    return SchemaChange("CREATED", "TYPE", ks.name, name)


def alter_type(state: State, stmt: AlterType, keyspace: str | None) -> SchemaChange:
    ks = _keyspace(state, stmt.ref.keyspace, keyspace)
    name = stmt.ref.name
    udt = ks.types.get(name)
    if udt is None:
        raise InvalidRequest(f"No user type named '{name}' exists.")
    fields = list(udt.fields)
    if stmt.add is not None:
        field_name, spec = stmt.add
        if any(f == field_name for f, _ in fields):
            raise InvalidRequest(
                f"Cannot add new field {field_name} to type {ks.name}.{name}: a field with name "
                f"{field_name} already exists"
            )
        fields.append((field_name, resolve_in(ks, spec)))
    for old, new in stmt.renames:
        names = [f for f, _ in fields]
        if old not in names:
            raise InvalidRequest(f"Unkown field {old} in user type {ks.name}.{name}")
        if new in names:
            raise InvalidRequest(f"Duplicate field name {new} in type {ks.name}.{name}")
        i = names.index(old)
        fields[i] = (new, fields[i][1])
    ks.types[name] = UserTypeDef(ks.name, name, tuple(fields))
    refresh(ks)
    state.catalog.changed()
    return SchemaChange("UPDATED", "TYPE", ks.name, name)


def refresh(ks: KeyspaceDef) -> None:
    """Re-resolve every type and table column after a type changed (new classes, same stored data)."""
    for type_name, udt in list(ks.types.items()):
        fields = tuple((f, resolve_in(ks, c.spec)) for f, c in udt.fields)
        ks.types[type_name] = UserTypeDef(ks.name, type_name, fields)
    udts = user_types(ks)
    for table_name, table in list(ks.tables.items()):
        if not any(_mentions(c.ctype.spec, udts) for c in table.columns.values()):
            continue
        columns = {n: dataclasses.replace(c, ctype=resolve(c.ctype.spec, udts)) for n, c in table.columns.items()}
        ks.tables[table_name] = rebuilt(table, columns=columns)


def _mentions(spec: TypeSpec, udts: dict[str, Any]) -> bool:
    return spec.name in udts or any(_mentions(p, udts) for p in spec.params)


def rebuilt(table: TableDef, **changes: Any) -> TableDef:
    """A new definition of the same table (same id, so the same stored data)."""
    fields: dict[str, Any] = {
        "keyspace": table.keyspace,
        "name": table.name,
        "columns": table.columns,
        "options": table.options,
        "id": table.id,
        "virtual_rows": table.virtual_rows,
        "indexes": table.indexes,
        "dropped": table.dropped,
    }
    fields.update(changes)
    return TableDef(**fields)


def drop_type(state: State, stmt: DropType, keyspace: str | None) -> SchemaChange | Void:
    ks = _keyspace(state, stmt.ref.keyspace, keyspace)
    name = stmt.ref.name
    if name not in ks.types:
        if stmt.if_exists:
            return Void()
        raise InvalidRequest(f"Type '{ks.name}.{name}' doesn't exist")
    users = sorted(t.name for t in ks.tables.values() if any(uses(c.ctype, name) for c in t.columns.values()))
    if users:
        raise InvalidRequest(
            f"Cannot drop user type '{ks.name}.{name}' as it is still used by tables {', '.join(users)}"
        )
    others = sorted(t.name for t in ks.types.values() if t.name != name and any(uses(c, name) for _, c in t.fields))
    if others:
        raise InvalidRequest(
            f"Cannot drop user type '{ks.name}.{name}' as it is still used by user types {', '.join(others)}"
        )
    del ks.types[name]
    state.catalog.changed()
    return SchemaChange("DROPPED", "TYPE", ks.name, name)


def type_rows(keyspaces: list[KeyspaceDef]) -> list[dict[str, Any]]:
    """``system_schema.types`` rows."""
    return [
        {
            "keyspace_name": ks.name,
            "type_name": t.name,
            "field_names": [f for f, _ in t.fields],
            "field_types": [c.text for _, c in t.fields],
        }
        for ks in keyspaces
        for t in ks.types.values()
    ]
