"""The ingest service subscribes to exactly what accounts may publish: every format's topics, never twice."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from iot_suitcase.devices.formats import FORMATS, FormatContext, publish_filters

roots = st.sampled_from(["suitcase", "city", "v3", "application", "kit.1"])


def matches(topic_filter: str, topic: str) -> bool:
    """MQTT topic filter matching (+ one level, # the rest)."""
    want, got = topic_filter.split("/"), topic.split("/")
    for index, level in enumerate(want):
        if level == "#":
            return True
        if index >= len(got) or level not in ("+", got[index]):
            return False
    return len(want) == len(got)


@given(roots)
def test_every_format_topic_is_covered_by_exactly_one_subscription(root: str) -> None:
    context = FormatContext(topic_root=root)
    filters = publish_filters(context)
    assert filters[0] == f"{root}/#"
    for fmt in FORMATS.values():
        for topic_filter in fmt.topic_filters(context):
            example = topic_filter.replace("+", "dev-1")
            assert sum(matches(f, example) for f in filters) == 1, (topic_filter, filters)


def test_a_device_topic_no_format_reads_is_still_subscribed() -> None:
    filters = publish_filters(FormatContext(topic_root="suitcase"))
    for topic in ("suitcase/kit-1/nope", "suitcase/kit-1/up/extra", "suitcase/kit-1"):
        assert any(matches(f, topic) for f in filters), topic
