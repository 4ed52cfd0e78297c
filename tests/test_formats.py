"""``get-token --format``: what each format prints, and the combinations refused."""

from __future__ import annotations

import base64
import json

import pytest

from sigilforge.errors import InvalidArgument
from sigilforge.formats import TokenFormat, render
from sigilforge.model import AccessToken

TOKEN = AccessToken("tok-123", 1_900_000_000)


def test_each_format() -> None:
    assert render(TokenFormat.TOKEN, TOKEN) == "tok-123"
    assert render(TokenFormat.HEADER, TOKEN) == "Authorization: Bearer tok-123"
    assert json.loads(render(TokenFormat.JSON, TOKEN)) == {
        "token": "tok-123",
        "expires_at": 1_900_000_000,
    }
    assert json.loads(render(TokenFormat.JSON, AccessToken("k")))["expires_at"] == 0
    xoauth2 = base64.b64decode(render(TokenFormat.XOAUTH2, TOKEN, "a@b.test"))
    assert xoauth2 == b"user=a@b.test\x01auth=Bearer tok-123\x01\x01"
    bearer = base64.b64decode(render(TokenFormat.OAUTHBEARER, TOKEN, "a=1,b@c.test"))
    assert bearer == b"n,a=a=3D1=2Cb@c.test,\x01auth=Bearer tok-123\x01\x01"


@pytest.mark.parametrize(
    ("fmt", "user"),
    [
        (TokenFormat.XOAUTH2, None),
        (TokenFormat.OAUTHBEARER, ""),
        (TokenFormat.XOAUTH2, "a@b\x01auth=Bearer evil"),
        (TokenFormat.TOKEN, "a@b.test"),
        (TokenFormat.JSON, "a@b.test"),
    ],
)
def test_refused_combinations(fmt: TokenFormat, user: str | None) -> None:
    with pytest.raises(InvalidArgument):
        render(fmt, TOKEN, user)
