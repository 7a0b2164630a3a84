"""Measures the prompt-injection guard on its labelled corpus.

Prints the detection rate (true positives / positives) and the false-positive
rate (false positives / negatives), overall and per detector, then the
examples it got wrong. Exits 1 when the overall detection rate is below
MIN_DETECTION_RATE or the overall false-positive rate is above
MAX_FALSE_POSITIVE_RATE.

Usage: python scripts/guard_eval.py
"""

from __future__ import annotations

import sys

from taskplane.guard import scan_text
from tests.unit.guard_corpus import CORPUS, evaluate, format_table

MIN_DETECTION_RATE = 0.9
MAX_FALSE_POSITIVE_RATE = 0.05


def _shown(text: str) -> str:
    shown = ascii(text)
    return shown if len(shown) <= 100 else shown[:97] + "..."


def main() -> int:
    evaluation = evaluate(scan_text, CORPUS)
    overall = evaluation.rates["overall"]
    print(f"corpus: {overall.positives} malicious, {overall.negatives} benign examples")
    print(format_table(evaluation))
    for example in evaluation.misses:
        print(f"missed ({example.detector}): {_shown(example.text)}")
    for example, fired in evaluation.false_alarms:
        print(f"false positive ({', '.join(sorted(fired))}): {_shown(example.text)}")

    failures = []
    if overall.detection_rate < MIN_DETECTION_RATE:
        failures.append(f"detection rate {overall.detection_rate:.3f} < {MIN_DETECTION_RATE}")
    if overall.false_positive_rate > MAX_FALSE_POSITIVE_RATE:
        failures.append(
            f"false-positive rate {overall.false_positive_rate:.3f} > {MAX_FALSE_POSITIVE_RATE}"
        )
    for failure in failures:
        print(f"FAIL: {failure}", file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
