"""Sample mail for the IMAP tests: plain, quoted From lines, attachments, non-ASCII."""

from __future__ import annotations

import os
from email.message import EmailMessage
from email.policy import SMTP

# Folder names as the person sees them; the server stores them in modified UTF-7.
FOLDERS = ["INBOX", "Envoyés", "Archives/2024", "日本語", "Reçus & traités"]


def plain(subject: str, body: str) -> bytes:
    message = EmailMessage(policy=SMTP)
    message["From"] = "Zoé <zoe@example.org>"
    message["To"] = "alice@example.org"
    message["Subject"] = subject
    message.set_content(body)
    return message.as_bytes()


def with_attachment(subject: str, payload: bytes, filename: str = "photo.jpg") -> bytes:
    message = EmailMessage(policy=SMTP)
    message["From"] = "bob@example.org"
    message["To"] = "alice@example.org"
    message["Subject"] = subject
    message.set_content("See the attached file.\n")
    message.add_attachment(payload, maintype="image", subtype="jpeg", filename=filename)
    return message.as_bytes()


def samples() -> dict[str, list[bytes]]:
    return {
        "INBOX": [
            plain("Bonjour", "Première ligne.\nFrom the start, a line that mbox must quote.\n"),
            plain("Quoted", ">From already quoted\n>>From twice\nFrom again\n"),
            with_attachment("Photo", os.urandom(300_000)),
        ],
        "Envoyés": [plain("Réponse", "Merci, à bientôt !\n")],
        "Archives/2024": [with_attachment("Archive", os.urandom(50_000), "archivé.jpg")],
        "日本語": [plain("件名", "こんにちは\n")],
        "Reçus & traités": [],
    }


def big_folder(total: int, each: int = 2 * 1024 * 1024) -> list[bytes]:
    """Messages with random attachments, `total` bytes of attachments in all."""
    return [
        with_attachment(f"Big {i}", os.urandom(each), f"big-{i}.bin")
        for i in range(max(1, total // each))
    ]
