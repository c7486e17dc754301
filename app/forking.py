"""Workers forked from a master that loaded the panel (gunicorn's `preload_app`).

With `PANEL_PRELOAD=true` (gunicorn.conf.py), gunicorn imports the panel once in its master
and forks each worker from it: the workers share the master's memory copy-on-write (the
libraries, the panel's modules, hoster.toml's compiled model, Babel's data) instead of each
holding its own copy. What the master opened must then not be used by two processes:
`after_fork` gives a new worker its own database pool, directory pool and task queue.
"""

from __future__ import annotations

import gc

from babel import Locale
from flask import Flask
from flask_babel import force_locale, get_translations

from app import tasks
from app.db import Database
from app.directory import Directory


def before_fork(app: Flask) -> None:
    """In the master, before the first worker: load what every worker would load on its
    first pages, so that it is shared; then keep the garbage collector off those objects
    (a collection writes to each object it visits, which would copy its page into the
    worker). Nothing here changes what a page shows: these are the caches the first pages
    would fill."""
    with app.test_request_context():
        for language in app.config["LANGUAGES"]:
            # Dates, language and country names, and the catalogue of each language: each
            # worker read them on its first pages.
            Locale.parse(language).territories  # noqa: B018 - loads the locale's data
            with force_locale(language):
                get_translations()
    for name in app.jinja_env.list_templates():
        # Compiled once here instead of in each worker on its first pages.
        app.jinja_env.get_template(name)
    # What the start-up opened is closed properly here, so no worker inherits a connection.
    database: Database = app.extensions["panel_db"]
    database.engine.dispose()
    directory: Directory = app.extensions["panel_directory"]
    directory.pool.close()
    gc.collect()
    gc.freeze()


def after_fork(app: Flask) -> None:
    """In a new worker: nothing the master opened is shared with it any more (the master
    closed its connections before the first fork; this also covers a later one)."""
    database: Database = app.extensions["panel_db"]
    # close=False: the master's connections are the master's; closing them here would send
    # the server a goodbye on sockets the master still holds.
    database.engine.dispose(close=False)
    directory: Directory = app.extensions["panel_directory"]
    directory.pool.forget()
    # Opened again on first use, with the worker's own connections.
    tasks.forget_queue(app)
