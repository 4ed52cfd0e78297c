"""Cached ``GetToken`` answers through the daemon: whatever another process does to
``accounts.json``, the very next call sees it; and with many callers at once, every
caller gets its own answer (the daemon writes the replies of one read together)."""

from __future__ import annotations

import asyncio
import json
import shutil
import subprocess

from dbus_fast import Message, MessageType
from dbus_fast.aio import MessageBus

from sigilforge.testing.broker_rig import BUS_NAME, INTERFACE, OBJECT_PATH, BrokerRig


def _token(rig: BrokerRig, account: str = "work") -> subprocess.CompletedProcess[str]:
    return rig.busctl_call("GetToken", "ss", "openai", account)


def _no_account(rig: BrokerRig) -> None:
    got = _token(rig)
    assert got.returncode != 0
    assert "no account openai/work" in got.stderr, got.stderr


def _cached(rig: BrokerRig, key: str, account: str = "work") -> None:
    # The first call reads the store; the second is answered from memory.
    for _ in range(2):
        got = _token(rig, account)
        assert got.stdout.strip() == f'sx "{key}" 0', got.stderr


def test_an_account_another_process_removed_is_not_served_from_memory(
    broker_rig: BrokerRig,
) -> None:
    broker_rig.add_api_key("openai", "work", "sk-cached-one")
    _cached(broker_rig, "sk-cached-one")

    removed = broker_rig.cli("--no-daemon", "remove-account", "openai", "work")
    assert removed.returncode == 0, removed.stderr
    _no_account(broker_rig)

    broker_rig.add_api_key("openai", "work", "sk-cached-two")
    assert _token(broker_rig).stdout.strip() == 'sx "sk-cached-two" 0'


def test_a_hand_edit_in_place_is_seen_by_the_next_call(broker_rig: BrokerRig) -> None:
    broker_rig.add_api_key("openai", "work", "sk-edited")
    _cached(broker_rig, "sk-edited")
    accounts = broker_rig.config_dir / "accounts.json"
    data = json.loads(accounts.read_text())
    data["accounts"] = [a for a in data["accounts"] if a.get("account") != "work"]
    # Over the same file, as an editor that does not rename would.
    with accounts.open("r+") as fh:
        fh.truncate(0)
        fh.write(json.dumps(data))

    _no_account(broker_rig)


def test_a_config_dir_removed_and_made_again_is_seen_by_the_next_call(
    broker_rig: BrokerRig,
) -> None:
    broker_rig.add_api_key("openai", "work", "sk-old-dir")
    _cached(broker_rig, "sk-old-dir")

    shutil.rmtree(broker_rig.config_dir)
    _no_account(broker_rig)
    broker_rig.add_api_key("openai", "work", "sk-new-dir")
    _cached(broker_rig, "sk-new-dir")
    # And the directory made again is watched as the first one was.
    assert broker_rig.cli("--no-daemon", "remove-account", "openai", "work").returncode == 0
    _no_account(broker_rig)


def test_many_callers_at_once_each_get_their_own_token(broker_rig: BrokerRig) -> None:
    keys = {f"acct{i}": f"sk-caller-{i}-{'x' * i}" for i in range(4)}
    for account, key in keys.items():
        broker_rig.add_api_key("openai", account, key)

    async def caller(bus: MessageBus, n: int) -> list[tuple[str, object]]:
        seen = []
        for k in range(40):
            account = f"acct{(n + k) % len(keys)}"
            reply = await bus.call(
                Message(
                    destination=BUS_NAME,
                    path=OBJECT_PATH,
                    interface=INTERFACE,
                    member="GetToken",
                    signature="ss",
                    body=["openai", account],
                )
            )
            assert reply is not None
            assert reply.message_type is MessageType.METHOD_RETURN
            seen.append((account, reply.body[0]))
        return seen

    async def scenario() -> list[list[tuple[str, object]]]:
        buses = [await MessageBus(bus_address=broker_rig.bus.address).connect() for _ in range(16)]
        try:
            return await asyncio.gather(*(caller(b, n) for n, b in enumerate(buses)))
        finally:
            for bus in buses:
                bus.disconnect()

    answers = asyncio.run(asyncio.wait_for(scenario(), 60))
    assert sum(len(a) for a in answers) == 16 * 40
    assert all(token == keys[account] for each in answers for account, token in each)
