"""Markdown for the UI's metadata, with text from outside (Spotify names) kept literal."""

from __future__ import annotations

import re

# What can start a link, an image, emphasis, code or HTML, or end a table cell, anywhere in a line (`#`, `+` and `-`
# only matter at the start of one, where this text never is).
_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]()!|<>~])")


def md_text(text: str) -> str:
    """`text` made literal in markdown: a name such as `![x](http://...)` must not load an image in the UI, and one
    with a `|` must not break a table. Newlines become spaces (a name is one line)."""
    return _MD_SPECIAL.sub(r"\\\1", text).replace("\n", " ")
