"""The bigcompute command: human output with units, --json, one-line errors."""

import argparse
import json
import re
import subprocess
import sys

import pytest

from bigcompute.cli import main


def run(capsys, *argv):
    code = main(list(argv))
    out = capsys.readouterr()
    return code, out.out, out.err


def test_train_report_has_units(capsys):
    code, out, _ = run(capsys, "train", "llama2-7b", "--tokens", "2T", "--device", "a100-80gb",
                       "--devices", "2048", "--mfu", "0.4")
    assert code == 0
    assert "days" in out and "PF-days" in out and "MWh" in out and "MFU 40%" in out


def test_train_json_matches_the_library(capsys):
    import bigcompute as bc

    code, out, _ = run(capsys, "--json", "train", "7B", "--tokens", "1T", "--device",
                       "h100-sxm", "--devices", "8", "--mfu", "0.5")
    data = json.loads(out)
    expected = bc.estimate_training(7e9, 1e12, "h100-sxm", 8, 0.5)
    assert code == 0 and data["seconds"] == pytest.approx(expected.seconds)
    assert data["flops"] == 6 * 7e9 * 1e12


@pytest.mark.parametrize("argv", [["devices"], ["models"],
                                  ["memory", "gpt2-small", "--batch", "8", "--seq", "1024",
                                   "--device", "h100-sxm"],
                                  ["infer", "llama2-7b", "--device", "h100-sxm"]])
def test_commands_run_and_json_parses(capsys, argv):
    assert run(capsys, *argv)[0] == 0
    code, out, _ = run(capsys, "--json", *argv)
    assert code == 0 and json.loads(out)


def test_memory_reports_the_peak_and_where_it_happens(capsys):
    code, out, _ = run(capsys, "--json", "memory", "gpt2-small", "--batch", "8", "--seq",
                       "1024", "--precision", "fp32", "--implementation", "hf")
    data = json.loads(out)
    from bigcompute import memory

    expected = memory.training_memory("gpt2-small", 8, 1024, "fp32", implementation="hf")
    assert code == 0 and data["peak"] == expected.peak
    assert data["peak_phase"] == expected.peak_phase == "backward: the loss"


def test_unknown_device_is_one_line_with_close_matches(capsys):
    code, out, err = run(capsys, "train", "7B", "--tokens", "1T", "--device", "h10",
                         "--mfu", "0.4")
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and "h100-sxm" in err and "Traceback" not in err


def test_bad_mfu_is_refused(capsys):
    code, _, err = run(capsys, "train", "7B", "--tokens", "1T", "--device", "h100-sxm",
                       "--mfu", "1.5")
    assert code == 2 and "--mfu 1.5" in err


def test_python_dash_m_works():
    result = subprocess.run([sys.executable, "-m", "bigcompute", "memory", "gpt2-smal"],
                            capture_output=True, text=True)
    assert result.returncode == 2 and "gpt2-small" in result.stderr
    assert "Traceback" not in result.stderr


# ---------------------------------------------------------------- every flag, fuzzed

# A valid invocation of each command; each of its flags is then given bad values one at a
# time. The flags are read from the parser, so a new flag is fuzzed too.
VALID_INVOCATIONS = {
    "train": ["train", "llama2-7b", "--tokens", "2T", "--device", "a100-80gb", "--devices",
              "64", "--mfu", "0.4", "--pue", "1.1", "--grid", "0.4", "--price", "2.5"],
    "memory": ["memory", "llama2-7b", "--batch", "1", "--seq", "2048", "--device", "h100-sxm",
               "--zero", "1", "--dp", "8", "--tp", "2", "--pp", "2"],
    "infer": ["infer", "llama2-7b", "--device", "h100-sxm", "--batch", "8", "--context", "2048"],
}
BAD_VALUES = ("0", "-1", "2.5", "nan", "inf", "1e400", "abc", "", "99999999999999999999")


def _flags(command):
    from bigcompute.cli import parser

    sub = next(a for a in parser()._actions if isinstance(a, argparse._SubParsersAction))
    return [a.option_strings[0] for a in sub.choices[command]._actions
            if a.option_strings and a.option_strings[0] != "-h" and a.nargs != 0]


def _bad_invocations():
    for command, argv in VALID_INVOCATIONS.items():
        for flag in _flags(command):
            for bad in BAD_VALUES:
                args = list(argv)
                if flag in args:
                    args[args.index(flag) + 1] = bad
                else:
                    args += [flag, bad]
                yield pytest.param(command, flag, args, id=f"{command} {flag}={bad!r}")
        for bad in ("", "no-such-model", "-1B"):
            args = list(argv)
            args[1] = bad
            yield pytest.param(command, "MODEL", args, id=f"{command} MODEL={bad!r}")


@pytest.mark.parametrize("command", VALID_INVOCATIONS)
def test_the_valid_invocations_run(capsys, command):
    assert run(capsys, *VALID_INVOCATIONS[command])[0] == 0


@pytest.mark.parametrize("command, flag, argv", list(_bad_invocations()))
def test_a_bad_flag_gets_one_line_naming_it_and_status_2(capsys, command, flag, argv):
    try:
        code, out, err = run(capsys, *(a if not a.startswith("-") or a in _flags(command)
                                       else f"{argv[argv.index(a) - 1]}={a}" for a in argv))
    except SystemExit as exc:  # argparse refused it before the command ran
        code, captured = exc.code, capsys.readouterr()
        out, err = captured.out, captured.err
    if code == 0:  # the value was in fact valid: then the output must be sound
        assert not re.search(r"\b(nan|inf)\b|(?<![\w.])-\d", out, re.IGNORECASE), out
        return
    assert code == 2 and out == "" and "Traceback" not in err
    assert err.count("\n") == 1, err
    assert flag in err or "unknown" in err.lower() or "argument" in err, err


def test_a_context_beyond_the_models_positions_names_the_flag(capsys):
    code, out, err = run(capsys, "infer", "gpt2-small", "--device", "h100-sxm", "--context",
                         "100000")
    assert code == 2 and out == "" and err.startswith("bigcompute: error: --context 100000")


def test_a_slow_rate_keeps_its_digits():
    from bigcompute.cli import _rate

    assert _rate(1234.4) == "1,234" and _rate(0.0123) == "0.0123" and "e-" in _rate(1.5e-7)


def test_a_context_whose_cache_cannot_fit_is_refused_in_one_line(capsys):
    code, out, err = run(capsys, "infer", "llama2-7b", "--device", "h100-sxm", "--context",
                         "10000000000000")
    assert code == 2 and out == "" and "context" in err and "Traceback" not in err


# ---------------------------------------------------------------- --config: a config.json

@pytest.fixture()
def qwen3_json(tmp_path):
    from hf_configs import CONFIGS

    path = tmp_path / "config.json"
    path.write_text(json.dumps(CONFIGS["qwen3-8b"]))
    return path


@pytest.mark.parametrize("argv", [
    ["infer", "--device", "h100-sxm", "--context", "4096"],
    ["train", "--tokens", "36T", "--device", "h100-sxm", "--devices", "4096", "--mfu", "0.4"],
])
def test_a_config_json_stands_for_the_model(capsys, qwen3_json, argv):
    import bigcompute as bc

    code, out, _ = run(capsys, "--json", argv[0], "--config", str(qwen3_json), *argv[1:])
    data = json.loads(out)
    cfg = bc.from_hf_config(qwen3_json)
    assert code == 0
    if argv[0] == "infer":
        assert data["params"] == bc.param_count(cfg) == 8_190_735_360
        assert data["kv_cache_bytes"] == bc.kv_cache_bytes(cfg, 1, 4096)
    else:
        assert data["flops"] == bc.flops(cfg, 1, cfg.max_seq_len, "train") * 36e12 / 40960


def test_config_and_model_exclude_each_other_and_one_is_needed(capsys, qwen3_json):
    for argv in (["infer", "llama2-7b", "--config", str(qwen3_json), "--device", "h100-sxm"],
                 ["infer", "--device", "h100-sxm"]):
        with pytest.raises(SystemExit) as exc:
            main(argv)
        err = capsys.readouterr().err
        assert exc.value.code == 2 and err.count("\n") == 1 and "--config" in err


def test_a_bad_config_file_or_field_is_one_line_naming_it(capsys, qwen3_json, tmp_path):
    code, _, err = run(capsys, "infer", "--config", str(tmp_path / "none.json"), "--device",
                       "h100-sxm")
    assert code == 2 and err.startswith("bigcompute: error: --config ") and "Traceback" not in err
    qwen3_json.write_text(json.dumps({"model_type": "mamba"}))
    code, _, err = run(capsys, "infer", "--config", str(qwen3_json), "--device", "h100-sxm")
    assert code == 2 and "--config" in err and "model_type='mamba'" in err
    assert "Supported model_types: llama" in err and err.count("\n") == 1


def test_memory_of_a_config_whose_activations_are_not_modelled_says_which_field(
        capsys, qwen3_json):
    code, _, err = run(capsys, "memory", "--config", str(qwen3_json))
    assert code == 2 and "the model's qk_norm='head'" in err and err.count("\n") == 1
