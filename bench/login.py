"""Benchmark of sign-in: the panel over HTTP (gunicorn) against a bare ldap3 search + bind.

    .venv/bin/python bench/login.py [--people 10000] [--rounds 300] [--skip-389]

Loads 10,000 people into OpenLDAP as Debian configures it (slapadd -n1) and into 389
Directory Server (ns-slapd ldif2db), serves the panel with gunicorn (gthread), and signs in
random people one after the other: the POST /login of the panel against, in the same run,
a bare ldap3 search (one bound service connection reused) + bind as the person on a fresh
connection, and the adapter alone in-process; the same POST with the demo directory shows
the panel's own share (session, audit, database commit). Prints p50/p90 and ratios
(targets: p50 <= 20 ms on OpenLDAP, <= 50 ms on 389 DS, ratio <= 1.5). Then the same with
a first server that accepts TCP but never answers (SIGSTOP): p50 and the worst sign-in
(<= one timeout more than healthy).
Run by hand as root (389 DS needs it); CI never runs it.
"""

from __future__ import annotations

import argparse
import os
import random
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from http_client import Browser  # noqa: E402
from ldap3 import BASE, NONE, SIMPLE, SUBTREE, SYNC, Connection, Server  # noqa: E402

import ldap_server as L  # noqa: E402
from app.cli import upgrade_database  # noqa: E402
from app.directory.demo import DEMO_PASSWORD  # noqa: E402

STAFF = 20


def people_ldif(layout: L.Layout, count: int, aci: list[str] | None = None) -> str:
    """The whole tree as LDIF: base, OUs, service account, people, staff group."""
    dc = layout.base.split(",")[0][3:]
    blocks = [
        f"dn: {layout.base}\nobjectClass: top\nobjectClass: dcObject\nobjectClass: organization\n"
        f"dc: {dc}\no: {dc}\n" + "".join(f"aci: {a}\n" for a in aci or [])
    ]
    for ou in (layout.people_ou, layout.groups_ou, "services"):
        blocks.append(
            f"dn: ou={ou},{layout.base}\nobjectClass: top\nobjectClass: organizationalUnit\n"
            f"ou: {ou}\n"
        )
    blocks.append(
        f"dn: {layout.service_dn}\nobjectClass: top\nobjectClass: organizationalRole\n"
        f"objectClass: simpleSecurityObject\ncn: panel\nuserPassword: {L.SERVICE_PW}\n"
    )
    staff = []
    for n in range(1, count + 1):
        uid = f"user{n:05d}"
        dn = f"uid={uid},{layout.people}"
        if n <= STAFF:
            staff.append(dn)
        blocks.append(
            f"dn: {dn}\nobjectClass: top\nobjectClass: person\n"
            f"objectClass: organizationalPerson\nobjectClass: inetOrgPerson\nuid: {uid}\n"
            f"cn: Person {n}\nsn: {n}\nmail: {uid}@example.org\npreferredLanguage: fr\n"
            f"userPassword: {L.PASSWORD}\n"
        )
    attribute = layout.staff_attribute
    blocks.append(
        f"dn: {layout.staff_group}\nobjectClass: top\nobjectClass: {layout.staff_class}\n"
        f"cn: {layout.staff_cn}\n" + "".join(f"{attribute}: {dn}\n" for dn in staff)
    )
    return "\n".join(blocks)


def openldap(count: int, workdir: Path) -> L.Slapd:
    server = L.Slapd(workdir, flavour="debian")
    server.write_config()
    ldif = workdir / "people.ldif"
    ldif.write_text(people_ldif(L.DEBIAN, count))
    server.load_ldif(ldif)
    server.start()
    return server


def ds389(count: int) -> Any:
    import ldap_389

    server = ldap_389.start()
    service = server.layout.service_dn
    aci = [
        '(targetattr = "*")(version 3.0; acl "chatons-panel service account"; '
        f'allow (read, search, compare) userdn = "ldap:///{service}";)'
    ]
    ldif = server.workdir / "people.ldif"
    ldif.write_text(people_ldif(server.layout, count, aci))
    ldif.chmod(0o644)
    server.stop()
    subprocess.run(
        ["/usr/sbin/ns-slapd", "ldif2db", "-D", str(server.config_dir), "-n", "userRoot",
         "-i", str(ldif)],
        check=True, capture_output=True,
    )  # fmt: skip
    server.start()
    return server


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def bare_ldap3(server: Any, logins: list[str]) -> list[float]:
    """The floor: a reused bound service connection, search, bind as the person."""
    service = Connection(
        Server(server.url, get_info=NONE),
        server.layout.service_dn,
        L.SERVICE_PW,
        client_strategy=SYNC,
        auto_bind=True,
    )
    times = []
    for login in logins:
        started = time.perf_counter()
        service.search(
            server.layout.people,
            f"(&(objectClass=inetOrgPerson)(uid={login}))",
            SUBTREE,
            attributes=["uid", "cn", "mail", "preferredLanguage"],
        )
        dn = service.response[0]["dn"]
        user = Connection(Server(server.url, get_info=NONE), dn, L.PASSWORD, authentication=SIMPLE)
        assert user.bind(), login
        user.unbind()
        service.search(server.layout.staff_group, "(objectClass=*)", BASE, attributes=["member"])
        times.append(time.perf_counter() - started)
    service.unbind()
    return times


def schema_per_connection(server: Any, logins: list[str]) -> list[float]:
    """What the panel did before: ldap3's defaults, the schema read on every connection."""
    times = []
    for login in logins:
        started = time.perf_counter()
        with Connection(
            Server(server.url), server.layout.service_dn, L.SERVICE_PW, auto_bind=True
        ) as service:
            service.search(
                server.layout.people,
                f"(&(objectClass=inetOrgPerson)(uid={login}))",
                SUBTREE,
                attributes=["uid", "cn", "mail", "preferredLanguage"],
            )
            dn = service.response[0]["dn"]
        user = Connection(Server(server.url), dn, L.PASSWORD, authentication=SIMPLE)
        assert user.bind(), login
        user.unbind()
        times.append(time.perf_counter() - started)
    return times


def adapter_sign_ins(server: Any, logins: list[str]) -> list[float]:
    """The panel's directory adapter alone (authenticate + staff check), in this process."""
    from app.directory import Directory, DirectorySettings
    from config import defaults

    settings = server.settings(LDAP_STAFF_MEMBERSHIP=server.layout.membership)
    directory = Directory(DirectorySettings.from_config({**defaults(), **settings}))
    directory.authenticate(logins[0], L.PASSWORD)  # schema read and pool filled once
    times = []
    for login in logins:
        started = time.perf_counter()
        person = directory.authenticate(login, L.PASSWORD)
        assert person is not None, login
        directory.is_staff(person)
        times.append(time.perf_counter() - started)
    directory.close()
    return times


def gunicorn(env: dict[str, str], port: int) -> subprocess.Popen[bytes]:
    process = subprocess.Popen(
        [str(ROOT / ".venv/bin/gunicorn"), "-c", str(ROOT / "gunicorn.conf.py"), "wsgi:app"],
        cwd=ROOT,
        env={**env, "PANEL_BIND": f"127.0.0.1:{port}", "PANEL_WORKERS": "2"},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if Browser().request(f"http://127.0.0.1:{port}/login", timeout=2).status == 200:
                return process
        except OSError:
            time.sleep(0.2)
    raise RuntimeError("gunicorn did not start")


def panel_sign_ins(port: int, logins: list[str], password: str = L.PASSWORD) -> list[float]:
    times = []
    base = f"http://127.0.0.1:{port}"
    for login in logins:
        browser = Browser()
        token = browser.token(f"{base}/login")
        form = {"login": login, "password": password, "csrf_token": token}
        started = time.perf_counter()
        reply = browser.request(f"{base}/login", form)
        times.append(time.perf_counter() - started)
        assert reply.status == 302, (login, reply.status, reply.text[:300])
    return times


def panel_env(server: Any, database: str, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PANEL_")}
    for key, value in server.settings(LDAP_STAFF_MEMBERSHIP=server.layout.membership).items():
        env[f"PANEL_{key}"] = str(value)
    env.update(
        PANEL_DATABASE_URL=database,
        PANEL_SECRET_KEY="bench",  # noqa: S106 - a throw-away panel
        PANEL_LOGIN_LIMIT_PER_LOGIN="100000 per minute",
        PANEL_LOGIN_LIMIT_PER_ADDRESS="100000 per minute",
        **extra,
    )
    return env


def demo_sign_ins(workdir: Path, rounds: int, database_url: str | None) -> list[float]:
    """The panel's own share of a sign-in: the same POST with the in-memory demo directory."""
    database = database_url or f"sqlite:///{workdir / 'demo.sqlite3'}"
    upgrade_database(database)
    env = {k: v for k, v in os.environ.items() if not k.startswith("PANEL_")}
    env.update(
        PANEL_DATABASE_URL=database,
        PANEL_SECRET_KEY="bench",  # noqa: S106 - a throw-away panel
        PANEL_LOGIN_LIMIT_PER_LOGIN="100000 per minute",
        PANEL_LOGIN_LIMIT_PER_ADDRESS="100000 per minute",
    )
    port = L.free_port()
    process = gunicorn(env, port)
    try:
        demo = ["alice", "bob", "zoe"] * (rounds // 3 + 1)
        panel_sign_ins(port, demo[:20], password=DEMO_PASSWORD)
        return panel_sign_ins(port, demo[:rounds], password=DEMO_PASSWORD)
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait()


def report(name: str, panel: list[float], bare: list[float]) -> None:
    p50, b50 = statistics.median(panel), statistics.median(bare)
    print(
        f"{name:<28} panel p50 {p50 * 1000:6.1f} ms  p90 {percentile(panel, 0.9) * 1000:6.1f} ms"
        f" | bare ldap3 p50 {b50 * 1000:6.1f} ms  p90 {percentile(bare, 0.9) * 1000:6.1f} ms"
        f" | ratio {p50 / b50:4.2f}"
    )


def run(
    server: Any,
    name: str,
    rounds: int,
    count: int,
    workdir: Path,
    rng: random.Random,
    database_url: str | None,
) -> None:
    database = database_url or f"sqlite:///{workdir / f'{name[:8]}.sqlite3'}"
    upgrade_database(database)
    logins = [f"user{rng.randint(1, count):05d}" for _ in range(rounds)]
    port = L.free_port()
    process = gunicorn(panel_env(server, database), port)
    try:
        panel_sign_ins(port, logins[:20])  # warm both workers' pools and schema caches
        panel = panel_sign_ins(port, logins)
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait()
    bare = bare_ldap3(server, logins)
    adapter = adapter_sign_ins(server, logins)
    report(f"{name} ({count} people)", panel, bare)
    report(f"{name}, adapter only", adapter, bare)
    before = schema_per_connection(server, logins[:50])
    report(f"{name}, schema per connection", before, bare)

    hung = L.start_slapd(flavour="debian", seed=False)
    hung.freeze()
    try:
        port = L.free_port()
        env = panel_env(server, database, PANEL_LDAP_URL=f"{hung.url} {server.url}")
        process = gunicorn(env, port)
        try:
            first = panel_sign_ins(port, logins[:20])
            panel = panel_sign_ins(port, logins)
        finally:
            os.killpg(process.pid, signal.SIGTERM)
            process.wait()
        timeout = float(server.settings()["LDAP_TIMEOUT"])
        hung_p50 = statistics.median(panel) * 1000
        print(
            f"{name + ', first server hung':<28} panel p50 {hung_p50:6.1f} ms"
            f" | worst of the first 20 {max(first):5.2f} s (timeout {timeout:.0f} s, "
            f"paid once per worker)"
        )
    finally:
        L.cleanup(hung)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--people", type=int, default=10000)
    parser.add_argument("--rounds", type=int, default=300)
    parser.add_argument("--skip-389", action="store_true")
    parser.add_argument("--database-url", help="an empty PostgreSQL database (default: SQLite)")
    args = parser.parse_args()
    rng = random.Random(12)
    workdir = Path(tempfile.mkdtemp(prefix="panel-bench-login-"))
    demo = demo_sign_ins(workdir, args.rounds, args.database_url)
    print(
        f"{'panel, demo directory':<28} panel p50 {statistics.median(demo) * 1000:6.1f} ms"
        f"  p90 {percentile(demo, 0.9) * 1000:6.1f} ms (the panel's own work: session, "
        "audit, database)"
    )
    server = openldap(args.people, workdir / "openldap")
    try:
        run(server, "OpenLDAP (Debian)", args.rounds, args.people, workdir, rng, args.database_url)
    finally:
        L.cleanup(server)
    if not args.skip_389:
        import ldap_389

        ds = ds389(args.people)
        try:
            run(
                ds,
                "389 Directory Server",
                args.rounds,
                args.people,
                workdir,
                rng,
                args.database_url,
            )
        finally:
            ldap_389.cleanup(ds)


if __name__ == "__main__":
    main()
