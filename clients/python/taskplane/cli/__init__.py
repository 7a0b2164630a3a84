"""The `taskplane` command line client, built on `taskplane.Client`.

    taskplane task create summarize --input '{"url": "https://example.com"}' --wait
    taskplane events tail --task tsk_... --follow
    taskplane --json status

`main` is the console script; `run` is the same as a coroutine, for callers
that already run an event loop.
"""

from taskplane.cli.app import main, run

__all__ = ["main", "run"]
