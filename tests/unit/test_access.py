"""Who may see and spend: the pure sign-in decisions of batchcore.domain.access."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from batchcore.domain import access

FULL = {"redirect_uri": "http://127.0.0.1:8501/oauth2callback", "cookie_secret": "c" * 32,
        "client_id": "batch-studio", "client_secret": "s" * 16,
        "server_metadata_url": "http://127.0.0.1:9400/.well-known/openid-configuration"}
SHARED = {k: FULL[k] for k in access.SHARED_KEYS}
PROVIDER = {k: FULL[k] for k in access.PROVIDER_KEYS}


def test_no_auth_section_means_no_sign_in():
    """Without an [auth] section sign-in is off, there is no provider and no problem."""
    assert not access.auth_configured({})
    assert access.login_providers({}) == ()
    assert access.auth_problem({}) == ""


def test_auth_keys_at_top_level_are_the_default_provider():
    """All five keys in [auth] itself: sign-in is on with st.login()'s default provider."""
    sections = {"auth": FULL}
    assert access.auth_configured(sections)
    assert access.login_providers(sections) == (access.DEFAULT_PROVIDER,)
    assert access.auth_problem(sections) == ""


def test_named_provider_sections_are_found():
    """[auth.google]-style subsections are providers by name; underscores are refused."""
    sections = {"auth": {**SHARED, "google": PROVIDER, "bad_name": PROVIDER,
                         "half": {"client_id": "x"}}}
    assert access.login_providers(sections) == ("google",)
    assert access.auth_problem(sections) == ""


@pytest.mark.parametrize("missing", [*access.SHARED_KEYS, *access.PROVIDER_KEYS])
def test_an_incomplete_section_keeps_the_app_closed_and_names_the_key(missing):
    """Each missing key leaves sign-in asked for, with no provider, and a sentence naming it."""
    sections = {"auth": {k: v for k, v in FULL.items() if k != missing}}
    assert access.auth_configured(sections)
    assert access.login_providers(sections) == ()
    problem = access.auth_problem(sections)
    assert missing in problem and "stays closed" in problem


def test_blank_values_count_as_missing():
    """A key set to an empty string is as good as absent."""
    sections = {"auth": {**FULL, "cookie_secret": "  "}}
    assert access.login_providers(sections) == ()
    assert "cookie_secret" in access.auth_problem(sections)


def test_the_problem_never_quotes_a_secret_value():
    """The incomplete-section sentence names keys only, never the values beside them."""
    sections = {"auth": {**FULL, "redirect_uri": ""}}
    problem = access.auth_problem(sections)
    assert FULL["client_secret"] not in problem and FULL["cookie_secret"] not in problem


def test_a_non_table_auth_value_is_not_a_sign_in_section():
    """auth = "yes" (a plain value, not a table) does not turn sign-in on."""
    assert not access.auth_configured({"auth": "yes"})


def test_owner_is_the_lower_cased_email_of_a_signed_in_person():
    """A signed-in person owns as their email, lower-cased and trimmed."""
    info = {"is_logged_in": True, "email": " Alice@Example.COM ", "sub": "a1"}
    assert access.owner_of(info) == "alice@example.com"


def test_nobody_signed_in_owns_nothing():
    """Not signed in (or no user info at all) → the empty owner."""
    assert access.owner_of({}) == ""
    assert access.owner_of({"is_logged_in": False, "email": "alice@example.com"}) == ""


@pytest.mark.parametrize("flag", [False, "false", "False"])
def test_an_unverified_email_is_not_trusted(flag):
    """email_verified = false: the owner is the provider's subject, not the claimed email."""
    info = {"is_logged_in": True, "email": "alice@example.com", "email_verified": flag,
            "sub": "mallory"}
    assert access.owner_of(info) == "sub:mallory"


def test_a_signed_in_person_without_email_owns_by_subject():
    """No email claim: the subject names the owner; no subject either → nobody."""
    assert access.owner_of({"is_logged_in": True, "sub": "u-42"}) == "sub:u-42"
    assert access.owner_of({"is_logged_in": True}) == ""


@given(st.text(), st.text())
def test_only_the_owner_may_open_an_owned_workspace(me, them):
    """An owned workspace opens for its owner only; an unowned one for everyone."""
    assert access.may_open(me, "") is True
    if them:
        assert access.may_open(me, them) is (me == them)


def test_signed_in_as_shows_the_person():
    """The sidebar line names the email (or the bare subject)."""
    assert access.signed_in_as("alice@example.com") == "Signed in as alice@example.com"
    assert access.signed_in_as("sub:u-42") == "Signed in as u-42"


def test_spend_note_for_someone_not_on_the_allow_list():
    """Signed in but not on SPEND_ALLOWLIST: told up front they may look and dry-run only."""
    note = access.spend_note("bob@example.com", ("alice@example.com",), True)
    assert "dry-run" in note and "SPEND_ALLOWLIST" in note


def test_no_spend_note_for_an_allowed_person_or_without_a_list():
    """On the list (any case), or no list at all: nothing to say."""
    assert access.spend_note("Alice@Example.com", ("alice@example.com",), True) == ""
    assert access.spend_note("bob@example.com", (), True) == ""
    assert access.spend_note("", (), False) == ""


def test_an_allow_list_without_sign_in_says_nobody_can_spend():
    """SPEND_ALLOWLIST without sign-in refuses everyone, and the note says how to fix it."""
    note = access.spend_note("", ("alice@example.com",), False)
    assert "nobody can spend" in note and "[auth]" in note


def test_all_names_exist():
    """batchcore.domain.access.__all__ names only things it defines."""
    assert [n for n in access.__all__ if not hasattr(access, n)] == []
