"""Applies the prompt-injection guard (taskplane.guard) to untrusted
text according to the configured policy: off, flag (record the findings on
the task or event) or block (INVALID_ARGUMENT naming each field)."""

from __future__ import annotations

import json

from server.core.errors import FieldViolation, InvalidArgument
from taskplane.guard import Finding, GuardPolicy, scan_value
from taskplane.v1 import tasks_pb2


class Screener:
    def __init__(self, policy: GuardPolicy) -> None:
        self.policy = policy

    def screen(self, value: object, field_path: str) -> list[Finding]:
        """Findings in `value` (a JSON-like value or text); raises under the
        block policy when there are any."""
        if self.policy is GuardPolicy.OFF:
            return []
        findings = scan_value(value, field_path)
        if findings and self.policy is GuardPolicy.BLOCK:
            raise InvalidArgument(
                [
                    FieldViolation(
                        finding.field_path,
                        f"rejected by the prompt-injection guard ({finding.detector}): "
                        f"{finding.summary}",
                    )
                    for finding in findings
                ]
            )
        return findings


def findings_json(findings: list[Finding]) -> str:
    return json.dumps(
        [
            {"field_path": f.field_path, "detector": f.detector, "summary": f.summary}
            for f in findings
        ]
    )


def findings_proto(findings: list[Finding]) -> list[tasks_pb2.GuardFinding]:
    return [
        tasks_pb2.GuardFinding(field_path=f.field_path, detector=f.detector, summary=f.summary)
        for f in findings
    ]
