"""Clients nobody here wrote (busctl, gdbus) start the broker and use it."""

from __future__ import annotations

from sigilforge.testing.broker_rig import BUS_NAME, INTERFACE, OBJECT_PATH, BrokerRig
from sigilforge.testing.marker import MARKER

KEY = f"sk-{MARKER}-openai"


def gdbus_call(rig: BrokerRig, method: str, *args: str) -> tuple[int, str, str]:
    done = rig.run(
        "gdbus",
        "call",
        "--session",
        "--dest",
        BUS_NAME,
        "--object-path",
        OBJECT_PATH,
        "--method",
        f"{INTERFACE}.{method}",
        *args,
    )
    return done.returncode, done.stdout, done.stderr


def test_busctl_get_token_starts_the_daemon_and_returns_the_key(broker_rig: BrokerRig) -> None:
    broker_rig.add_api_key("openai", "work", KEY)
    assert broker_rig.owner_pid() is None

    done = broker_rig.busctl_call("GetToken", "ss", "openai", "work")

    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == f'sx "{KEY}" 0'
    assert broker_rig.owner_pid() is not None


def test_list_resolve_and_remove_from_busctl_and_gdbus(broker_rig: BrokerRig) -> None:
    broker_rig.add_api_key("openai", "work", KEY)

    code, out, err = gdbus_call(broker_rig, "ListAccounts")
    assert code == 0, err
    assert "'service': <'openai'>" in out
    assert "'account': <'work'>" in out
    assert "'kind': <'api_key'>" in out
    assert "'status': <'ok'>" in out

    code, out, err = gdbus_call(broker_rig, "Resolve", "auth://openai/work")
    assert code == 0, err
    assert out.strip() == f"('{KEY}',)"

    done = broker_rig.busctl_call("RemoveAccount", "ss", "openai", "work")
    assert done.returncode == 0, done.stderr

    done = broker_rig.busctl_call("ListAccounts")
    assert done.stdout.strip() == "aa{sv} 0"


def test_unknown_account_is_no_such_account(broker_rig: BrokerRig) -> None:
    code, _, err = gdbus_call(broker_rig, "GetToken", "openai", "nobody")
    assert code != 0
    assert "org.sigilforge.Broker1.Error.NoSuchAccount" in err


def dbus_send(rig: BrokerRig, method: str, *args: str) -> tuple[int, str]:
    # busctl prints only an error's message; dbus-send prints its name too.
    done = rig.run(
        "dbus-send",
        "--session",
        "--print-reply",
        f"--dest={BUS_NAME}",
        OBJECT_PATH,
        f"{INTERFACE}.{method}",
        *args,
    )
    return done.returncode, done.stdout + done.stderr


def test_wrong_argument_types_are_invalid_args(broker_rig: BrokerRig) -> None:
    for call in (
        ("GetToken", "string:openai", "int32:7"),
        ("GetToken", "string:openai"),
        ("Resolve", "int32:7"),
        ("RemoveAccount", "string:openai", "string:work", "string:extra"),
        ("GetToken", "string:Not A Service", "string:work"),
    ):
        code, out = dbus_send(broker_rig, *call)
        assert code != 0, call
        assert "org.freedesktop.DBus.Error.InvalidArgs" in out, (call, out)


def test_add_account_options_of_the_wrong_type_or_name_are_invalid_args(
    broker_rig: BrokerRig,
) -> None:
    for options in (
        "{'scopes': <'read'>}",
        "{'open_browser': <'yes'>}",
        "{'timeout': <int64 30>}",
        "{'no_such_option': <true>}",
        "{'flow': <'carrier-pigeon'>}",
        "{'handle_token': <'not a/path'>}",
    ):
        code, _, err = gdbus_call(broker_rig, "AddAccount", "openai", "x", options)
        assert code != 0, options
        assert "org.freedesktop.DBus.Error.InvalidArgs" in err, (options, err)
    assert broker_rig.busctl_call("ListAccounts").stdout.strip() == "aa{sv} 0"
