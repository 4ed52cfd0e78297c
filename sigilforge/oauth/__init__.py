"""OAuth 2.0 for a native app, one RFC a module (authlib's habit):

- ``pkce``: RFC 7636 verifier and S256 challenge, and the one-time ``state``
- ``loopback``: RFC 8252 loopback redirect listener on 127.0.0.1
- ``code_flow``: RFC 6749 section 4.1 authorization code grant, RFC 9207 ``iss`` check
- ``device``: RFC 8628 device authorization grant
- ``token_endpoint``: RFC 6749 sections 5 and 6, code exchange and refresh
- ``revocation``: RFC 7009 (and GitHub's grant API)
- ``discovery``: OpenID Connect Discovery and RFC 8414 metadata
- ``http``: every request with a time limit; ``client``: client authentication
- ``flows``: ``OAuthFlows``, what the broker calls

Importing this package loads authlib and httpx2; the broker does so only when a flow, a
refresh or a revocation is due.
"""

from sigilforge.oauth.flows import OAuthFlows, client_secret_key, open_in_browser

__all__ = ["OAuthFlows", "client_secret_key", "open_in_browser"]
