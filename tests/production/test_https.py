"""The panel as docs/deployment.md installs it, driven by Chromium over HTTPS.

nginx (Debian's) terminates TLS with a test CA under the sub-path /panel, with the server
block of docs/deployment.md; behind it gunicorn (gunicorn.conf.py, two workers) listens on a
unix socket, and the task worker runs as its systemd unit says, both with the settings file
of the guide. PostgreSQL, Redis, OpenLDAP and an SMTP server are real. Mail is read raw.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import signal
import ssl
import subprocess
import sys
import tempfile
import time
import urllib.request
import zipfile
from collections.abc import Callable, Iterator
from datetime import timedelta
from email import message_from_bytes
from email.policy import default
from pathlib import Path
from typing import Any

import pytest
from conftest import PG_URL, missing_tool
from mail_checks import problems, raw_headers
from sqlalchemy import create_engine, text

import ldap_server
from helpers import profile_without_local_servers, refuse_other_hosts

pytestmark = [pytest.mark.browser, pytest.mark.ldap, pytest.mark.postgres, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
VENV = Path(sys.executable).parent.parent
GUIDE = (ROOT / "docs" / "deployment.md").read_text(encoding="utf-8")
NGINX = shutil.which("nginx") or "/usr/sbin/nginx"
PG_ADMIN = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"


# What the guide says ---------------------------------------------------------------------


def guide_block(after: str, language: str) -> str:
    """The first ```language block of docs/deployment.md after the text `after`."""
    start = GUIDE.index(after)
    match = re.compile(rf"```{language}\n(.*?)```", re.S).search(GUIDE, start)
    assert match, f"no {language} block after {after!r} in docs/deployment.md"
    return match.group(1)


def guide_settings() -> dict[str, str]:
    block = guide_block("`/etc/chatons-panel/env`", "sh")
    settings = {}
    for line in block.splitlines():
        name, sep, value = line.partition("=")
        if sep and re.fullmatch(r"[A-Z_]+", name):
            settings[name] = value.split("#")[0].strip()
    return settings


def guide_unit(name: str) -> dict[str, str]:
    block = guide_block(f"`/etc/systemd/system/{name}`", "ini")
    return dict(
        line.split("=", 1) for line in block.splitlines() if "=" in line and line[:1].isalpha()
    )


def from_guide(text: str, replacements: dict[str, str]) -> str:
    """The guide's text with its example values replaced; each one must be there."""
    for old, new in replacements.items():
        assert old in text, f"docs/deployment.md no longer has {old!r}"
        text = text.replace(old, new)
    return text


# Servers ---------------------------------------------------------------------------------


def make_test_ca(folder: Path) -> tuple[Path, Path, Path]:
    """A CA, and a certificate for 127.0.0.1 it signed: (ca.pem, fullchain.pem, key)."""
    folder.mkdir()

    def openssl(*args: str) -> None:
        subprocess.run(["openssl", *args], cwd=folder, check=True, capture_output=True)

    curve = ("-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes")
    openssl(
        *("req", "-x509", *curve, "-keyout", "ca.key", "-out", "ca.pem", "-days", "2"),
        *("-subj", "/CN=chatons-panel test CA"),
    )
    openssl("req", *curve, "-keyout", "server.key", "-out", "server.csr", "-subj", "/CN=panel")
    (folder / "ext.cnf").write_text(
        "subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n"
    )
    openssl(
        *("x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key"),
        *("-CAcreateserial", "-out", "server.pem", "-days", "2", "-extfile", "ext.cnf"),
    )
    chain = folder / "fullchain.pem"
    chain.write_bytes((folder / "server.pem").read_bytes() + (folder / "ca.pem").read_bytes())
    return folder / "ca.pem", chain, folder / "server.key"


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """PANEL_TEST_DATABASE_URL emptied, or a throw-away database on 127.0.0.1:5432."""
    if PG_URL:
        engine = create_engine(PG_URL)
        with engine.begin() as conn:
            conn.execute(text("DROP SCHEMA public CASCADE"))
            conn.execute(text("CREATE SCHEMA public"))
        engine.dispose()
        yield PG_URL
        return
    name = f"panel_https_{secrets.token_hex(4)}"
    admin = create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as exc:
        admin.dispose()
        missing_tool(f"PostgreSQL on 127.0.0.1:5432 (user postgres) is needed: {exc}")
    yield f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


class Processes:
    """Processes started for one test, each logging to its own file; all stopped after."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.started: list[tuple[str, subprocess.Popen[bytes]]] = []

    def start(self, name: str, argv: list[str], env: dict[str, str], cwd: Path) -> None:
        log = (self.folder / f"{name}.log").open("wb")
        process = subprocess.Popen(
            argv, cwd=cwd, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        self.started.append((name, process))

    def logs(self) -> str:
        return "\n".join(
            f"== {name}\n" + (self.folder / f"{name}.log").read_text(errors="replace")[-3000:]
            for name, _ in self.started
        )

    def stop(self) -> None:
        for _name, process in reversed(self.started):
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        for _name, process in self.started:
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()


def wait_until(check: Callable[[], Any], what: str, timeout: float = 30) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.1)
    raise AssertionError(f"waited {timeout} s for {what}")


NGINX_FRAME = """\
user root;
worker_processes 1;
daemon off;
pid {run}/nginx.pid;
events {{ worker_connections 128; }}
http {{
    access_log {run}/nginx-access.log;
    client_body_temp_path {run}/body;
    proxy_temp_path {run}/proxy;
    fastcgi_temp_path {run}/fastcgi;
    uwsgi_temp_path {run}/uwsgi;
    scgi_temp_path {run}/scgi;
{servers}
}}
"""


@pytest.fixture
def deployment(slapd, smtp, postgres_url, tmp_path) -> Iterator[dict[str, Any]]:
    if not os.path.exists(NGINX):
        missing_tool("nginx is not installed: apt-get install nginx")
    if shutil.which("redis-cli") is None:
        missing_tool("Redis is not installed: apt-get install redis-server")
    ca, chain, key = make_test_ca(tmp_path / "tls")
    run = Path(tempfile.mkdtemp(prefix="panel-", dir="/tmp"))  # a unix socket path is short
    https_port, http_port = ldap_server.free_port(), ldap_server.free_port()
    socket = run / "panel.sock"
    base = f"https://127.0.0.1:{https_port}/panel"
    profile = tmp_path / "hoster.toml"
    profile.write_text(profile_without_local_servers(), encoding="utf-8")
    unique = secrets.token_hex(4)

    ldap = slapd.settings()
    documented = guide_settings()
    ours = {
        "PANEL_SECRET_KEY": secrets.token_hex(32),
        "PANEL_BASE_URL": base,
        "PANEL_DATABASE_URL": postgres_url,
        "PANEL_HOSTER_FILE": str(profile),
        "PANEL_LDAP_URL": ldap["LDAP_URL"],
        "PANEL_LDAP_BIND_DN": ldap["LDAP_BIND_DN"],
        "PANEL_LDAP_BIND_PASSWORD": ldap["LDAP_BIND_PASSWORD"],
        "PANEL_LDAP_USER_BASE": ldap["LDAP_USER_BASE"],
        "PANEL_LDAP_STAFF_GROUP": ldap["LDAP_STAFF_GROUP"],
        "PANEL_SMTP_URL": smtp.url,
        "PANEL_RATELIMIT_STORAGE_URL": "redis://127.0.0.1:6379/11",
        "PANEL_QUEUE_URL": "redis://127.0.0.1:6379/11",
        "PANEL_BIND": f"unix:{socket}",
    }
    assert set(ours) <= set(documented), set(ours) - set(documented)
    assert documented["PANEL_ENV"] == "production" and documented["SCRIPT_NAME"] == "/panel"
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("PANEL_")},
        **documented,
        **ours,
        # Beyond the guide: two workers on this small machine, names of our own in the
        # shared Redis, attachments under the test's folder.
        "PANEL_WORKERS": "2",
        "PANEL_QUEUE_NAME": f"panel-https-{unique}",
        "PANEL_RATELIMIT_KEY_PREFIX": f"panel-https-{unique}",
        "PANEL_SUPPORT_ATTACHMENT_DIR": str(tmp_path / "attachments"),
        "PANEL_SUPPORT_STAFF_EMAIL": "team@example.org",
        "PANEL_LDAP_USER_FILTER": ldap["LDAP_USER_FILTER"],
    }

    def unit_command(name: str) -> tuple[list[str], Path]:
        unit = guide_unit(name)
        assert unit["EnvironmentFile"] == "/etc/chatons-panel/env"
        argv = unit["ExecStart"].replace("/srv/panel/venv", str(VENV)).split()
        return argv, Path(unit["WorkingDirectory"].replace("/srv/panel/app", str(ROOT)))

    # Section 3 of the guide: the schema, then the two units of section 4.
    flask = [str(VENV / "bin" / "flask"), "--app", "wsgi"]
    upgrade = subprocess.run(
        [*flask, "db", "upgrade"], cwd=ROOT, env=env, capture_output=True, text=True
    )
    assert upgrade.returncode == 0, upgrade.stderr
    processes = Processes(tmp_path)
    try:
        for name in ("chatons-panel.service", "chatons-panel-worker.service"):
            argv, cwd = unit_command(name)
            processes.start(name.split(".")[0], argv, env, cwd)
        servers = from_guide(
            guide_block("## 5. nginx", "nginx"),
            {
                "listen 443 ssl http2;": f"listen 127.0.0.1:{https_port} ssl http2;",
                "listen 80;": f"listen 127.0.0.1:{http_port};",
                "/etc/letsencrypt/live/example.org/fullchain.pem": str(chain),
                "/etc/letsencrypt/live/example.org/privkey.pem": str(key),
                "/run/chatons-panel/panel.sock": str(socket),
            },
        )
        conf = run / "nginx.conf"
        conf.write_text(NGINX_FRAME.format(run=run, servers=servers))
        processes.start(
            "nginx",
            [NGINX, "-e", str(run / "nginx-error.log"), "-p", str(run), "-c", str(conf)],
            env,
            run,
        )
        wait_until(socket.exists, "gunicorn's socket")
        tls = ssl.create_default_context(cafile=str(ca))

        def answers() -> bool:
            try:
                with fetch(f"{base}/healthz", tls) as reply:
                    return bool(reply.status == 200)
            except OSError:
                return False

        wait_until(answers, "the panel through nginx", timeout=60)
        yield {
            "base": base,
            "env": env,
            "tls": tls,
            "smtp": smtp,
            "flask": flask,
            "database": postgres_url,
            "processes": processes,
            "staff": ldap_server.ACCENTED_UID,
        }
    finally:
        processes.stop()
        shutil.rmtree(run, ignore_errors=True)


# The walk --------------------------------------------------------------------------------


def fetch(request: str | urllib.request.Request, tls: ssl.SSLContext) -> Any:
    """HTTPS to the test's own nginx, its certificate checked against the test CA."""
    return urllib.request.urlopen(request, context=tls, timeout=10)  # noqa: S310 - https only


def new_page(chromium: Any, origin: str) -> Any:
    """A French-speaking Chromium tab that reaches no other site than the panel's."""
    context = chromium.new_context(ignore_https_errors=True, locale="fr-FR", accept_downloads=True)
    refuse_other_hosts(context, origin)
    return context.new_page()


def sign_in(page: Any, base: str, login: str) -> None:
    page.goto(f"{base}/login")
    page.fill("#login", login)
    page.fill("#password", ldap_server.PASSWORD)
    page.click("form.stack button[type=submit]")


def accept_terms(page: Any) -> None:
    page.wait_for_url("**/legal/accept**")
    page.get_by_role("button", name="J'accepte").click()
    page.wait_for_url(re.compile(r".*/panel/$"))


def mail_to(smtp: Any, address: str, words: str, timeout: float = 30) -> bytes:
    def find() -> bytes | None:
        for raw in list(smtp.raw):
            message = message_from_bytes(raw, policy=default)
            if message["To"] == address and words in message.get_body(("plain",)).get_content():
                return raw
        return None

    found: bytes = wait_until(find, f"a mail to {address} with {words!r}", timeout)
    return found


def age_reauthentication(database: str, uid: str) -> None:
    """Ten minutes pass: the password typed at sign-in no longer counts for export."""
    engine = create_engine(database)
    with engine.begin() as conn:
        rows = conn.execute(
            text(
                "SELECT s.id, s.data FROM sessions s JOIN account a ON a.id = s.account_id "
                "WHERE a.uid = :uid"
            ),
            {"uid": uid},
        ).all()
        assert rows
        for session_id, data in rows:
            values = json.loads(data)
            stamp = values.get("reauth_at")
            assert stamp
            from datetime import datetime

            values["reauth_at"] = (datetime.fromisoformat(stamp) - timedelta(hours=1)).isoformat()
            conn.execute(
                text("UPDATE sessions SET data = :data WHERE id = :id"),
                {"data": json.dumps(values), "id": session_id},
            )
    engine.dispose()


def test_the_whole_panel_over_https_behind_nginx_in_production(deployment, chromium, tmp_path):
    base, smtp = deployment["base"], deployment["smtp"]
    origin = base.rsplit("/panel", 1)[0]

    # Staff publish the terms (and accept them, like everyone).
    staff = new_page(chromium, origin)
    try:
        sign_in(staff, base, deployment["staff"])
        staff.wait_for_url(re.compile(r".*/panel/$"))
        staff.goto(f"{base}/staff/legal/terms/publish")
        staff.fill("#summary_fr", "Première version.")
        staff.fill("#body_fr", "## Objet\n\nLes conditions d'utilisation des services.\n")
        staff.click("button[value=review]")
        staff.click(".legal-review button[value=publish]")
        staff.wait_for_url("**/legal/terms/1")
        published = time.monotonic()

        # The other gunicorn worker learns of the publication within LEGAL_VERSION_SECONDS
        # (2 s, docs/legal.md): until then a page it serves does not ask yet. One page that
        # asks may come from the worker that published, so the 2 s must have passed too
        # (CI once sent alice, signing in next, to the other worker before they had).
        def asked_to_accept() -> bool:
            staff.goto(f"{base}/")
            return "/legal/accept" in staff.url and time.monotonic() - published > 2.5

        wait_until(asked_to_accept, "the new terms to be asked for on every worker", timeout=15)
        accept_terms(staff)

        # A person signs in, accepts them, opens a ticket with a picture.
        alice = new_page(chromium, origin)
        sign_in(alice, base, "alice")
        accept_terms(alice)
        alice.goto(f"{base}/support/new?service=cloud")
        alice.fill("#subject", "Photos manquantes")
        alice.select_option("#category", "problem")
        alice.fill("#body", "Depuis hier, mes photos ne s'affichent plus.")
        picture = tmp_path / "capture.png"
        from support.ticket_helpers import PNG

        picture.write_bytes(PNG)
        alice.set_input_files("#attachments", str(picture))
        alice.click("main form[enctype] button[type=submit]")
        alice.wait_for_selector(".flash-success")
        assert "capture.png" in alice.inner_text("main")
        ticket = re.search(r"/support/(\d+)", alice.url).group(1)

        # Staff answer; the answer reaches her by mail.
        staff.goto(f"{base}/staff/tickets/{ticket}")
        staff.fill("#reply-form #body", "Elles sont revenues : essayez de nouveau.")
        staff.click("#reply-form button.primary")
        staff.wait_for_selector(".flash-success")
        mail_to(smtp, "alice@example.org", f"/panel/support/{ticket}")

        # Export, after typing the password again.
        age_reauthentication(deployment["database"], "alice")
        alice.goto(f"{base}/account/export")
        assert "nous vous demanderons d'abord votre mot de passe" in alice.inner_text("main")
        alice.click("main form button[type=submit]")
        alice.wait_for_url("**/account/confirm**")
        alice.fill("#password", ldap_server.PASSWORD)
        alice.click("main form button[type=submit]")
        alice.wait_for_url("**/account/export**")
        with alice.expect_download() as started:
            alice.click("main form button[type=submit]")
        with zipfile.ZipFile(started.value.path()) as archive:
            assert archive.testzip() is None
            names = archive.namelist()
            attachment = re.compile(rf"panel/tickets/{ticket}/attachments/\d+-capture\.png")
            assert any(attachment.fullmatch(name) for name in names), names

        # Deletion asked, then cancelled; then she signs out.
        alice.goto(f"{base}/account/deletion")
        alice.fill("input[name=confirm_login]", "alice")
        alice.click("button.danger")
        alice.click("text=Annuler ma demande de suppression")
        alice.wait_for_selector(".flash-success")
        alice.click("form.inline-form button")
        alice.wait_for_url("**/login**")
        alice.goto(f"{base}/account/data")
        alice.wait_for_url("**/login?next=**")  # signed out: private pages ask to sign in

        # A visitor subscribes to incident mail and confirms from the mail she got.
        visitor = new_page(chromium, origin)
        visitor.goto(f"{base}/incidents/subscribe")
        visitor.fill("#email", "lea@example.net")
        visitor.click("main form button[type=submit]")
        visitor.wait_for_selector("main h1")
        confirm_raw = mail_to(smtp, "lea@example.net", "/incidents/subscription/confirm/")
        confirm_text = message_from_bytes(confirm_raw, policy=default).get_content()
        link = re.search(r"(https://\S+/incidents/subscription/confirm/\S+)", confirm_text)
        assert link and link.group(1).startswith(base)
        visitor.goto(link.group(1))
        visitor.click("main form button[type=submit]")
        visitor.wait_for_url(
            lambda url: "/incidents/subscription/" in url and "/confirm/" not in url
        )
        assert "Votre abonnement est confirmé" in visitor.inner_text("main")

        # Staff open an incident from a script; the worker mails the news.
        opened = subprocess.run(
            [
                *(*deployment["flask"], "incidents", "open", "--service", "cloud"),
                *("--impact", "major", "Le stockage en ligne ne répond plus"),
            ],
            cwd=ROOT,
            env=deployment["env"],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert opened.returncode == 0, opened.stderr
        news = mail_to(smtp, "lea@example.net", "Le stockage en ligne ne répond plus")
    except Exception:
        print(deployment["processes"].logs())
        for page in chromium.contexts and [p for c in chromium.contexts for p in c.pages]:
            print(f"== {page.url}\n{page.inner_text('body')[:1500]}")
        raise

    # Mail as a client reads it.
    assert smtp.raw and all(problems(raw) == [] for raw in smtp.raw)
    headers = dict(raw_headers(news))
    assert headers["List-Unsubscribe"].startswith(f"<{base}/incidents/unsubscribe/")
    assert headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert b"=?utf-8?q?=3Chttps" not in news
    # RFC 8058: the mail provider posts the one click, over HTTPS checked against the CA.
    one_click = urllib.request.Request(  # noqa: S310 - the panel's https address
        headers["List-Unsubscribe"].strip("<>"),
        data=b"List-Unsubscribe=One-Click",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    with fetch(one_click, deployment["tls"]) as reply:
        assert reply.status == 200
    # Production headers, as nginx passed them on.
    with fetch(f"{base}/login", deployment["tls"]) as page:
        assert page.headers["Referrer-Policy"] == "same-origin"
        assert "Strict-Transport-Security" not in page.headers  # under /panel: nginx's call
