"""Real servers for the connector tests: the http reference server, the DAV servers
(Radicale, Xandikos, sabre/dav, Apache httpd mod_dav, wsgidav) and Synapse.

Each runs as its own process on a free loopback port with its configuration in a temporary
folder; `stop()` kills it (a test of a server that goes away), `start()` brings it back.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

import requests

from ldap_server import free_port

ROOT = Path(__file__).resolve().parent.parent
TOKEN = "reference-token-8f2c"
ADMIN_USER = "panel"
ADMIN_PASSWORD = "panel-secret-4d1a"
PEOPLE = {"alice": "alice-pw-93b0", "bob": "bob-pw-1e77"}


@dataclass
class Process:
    argv: list[str]
    port: int
    home: Path
    ready_path: str = "/"
    env: dict[str, str] = field(default_factory=dict)
    process: subprocess.Popen[bytes] | None = None
    log_name: str = "server.log"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 60.0) -> None:
        log = (self.home / self.log_name).open("ab")
        self.process = subprocess.Popen(
            self.argv,
            cwd=self.home,
            stdout=log,
            stderr=subprocess.STDOUT,
            env={**os.environ, **self.env},
            start_new_session=True,
        )
        log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.argv[:3]} ended at start: {self.log()[-3000:]}")
            try:
                requests.get(self.url + self.ready_path, timeout=2)
                return
            except requests.RequestException:
                time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"{self.argv[:3]} did not start: {self.log()[-3000:]}")

    def stop(self) -> None:
        if self.process is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait()
        self.process = None

    def log(self) -> str:
        path = self.home / self.log_name
        return path.read_text(errors="replace") if path.exists() else ""

    def cleanup(self) -> None:
        self.stop()
        shutil.rmtree(self.home, ignore_errors=True)


# The http reference server -----------------------------------------------------------------


def start_reference(*extra: str) -> Process:
    home = Path(tempfile.mkdtemp(prefix="panel-httpref-"))
    (home / "data").mkdir()
    (home / "token").write_text(TOKEN)
    port = free_port()
    server = Process(
        [
            sys.executable,
            str(ROOT / "tools" / "http_connector_server.py"),
            "--root",
            str(home / "data"),
            "--token-file",
            str(home / "token"),
            "--port",
            str(port),
            "--prefix",
            "/panel-api",
            "--quiet",
            *extra,
        ],
        port,
        home,
    )
    server.start()
    return server


# Radicale (CalDAV/CardDAV) ---------------------------------------------------------------

RADICALE_RIGHTS = """\
# The service account may read and write every person's collections.
[panel-principal]
user: panel
collection: [^/]+
permissions: RrWw

[panel-collections]
user: panel
collection: [^/]+/[^/]+
permissions: RrWw

[root]
user: .+
collection:
permissions: R

# bob lets alice read his collections (Radicale has no sharing; rights are the nearest).
[alice-reads-bob]
user: alice
collection: bob(/[^/]+)?
permissions: rR

[owner-principal]
user: .+
collection: {user}
permissions: RrWw

[owner-collections]
user: .+
collection: {user}/[^/]+
permissions: RrWw
"""


def radicale_available() -> bool:
    try:
        import radicale  # noqa: F401
    except ImportError:
        return False
    return True


def start_radicale() -> Process:
    home = Path(tempfile.mkdtemp(prefix="panel-radicale-"))
    users = {ADMIN_USER: ADMIN_PASSWORD, **PEOPLE}
    (home / "users").write_text("".join(f"{u}:{p}\n" for u, p in users.items()))
    (home / "rights").write_text(RADICALE_RIGHTS)
    port = free_port()
    (home / "config").write_text(
        f"""\
[server]
hosts = 127.0.0.1:{port}

[auth]
type = htpasswd
htpasswd_filename = {home}/users
htpasswd_encryption = plain
delay = 0

[rights]
type = from_file
file = {home}/rights

[storage]
filesystem_folder = {home}/collections

[logging]
level = warning
"""
    )
    server = Process(
        [sys.executable, "-m", "radicale", "--config", str(home / "config")],
        port,
        home,
        ready_path="/.web/",
    )
    server.start()
    return server


# wsgidav (plain WebDAV files) --------------------------------------------------------------


def wsgidav_available() -> bool:
    try:
        import cheroot  # noqa: F401
        import wsgidav  # noqa: F401
    except ImportError:
        return False
    return True


def start_wsgidav(auth: str = "basic") -> Process:
    home = Path(tempfile.mkdtemp(prefix="panel-wsgidav-"))
    digest = "true" if auth == "digest" else "false"
    (home / "files").mkdir()
    port = free_port()
    (home / "wsgidav.yaml").write_text(
        f"""\
host: 127.0.0.1
port: {port}
server: cheroot
verbose: 1
logging:
    enable: false
provider_mapping:
    "/files": "{home}/files"
http_authenticator:
    domain_controller: null
    accept_basic: {"false" if auth == "digest" else "true"}
    accept_digest: {digest}
    default_to_digest: {digest}
simple_dc:
    user_mapping:
        "*":
            "{ADMIN_USER}":
                password: "{ADMIN_PASSWORD}"
dir_browser:
    enable: false
lock_storage: true
property_manager: true
"""
    )
    server = Process(
        [sys.executable, "-m", "wsgidav.server.server_cli", "--config", str(home / "wsgidav.yaml")],
        port,
        home,
        ready_path="/files/",
    )
    server.start()
    return server


# Xandikos (CalDAV/CardDAV, one principal, no authentication of its own) -----------------------


def xandikos_available() -> bool:
    return shutil.which("xandikos") is not None


def start_xandikos(principal: str = "alice") -> Process:
    """Xandikos as Debian runs it, with `principal`'s default calendar and address book."""
    home = Path(tempfile.mkdtemp(prefix="panel-xandikos-"))
    port = free_port()
    server = Process(
        [shutil.which("xandikos") or "xandikos", "-d", str(home / "data"), "--defaults",
         "--current-user-principal", f"/{principal}/", "-l", "127.0.0.1", "-p", str(port)],
        port,
        home,
        ready_path=f"/{principal}/",
    )  # fmt: skip
    server.start()
    return server


# sabre/dav (Baïkal's library): CalDAV, CardDAV, ACL, sharing, Basic or Digest --------------------

SABRE_REALM = "SabreDAV"


def sabredav_available() -> bool:
    if shutil.which("php") is None:
        return False
    found = subprocess.run(
        ["php", "-r", "require 'Sabre/autoload.php'; echo extension_loaded('pdo_sqlite');"],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    return found.returncode == 0 and found.stdout.strip() == "1"


def start_sabredav(auth: str = "basic") -> Process:
    home = Path(tempfile.mkdtemp(prefix="panel-sabredav-"))
    shutil.copy(ROOT / "tests" / "sabredav_server.php", home / "server.php")
    (home / "users.json").write_text(json.dumps({ADMIN_USER: ADMIN_PASSWORD, **PEOPLE}))
    port = free_port()
    server = Process(
        ["php", "-S", f"127.0.0.1:{port}", "server.php"],
        port,
        home,
        ready_path="/",
        env={"SABRE_AUTH": auth},
    )
    server.start()
    return server


def share_sabredav_calendar(server: Process, owner: str, calendar: str, sharee: str) -> None:
    """`owner` shares a calendar read-write with `sharee`, as a CalDAV client does."""
    body = (
        '<?xml version="1.0" encoding="utf-8"?><CS:share xmlns:D="DAV:" '
        'xmlns:CS="http://calendarserver.org/ns/"><CS:set>'
        f"<D:href>mailto:{sharee}@example.org</D:href><CS:read-write/></CS:set></CS:share>"
    )
    response = requests.post(
        f"{server.url}/calendars/{owner}/{calendar}/", data=body.encode(),
        auth=person_auth(server, owner), headers={"Content-Type": "application/xml"}, timeout=10,
    )  # fmt: skip
    assert response.status_code == 200, response.text[:300]


def person_auth(server: Process, uid: str) -> Any:
    """The person's credentials in the scheme the server wants (Digest or Basic)."""
    password = PEOPLE.get(uid, ADMIN_PASSWORD)
    if server.env.get("SABRE_AUTH") == "digest" or server.env.get("AUTH") == "digest":
        return requests.auth.HTTPDigestAuth(uid, password)
    return (uid, password)


# Apache httpd mod_dav: WebDAV files on /files only (an Alias), Basic or Digest ------------------

APACHE_MODULES = (
    "mpm_event", "authn_core", "authn_file", "authz_core", "authz_user", "auth_basic",
    "auth_digest", "alias", "dav", "dav_fs",
)  # fmt: skip
APACHE_REALM = "DAV"


def apache_binary() -> str | None:
    return shutil.which("apache2") or shutil.which("apache2", path="/usr/sbin")


def apache_available() -> bool:
    return apache_binary() is not None and Path("/usr/lib/apache2/modules/mod_dav_fs.so").exists()


def start_apache(auth: str = "basic") -> Process:
    """httpd as hosters lay it out: the site elsewhere, DAV on /files only (Alias)."""
    home = Path(tempfile.mkdtemp(prefix="panel-apache-"))
    for folder in ("files", "www", "lock"):
        (home / folder).mkdir()
    port = free_port()
    users = {ADMIN_USER: ADMIN_PASSWORD, **PEOPLE}
    if auth == "digest":
        lines = [
            f"{u}:{APACHE_REALM}:" + hashlib.md5(f"{u}:{APACHE_REALM}:{p}".encode()).hexdigest()  # noqa: S324 - htdigest
            for u, p in users.items()
        ]
        auth_lines = "AuthType Digest\n  AuthDigestProvider file"
    else:
        # htpasswd's {SHA} form: mod_authn_file takes no plain text on Linux.
        lines = [
            f"{u}:{{SHA}}" + base64.b64encode(hashlib.sha1(p.encode()).digest()).decode()  # noqa: S324
            for u, p in users.items()
        ]
        auth_lines = "AuthType Basic"
    (home / "users").write_text("\n".join(lines) + "\n")
    modules = "\n".join(
        f"LoadModule {m}_module /usr/lib/apache2/modules/mod_{m}.so" for m in APACHE_MODULES
    )
    (home / "httpd.conf").write_text(
        f"""\
ServerRoot {home}
PidFile {home}/httpd.pid
ErrorLog {home}/error.log
LogLevel warn
Listen 127.0.0.1:{port}
ServerName 127.0.0.1
User nobody
Group nogroup
{modules}
DocumentRoot {home}/www
DavLockDB {home}/lock/DavLock
Alias /files {home}/files
<Directory {home}/files>
  Dav On
  {auth_lines}
  AuthName {APACHE_REALM}
  AuthUserFile {home}/users
  Require valid-user
</Directory>
"""
    )
    apache_writable(home)
    server = Process(
        [apache_binary() or "apache2", "-X", "-f", str(home / "httpd.conf")],
        port,
        home,
        ready_path="/",
        env={"AUTH": auth},
    )
    server.start()
    return server


def apache_writable(home: Path) -> None:
    """httpd's child runs as nobody when the tests run as root: let it reach the files."""
    home.chmod(0o755)
    for path in [home / "files", home / "lock", *(home / "files").rglob("*")]:
        path.chmod(0o777 if path.is_dir() else 0o666)


VTIMEZONE_PARIS = """\
BEGIN:VTIMEZONE
TZID:Europe/Paris
BEGIN:STANDARD
DTSTART:19701025T030000
RRULE:FREQ=YEARLY;BYMONTH=10;BYDAY=-1SU
TZOFFSETFROM:+0200
TZOFFSETTO:+0100
TZNAME:CET
END:STANDARD
BEGIN:DAYLIGHT
DTSTART:19700329T020000
RRULE:FREQ=YEARLY;BYMONTH=3;BYDAY=-1SU
TZOFFSETFROM:+0100
TZOFFSETTO:+0200
TZNAME:CEST
END:DAYLIGHT
END:VTIMEZONE
"""


def event(uid: str, summary: str, start: str, rrule: str = "") -> str:
    rule = f"RRULE:{rrule}\n" if rrule else ""
    return (
        "BEGIN:VCALENDAR\nVERSION:2.0\nPRODID:-//tests//EN\n"
        + VTIMEZONE_PARIS
        + f"BEGIN:VEVENT\nUID:{uid}\nDTSTAMP:20240101T000000Z\n"
        f"DTSTART;TZID=Europe/Paris:{start}\nDURATION:PT1H\nSUMMARY:{summary}\n{rule}"
        "END:VEVENT\nEND:VCALENDAR\n"
    ).replace("\n", "\r\n")


def vcard(uid: str, name: str, email: str) -> str:
    return (
        f"BEGIN:VCARD\nVERSION:3.0\nUID:{uid}\nFN:{name}\nN:{name};;;;\nEMAIL:{email}\nEND:VCARD\n"
    ).replace("\n", "\r\n")


MKCALENDAR = """<?xml version="1.0" encoding="utf-8"?>
<C:mkcalendar xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav">
<D:set><D:prop><D:displayname>{name}</D:displayname></D:prop></D:set></C:mkcalendar>"""
MKADDRESSBOOK = """<?xml version="1.0" encoding="utf-8"?>
<D:mkcol xmlns:D="DAV:" xmlns:CR="urn:ietf:params:xml:ns:carddav">
<D:set><D:prop><D:resourcetype><D:collection/><CR:addressbook/></D:resourcetype>
<D:displayname>{name}</D:displayname></D:prop></D:set></D:mkcol>"""


def seed_radicale(server: Process, uid: str) -> None:
    """As the person: a calendar with a weekly and a one-off event, an address book."""
    auth = (uid, PEOPLE[uid])
    base = f"{server.url}/{uid}"

    def call(method: str, path: str, body: str, content_type: str) -> None:
        response = requests.request(
            method, base + path, data=body.encode(), auth=auth, timeout=10,
            headers={"Content-Type": content_type},
        )  # fmt: skip
        assert response.status_code in (200, 201, 204), (method, path, response.text[:300])

    requests.request("PROPFIND", base + "/", auth=auth, timeout=10)  # creates the principal
    for old in ("/work/", "/contacts/"):
        requests.delete(base + old, auth=auth, timeout=10)
    call(
        "MKCALENDAR",
        "/work/",
        MKCALENDAR.format(name=escape("Travail & réunions")),
        "application/xml",
    )
    call("PUT", "/work/weekly.ics",
         event("weekly-1", "Réunion d'équipe", "20240108T100000", "FREQ=WEEKLY;COUNT=10"),
         "text/calendar")  # fmt: skip
    call("PUT", "/work/once.ics", event("once-1", "Dentist", "20240215T143000"), "text/calendar")
    call("MKCOL", "/contacts/", MKADDRESSBOOK.format(name="Contacts"), "application/xml")
    call("PUT", "/contacts/zoe.vcf", vcard("zoe-1", "Zoé Lefèvre", "zoe@example.org"), "text/vcard")
    call("PUT", "/contacts/sam.vcf", vcard("sam-1", "Sam Martin", "sam@example.org"), "text/vcard")


def seed_dav(
    server: Process, uid: str, calendar: str, book: str, *, summary: str = "Dentist"
) -> None:
    """As the person: a calendar at `calendar` with two events, an address book at `book`
    with two cards (paths from the server's root, ending with /)."""
    auth = person_auth(server, uid)

    def call(method: str, path: str, body: str, content_type: str) -> None:
        response = requests.request(
            method, server.url + path, data=body.encode(), auth=auth, timeout=10,
            headers={"Content-Type": content_type},
        )  # fmt: skip
        assert response.status_code in (200, 201, 204), (method, path, response.text[:300])

    call("MKCALENDAR", calendar, MKCALENDAR.format(name=f"Agenda de {uid}"), "application/xml")
    call("PUT", f"{calendar}weekly.ics",
         event(f"{uid}-weekly", f"Réunion de {uid}", "20240108T100000", "FREQ=WEEKLY;COUNT=10"),
         "text/calendar")  # fmt: skip
    call("PUT", f"{calendar}once.ics", event(f"{uid}-once", summary, "20240215T143000"),
         "text/calendar")  # fmt: skip
    call("MKCOL", book, MKADDRESSBOOK.format(name=f"Contacts de {uid}"), "application/xml")
    call("PUT", f"{book}zoe.vcf", vcard(f"{uid}-zoe", "Zoé Lefèvre", "zoe@example.org"),
         "text/vcard")  # fmt: skip
    call("PUT", f"{book}sam.vcf", vcard(f"{uid}-sam", "Sam Martin", "sam@example.org"),
         "text/vcard")  # fmt: skip


def dav_items(server: Process, uid: str, collection: str) -> dict[str, bytes]:
    """Every member of a collection with its exact bytes, asked as `uid` (item by item)."""
    auth = person_auth(server, uid)
    response = requests.request(
        "PROPFIND", server.url + collection, auth=auth, headers={"Depth": "1"}, timeout=10,
    )  # fmt: skip
    if response.status_code == 404:
        return {}
    assert response.status_code == 207, response.text[:300]
    from defusedxml import ElementTree

    items: dict[str, bytes] = {}
    for member in ElementTree.fromstring(response.content).iter("{DAV:}response"):
        href = member.findtext("{DAV:}href") or ""
        if href.rstrip("/").endswith(collection.rstrip("/")) or href.endswith("/"):
            continue
        got = requests.get(server.url + href, auth=auth, timeout=10)
        assert got.status_code == 200, (href, got.status_code)
        items[href] = got.content
    return items


def dav_children(server: Process, uid: str, path: str = "") -> list[str]:
    """What the server itself lists under the person's home, asked as the person."""
    response = requests.request(
        "PROPFIND", f"{server.url}/{path or uid + '/'}", auth=(uid, PEOPLE[uid]),
        headers={"Depth": "1"}, timeout=10,
    )  # fmt: skip
    if response.status_code == 404:
        return []
    assert response.status_code == 207, response.text[:300]
    from defusedxml import ElementTree

    root = ElementTree.fromstring(response.content)
    hrefs = [r.findtext("{DAV:}href") or "" for r in root.iter("{DAV:}response")]
    own = f"/{path or uid + '/'}"
    return [h for h in hrefs if h.rstrip("/") != own.rstrip("/") and h.startswith(own)]


# Synapse (Matrix) ----------------------------------------------------------------------------

SYNAPSE_SERVER_NAME = "test.local"
SYNAPSE_ADMIN = "panel-admin"
SYNAPSE_PASSWORD = "synapse-pw-51c9"


def synapse_available() -> bool:
    try:
        import synapse  # noqa: F401
    except ImportError:
        return False
    return True


@dataclass
class Synapse(Process):
    admin_token: str = ""
    shared_secret: str = ""

    def register(self, user: str, *, admin: bool = False) -> str:
        """A new account through the shared-secret admin API; returns its access token."""
        import hashlib
        import hmac

        endpoint = f"{self.url}/_synapse/admin/v1/register"
        nonce = requests.get(endpoint, timeout=10).json()["nonce"]
        # The MAC is over the fields joined by NUL bytes (Synapse's admin API documentation).
        fields = (nonce, user, SYNAPSE_PASSWORD, "admin" if admin else "notadmin")
        mac = hmac.new(self.shared_secret.encode(), digestmod=hashlib.sha1)
        mac.update(b"\x00".join(f.encode() for f in fields))
        body = {"nonce": nonce, "username": user, "password": SYNAPSE_PASSWORD,
                "admin": admin, "mac": mac.hexdigest()}  # fmt: skip
        response = requests.post(endpoint, json=body, timeout=30)
        assert response.status_code == 200, response.text
        return str(response.json()["access_token"])

    def user_id(self, user: str) -> str:
        return f"@{user}:{SYNAPSE_SERVER_NAME}"


def start_synapse() -> Synapse:
    import yaml

    home = Path(tempfile.mkdtemp(prefix="panel-synapse-"))
    subprocess.run(
        [sys.executable, "-m", "synapse.app.homeserver", "--server-name", SYNAPSE_SERVER_NAME,
         "--config-path", str(home / "homeserver.yaml"), "--generate-config",
         "--report-stats=no", "--data-directory", str(home)],
        cwd=home, check=True, capture_output=True, timeout=120,
    )  # fmt: skip
    config = yaml.safe_load((home / "homeserver.yaml").read_text())
    port = free_port()
    unlimited = {"per_second": 1000, "burst_count": 1000}
    config.update(
        listeners=[{"port": port, "bind_addresses": ["127.0.0.1"], "type": "http", "tls": False,
                    "x_forwarded": False, "resources": [{"names": ["client"], "compress": False}]}],
        trusted_key_servers=[],
        suppress_key_server_warning=True,
        enable_registration=False,
        rc_message=unlimited, rc_registration=unlimited, rc_admin_redaction=unlimited,
        rc_login={"address": unlimited, "account": unlimited, "failed_attempts": unlimited},
        rc_joins={"local": unlimited, "remote": unlimited},
        rc_media_create=unlimited,
        media_retention={},
        enable_media_repo=True,
        federation_domain_whitelist=[],
        url_preview_enabled=False,
    )  # fmt: skip
    (home / "homeserver.yaml").write_text(yaml.safe_dump(config))
    log_config = Path(config["log_config"])
    log_config.write_text(log_config.read_text().replace("level: INFO", "level: WARNING"))
    server = Synapse(
        [sys.executable, "-m", "synapse.app.homeserver", "-c", str(home / "homeserver.yaml")],
        port,
        home,
        ready_path="/health",
        shared_secret=str(config["registration_shared_secret"]),
    )
    server.start(timeout=120)
    server.admin_token = server.register(SYNAPSE_ADMIN, admin=True)
    return server


def seed_matrix(server: Synapse, user: str, media: bytes = b"\x89PNG\r\n\x1a\n fake image") -> str:
    """A person with a room, a message, a setting and an uploaded picture; their room id."""
    token = server.register(user)
    headers = {"Authorization": f"Bearer {token}"}
    client = f"{server.url}/_matrix/client/v3"
    room = requests.post(f"{client}/createRoom", json={"name": f"Garden of {user}"},
                         headers=headers, timeout=30).json()["room_id"]  # fmt: skip
    uploaded = requests.post(
        f"{server.url}/_matrix/media/v3/upload?filename=photo%20été.png", data=media,
        headers={**headers, "Content-Type": "image/png"}, timeout=30,
    )  # fmt: skip
    assert uploaded.status_code == 200, uploaded.text
    sent = requests.put(
        f"{client}/rooms/{room}/send/m.room.message/txn1",
        json={"msgtype": "m.image", "body": "photo", "url": uploaded.json()["content_uri"]},
        headers=headers, timeout=30,
    )  # fmt: skip
    assert sent.status_code == 200, sent.text
    setting = requests.put(
        f"{client}/user/{server.user_id(user)}/account_data/org.example.theme",
        json={"dark": True}, headers=headers, timeout=30,
    )  # fmt: skip
    assert setting.status_code == 200, setting.text
    return str(room)


def synapse_admin_get(server: Synapse, path: str) -> requests.Response:
    return requests.get(
        f"{server.url}/_synapse/admin{path}",
        headers={"Authorization": f"Bearer {server.admin_token}"},
        timeout=30,
    )
