"""Text clean-up before the sentiment lexicons read a mention (not used for the model).

`for_lexicon` fixes spellings that make a lexicon miss or misread an opinion, and nothing
else; it never adds or removes words:

* HTML entities are unescaped (``&lt;3`` -> ``<3``), for sources that send them;
* typographic apostrophes and quotes become ASCII, since VADER's negation list is spelt
  with ``'`` ("don't like" typed with U+2019 would otherwise read as "like");
* a letter repeated three or more times is cut to two ("goooood" -> "good",
  "sooo" -> "soo"), the form most lexicon entries match;
* a CamelCase hashtag is split into its words ("#NeverAgain" -> "#Never Again"), so that
  the opinion inside a hashtag is found; a hashtag in one case stays one word.
"""

from __future__ import annotations

import html
import re

# U+2019/U+2018 quotation marks, acute and grave accents; U+201C/D/E double quotes.
# Replaced one by one where present: str.translate looks every character up in a dict.
_QUOTES = (
    ("\u2019", "'"),
    ("\u2018", "'"),
    ("\u00b4", "'"),
    ("`", "'"),
    ("\u201c", '"'),
    ("\u201d", '"'),
    ("\u201e", '"'),
)
_REPEAT = re.compile(r"([^\W\d_])\1{2,}")
_HASHTAG = re.compile(r"#(\w+)")
_CAMEL = re.compile(r"(?<=[a-zäöüß])(?=[A-ZÄÖÜ])")


def for_lexicon(text: str) -> str:
    """The text with the fixes of the module docstring applied (same text if none apply)."""
    if "&" in text:
        text = html.unescape(text)
    for typographic, ascii_quote in _QUOTES:
        if typographic in text:
            text = text.replace(typographic, ascii_quote)
    text = _REPEAT.sub(r"\1\1", text)
    if "#" in text:
        text = _HASHTAG.sub(_split_hashtag, text)
    return text


def _split_hashtag(match: re.Match[str]) -> str:
    return "#" + _CAMEL.sub(" ", match.group(1))
