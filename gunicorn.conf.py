"""gunicorn settings for chatons-panel: `gunicorn -c gunicorn.conf.py wsgi:app`.

Environment variables (all optional):
  PANEL_BIND            address to listen on (default 127.0.0.1:8000; a unix socket works)
  PANEL_WORKERS         worker processes (default: 2 x CPU + 1, at most 9)
  PANEL_THREADS         threads per worker (default 4)
  PANEL_ACCESS_LOG_ADDRESSES  "true" to log client addresses (default: not logged)
  PANEL_PRELOAD         "true" to load the panel once in the master and fork the workers from
                        it: they share most of their memory (see docs/deployment.md); a
                        reload (HUP) then keeps the loaded code: restart after an upgrade
  FORWARDED_ALLOW_IPS   proxies gunicorn trusts for X-Forwarded-* (default 127.0.0.1)
  SCRIPT_NAME           mount prefix, e.g. /panel (gunicorn reads it itself)
"""

import contextlib
import ctypes
import ctypes.util
import multiprocessing
import os
from typing import Any

bind = os.environ.get("PANEL_BIND", "127.0.0.1:8000")
workers = int(os.environ.get("PANEL_WORKERS", min(multiprocessing.cpu_count() * 2 + 1, 9)))
# Threads keep a worker's heartbeat alive while one thread streams a multi-gigabyte export,
# so `timeout` (silence of a whole worker) can stay short without killing long downloads.
worker_class = "gthread"
threads = int(os.environ.get("PANEL_THREADS", 4))
timeout = 60
graceful_timeout = 30
keepalive = 5
# Recycle workers now and then so a slow leak can never grow without bound.
max_requests = 5000
max_requests_jitter = 500
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1")

accesslog = "-"
errorlog = "-"
# %(U)s is the path WITHOUT the query string (which can carry search terms or tokens).
if os.environ.get("PANEL_ACCESS_LOG_ADDRESSES", "").lower() == "true":
    access_log_format = '%(h)s %(t)s "%(m)s %(U)s" %(s)s %(B)s %(M)sms'
else:
    access_log_format = '- %(t)s "%(m)s %(U)s" %(s)s %(B)s %(M)sms'
# gunicorn's control socket is one path per user by default: several panel instances (or
# other gunicorn services) on one machine would fight over it. The panel does not use it.
control_socket_disable = True

# glibc gives each thread that allocates its own malloc arena (up to 8 per CPU), and memory
# freed in one is not reused by another: a gthread worker kept 8 MiB more after a few
# thousand requests with its default arenas than with two (bench, 4 threads, December 2026).
# Set here, in the master, so that every worker forked from it inherits the limit; a
# MALLOC_ARENA_MAX from the environment, read by glibc itself, is left to win.
M_ARENA_MAX = -8
if "MALLOC_ARENA_MAX" not in os.environ:
    # Not glibc (musl, macOS): nothing to set.
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(ctypes.util.find_library("c")).mallopt(M_ARENA_MAX, 2)

# Off by default: with it, a reload (HUP, `systemctl reload`) starts new workers from the
# master's copy of the code, so an upgrade needs a restart instead (docs/deployment.md).
preload_app = os.environ.get("PANEL_PRELOAD", "").strip().lower() == "true"
_prepared = False


def _panel(server: Any) -> Any:
    """The panel's app loaded in the master, or None (no preload; bench's hello world)."""
    if not server.cfg.preload_app:
        return None
    loaded = server.app.wsgi()
    return loaded if "panel_db" in getattr(loaded, "extensions", {}) else None


def pre_fork(server: Any, worker: Any) -> None:
    """In the master, before each worker: with preload, once, what the workers can share."""
    global _prepared
    panel = _panel(server)
    if panel is not None and not _prepared:
        from app.forking import before_fork

        before_fork(panel)
        _prepared = True


def post_fork(server: Any, worker: Any) -> None:
    """In the new worker: its own connections, none of the master's."""
    panel = _panel(server)
    if panel is not None:
        from app.forking import after_fork

        after_fork(panel)


def on_reload(server: Any) -> None:
    """A reload with preload forks the new workers from the code loaded at start."""
    if server.cfg.preload_app:
        server.log.warning(
            "PANEL_PRELOAD: the new workers run the code loaded at start;"
            " restart the service to load new code"
        )
