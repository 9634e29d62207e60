"""Text from artifacts made safe to print on a terminal.

Model outputs are untrusted: an answer holding ESC (`\\x1b]0;title\\x07`, `\\x1b[2J`), a
carriage return or a C1 control byte would retitle, clear or overwrite the user's terminal
when `srlm show` prints it. Every control character but newline and tab is shown escaped
(`\\x1b`), the way Python's repr shows it; the text is otherwise unchanged.
"""

from __future__ import annotations

import re

import polars as pl

# C0 controls except tab (0x09) and newline (0x0a), DEL, and the C1 range (0x80-0x9f)
CONTROLS = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def escape_controls(text: str) -> str:
    """`text` with every terminal control character written as `\\xNN`."""
    return CONTROLS.sub(lambda match: f"\\x{ord(match.group()):02x}", text)


def printable_frame(frame: pl.DataFrame) -> pl.DataFrame:
    """`frame` with its text and list-of-text columns passed through `escape_controls` (for
    printing a few rows: it runs in Python, row by row)."""
    escaped = []
    for name, dtype in frame.schema.items():
        if dtype == pl.Utf8:
            escaped.append(pl.col(name).map_elements(escape_controls, return_dtype=pl.Utf8))
        elif dtype == pl.List(pl.Utf8):
            escaped.append(
                pl.col(name).list.eval(
                    pl.element().map_elements(escape_controls, return_dtype=pl.Utf8)
                )
            )
    return frame.with_columns(escaped) if escaped else frame
