"""A string column's raw parts, for checks and keys that work on its bytes (never dagster; no copies of the text)."""

from __future__ import annotations

import numpy as np
import pyarrow as pa


def as_bytes(strings: pa.Array) -> pa.Array:
    """The same values as binary, without a copy: read so, a value need not be valid UTF-8."""
    return strings.view(pa.large_binary() if pa.types.is_large_string(strings.type) else pa.binary())


def offsets_and_data(strings: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """(start of each value and the end of the last, as int64: n + 1 entries; the data bytes they index) of a string
    or large_string array, a slice included."""
    n = len(strings)
    width = np.int64 if pa.types.is_large_string(strings.type) else np.int32
    offsets = np.frombuffer(strings.buffers()[1], dtype=width, count=n + 1,
                            offset=strings.offset * np.dtype(width).itemsize).astype(np.int64)
    data = strings.buffers()[2]
    return offsets, (np.frombuffer(data, dtype=np.uint8) if data is not None else np.zeros(0, dtype=np.uint8))
