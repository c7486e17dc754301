"""What the HTTP benchmarks share: gunicorn without recycling, `wrk`, the machine's load.

The machine is shared (other jobs run beside a benchmark), so a throughput alone says little:
each benchmark serves a Flask hello world with the same `gunicorn.conf.py` in the same run and
reports ratios against it, best and median over interleaved rounds, with the load average
and the share of the CPU the load generator itself used (what it takes, the servers lack).
"""

from __future__ import annotations

import os
import random
import re
import resource
import signal
import socket
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
GUNICORN = Path(sys.executable).with_name("gunicorn")
HELLO = """from flask import Flask

app = Flask(__name__)


@app.get("/")
def hello():
    return "Hello, world!"
"""
CPUS = os.cpu_count() or 1
# A private page whose view renders nothing: what every signed-in page costs at least.
FLOOR = "/bench/signed-in-floor"
# A public page whose view renders nothing, for a visitor without a session cookie.
PUBLIC_FLOOR = "/bench/public-floor"


def add_signed_in_floor(app: Any) -> Any:
    """Add `FLOOR` to a panel app, before it serves its first request.

    The page is private like every panel page (a visitor is sent to the sign-in form), so a
    signed-in request to it runs everything any signed-in page runs before and after its
    view: the session's row with its account, the guards and hooks, the terms gate, the
    commit and the session's cookie. Its view only answers the person's login. No signed-in
    page can cost less, whatever it renders or reads: no signed-in page's ratio to hello
    world can be higher than this page's.
    """
    from flask_login import current_user

    from app.security import public_endpoint

    def signed_in_floor() -> str:
        return f"{current_user.uid}\n"

    def public_floor() -> str:
        return "-\n"

    app.add_url_rule(FLOOR, "bench_signed_in_floor", signed_in_floor)
    # The same for a visitor: every hook a public page runs, no session to read.
    app.add_url_rule(PUBLIC_FLOOR, "bench_public_floor", public_endpoint(public_floor))
    return app


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def load_average() -> float:
    return os.getloadavg()[0]


class Gunicorn:
    """One instance with the panel's gunicorn.conf.py, worker recycling off.

    `max_requests` recycles workers every few seconds under load; each restart of the panel
    costs about a second of CPU, which would be measured as the page's cost.
    """

    def __init__(self, app: str, cwd: Path, env: dict[str, str], log: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        with log.open("wb") as output:
            self.process = subprocess.Popen(
                [
                    str(GUNICORN),
                    "-c",
                    str(ROOT / "gunicorn.conf.py"),
                    "--max-requests",
                    "0",
                    "--access-logfile",
                    "/dev/null",
                    app,
                ],
                cwd=cwd,
                env={**os.environ, **env, "PANEL_BIND": f"127.0.0.1:{self.port}"},
                stdout=output,
                stderr=output,
                start_new_session=True,
            )

    def wait_ready(self, path: str = "/", timeout: float = 240) -> None:
        import http.client

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"gunicorn on {self.url} exited")
            try:
                conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=5)
                conn.request("GET", path)
                status = conn.getresponse().status
                conn.close()
                if status < 500:
                    return
            except OSError:
                pass
            time.sleep(0.2)
        raise RuntimeError(f"{self.url}{path} did not answer within {timeout} s")

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()


@dataclass
class Load:
    rate: float  # requests per second
    errors: int  # non-2xx/3xx answers and socket errors
    generator_cpu: float  # wrk's CPU seconds per wall second (1.0 = one core)
    load_average: float  # one-minute load average at the end


def wrk(url: str, seconds: float, connections: int, headers: dict[str, str] | None = None) -> Load:
    """`wrk -t2` (Debian package `wrk`); its CPU time comes from the children's rusage."""
    command = ["wrk", "-t2", f"-c{connections}", f"-d{seconds:g}s"]
    for name, value in (headers or {}).items():
        command += ["-H", f"{name}: {value}"]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.monotonic()
    output = subprocess.run([*command, url], check=True, capture_output=True, text=True).stdout
    elapsed = time.monotonic() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    match = re.search(r"Requests/sec:\s+([\d.]+)", output)
    if not match:
        raise RuntimeError(f"wrk printed no rate for {url}:\n{output}")
    errors = 0
    non_2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", output)
    if non_2xx:
        errors += int(non_2xx.group(1))
    socket_errors = re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output
    )
    if socket_errors:
        errors += sum(int(n) for n in socket_errors.groups())
    return Load(float(match.group(1)), errors, cpu / elapsed, load_average())


def best_median(values: list[float]) -> str:
    return f"best {max(values):.3f} (median {statistics.median(values):.3f})"


def generator_share(loads: list[Load]) -> str:
    """The load generator's CPU as a share of the whole machine."""
    share = statistics.median(load.generator_cpu for load in loads) / CPUS
    return f"{share:.1%} of the machine's {CPUS} CPUs (median)"


def workers(master_pid: int) -> list[int]:
    """The worker processes of a gunicorn master (Linux /proc)."""
    children = Path(f"/proc/{master_pid}/task/{master_pid}/children")
    return [int(pid) for pid in children.read_text().split()]


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of one process, all its threads (Linux /proc/PID/stat)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def idle_rss_mib(master_pid: int) -> list[float]:
    """Resident memory of each worker of a gunicorn master (Linux /proc)."""
    sizes = []
    for pid in workers(master_pid):
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                sizes.append(int(line.split()[1]) / 1024)
    return sizes


@dataclass
class Memory:
    """One process's memory in MiB (Linux /proc/PID/smaps_rollup).

    RSS counts every page the process maps, including those it shares with the master and
    the other workers (libraries' files, and with PANEL_PRELOAD the master's whole heap); PSS
    splits each shared page among the processes sharing it (the sum over the processes is
    what they take together); USS is the process's private pages (what its exit frees).
    """

    rss: float
    pss: float
    uss: float

    def __str__(self) -> str:
        return f"{self.rss:.0f}/{self.pss:.0f}/{self.uss:.0f}"


def memory_mib(pid: int) -> Memory:
    values = {}
    for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
        name, _, rest = line.partition(":")
        if name in ("Rss", "Pss", "Private_Clean", "Private_Dirty"):
            values[name] = int(rest.split()[0]) / 1024
    return Memory(values["Rss"], values["Pss"], values["Private_Clean"] + values["Private_Dirty"])


def idle_memory_mib(master_pid: int) -> tuple[Memory, list[Memory]]:
    """The master's memory and each worker's (RSS/PSS/USS), for the columns beside RSS."""
    return memory_mib(master_pid), [memory_mib(pid) for pid in workers(master_pid)]


def mail_size(rng: random.Random) -> int:
    """A generated message's size: mostly small messages, some large attachments (about a
    third of the bytes each), the same mix for the mail export and import benches."""
    kind = rng.random()
    if kind < 0.85:
        return int(rng.randint(2, 40) * 1024)
    if kind < 0.97:
        return int(rng.randint(200, 1000) * 1024)
    return int(rng.randint(2, 4) * 1024 * 1024)
