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


def test_a_slow_rate_keeps_its_digits(capsys):
    code, out, _ = run(capsys, "infer", "llama2-7b", "--device", "h100-sxm", "--context",
                       "10000000000000")
    assert code == 0 and " 0 tokens/s" not in out and "e-" in out
