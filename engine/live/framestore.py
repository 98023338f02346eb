"""A recording's frames on disk, per tab: the format, and reading it (no Django here, so the video
export's child process reads the files with nothing else loaded).

In a recording's directory, per tab (page id): `<tab>.jpg`, its JPEG frames end to end, and
`<tab>.idx`, one fixed-width record per frame (time from the recording's start, offset, length,
width, height). The recorder appends a record only after its frame is written, so a reader may
read both while they grow (a recording plays while its runtime runs), and a file cut short by a
crash loses at most its last frame.
"""

import re
import struct
from dataclasses import dataclass
from pathlib import Path

RECORD = struct.Struct("<IQIHH")  # t_ms, offset, length, width, height
TAB_ID = re.compile(r"^page_[0-9a-f]{1,32}$")


@dataclass(frozen=True)
class IndexRecord:
    t_ms: int
    offset: int
    length: int
    width: int  # the page's viewport (CSS pixels) when it was painted
    height: int


def read_index(directory: Path, tab_id: str) -> list[IndexRecord]:
    """Every complete record of one tab's index, in order ([] for a tab that has none)."""
    if not TAB_ID.match(tab_id):
        return []
    try:
        data = (directory / f"{tab_id}.idx").read_bytes()
    except FileNotFoundError:
        return []
    usable = len(data) - len(data) % RECORD.size
    return [IndexRecord(*record) for record in RECORD.iter_unpack(data[:usable])]


def read_jpeg(directory: Path, tab_id: str, record: IndexRecord) -> bytes | None:
    try:
        with open(directory / f"{tab_id}.jpg", "rb") as frames:
            frames.seek(record.offset)
            jpeg = frames.read(record.length)
    except FileNotFoundError:
        return None
    return jpeg if len(jpeg) == record.length else None


def read_frame(directory: Path, tab_id: str, number: int) -> bytes | None:
    """The JPEG of frame `number` of a tab, or None."""
    if not TAB_ID.match(tab_id) or number < 0:
        return None
    try:
        with open(directory / f"{tab_id}.idx", "rb") as index:
            index.seek(number * RECORD.size)
            raw = index.read(RECORD.size)
    except FileNotFoundError:
        return None
    if len(raw) < RECORD.size:
        return None
    return read_jpeg(directory, tab_id, IndexRecord(*RECORD.unpack(raw)))
