"""Queries: the same answer as a brute-force filter, streamed across rotated files."""

from __future__ import annotations

import datetime as dt
import random
from typing import Any

import pytest

from kaizen_otel.audit import AuditEntry, AuditTrail
from kaizen_otel.audit.files import TrailLayout
from kaizen_otel.audit.query import tail_entries, to_ns

AGENTS = ("planner", "coder", "reviewer")
ACTIONS = ("tool_execute", "permission_grant", "checkpoint_save")
USERS = (None, "alice", "bob")
RESULTS = ("success", "failure", "denied")


@pytest.fixture(scope="module")
def dataset(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, list[AuditEntry]]:
    """300 random records over several rotated files, with the entries record() returned."""
    path = str(tmp_path_factory.mktemp("query") / "audit.jsonl")
    rng = random.Random(7)
    written = []
    with AuditTrail(path, rotate_bytes=8 * 1024, seal_records=40, seal_seconds=0) as trail:
        for i in range(300):
            written.append(
                trail.record(
                    rng.choice(AGENTS),
                    rng.choice(ACTIONS),
                    {"i": i},
                    result=rng.choice(RESULTS),
                    user_id=rng.choice(USERS),
                )
            )
    assert len(TrailLayout(path).rotated()) >= 3
    return path, written


def brute_force(entries: list[AuditEntry], **filters: Any) -> list[int]:
    start, end = filters.pop("start", None), filters.pop("end", None)
    return [
        e.seq
        for e in entries
        if all(getattr(e, name) == value for name, value in filters.items() if value is not None)
        and (start is None or e.timestamp_ns >= start)
        and (end is None or e.timestamp_ns < end)
    ]


def test_random_queries_equal_a_brute_force_filter(dataset: tuple[str, list[AuditEntry]]) -> None:
    path, written = dataset
    trail = AuditTrail.open(path, seal_seconds=0)
    rng = random.Random(11)
    stamps = sorted(e.timestamp_ns for e in written)
    try:
        for _ in range(200):
            filters: dict[str, Any] = {
                "agent_id": rng.choice((None, *AGENTS)),
                "action": rng.choice((None, *ACTIONS)),
                "user_id": rng.choice((None, "alice", "bob")),
                "result": rng.choice((None, *RESULTS)),
                "start": rng.choice((None, rng.choice(stamps))),
                "end": rng.choice((None, rng.choice(stamps))),
            }
            got = [e.seq for e in trail.query(**filters)]
            assert got == brute_force(written, **dict(filters)), filters
    finally:
        trail.close()


def test_query_is_a_lazy_iterator(dataset: tuple[str, list[AuditEntry]]) -> None:
    path, written = dataset
    trail = AuditTrail.open(path, seal_seconds=0)
    results = trail.query()
    assert next(results).seq == written[0].seq
    assert [e.details for e in results][-1] == written[-1].details
    trail.close()


def test_time_bounds_are_start_inclusive_end_exclusive(dataset: tuple[str, list[AuditEntry]]) -> None:
    path, written = dataset
    trail = AuditTrail.open(path, seal_seconds=0)
    middle = written[150]
    assert [e.seq for e in trail.query(start=middle.timestamp_ns, end=middle.timestamp_ns + 1)] == [
        middle.seq
    ]
    assert list(trail.query(start=middle.timestamp_ns, end=middle.timestamp_ns)) == []
    trail.close()


def test_datetime_bounds_naive_means_utc() -> None:
    aware = dt.datetime(2025, 1, 2, 3, 4, 5, 6, tzinfo=dt.timezone.utc)
    assert to_ns(aware, "start") == to_ns(aware.replace(tzinfo=None), "start") == 1735787045000006000
    with pytest.raises(TypeError, match="end must be a datetime or an int of nanoseconds"):
        to_ns("yesterday", "end")  # type: ignore[arg-type]


def test_tail_returns_the_last_matching_entries_in_order(dataset: tuple[str, list[AuditEntry]]) -> None:
    path, written = dataset
    assert [e.seq for e in tail_entries(path, 5)] == [e.seq for e in written[-5:]]
    coder = [e.seq for e in written if e.agent_id == "coder"]
    from kaizen_otel.audit.query import AuditQuery

    assert [e.seq for e in tail_entries(path, 40, AuditQuery(agent_id="coder"))] == coder[-40:]


def test_an_unknown_result_filter_is_refused(dataset: tuple[str, list[AuditEntry]]) -> None:
    trail = AuditTrail.open(dataset[0], seal_seconds=0)
    with pytest.raises(ValueError, match="result must be one of success, failure, denied; got 'ok'"):
        trail.query(result="ok")
    trail.close()
