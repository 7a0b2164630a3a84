"""The pieces of `scripts/bench`: bare-grpcio baselines, Taskplane loads, the
Celery comparison and the subscriber processes. See docs/benchmarks.md."""
