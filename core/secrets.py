"""Keeping secrets out of messages and logs: the forms a secret takes in a text, masked.

An error message may quote a credential whole, only its token ("Bearer <token>": a server
echoing the token back), or escaped (httpx refusing a header quotes its bytes, a line break
as ``\\n``). `redact` masks each of these forms.
"""

from __future__ import annotations

from collections.abc import Iterable

MASK = "***"
_SHORTEST_PART = 4
"""Parts of a secret shorter than this are not masked on their own (they would mask
ordinary words); a whole secret always is."""


def secret_forms(secrets: Iterable[str]) -> tuple[str, ...]:
    """Every form of ``secrets`` to mask, the longest first (so a token inside
    ``Bearer <token>`` is masked whole)."""
    found: set[str] = set()
    for secret in secrets:
        if not secret:
            continue
        found.add(secret)
        _, _, credential = secret.partition(" ")
        for part in (secret, credential):
            for form in (part, repr(part)[1:-1]):
                if len(form) >= _SHORTEST_PART:
                    found.add(form)
    return tuple(sorted(found, key=len, reverse=True))


def redact(text: str, secrets: Iterable[str]) -> str:
    """``text`` with every form of each non-empty secret replaced by ``***``."""
    for form in secret_forms(secrets):
        text = text.replace(form, MASK)
    return text
