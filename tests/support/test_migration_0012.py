"""Migration 0012 with rows: ticket messages gain their mail's Message-ID, unique per ticket."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import create_engine, text
from sqlalchemy.exc import IntegrityError

from app.cli import alembic_config
from helpers import scratch_databases

NOW = "2026-12-01 10:00:00+00:00"


def _ticket(conn, ticket_id: int) -> None:
    conn.execute(
        text(
            "INSERT INTO ticket (id, account_id, subject, service, category, state, created_at,"
            " last_message_at, state_changed_at, contact_email, contact_language)"
            " VALUES (:id, NULL, 'Bonjour', 'other', 'other', 'new', :now, :now, :now,"
            " 'v@example.org', 'fr')"
        ),
        {"id": ticket_id, "now": NOW},
    )


def _message(conn, message_id: int, ticket_id: int, mail_id: str | None = None) -> None:
    params = {"id": message_id, "ticket": ticket_id, "now": NOW, "mail": mail_id}
    if mail_id is None:  # as before 0012: the column may not exist yet
        conn.execute(
            text(
                "INSERT INTO ticket_message (id, ticket_id, from_staff, is_internal, body,"
                " created_at) VALUES (:id, :ticket, false, false, 'Texte', :now)"
            ),
            params,
        )
        return
    conn.execute(
        text(
            "INSERT INTO ticket_message (id, ticket_id, from_staff, is_internal, body,"
            " created_at, mail_message_id)"
            " VALUES (:id, :ticket, false, false, 'Texte', :now, :mail)"
        ),
        params,
    )


@pytest.mark.postgres
def test_0012_keeps_messages_and_refuses_a_message_id_twice_per_ticket(tmp_path: Path) -> None:
    for url in scratch_databases(tmp_path, "m0012"):
        cfg = alembic_config(url)
        command.upgrade(cfg, "0011")
        engine = create_engine(url)
        with engine.begin() as conn:
            _ticket(conn, 1)
            _ticket(conn, 2)
            _message(conn, 1, 1)
            _message(conn, 2, 1)
        command.upgrade(cfg, "0012")
        with engine.begin() as conn:
            rows = conn.execute(text("SELECT id, mail_message_id FROM ticket_message ORDER BY id"))
            assert [tuple(r) for r in rows] == [(1, None), (2, None)]  # web messages: NULL
            _message(conn, 3, 1, "<a@client.example>")
            _message(conn, 4, 2, "<a@client.example>")  # the same mail on another ticket
            _message(conn, 5, 1)  # NULLs never collide
        with pytest.raises(IntegrityError), engine.begin() as conn:
            _message(conn, 6, 1, "<a@client.example>")
        engine.dispose()
        command.downgrade(cfg, "0011")
        engine = create_engine(url)
        with engine.begin() as conn:
            ids = [r[0] for r in conn.execute(text("SELECT id FROM ticket_message ORDER BY id"))]
            assert ids == [1, 2, 3, 4, 5]  # every message kept, only the column goes
            _message(conn, 6, 1)
        engine.dispose()
        command.upgrade(cfg, "head")
