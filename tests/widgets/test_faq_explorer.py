"""The FAQ explorer (explorers/faq.py in the widgets shell): a message, never a traceback."""

import pytest

pytest.importorskip("ipywidgets")
pytest.importorskip("matplotlib")
from bigcompute import widgets


def test_explorer_shows_a_message_not_a_traceback_for_a_too_long_context():
    explorer = widgets.faq_explorer(model="gpt2-small", seq=4096)
    assert "longer than" in explorer.result.value
    assert explorer.chart.layout.display == "none"


def test_unknown_setting_is_refused():
    with pytest.raises(TypeError, match="unknown settings"):
        widgets.faq_explorer(batch=3)
