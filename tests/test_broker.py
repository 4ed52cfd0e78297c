"""The library facade, API keys end to end, on the real Secret Service."""

from __future__ import annotations

import json
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from sigilforge import (
    AccountExists,
    AccountKind,
    AddOptions,
    Broker,
    InvalidArgument,
    InvalidReference,
    NoSuchAccount,
    StoreLocked,
    paths,
)
from sigilforge.accounts import AccountStore
from sigilforge.events import AccountAdded, AccountRemoved, Event
from sigilforge.model import AccountStatus
from sigilforge.store.memory import MemoryStore
from sigilforge.testing.home import Home
from sigilforge.testing.marker import MARKER

KEY = f"sk-{MARKER}"


@pytest.fixture
def broker(home: Home) -> Iterator[Broker]:
    b = Broker.open()
    yield b
    b.close()


def test_api_key_account_end_to_end(broker: Broker, home: Home) -> None:
    events: list[Event] = []
    broker.subscribe(events.append)

    acc = broker.add_account("openai", "work", AddOptions(api_key=KEY + "\n")).result(5)

    assert acc.kind is AccountKind.API_KEY
    assert broker.get_token("openai", "work").token == KEY
    assert broker.resolve("auth://openai/work") == KEY
    assert broker.resolve("auth://openai/work/api_key") == KEY
    assert [a.key for a in broker.list_accounts()] == [("openai", "work")]
    assert events == [AccountAdded("openai", "work")]

    text = home.accounts_file.read_text()
    assert MARKER not in text
    assert stat.S_IMODE(home.accounts_file.stat().st_mode) == 0o600

    removal = broker.remove_account("openai", "work")
    assert removal.revoked is None
    assert events[-1] == AccountRemoved("openai", "work")
    with pytest.raises(NoSuchAccount):
        broker.get_token("openai", "work")


def test_a_second_broker_sees_the_first_ones_key(broker: Broker) -> None:
    broker.add_account("openai", "work", AddOptions(api_key=KEY)).result(5)
    other = Broker.open()
    try:
        assert other.get_token("openai", "work").token == KEY
        other.remove_account("openai", "work")
        with pytest.raises(NoSuchAccount):
            broker.get_token("openai", "work")
    finally:
        other.close()


def test_adding_twice_is_refused_and_keeps_the_first_key(broker: Broker) -> None:
    broker.add_account("openai", "work", AddOptions(api_key="first")).result(5)
    with pytest.raises(AccountExists):
        broker.add_account("openai", "work", AddOptions(api_key="second"))
    assert broker.get_token("openai", "work").token == "first"


@pytest.mark.parametrize("bad", ["", "\n", "   ", "a\x00b", "a\nb", "x" * 20000])
def test_bad_api_keys_are_refused(broker: Broker, bad: str) -> None:
    with pytest.raises(InvalidArgument):
        broker.add_account("openai", "work", AddOptions(api_key=bad))
    assert broker.list_accounts() == []


@pytest.mark.parametrize(("service", "account"), [("Open AI", "w"), ("openai", "a/b"), ("", "x")])
def test_bad_names_are_refused(broker: Broker, service: str, account: str) -> None:
    with pytest.raises(InvalidArgument):
        broker.add_account(service, account, AddOptions(api_key="k"))


def test_error_text_never_echoes_a_pasted_secret(broker: Broker) -> None:
    with pytest.raises(InvalidArgument) as info:
        broker.get_token(KEY + " pasted by mistake", "work")
    assert MARKER not in str(info.value)


def test_reference_to_an_api_key_field_of_an_oauth_style_name_fails(broker: Broker) -> None:
    with pytest.raises(NoSuchAccount):
        broker.resolve("auth://github/personal")
    with pytest.raises(InvalidReference):
        broker.resolve("github/personal")


def test_reauth_required_account_may_be_added_again(broker: Broker) -> None:
    broker.add_account("openai", "work", AddOptions(api_key="old")).result(5)
    # As the token manager would on invalid_grant, here through the file any process sees.
    AccountStore(paths.accounts_file()).update(
        "openai", "work", status=AccountStatus.REAUTH_REQUIRED
    )
    broker.add_account("openai", "work", AddOptions(api_key="new")).result(5)
    assert broker.get_token("openai", "work").token == "new"
    assert broker.get_account("openai", "work").status is AccountStatus.OK


def test_locked_store_loses_nothing(tmp_path: Path) -> None:
    secrets = MemoryStore()
    broker = Broker(
        accounts=AccountStore(tmp_path / "accounts.json"), secrets=secrets, lock_dir=tmp_path
    )
    broker.add_account("openai", "work", AddOptions(api_key="k")).result(5)
    broker.close()
    # A broker with nothing in memory, as the next process would be, meets the locked store.
    broker = Broker(
        accounts=AccountStore(tmp_path / "accounts.json"), secrets=secrets, lock_dir=tmp_path
    )
    secrets.locked = True
    with pytest.raises(StoreLocked):
        broker.get_token("openai", "work")
    with pytest.raises(StoreLocked):
        broker.remove_account("openai", "work")
    secrets.locked = False
    assert [a.key for a in broker.list_accounts()] == [("openai", "work")]
    assert broker.get_token("openai", "work").token == "k"


def test_accounts_json_has_no_secret_fields(broker: Broker, home: Home) -> None:
    broker.add_account("openai", "work", AddOptions(api_key=KEY)).result(5)
    record = json.loads(home.accounts_file.read_text())["accounts"][0]
    assert set(record) == {
        "service",
        "account",
        "kind",
        "provider",
        "scopes",
        "status",
        "created_at",
        "expires_at",
    }
