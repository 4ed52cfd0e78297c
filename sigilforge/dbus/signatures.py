"""Generated from dbus-1/interfaces/org.sigilforge.Broker1.xml by
``python -m sigilforge.dbus.interface``: do not edit (a test compares it with the XML).

What a call of each method sends, for the CLI's client: parsing the XML on every
``sigilforge get-token`` cost more than the call.
"""

IN_SIGNATURES: dict[str, dict[str, str]] = {
    "org.sigilforge.Broker1": {
        "AddAccount": "ssa{sv}",
        "GetToken": "ss",
        "ListAccounts": "",
        "RefreshToken": "ss",
        "RemoveAccount": "ss",
        "Resolve": "s",
    },
    "org.sigilforge.Broker1.Request": {
        "Cancel": "",
    },
}
