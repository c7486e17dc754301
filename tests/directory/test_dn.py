from app.directory.dn import same_dn


def test_dn_comparison_ignores_case_and_spaces_around_separators():
    assert same_dn(
        "uid=Alice,ou=People,dc=Example,dc=org", "UID=alice, OU=people,DC=example,DC=ORG"
    )


def test_dn_comparison_resolves_hex_and_backslash_escapes():
    assert same_dn(
        "cn=Smith\\, John,ou=people,dc=example,dc=org",
        "cn=Smith\\2C John,ou=people,dc=example,dc=org",
    )


def test_dn_comparison_never_matches_a_prefix_or_suffix():
    assert not same_dn(
        "uid=alice,ou=people,dc=example,dc=org", "uid=alice2,ou=people,dc=example,dc=org"
    )
    assert not same_dn(
        "uid=alice,ou=people,dc=example,dc=org", "uid=alice,ou=people,dc=example,dc=org,dc=net"
    )
    assert not same_dn("uid=alice,ou=people,dc=example,dc=org", "ou=people,dc=example,dc=org")


def test_multivalued_rdns_compare_in_any_order():
    assert same_dn("cn=a+uid=b,dc=org", "uid=b+cn=a,dc=org")


def test_escaped_trailing_space_is_kept():
    assert not same_dn("cn=a\\ ,dc=org", "cn=a,dc=org")
