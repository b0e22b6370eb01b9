"""Opaque page tokens and fixed-size pages.

A token is ``base64url(json([scope, cursor]) + "|" + mac)``: ``scope`` names the list (e.g.
``pipeline:gh/acme``), ``cursor`` is the key of the last item served (an id, or
``[created_ms, id]`` for pipelines). Keyset cursors keep pages stable while new items appear.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

PAGE_SIZE = 20
T = TypeVar("T")


class PageTokenError(ValueError):
    """The page token was not issued by this emulator for this list."""


class PageTokens:
    def __init__(self, secret: str) -> None:
        self._secret = secret.encode()

    def _mac(self, payload: str) -> str:
        return hmac.new(self._secret, payload.encode(), hashlib.sha256).hexdigest()[:16]

    def encode(self, scope: str, cursor: Any) -> str:
        payload = json.dumps([scope, cursor], separators=(",", ":"), ensure_ascii=False)
        raw = f"{payload}|{self._mac(payload)}".encode()
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")

    def decode(self, scope: str, token: str) -> Any:
        try:
            raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode()
            payload, _, mac = raw.rpartition("|")
            if not hmac.compare_digest(mac, self._mac(payload)):
                raise PageTokenError("bad checksum")
            token_scope, cursor = json.loads(payload)
        except (binascii.Error, UnicodeDecodeError, ValueError, TypeError) as exc:
            raise PageTokenError(f"invalid page token: {exc}") from exc
        if token_scope != scope:
            raise PageTokenError("page token belongs to another list")
        return cursor


def page_after(
    items: Sequence[T], key: Callable[[T], str], cursor: str | None, size: int = PAGE_SIZE
) -> tuple[list[T], str | None]:
    """The ``size`` items after the one whose key is ``cursor``; the next cursor or ``None``.

    Raises :class:`PageTokenError` when ``cursor`` names no item of ``items``.
    """
    start = 0
    if cursor is not None:
        for i, item in enumerate(items):
            if key(item) == cursor:
                start = i + 1
                break
        else:
            raise PageTokenError("page token names no item of this list")
    page = list(items[start : start + size])
    more = start + size < len(items)
    return page, key(page[-1]) if more and page else None
