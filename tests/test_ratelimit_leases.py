"""Leases (ilert.ratelimit.hit_leased): a busy integration key is charged to the shared counter in
blocks, never lets more through than its limit, and a quiet key is counted one event at a time."""

import pytest

from ilert import ratelimit

LIMIT = "1000/minute"  # leases of up to 10 events


@pytest.fixture
def calls(monkeypatch):
    """The costs `hit` is asked for (the shared counter's round trips), still counted for real."""
    seen = []
    real = ratelimit.hit

    def counting(limit, *keys, cost=1):
        seen.append(cost)
        return real(limit, *keys, cost=cost)

    monkeypatch.setattr(ratelimit, "hit", counting)
    return seen


def test_a_busy_key_is_charged_in_blocks_and_stops_exactly_at_its_limit(calls):
    allowed = [ratelimit.hit_leased(LIMIT, "ingest", "busy") == 0 for _ in range(1001)]
    assert allowed == [True] * 1000 + [False]
    assert max(calls) == 10 and len(calls) < 120  # about 100 blocks of 10 instead of 1,000 calls
    # What the shared counter holds is what was let through: another process sees the key full.
    assert ratelimit.hit(LIMIT, "ingest", "busy") > 0


def test_a_quiet_key_is_counted_one_event_per_call(calls, monkeypatch):
    monkeypatch.setattr(ratelimit, "LEASE_SECONDS", 0.0)  # each event comes after the last lease ended
    for _ in range(5):
        assert ratelimit.hit_leased(LIMIT, "ingest", "quiet") == 0
    assert calls == [1, 1, 1, 1, 1]


def test_leased_events_count_against_the_limit_in_every_process(calls):
    for _ in range(40):  # this process holds a lease with events left
        ratelimit.hit_leased(LIMIT, "ingest", "shared")
    charged = sum(calls)
    assert 40 <= charged <= 40 + 9
    for _ in range(1000 - charged):  # another process takes what is left
        assert ratelimit.hit(LIMIT, "ingest", "shared") == 0
    assert ratelimit.hit(LIMIT, "ingest", "shared") > 0


def test_a_small_limit_is_never_leased(calls):
    assert [ratelimit.hit_leased("60/minute", "ingest", "small") for _ in range(61)][-1] > 0
    assert calls == [1] * 61
