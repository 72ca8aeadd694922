"""invlib.explore: live widgets in a kernel, static panels when the book is built."""

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402

from invlib import explore as ex  # noqa: E402


def test_static_mode_draws_one_panel_per_setting(monkeypatch):
    monkeypatch.setenv(ex.STATIC_ENV, "1")
    calls = []

    def plot(ax, slope, kind):
        calls.append((slope, kind))
        ax.plot([0, 1], [0, slope])

    plt.close("all")
    ex.explore(plot, static={"slope": [0.1, 0.5, 0.9]}, slope=(0.0, 1.0, 0.1), kind=["a", "b"])
    assert calls == [(0.1, "a"), (0.5, "a"), (0.9, "a")]
    fig = plt.gcf()
    assert len([a for a in fig.axes if a.get_visible()]) == 3
    assert "slope = 0.1" in fig.axes[0].get_title()


def test_static_settings_must_name_controls(monkeypatch):
    monkeypatch.setenv(ex.STATIC_ENV, "1")
    with pytest.raises(ValueError, match="without a control"):
        ex.explore(lambda ax, a: None, static={"b": [1]}, a=(0, 1))


def test_live_mode_uses_ipywidgets(monkeypatch):
    monkeypatch.delenv(ex.STATIC_ENV, raising=False)
    seen = {}

    def fake_interact(fn, **controls):
        seen.update(controls)
        fn(slope=0.3)

    import ipywidgets

    monkeypatch.setattr(ipywidgets, "interact", fake_interact)
    drawn = []
    ex.explore(lambda ax, slope: drawn.append(slope), static={"slope": [0.1]}, slope=(0.0, 1.0, 0.1))
    assert seen == {"slope": (0.0, 1.0, 0.1)} and drawn == [0.3]


def test_default_values_match_ipywidgets_abbreviations():
    assert ex._default((0, 10)) == 5
    assert ex._default((0.0, 1.0, 0.1)) == 0.5
    assert ex._default(["x", "y"]) == "x"
    assert ex._default([("label", 3)]) == 3
