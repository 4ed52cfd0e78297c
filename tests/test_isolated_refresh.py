"""The daemon's refresh child reports on one JSON line; what crosses must come back the
same (events, the error a caller would have seen in-process, a token set the store
refused), and anything else is refused rather than guessed at."""

from __future__ import annotations

import pytest

from sigilforge.errors import InvalidArgument, ProviderError, ReauthRequired, Timeout
from sigilforge.events import ReauthRequired as ReauthEvent
from sigilforge.events import TokenRefreshed
from sigilforge.isolated_refresh import (
    RefreshReport,
    RefreshRequest,
    decode_report,
    encode_report,
    request_from_argv,
    request_to_argv,
)
from sigilforge.model import TokenSet


def test_a_report_comes_back_as_it_was_sent() -> None:
    unsaved = TokenSet("at-1", "rt-2", expires_at=1_900_000_000, obtained_at=1_899_999_000)
    error = ProviderError("slow down", error="temporarily_unavailable", transient=True)
    error.retry_after = 120.0
    report = RefreshReport(
        refreshed=True,
        events=(TokenRefreshed("corp", "alice", 1_900_000_000), ReauthEvent("corp", "bob", "x")),
        wait=119.5,
        reauth="the provider refused the refresh token",
        unsaved=unsaved,
        error=error,
    )
    line = encode_report(report)
    assert line.count("\n") == 1
    assert line.endswith("\n")
    got = decode_report(line)
    assert got.events == report.events
    assert (got.refreshed, got.wait, got.reauth, got.unsaved) == (
        True,
        119.5,
        report.reauth,
        unsaved,
    )
    assert isinstance(got.error, ProviderError)
    assert (got.error.message, got.error.error) == ("slow down", "temporarily_unavailable")
    assert (got.error.transient, got.error.retry_after) == (True, 120.0)


@pytest.mark.parametrize(
    "error", [ReauthRequired("corp/alice: a refresh was interrupted"), Timeout("late")]
)
def test_an_error_keeps_its_class_and_message(error: Exception) -> None:
    got = decode_report(encode_report(RefreshReport(error=error))).error  # type: ignore[arg-type]
    assert type(got) is type(error)
    assert str(got) == str(error)


@pytest.mark.parametrize("line", ["", "{}", "[1]", '{"refreshed": true}', "not json"])
def test_anything_but_a_report_is_refused(line: str) -> None:
    with pytest.raises(ValueError, match="not a refresh report"):
        decode_report(line)


def test_the_request_in_argv_holds_names_a_flag_a_digest_and_a_wait() -> None:
    request = RefreshRequest("corp", "alice", True, "0123456789abcdef", wait=3.5, keep_unsaved=True)
    argv = request_to_argv(request)
    assert argv == [
        "corp",
        "alice",
        "forced",
        "0123456789abcdef",
        "--wait",
        "3.500",
        "--keep-unsaved",
    ]
    assert request_from_argv(argv) == request
    with pytest.raises(InvalidArgument):
        request_from_argv(["corp", "alice", "sometimes", "00"])
