"""`flask export ...`: demo files for `make run`."""

from __future__ import annotations

import os
import struct
import zlib
from datetime import datetime
from pathlib import Path

import click
from flask import current_app
from flask.cli import with_appcontext

from app.connectors.base import service_connectors
from app.connectors.files import FilesConnector
from app.directory import Person


def _png(width: int = 16, height: int = 16) -> bytes:
    """A small orange square, built by hand so the demo needs no image file in git."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return (
            struct.pack(">I", len(body))
            + kind
            + body
            + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)
        )

    row = b"\x00" + b"\xe0\x7a\x1f" * width
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(row * height))
        + chunk(b"IEND", b"")
    )


def demo_files(name: str) -> dict[str, bytes]:
    return {
        "Documents/Notes de réunion.md": (
            f"# Réunion de l'association\n\nPrésent·es : {name} et l'équipe.\n\n"
            "- Renouveler le nom de domaine\n- Préparer l'assemblée générale\n"
        ).encode(),
        "Documents/budget-2024.csv": (
            "poste,montant\r\nhébergement,480\r\nnom de domaine,15\r\n".encode()
        ),
        "Photos/chaton.png": _png(),
        "Été 2024/carte postale 🐈.txt": f"Bonjour de Lyon !\n— {name}\n".encode(),
    }


@click.group("export", help="Data export tools.")
def export_group() -> None:
    pass


@export_group.command("demo-files", help="Give the demo people a few files (demo mode only).")
@with_appcontext
def demo_files_command() -> None:
    people = current_app.extensions.get("panel_demo_people")
    if people is None:
        raise click.ClickException("Only in demo mode: this panel uses a real directory.")
    folders = [c for c in service_connectors(current_app).values() if isinstance(c, FilesConnector)]
    stamp = datetime(2024, 7, 14, 10, 30).timestamp()
    for connector in folders:
        for uid, name, _staff, _password in people:
            root = connector.root_for(
                Person(uid=uid, dn="", display_name=name, email=None, language=None)
            )
            if root.exists():
                continue
            for relative, content in demo_files(name).items():
                path = Path(root, relative)
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_bytes(content)
                os.utime(path, (stamp, stamp))
            click.echo(f"{connector.slug}: demo files for {uid} in {root}")
