"""The files under ``data/`` that the code reads too: the interface XML and the
templates of the activation file and the systemd user unit.

There is one copy of each, in ``data/`` at the top of the tree (where meson installs them
from). A wheel carries them as ``sigilforge/_data`` (hatch ``force-include``; meson
installs the same files there); a source checkout or an editable install reads ``data/``
itself. A package that is not plain files is read through ``importlib.resources``.
"""

from __future__ import annotations

import os

__all__ = ["DBUS_SERVICE", "INTERFACE_XML", "SYSTEMD_UNIT", "read"]

INTERFACE_XML = "dbus-1/interfaces/org.sigilforge.Broker1.xml"
DBUS_SERVICE = "dbus-1/services/org.sigilforge.Broker1.service.in"
SYSTEMD_UNIT = "systemd/sigilforge.service.in"


def read(name: str) -> str:
    """The text of ``name``, a path relative to ``data/``."""
    package = os.path.dirname(os.path.dirname(os.path.realpath(__file__)))
    # Plain paths first: for a package on disk it is what importlib.resources answers,
    # without importing it or pathlib (milliseconds on every activation and every
    # ``sigilforge get-token``, which reads its call signature from the XML).
    for base in (os.path.join(package, "_data"), os.path.join(os.path.dirname(package), "data")):
        path = os.path.join(base, *name.split("/"))
        if os.path.isfile(path):
            with open(path, encoding="utf-8") as fh:
                return fh.read()
    from importlib import resources  # a package that is not plain files (a zip, say)

    return resources.files("sigilforge").joinpath("_data", *name.split("/")).read_text("utf-8")
