"""Bearer API key authentication and role authorization of each call."""

from __future__ import annotations

import time

from server.api.call import CallInfo
from server.core.clock import now_us
from server.core.errors import DatabaseUnavailable, PermissionDenied, Unauthenticated
from server.engine.runtime import Runtime
from server.security import keys
from server.security.permissions import allowed
from server.store.workspaces import ApiKeyRecord, WorkspaceRepository

#: Verified keys are remembered this long; revocation through this process
#: drops them at once, other replicas see it within this time. While the
#: database is unavailable, remembered keys stay valid.
CACHE_TTL_S = 1.0


class ApiKeyAuthenticator:
    def __init__(self, runtime: Runtime) -> None:
        self._rt = runtime
        self._repo = WorkspaceRepository()
        self._cache: dict[str, tuple[float, ApiKeyRecord]] = {}

    def forget(self, key_id: str) -> None:
        self._cache.pop(key_id, None)

    async def _lookup(self, key_id: str) -> ApiKeyRecord | None:
        cached = self._cache.get(key_id)
        if cached is not None and time.monotonic() - cached[0] < CACHE_TTL_S:
            return cached[1]
        try:
            record = await self._rt.read_point(lambda conn: self._repo.key_by_id(conn, key_id))
        except DatabaseUnavailable:
            if cached is None:
                raise
            # Nobody can revoke a key while the database is down, so a key
            # verified before the outage still works (GetStatus reports it).
            return cached[1]
        if record is not None:
            if len(self._cache) > 10_000:
                self._cache.clear()
            self._cache[key_id] = (time.monotonic(), record)
        return record

    async def authenticate(self, info: CallInfo, metadata: dict[str, str]) -> None:
        header = metadata.get("authorization", "")
        scheme, _, secret = header.partition(" ")
        if not header:
            raise Unauthenticated("missing credentials: send 'authorization: Bearer <api key>'")
        if scheme.lower() != "bearer" or not secret:
            raise Unauthenticated("malformed credentials: expected 'Bearer <api key>'")
        key_id = keys.key_id_of(secret.strip())
        record = await self._lookup(key_id) if key_id else None
        # One message for unknown and wrong secrets: nothing to probe.
        if record is None or not keys.matches(secret.strip(), record.secret_hash):
            raise Unauthenticated("invalid API key", reason="API_KEY_INVALID")
        now = now_us()
        if record.revoke_time is not None and record.revoke_time <= now:
            raise Unauthenticated("API key was revoked", reason="API_KEY_REVOKED")
        if record.expire_time is not None and record.expire_time <= now:
            raise Unauthenticated("API key has expired", reason="API_KEY_EXPIRED")
        if not allowed(info.method, record.role):
            raise PermissionDenied(f"the key's role may not call {info.method}")
        info.workspace_id = record.workspace_id
        info.role = record.role
        info.key_id = record.id
