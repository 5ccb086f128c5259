"""Tokenizer for the CQL subset: one regular expression, tokens carry their offset for error messages.

Keywords are not special here: unquoted identifiers are lower-cased (CQL is case-insensitive) and the
parser matches keywords on ``kind == "ident"``; a quoted identifier (``"MyTable"``) keeps its case and
can never be mistaken for a keyword.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from .._errors import CQLSyntaxError

_TOKEN_RE = re.compile(
    r"""
    # one hidden token each, as in Cassandra's lexer (a line comment takes its newline)
    (?P<ws>\s+|(?:--|//)[^\n\r]*[\n\r]?|/\*.*?\*/)
  | (?P<uuid>[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}(?![\w-]))
  | (?P<duration>-?(?:
        (?:[0-9]+(?:mo|ms|us|µs|ns|y|w|d|h|m|s))+
      | P[0-9]+W
      | P(?=[0-9]|T[0-9])(?:[0-9]+Y)?(?:[0-9]+M)?(?:[0-9]+D)?(?:T(?:[0-9]+H)?(?:[0-9]+M)?(?:[0-9]+S)?)?
    )(?![\w.]))
  | (?P<blob>0[xX][0-9a-fA-F]*(?!\w))
  | (?P<float>-?(?:[0-9]+\.[0-9]*(?:[eE][+-]?[0-9]+)?|[0-9]+[eE][+-]?[0-9]+)(?![\w.]))
  | (?P<int>-?[0-9]+(?![\w.]))
  | (?P<ident>[a-zA-Z][a-zA-Z0-9_]*)
  | (?P<qident>"(?:[^"]|"")+")
  | (?P<string>'(?:[^']|'')*')
  | (?P<dollar>\$\$.*?\$\$)
  | (?P<named>:[a-zA-Z][a-zA-Z0-9_]*|:"(?:[^"]|"")+")
  | (?P<op><=|>=|!=|[-+(),;.*=<>\[\]{}:?])
    """,
    re.VERBOSE | re.DOTALL | re.IGNORECASE,
)


@dataclass(frozen=True)
class Token:
    kind: str  # ident | qident | string | int | float | duration | uuid | blob | named | op | eof
    value: str  # identifiers lower-cased (unless quoted), strings unescaped, ops verbatim
    pos: int
    raw: str

    def describe(self) -> str:
        return "end of input" if self.kind == "eof" else repr(self.raw)


def tokenize(query: str) -> list[Token]:
    """Split ``query`` into tokens; an unknown character raises ``CQLSyntaxError`` naming it."""
    tokens: list[Token] = []
    pos, end = 0, len(query)
    while pos < end:
        match = _TOKEN_RE.match(query, pos)
        if match is None:
            raise CQLSyntaxError(f"line 1:{pos} syntax error: unexpected character {query[pos]!r}")
        kind = match.lastgroup or "ws"
        raw = match.group()
        pos = match.end()
        if kind == "ws":
            continue
        tokens.append(Token(*_normalize(kind, raw), match.start(), raw))
    tokens.append(Token("eof", "", end, ""))
    return tokens


def token_starts(query: str) -> list[int]:
    """Where each of Cassandra's lexer tokens starts, counting the hidden ones (a run of whitespace, a comment)."""
    return [m.start() for m in _TOKEN_RE.finditer(query)]


def _normalize(kind: str, raw: str) -> tuple[str, str]:
    if kind == "ident":
        return kind, raw.lower()
    if kind == "qident":
        return kind, raw[1:-1].replace('""', '"')
    if kind == "string":
        return kind, raw[1:-1].replace("''", "'")
    if kind == "dollar":
        return "string", raw[2:-2]
    if kind == "named":
        name = raw[1:]
        return kind, name[1:-1].replace('""', '"') if name.startswith('"') else name.lower()
    return kind, raw
