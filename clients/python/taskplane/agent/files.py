"""A file tool jailed to one directory.

Paths are relative to the root and are resolved one component at a time
from a directory descriptor (`openat` with `O_NOFOLLOW`), never by the
kernel following a symlink: a relative symlink is read and followed only
while it stays beneath the root, so a link pointing out (with enough `..`),
any absolute link (even one into the root), a symlinked parent directory
pointing out, or a link swapped in before or during a call is refused with
`SandboxViolation`. Only regular files are read or written; FIFOs and
devices are refused without being opened. A hard link cannot be told from
the file it links to: a file hard-linked into the root from outside is read
like any other (writes replace the link, never the shared file).

`read_text` fails on a file over `max_read_bytes` (it never truncates);
`list_dir` returns at most `max_entries` entries and says when it stopped
early. `write_text` creates missing parent directories and replaces the
file atomically (temporary file in the same directory, then rename).

Error messages name the rule and the path as the caller gave it, never a
symlink target or anything read outside the root.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import os
import secrets
import stat as stat_mod
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, TypeVar

from taskplane.agent.reporting import ActionReporter, ActionStatus
from taskplane.errors import TaskFailure

T = TypeVar("T")

Kind = Literal["file", "directory", "symlink", "other"]

_MAX_SYMLINKS = 40
_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_REPORTED_PATH_CHARS = 1024


class SandboxViolation(TaskFailure):
    """A tool call broke a sandbox rule; never retryable.

    `code` names the rule, e.g. `sandbox.path_escape`, `sandbox.too_large`,
    `sandbox.not_a_file`, `sandbox.command_not_allowed`.
    """

    def __init__(self, code: str, message: str, **details: Any) -> None:
        super().__init__(message, retryable=False, code=code, details=details)


@dataclass(frozen=True)
class FileInfo:
    """What `FileTool.stat` reports; `mtime` is in seconds since the epoch."""

    path: str
    kind: Kind
    size: int
    mtime: float


@dataclass(frozen=True)
class DirEntry:
    name: str
    kind: Kind
    size: int


@dataclass(frozen=True)
class DirListing:
    """Entries sorted by name; `truncated` when the directory held more than
    `max_entries` (the entries returned are then an arbitrary subset)."""

    entries: list[DirEntry]
    truncated: bool


def _kind(mode: int) -> Kind:
    if stat_mod.S_ISREG(mode):
        return "file"
    if stat_mod.S_ISDIR(mode):
        return "directory"
    if stat_mod.S_ISLNK(mode):
        return "symlink"
    return "other"


def _not_found(path: str) -> TaskFailure:
    return TaskFailure(f"{path!r} does not exist", code="file.not_found", details={"path": path})


def _not_a_directory(path: str) -> TaskFailure:
    return TaskFailure(
        f"{path!r} (or one of its parents) is not a directory",
        code="file.not_a_directory",
        details={"path": path},
    )


def _escape(path: str, why: str) -> SandboxViolation:
    return SandboxViolation(
        "sandbox.path_escape", f"{path!r} is outside the sandbox root: {why}", path=path
    )


def _not_a_file(path: str, what: str) -> SandboxViolation:
    return SandboxViolation(
        "sandbox.not_a_file", f"{path!r} {what}; only regular files are allowed", path=path
    )


@dataclass
class _Resolved:
    """The directory holding the final component, its name, and its lstat
    (None when it does not exist). `name` is "" for the root itself."""

    parent_fd: int
    name: str
    st: os.stat_result | None

    def close(self) -> None:
        os.close(self.parent_fd)


class FileTool:
    """Read, write, list, delete and stat files beneath `root`."""

    def __init__(
        self,
        root: Path,
        reporter: ActionReporter | None = None,
        *,
        max_read_bytes: int = 1_048_576,
        max_write_bytes: int = 1_048_576,
        max_entries: int = 1000,
    ) -> None:
        real = Path(os.path.realpath(root))
        if not real.is_dir():
            raise ValueError(f"sandbox root {str(root)!r} is not a directory")
        self.root = real
        self._reporter = reporter
        self.max_read_bytes = max_read_bytes
        self.max_write_bytes = max_write_bytes
        self.max_entries = max_entries

    async def read_text(self, path: str) -> str:
        """The file's text (UTF-8); `sandbox.too_large` over `max_read_bytes`."""

        def work() -> str:
            data = self._read(path)
            try:
                return data.decode("utf-8")
            except UnicodeDecodeError:
                raise TaskFailure(
                    f"{path!r} is not UTF-8 text", code="file.not_text", details={"path": path}
                ) from None

        def summary(text: str) -> dict[str, Any]:
            return {"bytes": len(text.encode("utf-8"))}

        return await self._call("file.read", path, {}, work, summary)

    async def write_text(self, path: str, text: str) -> int:
        """Replace (or create) the file with `text`; returns the bytes written."""
        data = text.encode("utf-8")

        def work() -> int:
            self._write(path, data)
            return len(data)

        return await self._call(
            "file.write", path, {"bytes": len(data)}, work, lambda n: {"bytes": n}
        )

    async def list_dir(self, path: str = ".") -> DirListing:
        def summary(listing: DirListing) -> dict[str, Any]:
            return {"entries": len(listing.entries), "truncated": listing.truncated}

        return await self._call("file.list", path, {}, lambda: self._list(path), summary)

    async def delete(self, path: str) -> None:
        """Remove a file (or a symlink itself, never its target); not directories."""
        await self._call("file.delete", path, {}, lambda: self._delete(path), lambda _: {})

    async def stat(self, path: str) -> FileInfo:
        def summary(info: FileInfo) -> dict[str, Any]:
            return {"kind": info.kind, "size": info.size}

        return await self._call("file.stat", path, {}, lambda: self._stat(path), summary)

    async def _call(
        self,
        name: str,
        path: str,
        extra: Mapping[str, Any],
        work: Callable[[], T],
        summary: Callable[[T], Mapping[str, Any]],
    ) -> T:
        shown = path[:_REPORTED_PATH_CHARS] if isinstance(path, str) else repr(path)
        arguments = {"path": shown, **extra}
        started = time.monotonic()
        try:
            try:
                result = await asyncio.to_thread(work)
            except OSError as exc:
                # strerror only: the exception's filename may be a symlink target.
                raise TaskFailure(
                    f"{shown!r}: {exc.strerror or type(exc).__name__}",
                    code="file.os_error",
                    details={"path": shown},
                ) from None
        except TaskFailure as exc:
            await self._report(
                name,
                arguments,
                {"code": exc.code},
                ActionStatus.FAILED,
                started,
                exc.message,
            )
            raise
        await self._report(name, arguments, summary(result), ActionStatus.SUCCEEDED, started, "")
        return result

    async def _report(
        self,
        name: str,
        arguments: Mapping[str, Any],
        output: Mapping[str, Any],
        status: ActionStatus,
        started: float,
        error_message: str,
    ) -> None:
        if self._reporter is None:
            return
        await self._reporter.action(
            name,
            arguments=arguments,
            output=output,
            status=status,
            duration_s=time.monotonic() - started,
            error_message=error_message,
        )

    def _components(self, path: str) -> list[str]:
        if not isinstance(path, str):
            raise SandboxViolation("sandbox.invalid_path", "the path must be a string")
        if "\0" in path:
            raise SandboxViolation(
                "sandbox.invalid_path", "the path contains a NUL byte", path=path.replace("\0", "")
            )
        if path.startswith("/"):
            raise _escape(path, "absolute paths are not allowed")
        parts = [part for part in path.split("/") if part not in ("", ".")]
        if ".." in parts:
            raise _escape(path, "'..' components are not allowed")
        return parts

    def _resolve(self, path: str, *, follow_final: bool, make_parents: bool = False) -> _Resolved:
        """Walk `path` from the root without letting the kernel follow a link.

        Intermediate components must be directories (symlinks to directories
        beneath the root are followed by hand); the final one may be missing.
        """
        pending = deque(self._components(path))
        stack = [os.open(self.root, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)]
        links = 0
        try:
            while pending:
                name = pending.popleft()
                if name in ("", "."):
                    continue
                if name == "..":
                    if len(stack) == 1:
                        raise _escape(path, "a symlink leads above the root")
                    os.close(stack.pop())
                    continue
                last = not pending
                st = self._lstat(name, stack[-1])
                if st is not None and stat_mod.S_ISLNK(st.st_mode) and (follow_final or not last):
                    links += 1
                    if links > _MAX_SYMLINKS:
                        raise SandboxViolation(
                            "sandbox.symlink_loop", f"{path!r} has too many symlinks", path=path
                        )
                    target = self._readlink(path, name, stack[-1])
                    if target.startswith("/"):
                        raise _escape(path, "a symlink points to an absolute path")
                    pending.extendleft(reversed(target.split("/")))
                    continue
                if last:
                    return _Resolved(stack.pop(), name, st)
                if st is None:
                    if not make_parents:
                        raise _not_found(path)
                    with contextlib.suppress(FileExistsError):
                        os.mkdir(name, dir_fd=stack[-1])
                elif not stat_mod.S_ISDIR(st.st_mode):
                    raise _not_a_directory(path)
                stack.append(self._open_dir(path, name, stack[-1]))
            root_st = os.fstat(stack[-1])
            return _Resolved(stack.pop(), "", root_st)
        finally:
            for fd in stack:
                os.close(fd)

    @staticmethod
    def _lstat(name: str, dir_fd: int) -> os.stat_result | None:
        try:
            return os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
        except FileNotFoundError:
            return None

    @staticmethod
    def _readlink(path: str, name: str, dir_fd: int) -> str:
        try:
            return os.readlink(name, dir_fd=dir_fd)
        except FileNotFoundError:
            raise _not_found(path) from None
        except OSError as exc:
            if exc.errno == errno.EINVAL:  # no longer a symlink
                raise _escape(path, "a component changed while it was being resolved") from None
            raise

    @staticmethod
    def _open_dir(path: str, name: str, dir_fd: int) -> int:
        try:
            return os.open(name, _DIR_FLAGS, dir_fd=dir_fd)
        except FileNotFoundError:
            raise _not_found(path) from None
        except OSError as exc:
            if exc.errno not in (errno.ELOOP, errno.ENOTDIR):
                raise
            # With O_DIRECTORY, Linux reports a symlink as ENOTDIR rather than ELOOP.
            now = FileTool._lstat(name, dir_fd)
            if exc.errno == errno.ELOOP or (now is not None and stat_mod.S_ISLNK(now.st_mode)):
                raise _escape(path, "a component was replaced by a symlink") from None
            if now is None:
                raise _not_found(path) from None
            if stat_mod.S_ISDIR(now.st_mode):  # a symlink when opened, swapped back since
                raise _escape(path, "a component changed while it was being resolved") from None
            raise _not_a_directory(path) from None

    def _open_regular(self, path: str, res: _Resolved, flags: int) -> int:
        """Open the resolved final component, which must still be the regular
        file that was checked (a swap in between is refused)."""
        if res.st is None:
            raise _not_found(path)
        if not res.name or not stat_mod.S_ISREG(res.st.st_mode):
            raise _not_a_file(path, f"is a {_kind(res.st.st_mode)}")
        try:
            fd = os.open(
                res.name,
                flags | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC,
                dir_fd=res.parent_fd,
            )
        except FileNotFoundError:
            raise _not_found(path) from None
        except OSError as exc:
            if exc.errno == errno.ELOOP:
                raise _escape(path, "the file was replaced by a symlink") from None
            raise
        st = os.fstat(fd)
        if (st.st_dev, st.st_ino) != (res.st.st_dev, res.st.st_ino) or not stat_mod.S_ISREG(
            st.st_mode
        ):
            os.close(fd)
            raise _escape(path, "the file was replaced while it was being opened")
        return fd

    def _read(self, path: str) -> bytes:
        res = self._resolve(path, follow_final=True)
        try:
            fd = self._open_regular(path, res, os.O_RDONLY)
        finally:
            res.close()
        with os.fdopen(fd, "rb") as handle:
            if os.fstat(handle.fileno()).st_size > self.max_read_bytes:
                raise self._too_large(path, "read", self.max_read_bytes)
            data = handle.read(self.max_read_bytes + 1)
        if len(data) > self.max_read_bytes:
            raise self._too_large(path, "read", self.max_read_bytes)
        return data

    def _write(self, path: str, data: bytes) -> None:
        if len(data) > self.max_write_bytes:
            raise self._too_large(path, "written", self.max_write_bytes)
        res = self._resolve(path, follow_final=True, make_parents=True)
        try:
            mode = 0o666
            if res.st is not None:
                if not res.name or not stat_mod.S_ISREG(res.st.st_mode):
                    raise _not_a_file(path, f"is a {_kind(res.st.st_mode)}")
                mode = stat_mod.S_IMODE(res.st.st_mode) & 0o777
            elif not res.name:
                raise _not_a_file(path, "is the root directory")
            tmp = f".{res.name[:64]}.{secrets.token_hex(8)}.tmp"
            fd = os.open(
                tmp,
                os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC,
                mode,
                dir_fd=res.parent_fd,
            )
            try:
                with os.fdopen(fd, "wb") as handle:
                    handle.write(data)
                    handle.flush()
                    os.fsync(handle.fileno())
                os.replace(tmp, res.name, src_dir_fd=res.parent_fd, dst_dir_fd=res.parent_fd)
            except BaseException as exc:
                with contextlib.suppress(OSError):
                    os.unlink(tmp, dir_fd=res.parent_fd)
                if isinstance(exc, IsADirectoryError):
                    raise _not_a_file(path, "is a directory") from None
                raise
        finally:
            res.close()

    def _list(self, path: str) -> DirListing:
        res = self._resolve(path, follow_final=True)
        try:
            if res.st is None:
                raise _not_found(path)
            if not stat_mod.S_ISDIR(res.st.st_mode):
                raise _not_a_directory(path)
            fd = self._open_dir(path, res.name, res.parent_fd) if res.name else res.parent_fd
            entries: list[DirEntry] = []
            truncated = False
            try:
                with os.scandir(fd) as scan:
                    for item in scan:
                        if len(entries) == self.max_entries:
                            truncated = True
                            break
                        st = item.stat(follow_symlinks=False)
                        entries.append(DirEntry(item.name, _kind(st.st_mode), st.st_size))
            finally:
                if fd != res.parent_fd:
                    os.close(fd)
        finally:
            res.close()
        entries.sort(key=lambda entry: entry.name)
        return DirListing(entries, truncated)

    def _delete(self, path: str) -> None:
        res = self._resolve(path, follow_final=False)
        try:
            if res.st is None:
                raise _not_found(path)
            mode = res.st.st_mode
            if not res.name or not (stat_mod.S_ISREG(mode) or stat_mod.S_ISLNK(mode)):
                raise _not_a_file(path, f"is a {_kind(mode)}")
            try:
                os.unlink(res.name, dir_fd=res.parent_fd)
            except FileNotFoundError:
                raise _not_found(path) from None
            except (IsADirectoryError, PermissionError):
                raise _not_a_file(path, "is a directory") from None
        finally:
            res.close()

    def _stat(self, path: str) -> FileInfo:
        res = self._resolve(path, follow_final=True)
        res.close()
        if res.st is None:
            raise _not_found(path)
        return FileInfo(path, _kind(res.st.st_mode), res.st.st_size, res.st.st_mtime)

    @staticmethod
    def _too_large(path: str, verb: str, limit: int) -> SandboxViolation:
        return SandboxViolation(
            "sandbox.too_large",
            f"{path!r} is larger than the {limit} bytes that may be {verb}",
            path=path,
            limit=limit,
        )
