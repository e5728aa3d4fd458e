"""Serving an export's file without holding it in memory, or an open file nobody reads."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

CHUNK = 64 * 1024


def file_chunks(path: Path) -> Iterator[bytes]:
    """The file in 64 KiB pieces; opened only when the first is sent, closed after the last."""
    with open(path, "rb") as f:
        while block := f.read(CHUNK):
            yield block
