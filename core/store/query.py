"""The search box language: Lucene-style query strings, parsed once for every store.

`parse_query` turns a query string into a small tree (`Text`, `Keyword`, `Bool`) with
Lucene's boolean semantics (``+`` must, ``-``/NOT must-not, plain terms must under the
default operator AND, OR makes its operands optional). Each store adapter compiles that
tree into its own engine's query, so both stores answer the same query the same way.

Supported: terms, "phrases", ``prefix*``, AND / OR / NOT / ``+`` / ``-``, parentheses,
``field:value`` and ``field:(a OR b)`` for the text and keyword fields of the kind,
``term^2`` boosts. Refused with a `QueryError`: ranges, fuzzy ``~``, proximity,
regular expressions and wildcards other than a trailing ``*``.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from luqum.exceptions import ParseError
from luqum.parser import parser
from luqum.tree import (
    AndOperation,
    Boost,
    FieldGroup,
    Fuzzy,
    Group,
    Item,
    Not,
    OrOperation,
    Phrase,
    Plus,
    Prohibit,
    Proximity,
    Range,
    Regex,
    SearchField,
    UnknownOperation,
    Word,
)

from core.store.port import KEYWORD_FIELDS, TEXT_FIELDS, Kind, QueryError

_TOKEN = re.compile(r"[^\W_]+")
MAX_TERMS = 200
"""Terms and phrases one query may hold (SQLite refuses deeper expression trees)."""


def tokens(text: str) -> list[str]:
    """Word tokens, split like SQLite's unicode61 and Lucene's standard tokenizer agree on
    for ordinary words: runs of letters and digits, in composed (NFC) form, as typed.
    Case is left to the engines, which fold indexed text and queries alike (Python's
    lower() turns "İ" into two characters that neither engine indexes)."""
    return _TOKEN.findall(unicodedata.normalize("NFC", text))


@dataclass(frozen=True)
class Text:
    """Full-text match of ``tokens`` (as a phrase when more than one) in ``fields``."""

    fields: tuple[str, ...]
    tokens: tuple[str, ...]
    prefix: bool = False
    raw: str = ""
    """The words as typed (without quotes or the trailing ``*``), for engines that
    analyse text themselves."""


@dataclass(frozen=True)
class Keyword:
    """Exact (case-sensitive) match of a keyword field, or a prefix of it."""

    field: str
    value: str
    prefix: bool = False


@dataclass(frozen=True)
class Bool:
    must: tuple[Node, ...] = ()
    should: tuple[Node, ...] = ()
    must_not: tuple[Node, ...] = ()


Node = Text | Keyword | Bool


def parse_query(kind: Kind, text: str) -> Node | None:
    """Parse ``text``; None means "match everything"."""
    if not text.strip():
        return None
    try:
        tree = parser.parse(text)
    except (ParseError, IndexError, TypeError) as exc:
        raise QueryError(f"cannot parse query {text!r}: {exc}") from None
    node = _Compiler(kind).compile(tree, None)
    return _simplify(node) if node is not None else None


class _Compiler:
    def __init__(self, kind: Kind) -> None:
        self.kind = kind
        self.text_fields = TEXT_FIELDS[kind]
        self.keyword_fields = KEYWORD_FIELDS[kind]
        self.leaves = 0

    def compile(self, item: Item, field: str | None) -> Node | None:
        if isinstance(item, Group | FieldGroup):
            return self.compile(item.expr, field)
        if isinstance(item, Boost):
            return self.compile(item.expr, field)
        if isinstance(item, SearchField):
            if field is not None:
                raise QueryError(f"nested field {item.name!r} inside field {field!r}")
            name = item.name
            if name not in self.text_fields and name not in self.keyword_fields:
                known = ", ".join((*self.text_fields, *self.keyword_fields))
                raise QueryError(f"unknown field {name!r} in query; fields are: {known}")
            return self.compile(item.expr, name)
        if isinstance(item, AndOperation | UnknownOperation):
            return self._bool(item.children, field, default="must")
        if isinstance(item, OrOperation):
            return self._bool(item.children, field, default="should")
        if isinstance(item, Not | Prohibit):
            inner = self.compile(item.a, field)
            return Bool(must_not=(inner,)) if inner is not None else None
        if isinstance(item, Plus):
            return self.compile(item.a, field)
        if isinstance(item, Phrase):
            return self._leaf(item.value[1:-1], field, phrase=True)
        if isinstance(item, Word):
            return self._leaf(item.value, field, phrase=False)
        if isinstance(item, Range):
            raise QueryError("range queries are not supported; use the time filter")
        if isinstance(item, Fuzzy | Proximity):
            raise QueryError(f"fuzzy and proximity queries are not supported: {item}")
        if isinstance(item, Regex):
            raise QueryError(f"regular expressions are not supported: {item}")
        raise QueryError(f"unsupported query element: {item}")

    def _bool(self, children: tuple[Item, ...], field: str | None, default: str) -> Node | None:
        must: list[Node] = []
        should: list[Node] = []
        must_not: list[Node] = []
        for child in children:
            if isinstance(child, Not | Prohibit):
                node = self.compile(child.a, field)
                if node is not None:
                    must_not.append(node)
                continue
            node = self.compile(child, field)
            if node is None:
                continue
            if isinstance(child, Plus) or default == "must":
                must.append(node)
            else:
                should.append(node)
        if not (must or should or must_not):
            return None
        return Bool(tuple(must), tuple(should), tuple(must_not))

    def _leaf(self, value: str, field: str | None, phrase: bool) -> Node | None:
        if not phrase and (value in ("&&", "||") or value.startswith("!")):
            # Lucene's other spellings: taken as words they would silently invert or
            # widen the search
            raise QueryError(f"{value!r}: write AND, OR and NOT (or + and -) instead")
        self.leaves += 1
        if self.leaves > MAX_TERMS:
            raise QueryError(f"more than {MAX_TERMS} terms in one query")
        prefix = not phrase and value.endswith("*") and len(value) > 1
        body = value[:-1] if prefix else value
        if not phrase and ("?" in body or "*" in body):
            raise QueryError(f"only a trailing * is supported as a wildcard: {value!r}")
        if field is not None and field in self.keyword_fields:
            return Keyword(field, body.replace("\\", ""), prefix)
        toks = tokens(body)
        if not toks:
            return None
        fields = (field,) if field else self.text_fields
        return Text(fields, tuple(toks), prefix, raw=body)


def _simplify(node: Node) -> Node:
    """Collapse single-clause Bools so engines get the plainest equivalent query."""
    if not isinstance(node, Bool):
        return node
    must = tuple(_simplify(n) for n in node.must)
    should = tuple(_simplify(n) for n in node.should)
    must_not = tuple(_simplify(n) for n in node.must_not)
    if len(must) == 1 and not should and not must_not:
        return must[0]
    if len(should) == 1 and not must and not must_not:
        return should[0]
    return Bool(must, should, must_not)


def positive_texts(node: Node | None) -> list[Text]:
    """The text clauses that can make a document match (for highlighting and ranking)."""
    if node is None:
        return []
    if isinstance(node, Text):
        return [node]
    if isinstance(node, Keyword):
        return []
    return [t for child in (*node.must, *node.should) for t in positive_texts(child)]
