"""``heap.settle`` freezes what exists and raises the collector's thresholds (in a process of its own)."""

from __future__ import annotations

import subprocess
import sys

from iot_suitcase.ingest import heap

CHECK = """
import gc
from iot_suitcase.ingest import heap
heap.settle()
print(gc.get_freeze_count() > 1000, gc.get_threshold())
"""


def test_settle_freezes_the_heap_and_raises_the_thresholds() -> None:
    out = subprocess.run([sys.executable, "-c", CHECK], capture_output=True, text=True, check=True).stdout.split(" ", 1)
    assert out[0] == "True"
    assert out[1].strip() == str((heap.YOUNG_THRESHOLD, heap.MIDDLE_THRESHOLD, heap.OLD_THRESHOLD))
