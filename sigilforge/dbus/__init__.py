"""The D-Bus face of the broker: ``org.sigilforge.Broker1`` on the session bus.

Only this package imports a D-Bus library. Its modules are imported one by one, never
from here, so the CLI's blocking client (jeepney) does not pay for dbus-fast and asyncio.
"""
