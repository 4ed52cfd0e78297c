"""Token revocation: RFC 7009, and GitHub's own grant-deletion API.

The refresh token is revoked (RFC 7009 section 2.1: revoking it should also end the
access tokens of the same grant); with no refresh token, the access token is.
"""

from __future__ import annotations

from sigilforge.errors import ProviderError
from sigilforge.model import TokenSet
from sigilforge.oauth.client import Client
from sigilforge.oauth.http import Http
from sigilforge.oauth.token_endpoint import oauth_error

__all__ = ["revoke_github_grant", "revoke_rfc7009"]


def revoke_rfc7009(http: Http, url: str, client: Client, tokens: TokenSet) -> None:
    if tokens.refresh_token:
        form = {"token": tokens.refresh_token, "token_type_hint": "refresh_token"}
    else:
        form = {"token": tokens.access_token, "token_type_hint": "access_token"}
    body, auth = client.form_and_auth(form)
    reply = http.post_form(url, body, what="revocation endpoint", auth=auth)
    if reply.status == 200:
        return
    secrets = (tokens.access_token, tokens.refresh_token or "", *client.secrets())
    error = oauth_error(reply, what="revocation", secrets=secrets)
    if error is not None:
        raise error
    raise ProviderError(f"revocation endpoint answered HTTP {reply.status}")


def revoke_github_grant(http: Http, url: str, client: Client, tokens: TokenSet) -> None:
    """GitHub: ``DELETE /applications/{client_id}/grant`` ends the whole authorization;
    it needs the client secret as the Basic password."""
    if not client.secret:
        raise ProviderError(
            "GitHub revokes only with the client secret (sigilforge provider set-secret github)"
        )
    reply = http.send_json(
        "DELETE",
        url.format(client_id=client.client_id),
        {"access_token": tokens.access_token},
        what="GitHub grant API",
        auth=(client.client_id, client.secret),
    )
    if reply.status not in (204, 404):
        # 404: the grant is gone already, which is what we wanted.
        raise ProviderError(f"GitHub grant API answered HTTP {reply.status}")
