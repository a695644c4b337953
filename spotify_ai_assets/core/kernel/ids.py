"""Spotify id syntax, in a module of its own so that code which only checks ids (the watchlist, read when the
definitions load) does not import pyarrow with the record parsers."""

from __future__ import annotations

import re

SPOTIFY_ID = re.compile(r"^[0-9A-Za-z]{22}$")
