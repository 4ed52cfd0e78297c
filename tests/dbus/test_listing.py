"""ListAccounts' reply is encoded once per list of accounts: the bytes must be what
dbus-fast itself would send, and a changed list must never get the old answer."""

from __future__ import annotations

import dataclasses

import pytest
from dbus_fast import Message

from sigilforge.dbus.blocking import BlockingClient
from sigilforge.dbus.listing import SIGNATURE, EncodedReply, Listing, account_rows
from sigilforge.model import Account, AccountKind, AccountStatus, AddOptions
from sigilforge.testing.broker_rig import BrokerRig
from sigilforge.testing.marker import MARKER


def _accounts(n: int) -> list[Account]:
    return [
        Account("bench", f"a{i:04d}", AccountKind.OAUTH2, provider="google", scopes=("x", "y"))
        for i in range(n)
    ]


@pytest.mark.parametrize("n", [0, 1, 3, 200])
def test_encoded_reply_is_byte_for_byte_dbus_fasts_own(n: int) -> None:
    call = Message(destination="org.sigilforge.Broker1", path="/p", member="ListAccounts")
    call.serial, call.sender = 41, ":1.7"
    accounts = _accounts(n)
    ours = EncodedReply(call, SIGNATURE, Listing().body(accounts))
    theirs = Message.new_method_return(call, SIGNATURE, [account_rows(accounts)])
    ours.serial = theirs.serial = 9
    assert bytes(ours._marshall(False)) == bytes(theirs._marshall(False))


def test_listing_encodes_again_when_an_account_changes() -> None:
    listing = Listing()
    accounts = _accounts(3)
    first = listing.body(accounts)
    assert listing.body(list(accounts)) is first
    changed = [
        *accounts[:2],
        dataclasses.replace(accounts[2], status=AccountStatus.REAUTH_REQUIRED),
    ]
    assert listing.body(changed) != first
    assert listing.body(accounts[:2]) != first


def test_list_accounts_over_the_bus_follows_adds_and_removes(broker_rig: BrokerRig) -> None:
    client = BlockingClient.connect(timeout=20)
    try:
        assert client.list_accounts() == []
        client.add_account("openai", "one", _key()).result(timeout=10)
        assert [a.key for a in client.list_accounts()] == [("openai", "one")]
        client.add_account("openai", "two", _key()).result(timeout=10)
        assert [a.key for a in client.list_accounts()] == [("openai", "one"), ("openai", "two")]
        client.remove_account("openai", "one")
        assert [a.key for a in client.list_accounts()] == [("openai", "two")]
    finally:
        client.close()


def _key() -> AddOptions:
    return AddOptions(api_key=f"sk-{MARKER}-listing")
