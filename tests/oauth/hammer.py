"""A helper process: N threads of one in-process broker ask for the same token at once.

``python -m tests.oauth.hammer SERVICE ACCOUNT THREADS GO_FILE`` opens the broker, waits
until GO_FILE exists (so two processes start asking together), then prints a JSON list
of the tokens its threads got (or the error codes they hit).
"""

from __future__ import annotations

import json
import sys
import threading
import time
from pathlib import Path

from sigilforge.broker import Broker
from sigilforge.errors import SigilforgeError


def main() -> None:
    service, account, count, go = sys.argv[1], sys.argv[2], int(sys.argv[3]), Path(sys.argv[4])
    broker = Broker.open()
    broker.list_accounts()
    barrier = threading.Barrier(count)
    results: list[str] = []
    lock = threading.Lock()

    def ask() -> None:
        barrier.wait()
        try:
            got = broker.get_token(service, account).token
        except SigilforgeError as exc:
            got = f"error:{exc.code}"
        with lock:
            results.append(got)

    threads = [threading.Thread(target=ask) for _ in range(count)]
    print("ready", file=sys.stderr, flush=True)
    deadline = time.monotonic() + 30
    while not go.exists() and time.monotonic() < deadline:
        time.sleep(0.005)
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    broker.close()
    print(json.dumps(results))


if __name__ == "__main__":
    main()
