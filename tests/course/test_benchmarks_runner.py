"""``python -m benchmarks``: sections of RESULTS.md are written, and a partial run replaces only its own."""

from __future__ import annotations

import sys
import types

import pytest

import benchmarks.__main__ as runner


def fake_bench(monkeypatch, name: str, table: str) -> None:
    module = types.ModuleType(f"benchmarks.{name}")
    module.main = lambda: print(table)  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, f"benchmarks.{name}", module)


@pytest.fixture
def results_dir(tmp_path, monkeypatch):
    monkeypatch.setattr(runner, "HERE", tmp_path)
    monkeypatch.setattr(runner, "machine", lambda: "test machine")
    return tmp_path


def test_partial_run_replaces_only_its_section(results_dir, monkeypatch):
    fake_bench(monkeypatch, "bench_a", "| a | 1.0 |")
    fake_bench(monkeypatch, "bench_b", "| b | 2.0 |")
    runner.main(["bench_a", "bench_b"])
    fake_bench(monkeypatch, "bench_a", "| a | 3.0 |")
    runner.main(["bench_a"])
    text = (results_dir / "RESULTS.md").read_text()
    assert "| a | 3.0 |" in text and "| a | 1.0 |" not in text
    assert "| b | 2.0 |" in text
    assert text.count("test machine") == 2
    assert list(runner.read_sections(results_dir / "RESULTS.md")) == ["bench_a", "bench_b"]


def test_full_run_drops_sections_of_benchmarks_that_no_longer_exist(results_dir, monkeypatch):
    (results_dir / "RESULTS.md").write_text("<!-- section: bench_gone -->\nold\n<!-- section: record_gpu -->\nkept\n")
    (results_dir / "bench_c.py").write_text("")
    fake_bench(monkeypatch, "bench_c", "| c |")
    runner.main([])
    sections = runner.read_sections(results_dir / "RESULTS.md")
    assert list(sections) == ["bench_c", "record_gpu"]  # hand-written record_* sections are kept
    assert sections["record_gpu"] == "kept"
    assert sections["bench_c"].endswith("| c |")
    assert "test machine" in sections["bench_c"]


def test_read_sections_of_missing_file_is_empty(tmp_path):
    assert runner.read_sections(tmp_path / "RESULTS.md") == {}
