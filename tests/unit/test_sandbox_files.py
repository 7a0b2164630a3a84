"""FileTool: a normal round trip, then every way out of the root we could
think of (traversal, absolute paths, symlinks to files and directories,
symlinked parents, swaps between and during calls, NUL bytes, special
files, oversized data), each refused without touching or revealing
anything outside the root."""

from __future__ import annotations

import contextlib
import os
import stat
import threading
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from taskplane.agent.files import FileTool, SandboxViolation
from taskplane.agent.reporting import ActionStatus, RecordingReporter
from taskplane.errors import TaskFailure

SECRET = "top-secret-outside-the-root-4711"  # pragma: allowlist secret


@dataclass
class Sandbox:
    root: Path
    outside: Path
    tool: FileTool
    reporter: RecordingReporter
    errors: list[TaskFailure]

    def outside_state(self) -> dict[str, bytes]:
        return {p.name: p.read_bytes() for p in sorted(self.outside.iterdir()) if p.is_file()}

    async def refused(self, call: Any, code: str) -> SandboxViolation:
        with pytest.raises(SandboxViolation) as info:
            await call
        assert info.value.code == code
        assert info.value.retryable is False
        self.errors.append(info.value)
        return info.value


@pytest.fixture
def box(tmp_path: Path) -> Iterator[Sandbox]:
    root = tmp_path / "root"
    outside = tmp_path / "outside"
    root.mkdir()
    outside.mkdir()
    (outside / "secret.txt").write_text(SECRET)
    reporter = RecordingReporter()
    sandbox = Sandbox(root, outside, FileTool(root, reporter), reporter, [])
    before = sandbox.outside_state()
    yield sandbox
    # Nothing outside the root was written, and no error or report reveals it.
    assert sandbox.outside_state() == before
    for error in sandbox.errors:
        assert SECRET not in f"{error} {error.message} {error.details}"
    assert SECRET not in repr(sandbox.reporter.actions)


async def test_round_trip_write_read_list_stat_delete(box: Sandbox) -> None:
    tool = box.tool
    assert await tool.write_text("notes/today.md", "héllo\n") == len("héllo\n".encode())
    assert (box.root / "notes" / "today.md").read_text() == "héllo\n"
    assert await tool.read_text("notes/today.md") == "héllo\n"
    assert await tool.read_text("./notes//today.md") == "héllo\n"

    top = await tool.list_dir()
    assert [(e.name, e.kind) for e in top.entries] == [("notes", "directory")]
    assert top.truncated is False
    inner = await tool.list_dir("notes")
    assert [(e.name, e.kind, e.size) for e in inner.entries] == [("today.md", "file", 7)]

    info = await tool.stat("notes/today.md")
    assert (info.kind, info.size) == ("file", 7)
    assert (await tool.stat(".")).kind == "directory"

    await tool.write_text("notes/today.md", "replaced")
    assert await tool.read_text("notes/today.md") == "replaced"
    # Atomic replace leaves no temporary files behind.
    assert sorted(p.name for p in (box.root / "notes").iterdir()) == ["today.md"]

    await tool.delete("notes/today.md")
    assert not (box.root / "notes" / "today.md").exists()
    with pytest.raises(TaskFailure) as missing:
        await tool.read_text("notes/today.md")
    assert missing.value.code == "file.not_found"


async def test_write_keeps_the_mode_of_an_existing_file(box: Sandbox) -> None:
    script = box.root / "run.sh"
    script.write_text("old")
    script.chmod(0o750)
    await box.tool.write_text("run.sh", "new")
    assert stat.S_IMODE(script.stat().st_mode) == 0o750
    assert script.read_text() == "new"


async def test_symlinks_inside_the_root_are_followed(box: Sandbox) -> None:
    (box.root / "docs").mkdir()
    (box.root / "docs" / "readme.txt").write_text("inside")
    (box.root / "alias.txt").symlink_to("docs/readme.txt")
    (box.root / "docs" / "up").symlink_to("..")
    (box.root / "linked").symlink_to("docs")

    assert await box.tool.read_text("alias.txt") == "inside"
    assert await box.tool.read_text("docs/up/docs/up/alias.txt") == "inside"
    assert await box.tool.read_text("linked/readme.txt") == "inside"
    await box.tool.write_text("alias.txt", "through the link")
    assert (box.root / "docs" / "readme.txt").read_text() == "through the link"
    assert (box.root / "alias.txt").is_symlink()

    # Deleting a link removes the link, never its target.
    await box.tool.delete("alias.txt")
    assert not (box.root / "alias.txt").exists()
    assert (box.root / "docs" / "readme.txt").read_text() == "through the link"


@pytest.mark.parametrize(
    "path", ["../outside/secret.txt", "a/../../outside/secret.txt", "..", "x/.."]
)
async def test_dot_dot_is_refused(box: Sandbox, path: str) -> None:
    (box.root / "a").mkdir()
    error = await box.refused(box.tool.read_text(path), "sandbox.path_escape")
    assert "'..' components are not allowed" in error.message
    await box.refused(box.tool.write_text(path, "pwned"), "sandbox.path_escape")
    await box.refused(box.tool.list_dir(path), "sandbox.path_escape")
    await box.refused(box.tool.delete(path), "sandbox.path_escape")
    await box.refused(box.tool.stat(path), "sandbox.path_escape")
    assert (box.outside / "secret.txt").exists()


async def test_absolute_paths_are_refused(box: Sandbox) -> None:
    secret = str(box.outside / "secret.txt")
    error = await box.refused(box.tool.read_text(secret), "sandbox.path_escape")
    assert "absolute paths are not allowed" in error.message
    await box.refused(box.tool.write_text(str(box.outside / "new.txt"), "x"), "sandbox.path_escape")
    await box.refused(box.tool.delete(secret), "sandbox.path_escape")
    # Even an absolute path that points into the root.
    (box.root / "in.txt").write_text("in")
    await box.refused(box.tool.read_text(str(box.root / "in.txt")), "sandbox.path_escape")


async def test_symlink_to_a_file_outside_is_refused(box: Sandbox) -> None:
    (box.root / "abs").symlink_to(box.outside / "secret.txt")
    (box.root / "rel").symlink_to(Path("..") / "outside" / "secret.txt")
    for name in ("abs", "rel"):
        error = await box.refused(box.tool.read_text(name), "sandbox.path_escape")
        assert str(box.outside) not in error.message
        assert "symlink" in error.message
        await box.refused(box.tool.write_text(name, "pwned"), "sandbox.path_escape")
        await box.refused(box.tool.stat(name), "sandbox.path_escape")
    assert (box.root / "abs").is_symlink()


async def test_symlink_to_a_directory_outside_is_refused(box: Sandbox) -> None:
    (box.root / "out").symlink_to(box.outside, target_is_directory=True)
    await box.refused(box.tool.read_text("out/secret.txt"), "sandbox.path_escape")
    await box.refused(box.tool.list_dir("out"), "sandbox.path_escape")
    await box.refused(box.tool.write_text("out/planted.txt", "x"), "sandbox.path_escape")
    await box.refused(box.tool.write_text("out/new/deep.txt", "x"), "sandbox.path_escape")
    await box.refused(box.tool.delete("out/secret.txt"), "sandbox.path_escape")
    assert not (box.outside / "new").exists()


async def test_symlinked_parent_directory_leading_out_is_refused(box: Sandbox) -> None:
    # A relative link two levels down that climbs above the root.
    (box.root / "a" / "b").mkdir(parents=True)
    (box.root / "a" / "b" / "up").symlink_to(Path("..") / ".." / ".." / "outside")
    error = await box.refused(box.tool.read_text("a/b/up/secret.txt"), "sandbox.path_escape")
    assert "above the root" in error.message
    await box.refused(box.tool.write_text("a/b/up/secret.txt", "pwned"), "sandbox.path_escape")
    await box.refused(box.tool.list_dir("a/b/up"), "sandbox.path_escape")
    # A chain of links that only leaves the root at its last hop.
    (box.root / "hop1").symlink_to("a/b")
    (box.root / "a" / "hop2").symlink_to("b/up")
    await box.refused(box.tool.read_text("hop1/up/secret.txt"), "sandbox.path_escape")
    await box.refused(box.tool.read_text("a/hop2/secret.txt"), "sandbox.path_escape")


async def test_symlink_swapped_in_after_a_successful_call_is_refused(box: Sandbox) -> None:
    (box.root / "data").mkdir()
    (box.root / "data" / "secret.txt").write_text("inside")
    (box.root / "f.txt").write_text("inside")
    assert await box.tool.read_text("data/secret.txt") == "inside"
    assert await box.tool.read_text("f.txt") == "inside"

    (box.root / "data").rename(box.root / "parked")
    (box.root / "data").symlink_to(box.outside, target_is_directory=True)
    (box.root / "f.txt").unlink()
    (box.root / "f.txt").symlink_to(box.outside / "secret.txt")

    await box.refused(box.tool.read_text("data/secret.txt"), "sandbox.path_escape")
    await box.refused(box.tool.write_text("data/secret.txt", "pwned"), "sandbox.path_escape")
    await box.refused(box.tool.read_text("f.txt"), "sandbox.path_escape")
    await box.refused(box.tool.write_text("f.txt", "pwned"), "sandbox.path_escape")


async def race(
    box: Sandbox,
    swap: Callable[[], None],
    stop: threading.Event,
    call: Callable[[int], Awaitable[str | None]],
) -> set[str]:
    """Runs `swap` on a thread while making 300 calls; the set of what the
    calls returned or the codes they failed with."""
    swapper = threading.Thread(target=swap)
    swapper.start()
    outcomes: set[str] = set()
    try:
        for i in range(300):
            try:
                result = await call(i)
                if result is not None:
                    outcomes.add(result)
            except SandboxViolation as exc:
                outcomes.add(exc.code)
                box.errors.append(exc)
            except TaskFailure as exc:
                outcomes.add(exc.code)
    finally:
        stop.set()
        swapper.join()
    return outcomes


async def test_symlink_swapped_in_during_calls_never_leaks(box: Sandbox) -> None:
    """A thread keeps swapping a directory inside the root with a symlink to
    the outside; every read either sees the inside file or is refused."""
    (box.root / "flip").mkdir()
    (box.root / "flip" / "secret.txt").write_text("inside")
    (box.root / "flip-link").symlink_to(box.outside, target_is_directory=True)
    tool = FileTool(box.root)
    stop = threading.Event()

    def swap() -> None:
        flip, parked, link = box.root / "flip", box.root / "parked", box.root / "flip-link"
        while not stop.is_set():
            flip.rename(parked)
            link.rename(flip)
            flip.rename(link)
            parked.rename(flip)

    async def call(i: int) -> str | None:
        return await tool.read_text("flip/secret.txt")

    outcomes = await race(box, swap, stop, call)
    assert SECRET not in outcomes
    assert outcomes <= {"inside", "sandbox.path_escape", "file.not_found"}


async def test_file_swapped_for_a_symlink_during_calls_never_leaks(box: Sandbox) -> None:
    """The same race on the final component, for reads and writes; the
    fixture checks that the outside file was never overwritten."""
    (box.root / "f.txt").write_text("inside")
    (box.root / "f-link").symlink_to(box.outside / "secret.txt")
    tool = FileTool(box.root)
    stop = threading.Event()

    def swap() -> None:
        target, parked, link = box.root / "f.txt", box.root / "parked", box.root / "f-link"
        while not stop.is_set():
            for src, dst in ((target, parked), (link, target), (target, link), (parked, target)):
                # A write in between may have replaced an entry.
                with contextlib.suppress(FileNotFoundError):
                    src.rename(dst)

    async def call(i: int) -> str | None:
        if i % 2:
            await tool.write_text("f.txt", "inside")
            return None
        return await tool.read_text("f.txt")

    outcomes = await race(box, swap, stop, call)
    assert SECRET not in outcomes
    assert outcomes <= {"inside", "sandbox.path_escape", "file.not_found"}


async def test_nul_bytes_are_refused(box: Sandbox) -> None:
    (box.root / "a").write_text("a")
    error = await box.refused(box.tool.read_text("a\0/../../outside"), "sandbox.invalid_path")
    assert "NUL byte" in error.message
    await box.refused(box.tool.write_text("a\0b", "x"), "sandbox.invalid_path")
    await box.refused(box.tool.stat("\0"), "sandbox.invalid_path")


async def test_reads_over_the_cap_fail_instead_of_truncating(box: Sandbox) -> None:
    tool = FileTool(box.root, box.reporter, max_read_bytes=100)
    (box.root / "exact.txt").write_text("x" * 100)
    (box.root / "big.txt").write_text("x" * 101)
    assert await tool.read_text("exact.txt") == "x" * 100
    error = await box.refused(tool.read_text("big.txt"), "sandbox.too_large")
    assert "100 bytes" in error.message


async def test_writes_over_the_cap_fail_and_change_nothing(box: Sandbox) -> None:
    tool = FileTool(box.root, box.reporter, max_write_bytes=100)
    (box.root / "kept.txt").write_text("original")
    assert await tool.write_text("ok.txt", "y" * 100) == 100
    await box.refused(tool.write_text("kept.txt", "y" * 101), "sandbox.too_large")
    # Multi-byte characters count as bytes: 51 * 2 > 100.
    await box.refused(tool.write_text("new.txt", "é" * 51), "sandbox.too_large")
    assert (box.root / "kept.txt").read_text() == "original"
    assert not (box.root / "new.txt").exists()


async def test_fifos_are_refused_without_blocking(box: Sandbox) -> None:
    os.mkfifo(box.root / "pipe")
    error = await box.refused(box.tool.read_text("pipe"), "sandbox.not_a_file")
    assert "only regular files" in error.message
    await box.refused(box.tool.write_text("pipe", "x"), "sandbox.not_a_file")
    await box.refused(box.tool.delete("pipe"), "sandbox.not_a_file")
    assert stat.S_ISFIFO((box.root / "pipe").stat().st_mode)
    assert (await box.tool.stat("pipe")).kind == "other"


async def test_devices_are_refused(box: Sandbox) -> None:
    # A link to a device outside the root is an escape before it is a device.
    (box.root / "zero").symlink_to("/dev/zero")
    await box.refused(box.tool.read_text("zero"), "sandbox.path_escape")
    try:
        os.mknod(box.root / "null", stat.S_IFCHR | 0o600, os.makedev(1, 3))
    except PermissionError:
        return  # creating a device node needs CAP_MKNOD; the link case above still ran
    await box.refused(box.tool.read_text("null"), "sandbox.not_a_file")
    await box.refused(box.tool.write_text("null", "x"), "sandbox.not_a_file")


async def test_directories_cannot_be_deleted_read_or_overwritten(box: Sandbox) -> None:
    (box.root / "dir" / "sub").mkdir(parents=True)
    await box.refused(box.tool.delete("dir/sub"), "sandbox.not_a_file")
    await box.refused(box.tool.delete("."), "sandbox.not_a_file")
    await box.refused(box.tool.read_text("dir"), "sandbox.not_a_file")
    await box.refused(box.tool.write_text("dir", "x"), "sandbox.not_a_file")
    await box.refused(box.tool.write_text(".", "x"), "sandbox.not_a_file")
    assert (box.root / "dir" / "sub").is_dir()


async def test_listing_stops_at_max_entries(box: Sandbox) -> None:
    for i in range(5):
        (box.root / f"f{i}").write_text(str(i))
    listing = await FileTool(box.root, max_entries=3).list_dir()
    assert len(listing.entries) == 3
    assert listing.truncated is True
    assert (await box.tool.list_dir()).truncated is False


async def test_other_failures_are_task_failures(box: Sandbox) -> None:
    (box.root / "bin.dat").write_bytes(b"\xff\xfe\x00")
    (box.root / "file").write_text("x")
    cases = [
        (box.tool.read_text("bin.dat"), "file.not_text"),
        (box.tool.read_text("missing/x"), "file.not_found"),
        (box.tool.delete("missing"), "file.not_found"),
        (box.tool.list_dir("file"), "file.not_a_directory"),
        (box.tool.write_text("file/x", "x"), "file.not_a_directory"),
    ]
    for call, code in cases:
        with pytest.raises(TaskFailure) as info:
            await call
        assert not isinstance(info.value, SandboxViolation)
        assert info.value.code == code


async def test_each_call_is_reported_once(box: Sandbox) -> None:
    tool = box.tool
    await tool.write_text("a.txt", "payload-content")
    await tool.read_text("a.txt")
    await tool.list_dir()
    await tool.stat("a.txt")
    await tool.delete("a.txt")
    await box.refused(tool.read_text("../outside/secret.txt"), "sandbox.path_escape")

    actions = box.reporter.actions
    assert [a["name"] for a in actions] == [
        "file.write",
        "file.read",
        "file.list",
        "file.stat",
        "file.delete",
        "file.read",
    ]
    assert [a["status"] for a in actions] == [ActionStatus.SUCCEEDED] * 5 + [ActionStatus.FAILED]
    assert all(a["arguments"]["path"] for a in actions)
    assert all(isinstance(a["duration_s"], float) for a in actions)
    write, read, listing, info, _, failed = actions
    assert write["arguments"] == {"path": "a.txt", "bytes": 15}
    assert read["output"] == {"bytes": 15}
    assert listing["output"] == {"entries": 1, "truncated": False}
    assert info["output"] == {"kind": "file", "size": 15}
    # Content stays out of the reports; only sizes go in.
    assert "payload-content" not in repr(actions)
    assert failed["output"] == {"code": "sandbox.path_escape"}
    assert "'..' components are not allowed" in failed["error_message"]


def test_root_must_be_a_directory(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="not a directory"):
        FileTool(tmp_path / "missing")
