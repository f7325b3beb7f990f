"""Chapter 1.2's trend explorer: refits on any selection, explains an impossible one."""

import pytest

pytest.importorskip("ipywidgets")
pytest.importorskip("matplotlib")
from bigcompute import trends, widgets


def test_the_explorer_opens_on_the_chapters_fit():
    explorer = widgets.trend_explorer()
    rows = trends.select()
    fit = trends.fit_doubling_time([r.year for r in rows], [r.training_flops for r in rows])
    assert f"{fit.doubling_months:.1f} months" in explorer.result.value
    assert "data:image/png;base64" in explorer.snapshot_html()


def test_a_narrower_selection_is_refitted():
    explorer = widgets.trend_explorer(domains=("language",), years=(2018, 2025))
    part = trends.select(domains="language", years=(2018, 2025))
    fit = trends.fit_doubling_time([r.year for r in part], [r.training_flops for r in part])
    assert f"{fit.n} (" in explorer.result.value
    assert f"{fit.doubling_months:.1f} months" in explorer.result.value


def test_too_few_models_show_a_message_not_a_traceback():
    explorer = widgets.trend_explorer(domains=("speech",))  # one model
    assert "bigcompute-error" in explorer.result.value
    assert "at least 3" in explorer.result.value
    assert explorer.chart.layout.display == "none"


def test_unknown_settings_are_refused():
    with pytest.raises(TypeError, match="unknown settings"):
        widgets.trend_explorer(colour="red")


def test_the_static_figure_has_every_model_and_the_fit():
    fig = widgets.trend_figure()
    ax = fig.axes[0]
    points = sum(len(c.get_offsets()) for c in ax.collections if hasattr(c, "get_offsets")
                 and len(c.get_offsets()) and c.get_label() in trends.DOMAINS)
    assert points == len(trends.select())
    assert any("doubles every" in t.get_text() for t in ax.get_legend().get_texts())
