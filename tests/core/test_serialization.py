"""`serialization.dumps` and `serialize`: the hot-path JSON encoders write exactly what the
standard one would."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from acquire.models import EventType, JobState
from acquire.serialization import JobError, _default, deserialize, dumps, serialize

JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(),
    lambda children: st.lists(children, max_size=5) | st.dictionaries(st.text(), children, max_size=5),
    max_leaves=30,
)


def reference(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), default=str)


@given(JSON_VALUES)
def test_dumps_matches_the_standard_encoder(value: Any) -> None:
    assert dumps(value) == reference(value)


def test_dumps_handles_what_status_writes_contain() -> None:
    moment = datetime(2026, 11, 23, 15, 0, 0, 123456, tzinfo=UTC)
    value = {
        "state": JobState.COMPLETED,  # a str enum is written as its value
        "event": EventType.JOB_STARTED,
        "at": moment,  # other types go through str()
        "summary": {"similarity": 0.8641234567891234, "words": 16_638, "text": 'quote " and é'},
        "nan": float("nan"),
    }
    assert dumps(value) == reference(value)
    assert '"state":"completed"' in dumps(value) and "2026-11-23 15:00:00.123456+00:00" in dumps(value)
    assert dumps("plain") == '"plain"'


@given(JSON_VALUES)
def test_serialize_matches_the_standard_encoder(value: Any) -> None:
    assert serialize(value) == json.dumps(value, separators=(",", ":"), default=_default).encode()


def test_serialize_writes_errors_and_times_and_refuses_a_cycle() -> None:
    moment = datetime(2026, 11, 23, 15, 0, 0, tzinfo=UTC)
    job = {"t": 1, "f": "f", "a": [moment], "k": {}, "et": 1}
    record = {**job, "s": False, "r": KeyError("cik"), "st": 1, "ft": 2}
    assert serialize(record) == json.dumps(record, separators=(",", ":"), default=_default).encode()
    restored = deserialize(serialize(record))
    assert restored["a"] == [moment.isoformat()] and str(restored["r"]) == "KeyError: 'cik'"
    cycle: list[Any] = []
    cycle.append(cycle)
    with pytest.raises(RecursionError):
        serialize(cycle)


def test_deserialize_restores_errors_anywhere_and_leaves_other_records_plain() -> None:
    job = {"t": 1, "f": "f", "a": [{"nested": [ValueError("deep")]}], "k": {}, "et": 1}
    restored = deserialize(serialize({**job, "s": False, "r": {"error": KeyError("x")}, "st": 1, "ft": 2}))
    assert isinstance(restored["r"]["error"], JobError) and restored["r"]["error"].error_type == "KeyError"
    assert isinstance(restored["a"][0]["nested"][0], JobError)
    plain = {**job, "a": [{"__error": True, "error_type": "X"}]}
    assert deserialize(serialize(plain)) == plain
    text = deserialize(serialize(job).decode())  # text as well as bytes
    assert isinstance(text["a"][0]["nested"][0], JobError)
