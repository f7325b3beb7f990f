"""The explorers' pure halves (bigcompute.explorers): settings, controls as data, presets and
inactive controls, and charts described by recipes that bigcompute.plots has. No ipywidgets
here: this is what a browser Python would run."""

from __future__ import annotations

import pytest

from bigcompute import counts, memory
from bigcompute.explorers import SPECS
from bigcompute.explorers.base import CONTROL_KINDS, Control, setting_text
from bigcompute.explorers.hardware import RooflineSpec
from bigcompute.explorers.memory import MemorySpec, memory_report

PRICES = {"price_per_device_hour": 2.5, "grid_kg_per_kwh": 0.4}


def _settings(spec):
    return spec.settings(**{k: v for k, v in PRICES.items() if k in spec.extra})


@pytest.mark.parametrize("key", sorted(SPECS))
def test_every_setting_has_a_control_and_every_control_a_known_kind(key):
    spec = SPECS[key]()
    controls = spec.controls()
    assert set(controls) == set(_settings(spec)) | set(spec.derived)
    assert all(c.kind in CONTROL_KINDS for c in controls.values())


@pytest.mark.parametrize("key", sorted(SPECS))
def test_every_default_chart_names_a_plots_recipe(key):
    plots = pytest.importorskip("bigcompute.plots")
    spec = SPECS[key]()
    chart = spec.render(_settings(spec)).chart
    assert chart.recipe in plots.__all__ and chart.recipe.endswith("_chart")


def test_a_setting_the_explorer_does_not_have_is_refused_with_those_it_has():
    with pytest.raises(TypeError, match=r"unknown settings \['gpus'\]; known: \['model'"):
        MemorySpec().settings(gpus=8)


def test_an_unknown_control_kind_is_refused():
    with pytest.raises(ValueError, match="control kind 'knob'"):
        Control("knob", "volume")


def test_the_roofline_preset_follows_the_shape_and_sets_it():
    spec = RooflineSpec()
    settings = spec.settings()
    assert spec.derive(settings) == {"preset": "MLP up-projection, decode batch 1"}
    shape = counts.transformer_matmul_shapes("llama2-7b")["MLP up-projection, decode batch 64"]
    assert spec.apply("preset", "MLP up-projection, decode batch 64") == dict(zip("mnk", shape))
    assert spec.apply("preset", "custom") == {}
    assert spec.derive({**settings, "m": 3}) == {"preset": "custom"}


def test_the_custom_models_settings_are_inactive_unless_the_model_is_custom():
    spec = MemorySpec()
    assert spec.inactive(spec.settings()) == ("d_model", "n_layers", "n_heads", "vocab_size")
    assert spec.inactive(spec.settings(model="custom")) == ()
    assert "d_model" not in spec.settings_text(spec.settings(), spec.inactive(spec.settings()))


def test_the_memory_report_and_its_numbers_are_the_librarys():
    spec = MemorySpec()
    settings = spec.settings(batch=2, seq=2048)
    report = memory_report(settings)
    assert report.memory == memory.training_memory("llama2-7b", 2, 2048)
    assert report.fit == memory.fit("llama2-7b", "h100-sxm", 2, 2048)
    numbers = spec.render(settings).numbers
    assert numbers["total"] == report.memory.total and numbers["fits"] == report.fit.fits


@pytest.mark.parametrize("key", sorted(SPECS))
def test_every_explorer_names_its_headline_numbers(key):
    spec = SPECS[key]()
    numbers = spec.render(_settings(spec)).numbers
    assert numbers and all(isinstance(k, str) for k in numbers)


@pytest.mark.parametrize("value, text", [(2048, "2,048"), (0.4, "0.4"), (6.52e10, "6.52e+10"),
                                         (("a", "b"), "a, b"), (True, "True")])
def test_settings_read_readably(value, text):
    assert setting_text(value) == text
