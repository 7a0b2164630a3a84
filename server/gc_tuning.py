"""Garbage collection for a long-running server.

Every call allocates a few hundred objects that die young; with CPython's
default threshold (700) the youngest generation is collected several times
per call and the oldest one, which holds everything loaded at start (gRPC,
SQLAlchemy, protobuf descriptors), every few hundred calls. Freezing what
exists once the server is up takes it out of every later collection, and a
larger first threshold collects young objects less often; reference
counting still frees almost everything at once, so memory stays flat."""

from __future__ import annotations

import gc

#: Allocations of container objects between two young collections.
YOUNG_THRESHOLD = 7000


def tune_after_start() -> None:
    gc.collect()
    gc.freeze()
    _, middle, old = gc.get_threshold()
    gc.set_threshold(YOUNG_THRESHOLD, middle, old)
