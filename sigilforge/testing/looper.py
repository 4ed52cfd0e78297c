"""A helper process that asks for one token again and again for a while.

``python -m sigilforge.testing.looper SERVICE ACCOUNT SECONDS [--bus]`` calls
``get_token`` in a loop for SECONDS (in-process through ``Broker``, or with ``--bus``
through the daemon), then prints ``{"ok": N, "errors": {CODE: N}}`` as JSON. Several of
them at once, in different environments, are how the hostile tests share one grant
between processes the way a user's shell, editor and daemon do.
"""

from __future__ import annotations

import json
import sys
import time
from collections import Counter

from sigilforge.broker import Broker, BrokerAPI
from sigilforge.errors import SigilforgeError


def loop(api: BrokerAPI, service: str, account: str, seconds: float) -> dict[str, object]:
    ok = 0
    errors: Counter[str] = Counter()
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            api.get_token(service, account)
            ok += 1
        except SigilforgeError as exc:
            errors[exc.code] += 1
        # Paced, so a loop is a busy user, not a spin that starves the other processes.
        time.sleep(0.02)
    return {"ok": ok, "errors": dict(errors)}


def main() -> None:
    service, account, seconds = sys.argv[1], sys.argv[2], float(sys.argv[3])
    api: BrokerAPI
    if sys.argv[4:] == ["--bus"]:
        from sigilforge.dbus.blocking import BlockingClient

        api = BlockingClient.connect()
    else:
        api = Broker.open()
    try:
        print(json.dumps(loop(api, service, account, seconds)))
    finally:
        api.close()


if __name__ == "__main__":
    main()
