"""The results of one run: the figures, the ratios checked against their
targets, a table for people and JSON for machines."""

from __future__ import annotations

import dataclasses
import operator
from collections.abc import Callable
from typing import Any


@dataclasses.dataclass(frozen=True)
class Target:
    name: str
    description: str
    limit: float
    at_least: bool
    value: Callable[[dict[str, dict[str, Any]]], float]
    #: The plan settings the target is defined for (a run with others is
    #: reported, not judged).
    plan: tuple[tuple[str, float], ...] = ()

    def check(self, results: dict[str, dict[str, Any]]) -> tuple[float | None, bool | None]:
        value = _measured(self.value, results)
        if value is None:
            return None, None
        compare = operator.ge if self.at_least else operator.le
        return value, bool(compare(value, self.limit))


def _measured(
    compute: Callable[[dict[str, dict[str, Any]]], float], results: dict[str, dict[str, Any]]
) -> float | None:
    """A figure computed from the results, or None when its parts were not measured."""
    try:
        return compute(results)
    except (KeyError, TypeError, ZeroDivisionError):
        return None


def _get(results: dict[str, dict[str, Any]], *path: str) -> float:
    node: Any = results
    for key in path:
        node = node[key]
    return float(node)


TARGETS = (
    Target(
        "create_vs_empty_unary",
        "CreateTask / bare empty unary, median round",
        0.60,
        True,
        lambda r: _get(r, "create", "median_ratio"),
    ),
    Target(
        "e2e_sqlite_per_s",
        "durable tasks/s end to end, SQLite",
        500.0,
        True,
        lambda r: _get(r, "e2e-sqlite", "per_s"),
    ),
    Target(
        "e2e_sqlite_vs_celery",
        "e2e SQLite / Celery, median round",
        1.0,
        True,
        lambda r: _get(r, "celery", "median_ratio"),
    ),
    Target(
        "fanout_vs_bare_fanout",
        "delivered events/s / bare fan-out msgs/s",
        2.0,
        True,
        lambda r: _get(r, "fanout", "per_s") / _get(r, "baseline", "stream_fanout", "per_s"),
        (("subscribers", 1000),),
    ),
    Target(
        "fanout_p99_ms",
        "p99 commit-to-delivery latency, ms",
        50.0,
        False,
        lambda r: _get(r, "fanout", "latency_ms", "p99"),
        (("subscribers", 1000), ("fanout_rate", 1000.0)),
    ),
    Target(
        "idle_subscriber_kib",
        "server RSS per idle subscriber, KiB",
        100.0,
        False,
        lambda r: _get(r, "fanout", "memory", "per_subscriber_kib"),
        (("subscribers", 1000),),
    ),
)

# Ratios reported for reference, with no target: GetTask is the cheapest
# authenticated call that reads the store, so its ratio bounds what any
# call of the API, CreateTask included, can reach.
REFERENCES: tuple[tuple[str, str, Callable[[dict[str, dict[str, Any]]], float]], ...] = (
    (
        "get_task_vs_empty_unary",
        "GetTask / bare empty unary, median round",
        lambda r: _get(r, "create", "get_task", "median_ratio"),
    ),
)

# label, path to the figure, unit
ROWS: tuple[tuple[str, tuple[str, ...], str], ...] = (
    ("bare grpcio: empty unary", ("baseline", "empty_unary"), "calls/s"),
    ("  the same on asyncio's own loop", ("baseline", "empty_unary_asyncio"), "calls/s"),
    ("bare grpcio: stream, 1 subscriber", ("baseline", "stream_1"), "msgs/s"),
    ("bare grpcio: stream, fan-out", ("baseline", "stream_fanout"), "msgs/s"),
    ("Taskplane CreateTask (SQLite)", ("create",), "calls/s"),
    ("  GetTask on the same server (reference)", ("create", "get_task"), "calls/s"),
    ("Taskplane e2e create->complete (SQLite)", ("e2e-sqlite",), "tasks/s"),
    ("Taskplane e2e create->complete (PostgreSQL)", ("e2e-postgres",), "tasks/s"),
    ("Celery + Redis round trip (best pool)", ("celery",), "tasks/s"),
    ("Taskplane fan-out delivered (SQLite)", ("fanout",), "events/s"),
)


@dataclasses.dataclass
class Report:
    started: str
    machine: dict[str, Any]
    plan: dict[str, Any]
    skipped: set[str]
    results: dict[str, dict[str, Any]] = dataclasses.field(default_factory=dict)

    def checks(self) -> list[dict[str, Any]]:
        found = []
        for target in TARGETS:
            value, passed = target.check(self.results)
            if any(self.plan.get(key) != wanted for key, wanted in target.plan):
                passed = None  # measured under another plan: not judged
            found.append(
                {
                    "name": target.name,
                    "description": target.description,
                    "value": None if value is None else round(value, 3),
                    "target": f"{'>=' if target.at_least else '<='} {target.limit:g}",
                    "passed": passed,
                }
            )
        return found

    def table(self) -> str:
        cores = self.machine.get("cores")
        lines = [
            f"Taskplane bench, {self.started}, {cores} cores "
            f"(servers on core 0, load on core 1: {self.machine.get('pinned')}), "
            f"event loop {self.machine.get('event_loop', 'asyncio')}",
            "",
            f"{'measurement':<44} {'value':>11}  {'unit':<9} {'server':>7} {'client':>7} "
            f"{'other':>7}",
            f"{'':<44} {'':>11}  {'':<9} {'cpu':>7} {'cpu':>7} {'cpu':>7}",
        ]
        for label, path, unit in ROWS:
            node: Any = self.results
            for key in path:
                node = node.get(key, {}) if isinstance(node, dict) else {}
            if "error" in node:
                lines.append(f"{label:<44} FAILED: {node['error']}"[:160])
            elif "per_s" in node:
                cpu = [_percent(node.get(f"{side}_cpu")) for side in ("server", "client", "other")]
                lines.append(
                    f"{label:<44} {node['per_s']:>11,.0f}  {unit:<9} "
                    f"{cpu[0]:>7} {cpu[1]:>7} {cpu[2]:>7}"
                )
            if path == ("celery",):
                lines += self._celery_rounds()
            if path == ("create", "get_task"):
                lines += self._create_rounds()
        fanout = self.results.get("fanout", {})
        if "latency_ms" in fanout:
            latency = fanout["latency_ms"]
            lines.append(
                f"{'  commit->delivery latency p50 / p99 / max':<44} "
                f"{latency['p50']:.1f} / {latency['p99']:.1f} / {latency['max']:.1f} ms"
            )
            lines.append(
                f"{'  publisher: planned / achieved':<44} "
                f"{self.plan['fanout_rate']:,.0f} / {fanout['publish_rate']:,.0f} events/s"
            )
            lines.append(
                f"{'  events / deliveries (complete)':<44} {fanout['events']:,} / "
                f"{fanout['deliveries']:,} ({fanout['complete']:.1%})"
            )
            if "subscribers_cpu" in fanout:
                lines.append(
                    f"{'  client cpu: subscribers, publisher':<44} "
                    f"{_percent(fanout['subscribers_cpu'])}, {_percent(fanout['publisher_cpu'])}"
                )
            if "messages" in fanout:
                lines.append(
                    f"{'  messages; per message: events, server CPU':<44} "
                    f"{fanout['messages']:,}; {fanout['events_per_message']:.1f} events, "
                    f"{fanout['server_cpu_us_per_message']:.1f} us"
                )
        if "memory" in fanout:
            memory = fanout["memory"]
            lines.append(
                f"{'Taskplane server RSS per idle subscriber':<44} "
                f"{memory['per_subscriber_kib']:>11.1f}  KiB       "
                f"({memory['rss_before_kib']} -> {memory['rss_after_kib']} KiB)"
            )
        lines += [
            "",
            "cpu: share of one core used during the window by the server (process group),",
            "the load generators, and everything else (PostgreSQL, Redis, other work).",
            "",
            f"{'ratio / figure':<44} {'value':>11}  {'target':<9} result",
        ]
        for check in self.checks():
            value = "n/a" if check["value"] is None else f"{check['value']:.3g}"
            verdict = {True: "PASS", False: "MISS", None: "not measured"}[check["passed"]]
            if check["passed"] is None and check["value"] is not None:
                verdict = "not judged (other plan)"
            lines.append(f"{check['description']:<44} {value:>11}  {check['target']:<9} {verdict}")
        for reference in self.references():
            value = "n/a" if reference["value"] is None else f"{reference['value']:.3g}"
            lines.append(f"{reference['description']:<44} {value:>11}  {'':<9} reference")
        return "\n".join(lines)

    def references(self) -> list[dict[str, Any]]:
        found = []
        for name, description, compute in REFERENCES:
            value = _measured(compute, self.results)
            rounded = None if value is None else round(value, 3)
            found.append({"name": name, "description": description, "value": rounded})
        return found

    def _create_rounds(self) -> list[str]:
        create = self.results.get("create", {})
        return _rounds_line(
            "  rounds, bare / CreateTask / GetTask",
            "calls/s",
            create.get("bare_rounds", []),
            create.get("rounds", []),
            create.get("get_task", {}).get("rounds", []),
        )

    def _celery_rounds(self) -> list[str]:
        return _rounds_line(
            "  rounds, e2e SQLite / Celery (median shown)",
            "tasks/s",
            self.results.get("e2e-sqlite", {}).get("rounds", []),
            self.results.get("celery", {}).get("rounds", []),
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "started": self.started,
            "machine": self.machine,
            "plan": self.plan,
            "skipped": sorted(self.skipped),
            "results": self.results,
            "targets": self.checks(),
            "references": self.references(),
        }


def _rounds_line(label: str, unit: str, *series: list[float]) -> list[str]:
    """One line with each round's rates, `a/b/..` per round; none for a single round."""
    if min(len(rates) for rates in series) < 2:
        return []
    rounds = ", ".join(
        "/".join(f"{rate:,.0f}" for rate in rates) for rates in zip(*series, strict=False)
    )
    return [f"{label:<44} {rounds} {unit}"]


def _percent(value: object) -> str:
    return f"{float(value):.0%}" if isinstance(value, int | float) else ""
