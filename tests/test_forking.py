"""PANEL_PRELOAD: a worker forked from the master that loaded the panel opens its own
connections, and the master keeps none open for its workers to inherit."""

from __future__ import annotations

import gc
import os

from sqlalchemy import text

from app import forking, tasks


def test_the_master_closes_what_the_start_up_opened_before_the_first_fork(app):
    database = app.extensions["panel_db"]
    directory = app.extensions["panel_directory"]
    with database.engine.connect() as conn:
        conn.execute(text("SELECT 1"))
    assert directory.lookup("alice") is not None
    assert database.engine.pool.checkedin() == 1 and directory.pool._idle
    try:
        forking.before_fork(app)
        assert database.engine.pool.checkedin() == 0 and not directory.pool._idle
        assert gc.get_freeze_count() > 0
    finally:
        gc.unfreeze()


def test_a_forked_worker_uses_its_own_connections_and_queue(app):
    database = app.extensions["panel_db"]
    directory = app.extensions["panel_directory"]
    with database.engine.connect() as conn:
        conn.execute(text("SELECT 1"))
    assert directory.lookup("alice") is not None
    queue = tasks.queue(app)
    pid = os.fork()
    if pid == 0:  # the worker: any failure is its exit status
        status = 1
        try:
            forking.after_fork(app)
            assert database.engine.pool.checkedin() == 0 and not directory.pool._idle
            assert directory.lookup("alice") is not None
            with database.engine.connect() as conn:
                assert conn.execute(text("SELECT 1")).scalar() == 1
            assert tasks.queue(app) is not queue
            status = 0
        finally:
            os._exit(status)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    # The master's own connection still works: the worker closed nothing of its.
    with database.engine.connect() as conn:
        assert conn.execute(text("SELECT 1")).scalar() == 1
    assert tasks.queue(app) is queue
    assert directory.pool._idle
