"""Every migration: empty → head equals the models, head → base works, on SQLite and PostgreSQL."""

from __future__ import annotations

import importlib
import os
from pathlib import Path

import pytest
from alembic import command
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, inspect

from app.cli import alembic_config
from helpers import scratch_databases

MIGRATION_TESTS = Path(__file__).parent / "migrations"


def test_upgrade_matches_models_and_downgrade_reaches_base(tmp_path):
    tested = 0
    for url in scratch_databases(tmp_path, "mig"):
        cfg = alembic_config(url)
        command.upgrade(cfg, "head")
        command.check(cfg)  # raises if the models and the migrated schema differ
        command.downgrade(cfg, "base")
        engine = create_engine(url)
        tables = set(inspect(engine).get_table_names()) - {"alembic_version"}
        engine.dispose()
        assert tables == set(), f"left behind after downgrade on {url}: {tables}"
        command.upgrade(cfg, "head")
        tested += 1
    assert tested >= 1


def test_migration_history_is_one_line():
    script = ScriptDirectory.from_config(alembic_config("sqlite://"))
    assert len(script.get_heads()) == 1, script.get_heads()


@pytest.mark.postgres
def test_postgres_is_exercised_in_ci():
    if os.environ.get("CI") and not os.environ.get("PANEL_TEST_DATABASE_URL"):
        pytest.fail("CI must run the suite against PostgreSQL (PANEL_TEST_DATABASE_URL)")


# Migrations tested with rows (tests/migrations/migration_<rev>.py) ---------------------

TESTERS = sorted(p.stem.removeprefix("migration_") for p in MIGRATION_TESTS.glob("migration_*.py"))


def _down_revision(revision: str) -> str:
    script = ScriptDirectory.from_config(alembic_config("sqlite://"))
    down = script.get_revision(revision).down_revision
    assert isinstance(down, str), f"{revision} has no single revision before it"
    return down


@pytest.mark.parametrize("revision", TESTERS)
def test_upgrade_keeps_the_rows_it_should(tmp_path, revision):
    module = importlib.import_module(f"migrations.migration_{revision}")
    for url in scratch_databases(tmp_path, "mig"):
        cfg = alembic_config(url)
        command.upgrade(cfg, _down_revision(revision))
        engine = create_engine(url)
        try:
            tester = module.UpgradeTester(engine)
            tester.load_data()
            command.upgrade(cfg, revision)
            tester.check_upgrade()
        finally:
            engine.dispose()


@pytest.mark.parametrize("revision", TESTERS)
def test_downgrade_keeps_and_deletes_the_rows_it_should(tmp_path, revision):
    module = importlib.import_module(f"migrations.migration_{revision}")
    for url in scratch_databases(tmp_path, "mig"):
        cfg = alembic_config(url)
        command.upgrade(cfg, revision)
        engine = create_engine(url)
        try:
            tester = module.DowngradeTester(engine)
            tester.load_data()
            command.downgrade(cfg, _down_revision(revision))
            tester.check_downgrade()
        finally:
            engine.dispose()


def test_the_migrations_that_move_or_delete_rows_have_testers():
    assert {"0010", "0011", "0018", "0019"} <= set(TESTERS)
