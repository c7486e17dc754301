"""What waits for the person: the features' probes go out as one statement."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from flask import Flask
from sqlalchemy import create_engine, event
from sqlalchemy.orm import Session

from app.accounts.attention import Attention, ProbeParameters, attention_for, register_attention


def _provider(name: str, asked: list[str]) -> Any:
    def provide(_session: Session, _account: Any) -> list[Attention]:
        asked.append(name)
        return [Attention(name)]

    return provide


def test_only_the_providers_whose_probe_found_something_are_asked() -> None:
    app = Flask(__name__)
    asked: list[str] = []

    def mine(parameters: ProbeParameters) -> Any:
        return parameters.account_id == 7

    def someone_elses(parameters: ProbeParameters) -> Any:
        return parameters.account_id == 8

    register_attention(app, _provider("ticket waiting", asked), mine)
    register_attention(app, _provider("deletion on its way", asked), someone_elses)
    register_attention(app, _provider("new terms", asked))  # no probe: always asked
    engine = create_engine("sqlite://")
    statements: list[str] = []
    event.listen(engine, "before_cursor_execute", lambda *a: statements.append(a[2]))
    with Session(engine) as session:
        items = attention_for(app, session, SimpleNamespace(id=7))
    assert [item.message for item in items] == ["ticket waiting", "new terms"]
    assert asked == ["ticket waiting", "new terms"]
    assert len(statements) == 1  # both probes in one statement
    engine.dispose()


def test_without_probes_no_statement_is_sent() -> None:
    app = Flask(__name__)
    asked: list[str] = []
    register_attention(app, _provider("new terms", asked))
    engine = create_engine("sqlite://")
    statements: list[str] = []
    event.listen(engine, "before_cursor_execute", lambda *a: statements.append(a[2]))
    with Session(engine) as session:
        assert [i.message for i in attention_for(app, session, SimpleNamespace(id=1))] == [
            "new terms"
        ]
    assert statements == [] and asked == ["new terms"]
    engine.dispose()
