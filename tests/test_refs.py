"""auth:// references: strict parsing, exact formatting."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sigilforge.errors import InvalidReference
from sigilforge.refs import CredentialRef, Field

services = st.from_regex(r"[a-z0-9][a-z0-9._-]{0,20}", fullmatch=True)
accounts = st.from_regex(r"[A-Za-z0-9][A-Za-z0-9._@+-]{0,20}", fullmatch=True)
fields = st.sampled_from([None, *Field])


@given(services, accounts, fields)
def test_format_then_parse_round_trips(service: str, account: str, field: Field | None) -> None:
    ref = CredentialRef(service, account, field)
    assert CredentialRef.parse(str(ref)) == ref


@given(st.text(max_size=60))
def test_anything_that_parses_formats_back_to_itself(text: str) -> None:
    try:
        ref = CredentialRef.parse(text)
    except InvalidReference:
        return
    assert str(ref) == text


@given(services, accounts, st.text(min_size=1, max_size=12))
def test_unknown_fields_are_rejected(service: str, account: str, field: str) -> None:
    if field in {f.value for f in Field}:
        return
    with pytest.raises(InvalidReference):
        CredentialRef.parse(f"auth://{service}/{account}/{field}")


@pytest.mark.parametrize(
    "text",
    [
        "",
        "auth://",
        "auth://github",
        "auth://github/",
        "auth:///personal",
        "auth://github/personal/",
        "auth://github/personal/token/extra",
        "auth://GitHub/personal",
        "auth://git hub/personal",
        "auth://github/per sonal",
        "auth://github/personal?x=1",
        "auth://github/personal#frag",
        "auth://github/%70ersonal",
        "Auth://github/personal",
        "https://github/personal",
        "auth:github/personal",
        "auth://github/personal/refresh_token",
        "auth://github/personal/client_secret",
        "auth://github/\npersonal",
        "auth://../personal",
    ],
)
def test_malformed_references_are_rejected(text: str) -> None:
    with pytest.raises(InvalidReference):
        CredentialRef.parse(text)


def test_refresh_tokens_never_resolve_and_say_so() -> None:
    with pytest.raises(InvalidReference, match="never"):
        CredentialRef.parse("auth://github/personal/refresh_token")


def test_well_formed_reference() -> None:
    ref = CredentialRef.parse("auth://openai/alice@example.com/api_key")
    assert (ref.service, ref.account, ref.field) == ("openai", "alice@example.com", Field.API_KEY)
