"""A blocking one-shot client (jeepney) for the CLI: the ``BrokerAPI`` over the bus.

It imports neither asyncio nor dbus-fast, so a ``sigilforge get-token`` costs one
connection and one round trip. Every call has a time limit, and every error reply is
raised as the same ``sigilforge.errors`` class the in-process ``Broker`` raises;
``Unreachable`` means there was no broker to ask (the caller may fall back).
"""

from __future__ import annotations

import os

from sigilforge.dbus.errors import (
    Unreachable,
    error_from_reply,
    lost_session_bus,
    no_session_bus,
)
from sigilforge.dbus.lean import Connection, ErrorReply, HandshakeError
from sigilforge.dbus.names import (
    BUS_NAME,
    CALL_TIMEOUT,
    INTERFACE,
    OBJECT_PATH,
    PEER_INTERFACE,
    REQUEST_INTERFACE,
    request_path,
)
from sigilforge.dbus.rows import account_row
from sigilforge.dbus.signatures import IN_SIGNATURES
from sigilforge.errors import SigilforgeError, Timeout

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing on every run
# The model (dataclasses) and friends load when a method needs them: ``call_once``, the
# CLI's get-token path, needs none of it.
if TYPE_CHECKING:
    from collections.abc import Mapping
    from typing import Any

    from jeepney.io.blocking import DBusConnection
    from jeepney.low_level import Message

    from sigilforge.model import AccessToken, Account, AddOptions, Removal
    from sigilforge.pending import Pending

__all__ = ["BlockingClient", "account_rows_once", "call_once", "call_once_whole"]

_FLOW_WAIT = 900.0
_AUTH_TIMEOUT = 5.0


def _connect(timeout: float) -> Connection:
    try:
        address = os.environ["DBUS_SESSION_BUS_ADDRESS"]
        return Connection.open(address, min(timeout, _AUTH_TIMEOUT))
    except (OSError, KeyError, ValueError) as exc:
        # KeyError/ValueError: no or a malformed DBUS_SESSION_BUS_ADDRESS.
        raise no_session_bus(exc) from None


def _call(
    conn: Connection,
    member: str,
    body: tuple[Any, ...],
    timeout: float,
    *,
    interface: str = INTERFACE,
) -> tuple[Any, ...]:
    # Our methods' signatures are generated from the shipped XML, as the service reads
    # them from it; Peer.Ping (the one standard method we call) takes nothing.
    signature = IN_SIGNATURES[interface][member] if interface == INTERFACE else ""
    try:
        return conn.call(BUS_NAME, OBJECT_PATH, interface, member, signature, body, timeout)
    except ErrorReply as exc:
        raise error_from_reply(exc.name, exc.text) from None
    except HandshakeError as exc:
        raise no_session_bus(exc) from None
    except TimeoutError as exc:
        if not conn.greeted:
            raise no_session_bus(exc) from None
        raise Timeout(f"the broker did not answer {member} within {timeout:g}s") from None
    except OSError as exc:
        if not conn.greeted:
            raise no_session_bus(exc) from None
        raise lost_session_bus(exc) from None


def account_rows_once(*, timeout: float = CALL_TIMEOUT) -> list[dict[str, Any]]:
    """``ListAccounts`` on a fresh connection, as plain rows (``rows.account_row``)."""
    (rows,) = call_once_whole("ListAccounts", timeout=timeout)
    return [account_row({k: v[1] for k, v in row.items()}) for row in rows]


def call_once(member: str, *body: Any, timeout: float = CALL_TIMEOUT) -> Any:
    """One call on a fresh connection; the first value of the reply."""
    return call_once_whole(member, *body, timeout=timeout)[0]


def call_once_whole(member: str, *body: Any, timeout: float = CALL_TIMEOUT) -> tuple[Any, ...]:
    """One call on a fresh connection; every value of the reply."""
    conn = _connect(timeout)
    try:
        return _call(conn, member, body, timeout)
    finally:
        conn.close()


class BlockingClient:
    """``BrokerAPI`` over the session bus; the first call activates the daemon."""

    def __init__(self, conn: Connection, *, timeout: float = CALL_TIMEOUT) -> None:
        self._conn = conn
        self._timeout = timeout

    @classmethod
    def connect(cls, *, timeout: float = CALL_TIMEOUT) -> BlockingClient:
        return cls(_connect(timeout), timeout=timeout)

    def _call(self, member: str, *body: Any) -> tuple[Any, ...]:
        return _call(self._conn, member, body, self._timeout)

    def ping(self) -> None:
        """Make sure a broker answers (starting it if need be), else ``Unreachable``."""
        _call(self._conn, "Ping", (), self._timeout, interface=PEER_INTERFACE)

    def close(self) -> None:
        self._conn.close()

    # -- BrokerAPI -----------------------------------------------------------------------

    def get_token(self, service: str, account: str) -> AccessToken:
        from sigilforge.model import AccessToken

        token, expires_at = self._call("GetToken", service, account)
        return AccessToken(token, expires_at or None)

    def refresh_token(self, service: str, account: str) -> AccessToken:
        from sigilforge.model import AccessToken

        token, expires_at = self._call("RefreshToken", service, account)
        return AccessToken(token, expires_at or None)

    def list_accounts(self) -> list[Account]:
        from sigilforge.dbus.wire import account_from_wire

        (rows,) = self._call("ListAccounts")
        return [account_from_wire({k: v[1] for k, v in row.items()}) for row in rows]

    def resolve(self, reference: str) -> str:
        (value,) = self._call("Resolve", reference)
        return str(value)

    def remove_account(self, service: str, account: str) -> Removal:
        from sigilforge.dbus.wire import removal_from_wire

        (results,) = self._call("RemoveAccount", service, account)
        return removal_from_wire({k: v[1] for k, v in results.items()})

    def add_account(
        self, service: str, account: str, options: AddOptions | None = None
    ) -> Pending[Account]:
        """Start the flow in the daemon; the prompt is there at once, the account when
        ``Response`` arrives. The flow runs on a connection of its own, watched by one
        thread, so this client stays usable and closing that connection cancels it."""
        import contextlib
        import threading

        from jeepney import DBusAddress, MatchRule, new_method_call
        from jeepney.bus_messages import message_bus

        from sigilforge.dbus.options import options_to_wire
        from sigilforge.model import AddOptions
        from sigilforge.pending import Pending

        options = options or AddOptions()
        conn = _flow_connection(self._timeout)
        try:
            token = "cli_" + os.urandom(8).hex()
            path = request_path(conn.unique_name, token)
            rule = MatchRule(
                type="signal", interface=REQUEST_INTERFACE, member="Response", path=path
            )
            _flow_call(conn, message_bus.AddMatch(rule), "AddMatch", self._timeout)
            queue = conn.filter(rule, bufsize=4)
            wire = options_to_wire(options, token)
            call = new_method_call(
                DBusAddress(OBJECT_PATH, bus_name=BUS_NAME, interface=INTERFACE),
                "AddAccount",
                IN_SIGNATURES[INTERFACE]["AddAccount"],
                (service, account, wire),
            )
            handle, prompt = _flow_call(conn, call, "AddAccount", self._timeout)
        except BaseException:
            conn.close()
            raise
        if handle != path:
            conn.close()
            raise SigilforgeError("the broker answered with an unexpected request handle")

        def cancel() -> None:
            cancel_msg = new_method_call(
                DBusAddress(handle, bus_name=BUS_NAME, interface=REQUEST_INTERFACE), "Cancel"
            )
            # The daemon may be gone already; then the flow is gone with it.
            with contextlib.suppress(OSError):
                conn.send(cancel_msg)

        pending: Pending[Account] = Pending(
            {k: str(v[1]) for k, v in prompt.items()}, on_cancel=cancel
        )
        wait = (options.timeout or _FLOW_WAIT) + self._timeout

        def watch() -> None:
            try:
                msg = conn.recv_until_filtered(queue.queue, timeout=wait)
                _settle(pending, *msg.body)
            except TimeoutError:
                pending.set_exception(Timeout("no answer from the broker about the flow"))
            except OSError:
                pending.set_exception(Unreachable("lost the session bus during the flow"))
            except Exception:
                # Whoever waits on the Pending must hear something, whatever went wrong.
                pending.set_exception(SigilforgeError("unreadable answer about the flow"))
            finally:
                queue.close()
                conn.close()

        threading.Thread(target=watch, name="sigilforge-add-account", daemon=True).start()
        return pending


# A sign-in flow waits for the Request's Response signal, so it runs on a jeepney
# connection (match rules, a filter queue); only add-account pays for importing jeepney.
def _flow_connection(timeout: float) -> DBusConnection:
    from jeepney.io.blocking import open_dbus_connection

    try:
        return open_dbus_connection("SESSION", auth_timeout=min(timeout, _AUTH_TIMEOUT))
    except (OSError, KeyError, ValueError, TimeoutError) as exc:
        raise no_session_bus(exc) from None


def _flow_call(conn: DBusConnection, msg: Message, member: str, timeout: float) -> Any:
    from jeepney import MessageType
    from jeepney.low_level import HeaderFields

    try:
        reply = conn.send_and_get_reply(msg, timeout=timeout)
    except TimeoutError:
        raise Timeout(f"the broker did not answer {member} within {timeout:g}s") from None
    except OSError as exc:
        raise lost_session_bus(exc) from None
    if reply.header.message_type is MessageType.error:
        name = str(reply.header.fields.get(HeaderFields.error_name, ""))
        text = reply.body[0] if reply.body and isinstance(reply.body[0], str) else ""
        raise error_from_reply(name, text)
    return reply.body


def _settle(pending: Pending[Account], code: int, results: Mapping[str, Any]) -> None:
    from sigilforge.dbus.wire import response_from_wire

    try:
        account = response_from_wire(code, {k: v[1] for k, v in results.items()})
    except SigilforgeError as error:
        pending.set_exception(error)
    else:
        pending.set_result(account)
