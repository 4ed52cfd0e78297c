"""The one redaction of provider text before it enters an error: a provider's
``error_description`` may quote a token, whole or in part."""

from __future__ import annotations

import re
from collections.abc import Iterable

# Token-like runs: base64/base64url/hex-ish and JWT-shaped (dots between runs).
_TOKEN_LIKE = re.compile(r"[A-Za-z0-9_\-~+/=.]{20,}")
# The shortest piece of a known secret worth hiding on its own.
_MIN_PIECE = 8
_MARK = "[redacted]"


def redact(text: str, secrets: Iterable[str] = (), *, limit: int = 200) -> str:
    """``text`` with every token-like run and every piece of a known secret replaced."""
    for secret in secrets:
        if len(secret) < _MIN_PIECE:
            continue
        for start in range(0, len(secret) - _MIN_PIECE + 1):
            piece = secret[start : start + _MIN_PIECE]
            if piece in text:
                text = text.replace(piece, _MARK)
    text = _TOKEN_LIKE.sub(_MARK, text)
    return text[:limit]
