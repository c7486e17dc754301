"""A small CHATONS federation served over HTTP on loopback, with planted mistakes.

Three members: `alpha` (complete files: Nextcloud with registration open, Etherpad full),
`beta` (files with the mistakes listed in PLANTED_ERRORS, and a Nextcloud that does not say
whether it takes new accounts), and `gamma`, whose address answers nothing.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from ldap_server import free_port

FILES = {
    "chatons.properties": """
file.class = federation
file.protocol = ChatonsInfos-0.5
file.datetime = 2026-11-30T10:00:00+01:00
file.generator = test
file.url = {base}/chatons.properties
federation.name = CHATONS
federation.description = Collectif des hébergeurs alternatifs
federation.website = https://www.chatons.org/
federation.logo = https://www.chatons.org/logo.svg
federation.contact.url = https://www.chatons.org/contact
federation.contact.email = contact@chatons.org
federation.startdate = 2016-10-01
subs.alpha = {base}/alpha/organization.properties
subs.beta = {base}/beta/organization.properties
subs.gamma = http://127.0.0.1:{closed_port}/organization.properties
""",
    "alpha/organization.properties": """
file.class = organization
file.protocol = ChatonsInfos-0.5
file.datetime = 2026-11-30T10:00:00+01:00
file.generator = test
file.url = {base}/alpha/organization.properties
organization.name = Alpha
organization.description = Une association d'Alpha
organization.type = ASSOCIATION
organization.website = https://alpha.example/
organization.logo = https://alpha.example/logo.png
organization.legal.url = https://alpha.example/legal
organization.contact.url = https://alpha.example/contact
organization.contact.email = contact@alpha.example
organization.status.level = ACTIVE
organization.startdate = 2019-01-01
organization.country.name = France
organization.country.code = FR
organization.memberof.chatons.startdate = 2019-06-01
organization.memberof.chatons.status.level = ACTIVE
organization.socialnetworks.mastodon = https://mastodon.example/@alpha
subs.cloud = {base}/alpha/cloud.properties
subs.pad = {base}/alpha/pad.properties
""",
    "alpha/cloud.properties": """
file.class = service
file.protocol = ChatonsInfos-0.5
file.datetime = 2026-11-30T10:00:00+01:00
file.generator = test
file.url = {base}/alpha/cloud.properties
{service_common}
service.name = Alpha Cloud
service.website = https://cloud.alpha.example/
service.registration = Free;Member
service.registration.load = OPEN
software.name = Nextcloud
subs.metrics = {base}/alpha/cloud-metrics.properties
""",
    "alpha/cloud-metrics.properties": """
file.class = metrics
file.protocol = ChatonsInfos-0.5
file.datetime = 2026-11-30T10:00:00+01:00
file.generator = test
file.url = {base}/alpha/cloud-metrics.properties
metrics.service.accounts.name = Comptes
metrics.service.accounts.description = Nombre de comptes
metrics.service.accounts.2025.months = 10,12,,,,,,,,,,20
""",
    "alpha/pad.properties": """
file.class = service
file.protocol = ChatonsInfos-0.5
file.datetime = 2026-11-30T10:00:00+01:00
file.generator = test
file.url = {base}/alpha/pad.properties
{service_common}
service.name = Alpha Pad
service.website = https://pad.alpha.example/
service.registration = None
service.registration.load = FULL
software.name = Etherpad
""",
    "beta/organization.properties": """
file.class = organization
file.protocol = ChatonsInfos-0.5
file.datetime = 2026-11-30T10:00:00+01:00
organization.description = Beta
organization.type = ASSOCIATION
organization.website = https://beta.example/
organization.logo = https://beta.example/logo.png
organization.legal.url = https://beta.example/legal
organization.contact.url = https://beta.example/contact
organization.contact.email = contact@beta.example
organization.status.level = SLEEPING
organization.startdate = yesterday
organization.country.name = Belgique
organization.country.code = BE
organization.memberof.chatons.startdate = 2020-01-01
organization.memberof.chatons.status.level = ACTIVE
subs.cloud = {base}/beta/cloud.properties
""",
    "beta/cloud.properties": """
file.class = service
file.protocol = ChatonsInfos-0.5
file.datetime = 2026-11-30T10:00:00+01:00
file.generator = test
file.url = {base}/beta/cloud.properties
{service_common}
service.name = Beta Cloud
service.startdate = 2020-13-45
service.registration = Member
software.name = Nextcloud
software.website = not a web address
service.colour = blue
subs.metrics = {base}/beta/cloud-metrics.properties
""",
    "beta/cloud-metrics.properties": """
file.class = metrics
file.protocol = ChatonsInfos-0.5
file.datetime = 2026-11-30T10:00:00+01:00
file.generator = test
file.url = {base}/beta/cloud-metrics.properties
metrics.service.accounts.2025.months = 1,2,3,4,5,6,7,8,9,10,11,12,13
""",
}
SERVICE_COMMON = """
service.description = Un service
service.legal.url = https://example.org/legal
service.guide.user = https://example.org/guide
service.contact.url = https://example.org/contact
service.contact.email = contact@example.org
service.startdate = 2020-01-01
service.status.level = OK
service.install.type = PACKAGE
software.website = https://software.example/
software.license.url = https://spdx.org/licenses/AGPL-3.0-or-later.html
software.license.name = AGPL-3.0-or-later
software.version = 1.0
software.source.url = https://git.example/software
host.name = Hébergeur
host.server.distribution = Debian 12
host.server.type = VIRTUAL
host.provider.type = HOSTEDSERVER
host.country.name = France
host.country.code = FR
"""
# (file, key) of every error planted above; the unreachable member is reported on its own.
PLANTED_ERRORS = {
    ("beta/organization.properties", "organization.name"),
    ("beta/organization.properties", "file.url"),
    ("beta/organization.properties", "organization.status.level"),
    ("beta/organization.properties", "organization.startdate"),
    ("beta/cloud.properties", "service.registration.load"),
    ("beta/cloud.properties", "service.startdate"),
    ("beta/cloud.properties", "software.website"),
    ("beta/cloud-metrics.properties", "metrics.service.accounts.2025.months"),
}


@dataclass
class Federation:
    base: str
    url: str  # the federation file
    closed_port: int


class _Quiet(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


def serve_federation(root: Path) -> Iterator[Federation]:
    port, closed_port = free_port(), free_port()
    base = f"http://127.0.0.1:{port}"
    for name, text in FILES.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        body = text.replace("{service_common}", SERVICE_COMMON.strip())
        path.write_text(body.format(base=base, closed_port=closed_port).lstrip(), encoding="utf-8")
    server = ThreadingHTTPServer(("127.0.0.1", port), partial(_Quiet, directory=str(root)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield Federation(base=base, url=f"{base}/chatons.properties", closed_port=closed_port)
    finally:
        server.shutdown()
        server.server_close()
