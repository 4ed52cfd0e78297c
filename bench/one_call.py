"""The floor for a CLI: a Python process making one blocking jeepney call.

``python bench/one_call.py SERVICE ACCOUNT`` prints the token from GetToken.
"""

from __future__ import annotations

import sys

from jeepney import DBusAddress, new_method_call
from jeepney.io.blocking import open_dbus_connection

address = DBusAddress(
    "/org/sigilforge/Broker1", bus_name="org.sigilforge.Broker1", interface="org.sigilforge.Broker1"
)
with open_dbus_connection() as conn:
    reply = conn.send_and_get_reply(
        new_method_call(address, "GetToken", "ss", (sys.argv[1], sys.argv[2])), timeout=30
    )
print(reply.body[0])
