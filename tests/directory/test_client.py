"""The directory adapter against a real slapd."""

from __future__ import annotations

import time

import pytest

import ldap_server as L
from app.directory import Directory, DirectorySettings, DirectoryUnavailable


@pytest.fixture(params=["memberof", "debian"])
def slapd(request, slapd):
    """Every adapter test on both OpenLDAP configurations: with the memberof overlay, and
    as Debian's package sets it up (cn=config, no memberof)."""
    return slapd if request.param == "memberof" else request.getfixturevalue("debian_slapd")


def make_directory(slapd: L.Slapd, **overrides) -> Directory:
    return Directory(DirectorySettings.from_config({**_defaults(), **slapd.settings(**overrides)}))


def _defaults():
    import config

    return config.defaults()


@pytest.mark.ldap
def test_person_signs_in_with_the_right_password(slapd):
    person = make_directory(slapd).authenticate("alice", L.PASSWORD)
    assert person is not None
    assert person.uid == "alice"
    assert person.display_name == "Alice Martin"
    assert person.email == "alice@example.org"
    assert person.language == "fr"


@pytest.mark.ldap
def test_wrong_password_and_unknown_login_both_fail(slapd):
    directory = make_directory(slapd)
    assert directory.authenticate("alice", "wrong") is None
    assert directory.authenticate("nobody", L.PASSWORD) is None


@pytest.mark.ldap
def test_empty_password_never_binds_even_if_the_server_allows_anonymous(slapd):
    directory = make_directory(slapd)
    assert directory.authenticate("alice", "") is None


@pytest.mark.ldap
@pytest.mark.parametrize(
    "login", ["*", "al*", "alice)(uid=*", "*)(|(uid=*", "alice\\", "ali\x00ce", "(uid=alice)"]
)
def test_filter_metacharacters_cannot_widen_the_search(slapd, login):
    assert make_directory(slapd).authenticate(login, L.PASSWORD) is None


@pytest.mark.ldap
def test_non_ascii_names_come_back_intact(slapd):
    person = make_directory(slapd).authenticate("zoe", L.PASSWORD)
    assert person is not None and person.display_name == "Zoé Lefèvre-Nguyễn"


@pytest.mark.ldap
def test_dn_with_an_escaped_comma_signs_in(slapd):
    person = make_directory(slapd).authenticate("jsmith", L.PASSWORD)
    assert person is not None
    assert person.display_name == "Smith, John"


@pytest.mark.ldap
def test_person_without_mail_signs_in_with_no_email(slapd):
    person = make_directory(slapd).authenticate("nomail", L.PASSWORD)
    assert person is not None and person.email is None


@pytest.mark.ldap
def test_direct_bind_through_a_dn_template(slapd):
    directory = make_directory(
        slapd,
        LDAP_BIND_DN=None,
        LDAP_BIND_PASSWORD=None,
        LDAP_USER_DN_TEMPLATE=f"uid={{login}},{L.PEOPLE}",
    )
    assert directory.authenticate("bob", L.PASSWORD).display_name == "Bob Smith"
    assert directory.authenticate("bob", "nope") is None
    assert directory.authenticate("bob,ou=people", L.PASSWORD) is None


@pytest.mark.ldap
@pytest.mark.parametrize(
    ("uid", "group", "mode"),
    [
        ("staffnames", "cn=staff", "member"),
        ("staffunique", "cn=unique-staff", "uniqueMember"),
        ("staffposix", "cn=posix-staff", "memberUid"),
        ("staffmemberof", "cn=memberof-staff", "memberOf"),
    ],
)
def test_staff_membership_in_each_group_layout(slapd, uid, group, mode):
    if mode == "memberOf" and slapd.flavour == "debian":
        # Without the overlay nobody carries memberOf: nobody is staff that way.
        directory = make_directory(
            slapd, LDAP_STAFF_GROUP=f"{group},{L.GROUPS}", LDAP_STAFF_MEMBERSHIP=mode
        )
        assert not directory.is_staff(directory.authenticate(uid, L.PASSWORD))
        return
    for membership in (mode, "auto"):
        directory = make_directory(
            slapd, LDAP_STAFF_GROUP=f"{group},{L.GROUPS}", LDAP_STAFF_MEMBERSHIP=membership
        )
        person = directory.authenticate(uid, L.PASSWORD)
        assert directory.is_staff(person), (uid, membership)
        other = directory.authenticate("alice", L.PASSWORD)
        assert not directory.is_staff(other), membership


@pytest.mark.ldap
def test_staff_dn_match_is_exact_not_substring(slapd):
    directory = make_directory(slapd)
    # The group lists alice2 (not alice) and a DN written in another case and spacing.
    assert not directory.is_staff(directory.authenticate("alice", L.PASSWORD))
    assert directory.is_staff(directory.authenticate("alice2", L.PASSWORD))
    assert directory.is_staff(directory.authenticate("staffrevoked", L.PASSWORD))
    assert directory.is_staff(directory.authenticate("jsmith", L.PASSWORD))


@pytest.mark.ldap
def test_posix_member_uid_is_not_matched_by_prefix(slapd):
    directory = make_directory(
        slapd, LDAP_STAFF_GROUP=f"cn=posix-staff,{L.GROUPS}", LDAP_STAFF_MEMBERSHIP="memberUid"
    )
    # memberUid holds "alice22": alice and alice2 are not members.
    assert not directory.is_staff(directory.authenticate("alice2", L.PASSWORD))


@pytest.mark.ldap
def test_failover_to_the_second_url_when_the_first_is_down(slapd):
    dead = f"ldap://127.0.0.1:{L.free_port()}"
    directory = make_directory(slapd, LDAP_URL=f"{dead} {slapd.url}", LDAP_TIMEOUT=1)
    assert directory.authenticate("alice", L.PASSWORD) is not None


def test_unreachable_directory_raises_within_the_timeout():
    settings = DirectorySettings(
        urls=(f"ldap://127.0.0.1:{L.free_port()}",), user_base=L.PEOPLE, timeout=1
    )
    started = time.monotonic()
    with pytest.raises(DirectoryUnavailable):
        Directory(settings).authenticate("alice", "pw")
    assert time.monotonic() - started < 3


@pytest.mark.ldap
def test_lookup_sees_a_deleted_person_as_gone(slapd):
    dn = slapd.add_person("tempuser")
    directory = make_directory(slapd)
    assert directory.lookup("tempuser") is not None
    slapd.delete_entry(dn)
    assert directory.lookup("tempuser") is None


@pytest.mark.ldap
def test_delete_removes_the_entry_and_its_memberships(slapd):
    dn = slapd.add_person("leaver")
    slapd.add_member(f"cn=staff,{L.GROUPS}", "member", dn)
    slapd.add_member(f"cn=posix-staff,{L.GROUPS}", "memberUid", "leaver")
    directory = make_directory(slapd)
    person = directory.lookup("leaver")
    assert directory.delete(person) is True
    assert directory.lookup("leaver") is None
    with slapd.admin() as conn:
        conn.search(L.GROUPS, f"(|(member={dn})(memberUid=leaver))")
        assert conn.entries == []
    assert directory.delete(person) is False  # idempotent


@pytest.mark.ldap
def test_entry_attributes_never_include_the_password(slapd):
    directory = make_directory(slapd)
    person = directory.lookup("bob")
    attributes = directory.entry_attributes(person)
    assert attributes["mail"] == ["bob@example.org"]
    assert not any(name.lower() == "userpassword" for name in attributes)


@pytest.mark.ldap
def test_password_with_control_characters_is_a_wrong_password_not_an_outage(slapd):
    assert make_directory(slapd).authenticate("alice", "pass\x01word") is None
