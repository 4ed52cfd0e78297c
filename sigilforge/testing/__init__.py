"""Real parts for testing Sigilforge, used alike by its tests, ``demo/`` and ``bench/``.

Each rig works on its own, outside pytest too; the tests' fixtures (``tests/conftest.py``)
only start and stop them. Import a module, never this package: it imports nothing, so a
rig's cost (httpx2, subprocesses) is paid only by whoever uses it. No module of the
broker itself imports this package (an import-linter contract keeps it so).

Rigs:

- ``env``: an environment whose HOME and XDG dirs live under one temp dir, and whose
  bus addresses point nowhere until a private bus starts.
- ``bus``: ``PrivateBus``, a private ``dbus-daemon`` session bus with its own
  activation directory.
- ``keyring``: ``HeadlessKeyring``, gnome-keyring unlocked without a prompt, giving the
  Secret Service on that bus; ``clear_items`` empties Sigilforge's items.
- ``broker_rig``: ``BrokerRig``, bus + keyring + an activation file for the installed
  daemon: the broker starts on the first call, as on a desktop.
- ``authserver``: ``AuthServer``, a scriptable OAuth 2.0 authorization server on loopback
  (code + PKCE, refresh rotation, device grant, revocation, failures on cue), and
  ``consent``/``enter_user_code``, the headless user.
- ``oidc_provider``: drives panva's ``oidc-provider`` (node, pinned) as an independent
  server for the interop suite.
- ``monitor``: ``Monitor``, a ``dbus-monitor`` process watching the broker's signals.
- ``cli``: ``run_cli_in`` runs the ``sigilforge`` command; ``CliFlow`` drives one that
  waits on a sign-in, acting on its prompts.
- ``hammer``: processes of concurrent callers asking for one token at once.
- ``process``: stopping a helper process within a time limit.
- ``dovecot``: ``DovecotServer``, a real dovecot (IMAP, submission, LMTP) whose
  ``oauth2`` passdb checks tokens by RFC 7662 introspection at an ``AuthServer``;
  ``lmtp_relay`` lets its submission service deliver without an outside relay.
- ``git_http``: ``GitHttpServer``, ``git http-backend`` over loopback HTTP that takes only
  an active token of the repository's owner as the Basic password.
- ``mail_clients``: runs the real ``msmtp`` and ``mbsync`` against those servers.

Helpers for tests:

- ``home``: ``Home`` (a per-test config/state dir) and ``Isolated`` (an environment with
  its own bus and keyring).
- ``signin``: ``write_provider`` configures an ``AuthServer`` as a provider;
  ``sign_in`` adds an account through the real browser flow.
- ``marker``: ``MARKER``, the secret that must never leak, and ``files_containing``.
"""
