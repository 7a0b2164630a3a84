"""Keyset pages over resources ordered by (create_time, id): the page token
holds the position of the last item returned, bound to the caller's
workspace and the query's filters."""

from __future__ import annotations

from typing import Protocol, TypeVar

from server.api.validation import decode_page_token, encode_page_token, query_key


class Keyed(Protocol):
    @property
    def create_time(self) -> int: ...

    @property
    def id(self) -> str: ...


T = TypeVar("T", bound=Keyed)


class Keyset:
    def __init__(self, token: str, workspace_id: str, *filters: object) -> None:
        self._workspace_id = workspace_id
        self._key = query_key(*filters)
        position = decode_page_token(token, workspace_id, self._key)
        #: (create_time, id) of the last item of the previous page, if any.
        self.position = (int(position[0]), str(position[1])) if position else None

    def page(self, items: list[T], limit: int) -> tuple[list[T], str]:
        """The first `limit` items (fetch `limit + 1` to learn whether more
        follow) and the token of the next page, empty on the last."""
        if len(items) <= limit:
            return items, ""
        items = items[:limit]
        last = items[-1]
        return items, encode_page_token(self._workspace_id, self._key, (last.create_time, last.id))
