"""Open formats found in an export: their names, the software that opens them, compression."""

from __future__ import annotations

import mimetypes
from dataclasses import dataclass
from typing import Any

from flask_babel import lazy_gettext as _l


@dataclass(frozen=True, eq=False)  # compared by identity: hashing lazy strings is slow
class FileFormat:
    name: str  # stable English name, written to manifest.json
    label: Any  # translated name for README (lazy string)
    opens_with: Any  # translated: which free software opens it (lazy string)
    text_like: bool  # worth deflating


_TEXT = _l("any text editor (Gedit, Kate, Notepad++)")
_BROWSER = _l("a web browser (Firefox, Chromium)")
_IMAGE = _l("any image viewer or a web browser")
_OFFICE = _l("LibreOffice")
_ARCHIVE = _l("any archive tool (File Roller, Ark, 7-Zip)")
_MEDIA = _l("VLC or any media player")

JSON = FileFormat("JSON", _l("JSON (structured data)"), _l("any text editor, or Firefox"), True)
CSV = FileFormat("CSV", _l("CSV (table)"), _l("LibreOffice Calc or any spreadsheet"), True)
MARKDOWN = FileFormat("Markdown", _l("Markdown (text)"), _TEXT, True)
HTML = FileFormat("HTML", _l("HTML (web page)"), _BROWSER, True)
TEXT = FileFormat("Plain text", _l("plain text"), _TEXT, True)
VCARD = FileFormat(
    "vCard 4.0", _l("vCard 4.0 (contact card)"), _l("Thunderbird or any contacts app"), True
)
DATA = FileFormat(
    "data", _l("as kept by the service"), _l("the software of the service that made it"), False
)

_BY_SUFFIX: dict[str, FileFormat] = {
    ".json": JSON,
    ".csv": CSV,
    ".md": MARKDOWN,
    ".markdown": MARKDOWN,
    ".html": HTML,
    ".htm": HTML,
    ".txt": TEXT,
    ".log": TEXT,
    ".vcf": VCARD,
    ".ics": FileFormat(
        "iCalendar", _l("iCalendar (calendar)"), _l("Thunderbird or any calendar app"), True
    ),
    ".eml": FileFormat("E-mail (RFC 5322)", _l("e-mail message"), _l("Thunderbird"), True),
    ".mbox": FileFormat("mbox", _l("mailbox (mbox)"), _l("Thunderbird"), True),
    ".xml": FileFormat("XML", _l("XML (structured data)"), _TEXT, True),
    ".svg": FileFormat("SVG", _l("SVG image"), _BROWSER, True),
    ".odt": FileFormat("OpenDocument Text", _l("OpenDocument text"), _OFFICE, False),
    ".ods": FileFormat("OpenDocument Spreadsheet", _l("OpenDocument spreadsheet"), _OFFICE, False),
    ".odp": FileFormat("OpenDocument Presentation", _l("OpenDocument slides"), _OFFICE, False),
    ".pdf": FileFormat("PDF", _l("PDF document"), _l("any PDF reader or a web browser"), False),
    ".jpg": FileFormat("JPEG", _l("JPEG image"), _IMAGE, False),
    ".jpeg": FileFormat("JPEG", _l("JPEG image"), _IMAGE, False),
    ".png": FileFormat("PNG", _l("PNG image"), _IMAGE, False),
    ".gif": FileFormat("GIF", _l("GIF image"), _IMAGE, False),
    ".webp": FileFormat("WebP", _l("WebP image"), _IMAGE, False),
    ".zip": FileFormat("ZIP", _l("ZIP archive"), _ARCHIVE, False),
    ".gz": FileFormat("gzip", _l("compressed file (gzip)"), _ARCHIVE, False),
    ".tar": FileFormat("tar", _l("tar archive"), _ARCHIVE, False),
    ".mp3": FileFormat("MP3", _l("MP3 audio"), _MEDIA, False),
    ".ogg": FileFormat("Ogg", _l("Ogg audio or video"), _MEDIA, False),
    ".opus": FileFormat("Opus", _l("Opus audio"), _MEDIA, False),
    ".mp4": FileFormat("MP4", _l("MP4 video"), _MEDIA, False),
    ".webm": FileFormat("WebM", _l("WebM video"), _MEDIA, False),
}

# Text formats known by their media type only (source code, configuration files, ...).
_TEXT_MEDIA_TYPES = ("application/json", "application/xml", "application/javascript")


_GUESSED: dict[str, FileFormat] = {}


def file_format(path: str) -> FileFormat:
    """The format of a file, guessed from its name (never from its content)."""
    name = path.rsplit("/", 1)[-1].lower()
    suffix = name[name.rfind(".") :] if "." in name else ""
    known = _BY_SUFFIX.get(suffix) or _GUESSED.get(suffix)
    if known is not None:
        return known
    media_type, _encoding = mimetypes.guess_type("x" + suffix, strict=False)
    if media_type and (media_type.startswith("text/") or media_type in _TEXT_MEDIA_TYPES):
        found = FileFormat(media_type, TEXT.label, _TEXT, True)
    elif media_type:
        found = FileFormat(media_type, DATA.label, DATA.opens_with, False)
    else:
        found = DATA
    if len(_GUESSED) < 1000:
        _GUESSED[suffix] = found
    return found


def format_name(entry_format: str, path: str) -> str:
    """The format written to the manifest: the connector's own words, else the guess."""
    return entry_format if entry_format and entry_format != "data" else file_format(path).name
