"""Bytes the console streams from the API to the browser (storage objects, artifacts), served safely.

The console's origin holds the operator's session, so a file may only be rendered there when it
cannot run script: raster images, from one allow-list. Everything else is an attachment typed
`application/octet-stream`, so no browser renders it whatever the API said it was.
"""

from collections.abc import AsyncIterator

from django.http import StreamingHttpResponse
from django.utils.http import content_disposition_header

# Raster images only: an SVG, HTML or PDF shown inline would run in the console's origin.
INLINE_TYPES = frozenset({"image/png", "image/jpeg", "image/gif", "image/webp", "image/avif", "image/bmp"})


def media_type(content_type: str) -> str:
    """`image/PNG; charset=x` → `image/png`."""
    return content_type.split(";", 1)[0].strip().lower()


def may_show_inline(content_type: str) -> bool:
    return media_type(content_type) in INLINE_TYPES


def file_response(
    chunks: AsyncIterator[bytes],
    *,
    content_type: str,
    filename: str,
    size: int | str | None = None,
    inline: bool = False,
) -> StreamingHttpResponse:
    """Stream `chunks` as a file: inline only when asked for and the type is on the allow-list."""
    shown = inline and may_show_inline(content_type)
    response = StreamingHttpResponse(
        chunks, content_type=content_type if shown else "application/octet-stream"
    )
    response["Content-Disposition"] = content_disposition_header(not shown, filename) or (
        "inline" if shown else "attachment"
    )
    if size is not None:
        response["Content-Length"] = str(size)
    return response
