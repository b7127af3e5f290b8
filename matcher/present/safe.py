"""Making text safe to take away: CSV cells that no spreadsheet runs as a formula, and
Markdown that shows other people's text as text."""
from __future__ import annotations

import re

import pandas as pd

from ..io import spreadsheet_safe


def csv_bytes(frame: pd.DataFrame) -> bytes:
    """CSV safe to open in a spreadsheet: text cells starting with = + - @ (or tab/CR) are
    neutralised with a leading apostrophe."""
    safe = frame.copy()
    for col in safe.columns:
        if safe[col].dtype == object or str(safe[col].dtype).startswith(("str", "string")):
            safe[col] = safe[col].map(spreadsheet_safe)
    safe.columns = [spreadsheet_safe(str(c)) for c in safe.columns]
    # CRLF line ends: a cell holding a bare CR (or LF) is then quoted, so no spreadsheet starts a
    # new row (with a formula) inside it.
    return safe.to_csv(index=False, lineterminator="\r\n").encode("utf-8")


_MD_SPECIAL = re.compile(r"([\\`*_\[\]<>|#~])")
# What GitHub-flavoured Markdown (Streamlit's) turns into a mailto: link wherever it stands in text;
# a backslash does not stop it (the link is made after escapes are read), a code span does.
_EMAIL = re.compile(r"[-.\w+]+@[-\w]+(?:\.[-\w]+)+")


def md_escape(text) -> str:
    """Escape Markdown syntax (and HTML angle brackets) in text that is not ours. Line breaks
    become spaces, so a value cannot start a heading, list, table or rule of its own. An e-mail
    address is shown as plain text in a code span, never as a mailto: link."""
    if text is None:
        return ""
    flat = " ".join(str(text).split())
    out, last = [], 0
    for m in _EMAIL.finditer(flat):
        out += [_MD_SPECIAL.sub(r"\\\1", flat[last:m.start()]), f"`{m.group(0)}`"]
        last = m.end()
    return "".join(out) + _MD_SPECIAL.sub(r"\\\1", flat[last:])


