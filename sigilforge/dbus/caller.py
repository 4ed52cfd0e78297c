"""Who sent the call being dispatched, for the methods that need it (AddAccount's
request path, a Request's ``Cancel``).

The message hook sets it just before dbus-fast runs the method (a task copies the
context when created), so every call sees its own caller. A module of its own: the hook
sets it on every call, and the Request machinery that reads it is loaded only with the
first AddAccount.
"""

from __future__ import annotations

import contextvars

__all__ = ["CALLER"]

CALLER: contextvars.ContextVar[str] = contextvars.ContextVar("sigilforge_caller", default="")
