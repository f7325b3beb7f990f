"""The validation appendix's tables and figures, from benchmark results (recorded or made up)."""

import pytest

from bigcompute.validation import benchmarks


def _row(quantity, shape, predicted, measured, **settings):
    return {"quantity": quantity, "shape": shape, "settings": settings,
            "predicted": predicted, "measured": measured, "error": predicted / measured - 1}


@pytest.fixture
def accuracy():
    rows = [_row("params", "gpt", 100, 100), _row("flops", "gpt", 400, 400),
            _row("kv_cache_bytes", "gpt", 64, 64),
            _row("activation_bytes", "gpt", 1000, 1000, precision="fp32", attention="naive",
                 recompute=None, batch=3, seq=40),
            _row("activation_bytes", "t5", 820, 1000, precision="amp-bf16", attention="flash",
                 recompute=None, batch=3, seq=40)]
    acts = [r for r in rows if r["quantity"] == "activation_bytes"]
    return {
        "rows": rows,
        "summary": {q: {"cases": 1 + (q == "activation_bytes"),
                        "exact": 1, "max_abs_error": 0.18 if q == "activation_bytes" else 0.0,
                        "worst": acts[1] if q == "activation_bytes" else rows[0]}
                    for q in ("params", "flops", "activation_bytes", "kv_cache_bytes")},
        "activation_by_precision": {"fp32": {"cases": 1, "exact": 1, "max_abs_error": 0.0,
                                             "worst": acts[0]},
                                    "amp-bf16": {"cases": 1, "exact": 0,
                                                 "max_abs_error": 0.18, "worst": acts[1]}},
        "targets": {"params": 0.0, "flops": 0.0, "activation_bytes": 0.05,
                    "kv_cache_bytes": 0.0},
        "published": [{"run": "gpt3-175b-train-compute", "output": "train_compute",
                       "unit": "PF-days", "published": 3640.0, "computed": 3637.0,
                       "error": 3637 / 3640 - 1, "tolerance": 0.05, "within_tolerance": True,
                       "citation": "Brown et al. 2020, Table D.1", "url": None}],
        "flops_unsupported": [{"shape": "moe", "settings": {}, "reason": "meta device"},
                              {"shape": "moe_x2", "settings": {}, "reason": "meta device"}],
        "activation_unsupported": [],
    }


def test_accuracy_rows_say_which_target_is_missed(accuracy):
    rows = {r["prediction"]: r for r in benchmarks.accuracy_rows(accuracy)}
    assert rows["parameters"]["met"] and rows["matmul FLOPs"]["met"]
    assert not rows["activation bytes"]["met"]


def test_outliers_are_the_cases_beyond_the_threshold(accuracy):
    outliers = benchmarks.activation_outliers(accuracy, threshold=0.05)
    assert [(o["shape"], o["precision"]) for o in outliers] == [("t5", "amp-bf16")]
    assert outliers[0]["error"] == pytest.approx(-0.18)
    assert benchmarks.activation_outliers(accuracy, threshold=0.2) == []


def test_unsupported_settings_are_grouped_by_base_shape(accuracy):
    assert benchmarks.unsupported_rows(accuracy) == [
        {"shape": "moe", "reason": "meta device", "cases": 2}]


def test_figures_draw_from_results(accuracy):
    fig = benchmarks.predicted_vs_measured_figure(accuracy)
    assert len(fig.axes) == 2
    assert len(benchmarks.published_errors_figure(accuracy).axes) == 1


def test_unknown_results_name_lists_the_known_ones():
    with pytest.raises(ValueError, match="name='gpu'.*'accuracy'"):
        benchmarks.load("gpu")


def test_the_recorded_results_have_what_the_appendix_reads():
    for name in benchmarks.NAMES:
        result = benchmarks.load(name)
        assert result["machine"]["cores"] >= 1
    acc = benchmarks.load("accuracy")
    assert {"params", "flops", "activation_bytes", "kv_cache_bytes"} <= set(acc["summary"])
    assert benchmarks.published_rows(acc) and benchmarks.comparison_rows(
        benchmarks.load("compare"))
    assert benchmarks.speed_rows(benchmarks.load("speed"))
    assert benchmarks.notebook_rows(benchmarks.load("notebooks"))
