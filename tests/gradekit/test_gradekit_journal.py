"""gradekit.journal: append-only resume journal."""

from __future__ import annotations

from gradekit.journal import Entry, Journal


def test_journal_round_trip_latest_wins_and_survives_a_torn_line(tmp_path):
    j = Journal(tmp_path / "sub" / "journal.jsonl")
    assert j.entries() == {}
    j.append(Entry("ex01", "alice", "d1", "ok", 4.0, 10.0, {"nb/a": [4.0, 10.0]}))
    j.append(Entry("ex01", "bob", "d2", "failed", 0.0, 10.0, error="boom"))
    j.append(Entry("ex01", "alice", "d3", "ok", 10.0, 10.0))
    with open(j.path, "a") as fh:
        fh.write('{"assignment": "ex01", "student": "carol", "dig')  # killed mid-write
    entries = Journal(j.path).entries()
    assert set(entries) == {("ex01", "alice"), ("ex01", "bob")}
    assert entries[("ex01", "alice")].digest == "d3" and entries[("ex01", "alice")].score == 10.0
    assert j.done("ex01", "alice", "d3") and not j.done("ex01", "alice", "d1")
    assert j.done("ex01", "bob", "d2") and not j.done("ex02", "bob", "d2")
