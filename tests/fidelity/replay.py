"""Replays the CQL fidelity corpus on the test server and compares each outcome with a real Cassandra 4.0 node's.

``corpus.cql`` holds cases of ordinary application CQL; ``recorded-cassandra-4.0.jsonl`` is what a genuine
Cassandra 4.0 node answered to each statement (through cassandra-driver, protocol v5, simple statements,
``fetch_size=100``). The replay test fails on any statement whose outcome differs: there is no list of
exemptions.

    python -m tests.fidelity.replay                  # replay, print every difference and the match count
    python -m tests.fidelity.replay --case udt       # only the differences of one case

Corpus format: a case starts with ``-- case: NAME``; a statement ends with ``;`` at the end of a line and may
carry flags in a trailing comment (``-- volatile``: compare names, types and row count; ``-- unordered``: rows
as a multiset; ``-- columns``: names and types only); ``-- schema KEYSPACE`` records the driver's
``export_as_string()`` of that keyspace. Every case runs in a fresh keyspace ``c_<case>`` (``ks`` in the text).
"""

from __future__ import annotations

import argparse
import datetime
import decimal
import ipaddress
import json
import re
import sys
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence

HERE = Path(__file__).resolve().parent
CORPUS = HERE / "corpus.cql"
RECORDING = HERE / "recorded-cassandra-4.0.jsonl"
RELEASE = "4.0.11"
SCHEMA = "@schema "

Record = dict[str, Any]


@dataclass(frozen=True)
class Statement:
    case: str
    i: int
    cql: str
    flags: frozenset[str]

    @property
    def key(self) -> str:
        return f"{self.case}:{self.i}"


_FLAGS = re.compile(r"\s*--\s*([a-z ]+)$")


def parse_corpus(text: str) -> list[Statement]:
    """The statements of a corpus, in order, numbered within their case."""
    statements: list[Statement] = []
    case = ""
    i = 0
    buf: list[str] = []
    for line in text.splitlines():
        if m := re.match(r"^-- case: (\S+)", line):
            case, i = m.group(1), 0
            continue
        if m := re.match(r"^-- schema (\S+)", line):
            statements.append(Statement(case, i, SCHEMA + m.group(1), frozenset()))
            i += 1
            continue
        if not line.strip() or (line.lstrip().startswith("--") and not buf):
            continue
        buf.append(line)
        if _FLAGS.sub("", line).rstrip().endswith(";"):
            fm = _FLAGS.search(line)
            flags = frozenset(fm.group(1).split()) if fm else frozenset()
            cql = _FLAGS.sub("", "\n".join(buf)).rstrip().rstrip(";")
            statements.append(Statement(case, i, cql, flags))
            i += 1
            buf = []
    return statements


def norm(v: Any) -> Any:
    """A driver value as JSON, the way the recording holds it."""
    if v is None or isinstance(v, (bool, int, str)):
        return v
    if isinstance(v, float):
        return repr(v)
    if isinstance(v, (bytes, bytearray)):
        return "0x" + bytes(v).hex()
    if isinstance(v, (uuid.UUID, decimal.Decimal, ipaddress.IPv4Address, ipaddress.IPv6Address)):
        return str(v)
    if isinstance(v, (datetime.datetime, datetime.date, datetime.time)):
        return v.isoformat()
    if type(v).__name__ in ("Date", "Time", "Duration"):
        return f"{type(v).__name__}({v})"
    if hasattr(v, "items"):
        return {"map": [[norm(k), norm(x)] for k, x in v.items()]}
    if isinstance(v, (set, frozenset)) or type(v).__name__ == "SortedSet":
        return {"set": [norm(x) for x in v]}
    if isinstance(v, tuple) and hasattr(v, "_fields"):
        return {"udt": {f: norm(getattr(v, f)) for f in v._fields}}
    if isinstance(v, (list, tuple)):
        return [norm(x) for x in v]
    if hasattr(v, "__dict__"):  # a UDT class instance
        return {"udt": {k: norm(x) for k, x in vars(v).items()}}
    return repr(v)


def _typename(t: Any) -> str:
    try:
        return str(t.cql_parameterized_type())
    except Exception:  # any driver type object: fall back to its text
        return str(t)


def keyspace_of(case: str) -> str:
    return "c_" + re.sub(r"\W", "_", case)


def replay(statements: Sequence[Statement], host: str, port: int) -> list[Record]:
    """Runs the statements through the real driver (protocol v5) and records each outcome."""
    from cassandra.cluster import Cluster
    from cassandra.query import SimpleStatement

    records: list[Record] = []
    cluster = Cluster([host], port=port, protocol_version=5, connect_timeout=10, control_connection_timeout=10)
    try:
        session = cluster.connect()
        session.default_timeout = 20
        current = ""
        for st in statements:
            ks = keyspace_of(st.case)
            if st.case != current:
                if current:
                    session.set_keyspace("system")
                    session.execute(f"DROP KEYSPACE IF EXISTS {keyspace_of(current)}")
                current = st.case
                session.execute(f"DROP KEYSPACE IF EXISTS {ks}")
                session.execute(
                    f"CREATE KEYSPACE {ks} WITH replication = {{'class': 'SimpleStrategy', 'replication_factor': 1}}"
                )
                session.set_keyspace(ks)
            rec: Record = {"case": st.case, "i": st.i, "cql": st.cql, "flags": sorted(st.flags)}
            if st.cql.startswith(SCHEMA):
                target = re.sub(r"\bks\b", ks, st.cql.split()[1])
                cluster.refresh_schema_metadata()
                km = cluster.metadata.keyspaces.get(target)
                rec["schema"] = km.export_as_string().replace(ks, "ks") if km else None
                records.append(rec)
                continue
            try:
                rs = session.execute(SimpleStatement(re.sub(r"\bks\b", ks, st.cql), fetch_size=100))
                if rs.column_names is None:
                    rec["result"] = "void"
                else:
                    rec["columns"] = list(rs.column_names)
                    rec["types"] = [_typename(t) for t in (rs.column_types or [])]
                    rows = [[norm(x) for x in row] for row in rs]
                    if "columns" in st.flags:
                        pass
                    elif "volatile" in st.flags:
                        rec["rowcount"] = len(rows)
                    else:
                        if "unordered" in st.flags:
                            rows = sorted(rows, key=json.dumps)
                        rec["rows"] = rows
            except Exception as exc:  # the outcome is the error's class
                rec["error"] = type(exc).__name__
                rec["message"] = str(exc)[:300].replace(ks, "ks")
            records.append(rec)
        if current:
            session.set_keyspace("system")
            session.execute(f"DROP KEYSPACE IF EXISTS {keyspace_of(current)}")
    finally:
        cluster.shutdown()
    return records


def outcome(rec: Record) -> tuple[Any, ...]:
    """What must be equal: the error class, void, the schema text, or names + types + rows."""
    if "schema" in rec:
        return ("schema", rec["schema"])
    if "error" in rec:
        return ("error", rec["error"])
    if rec.get("result") == "void":
        return ("void",)
    body = rec["rows"] if "rows" in rec else ("count", rec.get("rowcount"))
    return ("rows", tuple(rec["columns"]), tuple(rec["types"]), json.dumps(body))


def show(rec: Record | None, width: int = 400) -> str:
    if rec is None:
        return "missing"
    if "schema" in rec:
        return "schema:\n" + (rec["schema"] or "None")
    if "error" in rec:
        return f"{rec['error']}: {rec['message'][:width]}"
    if rec.get("result") == "void":
        return "void"
    body = json.dumps(rec.get("rows", rec.get("rowcount")))
    return f"{rec['columns']} {rec['types']} {body[:width]}"


def load_recording(path: Path = RECORDING) -> dict[str, Record]:
    with path.open(encoding="utf-8") as f:
        return {f"{r['case']}:{r['i']}": r for r in map(json.loads, f)}


@dataclass
class Comparison:
    total: int
    matching: list[str]
    differing: dict[str, tuple[Record, Record | None]]

    def line(self) -> str:
        return f"fidelity: {len(self.matching)} of {self.total} match"

    def explain(self, keys: Iterable[str]) -> str:
        parts = []
        for k in keys:
            real, ours = self.differing[k]
            parts.append(f"--- [{k}] {real['cql'][:200]}\n  real: {show(real)}\n  ours: {show(ours)}")
        return "\n".join(parts)


def compare(real: dict[str, Record], ours: Iterable[Record]) -> Comparison:
    by_key = {f"{r['case']}:{r['i']}": r for r in ours}
    matching, differing = [], {}
    for k, r in real.items():
        t = by_key.get(k)
        if t is not None and outcome(r) == outcome(t):
            matching.append(k)
        else:
            differing[k] = (r, t)
    return Comparison(len(real), matching, differing)


def run_on_test_server() -> Comparison:
    """Starts a test server emulating Cassandra 4.0, replays the corpus on it and compares."""
    from wsgi_cassandra.testing import CQLServer

    statements = parse_corpus(CORPUS.read_text(encoding="utf-8"))
    with CQLServer(release_version=RELEASE) as server:
        ours = replay(statements, server.host, server.port)
    return compare(load_recording(), ours)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.fidelity.replay", description=__doc__.split("\n")[0])
    parser.add_argument("--case", help="print only the differences of this case")
    args = parser.parse_args(argv)
    result = run_on_test_server()
    keys = [k for k in result.differing if not args.case or k.startswith(args.case + ":")]
    print(result.explain(keys))
    cases: dict[str, list[int]] = {}
    for k in load_recording():
        case = k.split(":")[0]
        cases.setdefault(case, [0, 0])[1] += 1
        cases[case][0] += k in result.matching
    print("\n".join(f"  {case}: {a}/{n}" for case, (a, n) in cases.items()))
    print(result.line())
    return 1 if result.differing else 0


if __name__ == "__main__":
    sys.exit(main())
