"""The real sign-in path, checked step by step: for `flask doctor`, /healthz and
`flask directory test`. Each step says what it found in a sentence an admin can act on."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ldap3.utils.conv import escape_filter_chars

from app.directory.client import Directory, Person
from app.directory.connections import DirectoryMisconfigured, DirectoryUnavailable

# Object classes that only exist with a product's own schema loaded.
PRODUCT_SCHEMAS = {
    "mailaccount": "YunoHost's own schema (yunohost.schema / mailserver.schema)",
    "groupofnamesynh": "YunoHost's own schema (yunohost.schema)",
    "permissionynh": "YunoHost's own schema (yunohost.schema)",
    "inetlocalmailrecipient": "the misc schema",
    "nsperson": "389 Directory Server's schema",
}


class StepFailed(Exception):
    """A step found something wrong that is neither an outage nor a setting."""


@dataclass(frozen=True)
class Finding:
    ok: bool
    step: str
    text: str


class Report:
    """Findings in order; a step that raises stops the walk (later steps would only fail)."""

    def __init__(self) -> None:
        self.findings: list[Finding] = []

    @property
    def ok(self) -> bool:
        return all(f.ok for f in self.findings)

    def good(self, step: str, text: str) -> None:
        self.findings.append(Finding(True, step, text))

    def problem(self, step: str, text: str) -> None:
        self.findings.append(Finding(False, step, text))

    def step(self, step: str, check: Callable[[], str | None]) -> bool:
        try:
            text = check()
        except StepFailed as exc:
            self.problem(step, str(exc))
            return False
        except DirectoryMisconfigured as exc:
            self.problem(step, f"configuration problem: {exc}")
            return False
        except DirectoryUnavailable as exc:
            self.problem(step, f"unreachable: {exc}")
            return False
        if text is not None:
            self.good(step, text)
        return True


def _schema_findings(directory: Directory, report: Report) -> None:
    schema = directory.schema()
    settings = directory.settings
    if schema is None:
        report.good("schema", "not readable by the panel: every configured attribute is asked")
        return
    amap = settings.attributes
    missing = [
        f"{key} = {amap[key]}"
        for key in ("login", "display_name", "email", "language")
        if amap.get(key) and not schema.defines(amap[key])
    ]
    if missing:
        report.problem(
            "schema",
            "PANEL_LDAP_ATTRIBUTES names attributes this server does not define: "
            + ", ".join(missing),
        )
    attributes, classes = schema.unknown_in_filter(settings.user_filter)
    for name in classes:
        needs = PRODUCT_SCHEMAS.get(name.casefold())
        hint = f" (it needs {needs})" if needs else ""
        report.problem(
            "schema",
            f"PANEL_LDAP_USER_FILTER asks for objectClass={name}, which this server does not "
            f"define{hint}: nobody can match it",
        )
    if attributes:
        report.problem(
            "schema",
            "PANEL_LDAP_USER_FILTER uses attributes this server does not define: "
            + ", ".join(attributes),
        )
    mode = settings.staff_membership
    if mode == "memberOf" and not schema.defines("memberOf"):
        report.problem(
            "schema",
            "PANEL_LDAP_STAFF_MEMBERSHIP is memberOf but this server has no memberOf "
            "attribute (no memberof overlay): use member, uniqueMember or memberUid",
        )
    elif not missing and not attributes and not classes:
        member_of = "with" if schema.defines("memberOf") else "without"
        report.good(
            "schema", f"read once; every configured attribute is defined ({member_of} memberOf)"
        )


def _find_people(directory: Directory) -> str:
    settings = directory.settings

    def search(conn: Any) -> list[Person]:
        return directory.search_people(conn, directory.user_filter("*", escape=False), size_limit=3)

    people = directory.pool.run(search)
    if not people:
        raise DirectoryMisconfigured(
            f"PANEL_LDAP_USER_FILTER {settings.user_filter} with {{login}} as * matches nobody "
            f"under PANEL_LDAP_USER_BASE {settings.user_base}"
        )
    example = people[0]
    return (
        f"the user filter finds people under {settings.user_base} "
        f"(for example {example.uid}: {example.display_name})"
    )


def _staff_group(directory: Directory) -> str:
    settings = directory.settings
    group = settings.staff_group
    if not group:
        return "no staff group set (PANEL_LDAP_STAFF_GROUP): nobody is staff"
    mode = settings.staff_membership
    if directory.uses_member_of() and mode == "memberOf":

        def members_by_member_of(conn: Any) -> list[Person]:
            return directory.search_people(
                conn, f"(memberOf={escape_filter_chars(group)})", size_limit=2
            )

        if not directory.pool.run(members_by_member_of):
            raise DirectoryMisconfigured(
                f"nobody under {settings.user_base} has memberOf {group} "
                "(PANEL_LDAP_STAFF_MEMBERSHIP=memberOf)"
            )
        return f"staff group {group} has members (read through memberOf)"
    values = directory.pool.run(lambda conn: directory.read_group(conn, group))
    if values is None:
        raise DirectoryMisconfigured(
            f"the staff group {group} does not exist or the service account cannot read it"
        )
    counts = {name: len(v) for name, v in values.items() if v}
    if not counts:
        attributes = ", ".join(directory.membership_attributes())
        raise DirectoryMisconfigured(
            f"the staff group {group} has no member in {attributes} "
            f"(PANEL_LDAP_STAFF_MEMBERSHIP={mode})"
        )
    detail = ", ".join(f"{n} {a}" for a, n in sorted(counts.items()))
    return f"staff group {group}: {detail} ({mode})"


def diagnose(directory: Directory) -> Report:
    """The real path: service bind, schema, user filter with `*`, staff group read."""
    report = Report()
    if directory.is_demo:
        report.good("directory", "demo directory")
        return report
    settings = directory.settings
    who = settings.bind_dn or "anonymous"

    def bind() -> str:
        directory.pool.run(lambda conn: None)
        return f"{who} binds on {directory.servers.ordered()[0]}"

    if not report.step("service account", bind):
        return report
    if not report.step("schema", lambda: _schema_findings(directory, report)):
        return report
    if settings.user_dn_template and not settings.bind_dn:
        report.good("people", "direct bind through PANEL_LDAP_USER_DN_TEMPLATE: not searched")
    else:
        report.step("people", lambda: _find_people(directory))
    report.step("staff", lambda: _staff_group(directory))
    return report


def walk_sign_in(directory: Directory, login: str, password: str) -> Report:
    """One sign-in, step by step, saying where it fails and why (`flask directory test`)."""
    report = diagnose(directory)
    if not report.findings or not report.findings[0].ok:
        return report
    found: list[Person] = []

    def search() -> str:
        person = directory.lookup(login)
        if person is None:
            raise StepFailed(
                f"no single person matches {directory.user_filter(login)} under "
                f"{directory.settings.user_base}"
            )
        found.append(person)
        return (
            f"{person.dn}: name {person.display_name!r}, e-mail {person.email or '(none)'}, "
            f"language {person.language or '(none)'}"
        )

    if not report.step(f"find {login}", search):
        return report
    person = found[0]

    def bind() -> str:
        if directory.authenticate(login, password) is None:
            raise StepFailed(
                "the directory refused this password for this person (wrong password, "
                "locked account, or a character the password cannot hold)"
            )
        return "the password is right"

    if not report.step("password", bind):
        return report
    report.step(
        "staff",
        lambda: "is staff" if directory.is_staff(person) else "is not staff (no staff pages)",
    )
    return report
