"""Every error crosses the bus by name and comes back as the class it left as."""

from __future__ import annotations

import asyncio
import subprocess

import pytest

from sigilforge import errors
from sigilforge.dbus.aio import AsyncClient
from sigilforge.dbus.blocking import BlockingClient
from sigilforge.dbus.errors import UNEXPECTED_MESSAGE, error_from_reply, error_name, reply_for
from sigilforge.testing.broker_rig import BrokerRig
from sigilforge.testing.marker import MARKER
from tests.dbus.stub import ScriptedBroker, serving


@pytest.mark.parametrize("cls", errors.ERRORS, ids=lambda c: c.code)
def test_each_error_maps_to_its_name_and_back(cls: type[errors.SigilforgeError]) -> None:
    name, message = reply_for(cls("what happened"))
    assert name == error_name(cls)
    back = error_from_reply(name, message)
    assert type(back) is cls
    assert back.message == "what happened"


def test_invalid_argument_crosses_as_the_standard_invalid_args() -> None:
    assert error_name(errors.InvalidArgument) == "org.freedesktop.DBus.Error.InvalidArgs"
    assert error_name(errors.NoSuchAccount) == "org.sigilforge.Broker1.Error.NoSuchAccount"


def test_an_unexpected_exception_becomes_failed_without_its_text() -> None:
    name, message = reply_for(RuntimeError(f"token {MARKER} in a traceback"))
    assert name == "org.sigilforge.Broker1.Error.Failed"
    assert message.startswith(UNEXPECTED_MESSAGE)
    assert MARKER not in message


def test_every_error_round_trips_over_the_bus_to_the_same_class(broker_rig: BrokerRig) -> None:
    raised = [cls(f"{cls.code} happened") for cls in errors.ERRORS]

    async def scenario() -> list[tuple[BaseException, BaseException]]:
        broker = ScriptedBroker()
        seen: list[tuple[BaseException, BaseException]] = []
        async with serving(broker):
            client = await AsyncClient.connect(timeout=10)
            blocking = BlockingClient.connect(timeout=10)
            loop = asyncio.get_running_loop()
            try:
                for exc in raised:
                    broker.error = exc
                    with pytest.raises(errors.SigilforgeError) as got:
                        await client.get_token("openai", "work")
                    seen.append((exc, got.value))
                    with pytest.raises(errors.SigilforgeError) as got:
                        await loop.run_in_executor(None, blocking.resolve, "auth://a/b")
                    seen.append((exc, got.value))
            finally:
                client.close()
                blocking.close()
        return seen

    for sent, received in asyncio.run(asyncio.wait_for(scenario(), 60)):
        assert type(received) is type(sent)
        assert received.message == sent.message  # type: ignore[attr-defined]


def test_an_unexpected_error_is_failed_over_the_bus_and_logged_only_locally(
    broker_rig: BrokerRig, caplog: pytest.LogCaptureFixture
) -> None:
    async def scenario() -> errors.SigilforgeError:
        broker = ScriptedBroker()
        broker.error = KeyError(f"secret {MARKER}")
        async with serving(broker):
            client = await AsyncClient.connect(timeout=10)
            try:
                with pytest.raises(errors.SigilforgeError) as got:
                    await client.get_token("openai", "work")
            finally:
                client.close()
        return got.value

    received = asyncio.run(asyncio.wait_for(scenario(), 30))
    assert type(received) is errors.SigilforgeError
    assert MARKER not in received.message
    assert "KeyError" in caplog.text  # where it happened went to the daemon's log
    assert "stub.py" in caplog.text
    assert MARKER not in caplog.text


def test_busctl_sees_the_error_name(broker_rig: BrokerRig) -> None:
    done = subprocess.run(
        [
            "dbus-send",
            "--session",
            "--print-reply",
            "--dest=org.sigilforge.Broker1",
            "/org/sigilforge/Broker1",
            "org.sigilforge.Broker1.GetToken",
            "string:openai",
            "string:nobody",
        ],
        env=broker_rig.env,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert done.returncode != 0
    assert "org.sigilforge.Broker1.Error.NoSuchAccount" in done.stderr
