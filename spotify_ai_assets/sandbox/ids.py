"""Deterministic Spotify-shaped identifiers."""

from __future__ import annotations

import hashlib
import re

BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
SPOTIFY_ID_RE = re.compile(r"^[0-9A-Za-z]{22}$")
# Two base62 digits at a time, least significant first: half the big-integer divisions of one digit at a time (a
# world makes 50,000-80,000 ids, in every process that serves or reads it).
_PAIRS = [BASE62[r % 62] + BASE62[r // 62] for r in range(62 * 62)]


def spotify_id(namespace: str, seed: int, index: int) -> str:
    """A 22-character base62 id, stable for (namespace, seed, index), like Spotify's own ids: the 136-bit hash's
    base62 digits, least significant first."""
    digest = hashlib.blake2b(f"{namespace}:{seed}:{index}".encode(), digest_size=17).digest()
    number = int.from_bytes(digest, "big")
    pairs = []
    for _ in range(11):
        number, rem = divmod(number, 3844)
        pairs.append(_PAIRS[rem])
    return "".join(pairs)


def isrc(seed: int, index: int) -> str:
    """An ISRC-shaped code (CC-XXX-YY-NNNNN without dashes), unique for the first 9 million tracks of a seed.

    The registrant depends on the seed only, the year block and designation on the index, so codes never collide
    within a world the way hashed codes could.
    """
    digest = hashlib.blake2b(f"isrc:{seed}".encode(), digest_size=3).digest()
    registrant = "".join(BASE62[10 + b % 26] for b in digest)
    block, designation = divmod(index, 100_000)
    return f"QZ{registrant}{10 + block % 90:02d}{designation:05d}"


def snapshot_id(playlist_id: str, track_ids: list[str]) -> str:
    digest = hashlib.sha1((playlist_id + ":" + ",".join(track_ids)).encode()).hexdigest()
    return "MTQ" + digest[:29]
