"""AddAccount on the portal Request pattern: handle now, Response later, Cancel, and a
caller that leaves takes its flow with it."""

from __future__ import annotations

import asyncio
import time

import pytest

from sigilforge import errors
from sigilforge.dbus.aio import AsyncClient
from sigilforge.dbus.blocking import BlockingClient
from sigilforge.model import AccountKind, AddOptions
from sigilforge.testing.broker_rig import BrokerRig
from sigilforge.testing.marker import MARKER
from tests.dbus.introspection import SHIPPED, members
from tests.dbus.stub import ScriptedBroker, serving

KEY = f"sk-{MARKER}-requests"


def run(coro: object, timeout: float = 30) -> object:
    return asyncio.run(asyncio.wait_for(coro, timeout))  # type: ignore[arg-type]


def test_api_key_add_account_replies_with_a_handle_then_a_response(broker_rig: BrokerRig) -> None:
    async def scenario() -> None:
        client = await AsyncClient.connect(timeout=20)
        try:
            request = await client.add_account("openai", "work", AddOptions(api_key=KEY))
            assert request.handle.startswith("/org/sigilforge/Broker1/request/")
            assert request.prompt == {}
            account = await request.result(timeout=10)
            assert (account.service, account.account, account.kind) == (
                "openai",
                "work",
                AccountKind.API_KEY,
            )
            assert (await client.get_token("openai", "work")).token == KEY
            with pytest.raises(errors.AccountExists):
                await client.add_account("openai", "work", AddOptions(api_key=KEY))
        finally:
            client.close()

    run(scenario())


def test_one_connection_keeps_adding_past_the_bus_match_rule_limit(
    broker_rig: BrokerRig,
) -> None:
    # The private bus allows 512 match rules a connection, like a stock dbus-daemon; a
    # client that left one behind per AddAccount was refused (LimitsExceeded) after that.
    async def scenario() -> None:
        client = await AsyncClient.connect(timeout=20)
        try:
            await (await client.add_account("openai", "work", AddOptions(api_key=KEY))).result(10)
            for _ in range(520):
                with pytest.raises(errors.AccountExists):
                    await client.add_account("openai", "work", AddOptions(api_key=KEY))
            request = await client.add_account("openai", "late", AddOptions(api_key=KEY))
            assert (await request.result(timeout=10)).key == ("openai", "late")
        finally:
            client.close()

    run(scenario(), timeout=120)


def test_blocking_client_adds_and_removes_like_the_broker(broker_rig: BrokerRig) -> None:
    client = BlockingClient.connect(timeout=20)
    try:
        pending = client.add_account("openai", "work", AddOptions(api_key=KEY))
        assert pending.result(timeout=10).key == ("openai", "work")
        assert [a.key for a in client.list_accounts()] == [("openai", "work")]
        assert client.get_token("openai", "work").token == KEY
        assert client.resolve("auth://openai/work/api_key") == KEY
        assert client.remove_account("openai", "work").account.kind is AccountKind.API_KEY
        with pytest.raises(errors.NoSuchAccount):
            client.get_token("openai", "work")
        with pytest.raises(errors.NoSuchAccount):
            client.remove_account("openai", "work")
        with pytest.raises(errors.InvalidArgument):
            client.remove_account("Not A Service!", "work")
        with pytest.raises(errors.InvalidArgument):
            client.add_account("openai", "x", AddOptions(api_key="  "))
    finally:
        client.close()


def test_oauth_add_account_without_providers_is_unknown_provider(broker_rig: BrokerRig) -> None:
    # Until the OAuth flows are plugged in, the broker refuses; the bus says the same.
    client = BlockingClient.connect(timeout=20)
    try:
        with pytest.raises(errors.UnknownProvider):
            client.add_account("github", "me", AddOptions(scopes=("repo",)))
    finally:
        client.close()


def test_cancel_ends_the_flow_with_response_1(broker_rig: BrokerRig) -> None:
    async def scenario() -> None:
        broker = ScriptedBroker()
        async with serving(broker) as service:
            client = await AsyncClient.connect(timeout=10)
            try:
                request = await client.add_account("github", "me", AddOptions())
                assert request.prompt == broker.prompt
                assert service.open_requests == 1
                await request.cancel()
                with pytest.raises(errors.Cancelled):
                    await request.result(timeout=5)
                assert broker.pendings[0].done()
                assert service.open_requests == 0
            finally:
                client.close()

    run(scenario())


def test_a_failed_flow_reports_its_error_in_the_response(broker_rig: BrokerRig) -> None:
    async def scenario() -> None:
        broker = ScriptedBroker()
        async with serving(broker):
            client = await AsyncClient.connect(timeout=10)
            try:
                request = await client.add_account("github", "me", AddOptions())
                broker.pendings[0].set_exception(errors.AccessDenied("the user said no"))
                with pytest.raises(errors.AccessDenied, match="the user said no"):
                    await request.result(timeout=5)
            finally:
                client.close()

    run(scenario())


def test_only_the_caller_may_cancel(broker_rig: BrokerRig) -> None:
    async def scenario() -> None:
        broker = ScriptedBroker()
        async with serving(broker):
            owner = await AsyncClient.connect(timeout=10)
            other = await AsyncClient.connect(timeout=10)
            try:
                request = await owner.add_account("github", "me", AddOptions())
                with pytest.raises(errors.AccessDenied):
                    await other._call(
                        "Cancel",
                        "",
                        [],
                        path=request.handle,
                        interface="org.sigilforge.Broker1.Request",
                    )
                assert not broker.pendings[0].done()
            finally:
                owner.close()
                other.close()

    run(scenario())


def test_a_caller_that_leaves_the_bus_cancels_its_flow(broker_rig: BrokerRig) -> None:
    async def scenario() -> None:
        broker = ScriptedBroker()
        async with serving(broker) as service:
            client = await AsyncClient.connect(timeout=10)
            await client.add_account("github", "me", AddOptions())
            pending = broker.pendings[0]
            client.close()
            deadline = time.monotonic() + 5
            while not pending.done() and time.monotonic() < deadline:
                await asyncio.sleep(0.02)
            assert isinstance(pending.exception(), errors.Cancelled)
            while service.open_requests and time.monotonic() < deadline:
                await asyncio.sleep(0.02)
            assert service.open_requests == 0

    run(scenario())


def test_the_request_object_introspects_as_the_shipped_xml(broker_rig: BrokerRig) -> None:
    async def scenario() -> None:
        broker = ScriptedBroker()
        async with serving(broker):
            client = await AsyncClient.connect(timeout=10)
            try:
                request = await client.add_account("github", "me", AddOptions())
                (xml,) = await client._call(
                    "Introspect",
                    "",
                    [],
                    path=request.handle,
                    interface="org.freedesktop.DBus.Introspectable",
                )
                running = members(xml, "org.sigilforge.Broker1.Request")
                assert running == members(SHIPPED.read_text(), "org.sigilforge.Broker1.Request")
            finally:
                client.close()

    run(scenario())


def test_the_handle_follows_the_callers_token_and_a_token_in_use_is_refused(
    broker_rig: BrokerRig,
) -> None:
    from dbus_fast import Variant

    async def scenario() -> None:
        broker = ScriptedBroker()
        async with serving(broker):
            client = await AsyncClient.connect(timeout=10)
            try:
                options = {"handle_token": Variant("s", "mine_1")}
                handle, prompt = await client._call(
                    "AddAccount", "ssa{sv}", ["github", "me", options]
                )
                sender = client._bus.unique_name.lstrip(":").replace(".", "_")
                assert handle == f"/org/sigilforge/Broker1/request/{sender}/mine_1"
                assert prompt["authorize_url"].value == broker.prompt["authorize_url"]
                with pytest.raises(errors.InvalidArgument):
                    await client._call("AddAccount", "ssa{sv}", ["github", "you", options])
            finally:
                client.close()

    run(scenario())
