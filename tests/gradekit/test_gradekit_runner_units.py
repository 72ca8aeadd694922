"""gradekit.runner, the parts that need no nbgrader run: task sizes and unreadable submissions."""

from __future__ import annotations

import json

import pytest

from gradekit.runner import Item, chunked, unreadable_notebook


@pytest.mark.parametrize("n", [0, 1, 3, 21, 100, 257])
@pytest.mark.parametrize("workers", [1, 2, 8])
def test_guided_chunks_cover_everything_in_order_large_first(n, workers):
    tasks = chunked(list(range(n)), workers, None)
    assert [i for t in tasks for i in t] == list(range(n))
    sizes = [len(t) for t in tasks]
    assert all(1 <= s <= 16 for s in sizes)
    assert sizes == sorted(sizes, reverse=True), "large tasks first, small ones last (workers finish together)"
    if n >= 100 and workers <= 2:
        assert len(tasks) < n / 4, "one nbgrader start-up should serve several submissions"


def test_fixed_chunks_and_nonsense():
    assert [len(t) for t in chunked(list(range(7)), 2, 3)] == [3, 3, 1]
    with pytest.raises(ValueError, match="chunk_size"):
        chunked([1], 2, 0)


def test_unreadable_notebooks_are_recognised():
    good = json.dumps({"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}).encode()
    assert unreadable_notebook(Item("a", "d", {"n.ipynb": good, "data.csv": b"\xff not json"})) == ""
    assert "not valid JSON" in unreadable_notebook(Item("a", "d", {"n.ipynb": b'{"cells": [ this is not'}))
    assert "not valid JSON" in unreadable_notebook(Item("a", "d", {"n.ipynb": b"\xff\xfe"}))
    assert "not a Jupyter notebook" in unreadable_notebook(Item("a", "d", {"n.ipynb": b"[1, 2]"}))
