"""``system_schema.*`` and ``system_virtual_schema.*``: the catalog as the driver's SchemaParserV3/V4 reads it.

Each table has exactly the columns the real release has (the parsers read ``kind``, ``position``,
``clustering_order``, ``type`` of columns, ``flags`` and the options of tables, ``replication`` of
keyspaces). ``flags = {'compound'}`` matters: without it the driver takes a table for COMPACT STORAGE.
"""

from __future__ import annotations

import datetime
from typing import TYPE_CHECKING, Any

from ..schema._indexes import index_rows
from ..schema._user_types import type_rows

if TYPE_CHECKING:
    from ..schema._catalog import KeyspaceDef, TableDef
    from ._tables import Spec, SystemContext

_MAP = "frozen<map<text, text>>"


def default_options(is_v4: bool) -> dict[str, Any]:
    """The table options a fresh table reports (Cassandra's defaults for the release)."""
    options: dict[str, Any] = {
        "bloom_filter_fp_chance": 0.01,
        "caching": {"keys": "ALL", "rows_per_partition": "NONE"},
        "cdc": False,
        "comment": "",
        "compaction": {
            "class": "org.apache.cassandra.db.compaction.SizeTieredCompactionStrategy",
            "max_threshold": "32",
            "min_threshold": "4",
        },
        "compression": {"chunk_length_in_kb": "16", "class": "org.apache.cassandra.io.compress.LZ4Compressor"},
        "crc_check_chance": 1.0,
        "default_time_to_live": 0,
        "extensions": {},
        "gc_grace_seconds": 864000,
        "max_index_interval": 2048,
        "memtable_flush_period_in_ms": 0,
        "min_index_interval": 128,
        "speculative_retry": "99p" if is_v4 else "99PERCENTILE",
    }
    if is_v4:
        options.update(additional_write_policy="99p", read_repair="BLOCKING")
    else:
        options.update(dclocal_read_repair_chance=0.1, read_repair_chance=0.0)
    return options


_OPTION_COLUMNS_COMMON = (
    f"bloom_filter_fp_chance double, caching {_MAP}, cdc boolean, comment text, compaction {_MAP}, "
    f"compression {_MAP}, crc_check_chance double, default_time_to_live int, "
    "extensions frozen<map<text, blob>>, gc_grace_seconds int, max_index_interval int, "
    "memtable_flush_period_in_ms int, min_index_interval int, speculative_retry text"
)
OPTION_COLUMNS_V4 = _OPTION_COLUMNS_COMMON + ", additional_write_policy text, read_repair text"
OPTION_COLUMNS_V3 = _OPTION_COLUMNS_COMMON + ", dclocal_read_repair_chance double, read_repair_chance double"


def _schema_keyspaces(ctx: SystemContext) -> list[KeyspaceDef]:
    return [ks for ks in ctx.catalog.keyspaces.values() if not ks.virtual]


def _virtual_keyspaces(ctx: SystemContext) -> list[KeyspaceDef]:
    return [ks for ks in ctx.catalog.keyspaces.values() if ks.virtual]


def _keyspaces(ctx: SystemContext) -> list[dict[str, Any]]:
    return [
        {"keyspace_name": ks.name, "durable_writes": ks.durable_writes, "replication": dict(ks.replication)}
        for ks in _schema_keyspaces(ctx)
    ]


def _table_row(table: TableDef, is_v4: bool) -> dict[str, Any]:
    row = {"keyspace_name": table.keyspace, "table_name": table.name, "flags": {"compound"}, "id": table.id}
    row.update(table.options)
    if is_v4 and not row.get("cdc"):
        row["cdc"] = None  # a 4.x node leaves cdc unset unless it was set; DESCRIBE still says false
    return row


def _tables(ctx: SystemContext) -> list[dict[str, Any]]:
    return [_table_row(t, ctx.is_v4) for ks in _schema_keyspaces(ctx) for t in ks.tables.values()]


def _types(ctx: SystemContext) -> list[dict[str, Any]]:
    return type_rows(_schema_keyspaces(ctx))


def _dropped_columns(ctx: SystemContext) -> list[dict[str, Any]]:
    return [
        {
            "keyspace_name": ks.name,
            "table_name": table.name,
            "column_name": name,
            "dropped_time": datetime.datetime.fromtimestamp(when, datetime.timezone.utc).replace(tzinfo=None),
            "kind": kind,
            "type": type_text,
        }
        for ks in _schema_keyspaces(ctx)
        for table in ks.tables.values()
        for name, (kind, type_text, when) in table.dropped.items()
    ]


def _indexes(ctx: SystemContext) -> list[dict[str, Any]]:
    return index_rows(_schema_keyspaces(ctx))


def _column_rows(keyspaces: list[KeyspaceDef]) -> list[dict[str, Any]]:
    return [
        {
            "keyspace_name": table.keyspace,
            "table_name": table.name,
            "column_name": col.name,
            "clustering_order": ("desc" if col.desc else "asc") if col.kind == "clustering" else "none",
            "column_name_bytes": col.name.encode("utf-8"),
            "kind": col.kind,
            "position": col.position,
            "type": col.ctype.text,
        }
        for ks in keyspaces
        for table in ks.tables.values()
        for col in table.columns.values()
    ]


def _columns(ctx: SystemContext) -> list[dict[str, Any]]:
    return _column_rows(_schema_keyspaces(ctx))


def _none(ctx: SystemContext) -> list[dict[str, Any]]:
    return []


def _virtual_keyspace_rows(ctx: SystemContext) -> list[dict[str, Any]]:
    return [{"keyspace_name": ks.name} for ks in _virtual_keyspaces(ctx)]


def _virtual_tables(ctx: SystemContext) -> list[dict[str, Any]]:
    return [
        {"keyspace_name": t.keyspace, "table_name": t.name, "comment": ""}
        for ks in _virtual_keyspaces(ctx)
        for t in ks.tables.values()
    ]


def _virtual_columns(ctx: SystemContext) -> list[dict[str, Any]]:
    return _column_rows(_virtual_keyspaces(ctx))


_COLUMNS = (
    "keyspace_name text, table_name text, column_name text, clustering_order text, column_name_bytes blob, "
    "kind text, position int, type text"
)
_KT = ("keyspace_name",)


def schema_specs(is_v4: bool) -> list[Spec]:
    options = OPTION_COLUMNS_V4 if is_v4 else OPTION_COLUMNS_V3
    return [
        ("keyspaces", f"keyspace_name text, durable_writes boolean, replication {_MAP}", _KT, (), _keyspaces),
        (
            "tables",
            f"keyspace_name text, table_name text, flags frozen<set<text>>, id uuid, {options}",
            _KT,
            ("table_name",),
            _tables,
        ),
        ("columns", _COLUMNS, _KT, ("table_name", "column_name"), _columns),
        (
            "types",
            "keyspace_name text, type_name text, field_names frozen<list<text>>, field_types frozen<list<text>>",
            _KT,
            ("type_name",),
            _types,
        ),
        (
            "functions",
            "keyspace_name text, function_name text, argument_types frozen<list<text>>, "
            "argument_names frozen<list<text>>, body text, called_on_null_input boolean, language text, "
            "return_type text",
            _KT,
            ("function_name", "argument_types"),
            _none,
        ),
        (
            "aggregates",
            "keyspace_name text, aggregate_name text, argument_types frozen<list<text>>, "
            "final_func text, initcond text, return_type text, state_func text, state_type text",
            _KT,
            ("aggregate_name", "argument_types"),
            _none,
        ),
        (
            "indexes",
            f"keyspace_name text, table_name text, index_name text, kind text, options {_MAP}",
            _KT,
            ("table_name", "index_name"),
            _indexes,
        ),
        (
            "triggers",
            f"keyspace_name text, table_name text, trigger_name text, options {_MAP}",
            _KT,
            ("table_name", "trigger_name"),
            _none,
        ),
        (
            "views",
            f"keyspace_name text, view_name text, base_table_id uuid, base_table_name text, id uuid, "
            f"include_all_columns boolean, where_clause text, {options}",
            _KT,
            ("view_name",),
            _none,
        ),
        (
            "dropped_columns",
            "keyspace_name text, table_name text, column_name text, dropped_time timestamp, kind text, type text",
            _KT,
            ("table_name", "column_name"),
            _dropped_columns,
        ),
    ]


def virtual_schema_specs() -> list[Spec]:
    return [
        ("keyspaces", "keyspace_name text", _KT, (), _virtual_keyspace_rows),
        ("tables", "keyspace_name text, table_name text, comment text", _KT, ("table_name",), _virtual_tables),
        ("columns", _COLUMNS, _KT, ("table_name", "column_name"), _virtual_columns),
    ]
