"""The bigcompute command: human output with units, --json, one-line errors."""

import json
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


def test_unknown_device_is_one_line_with_close_matches(capsys):
    code, out, err = run(capsys, "train", "7B", "--tokens", "1T", "--device", "h10",
                         "--mfu", "0.4")
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and "h100-sxm" in err and "Traceback" not in err


def test_bad_mfu_is_refused(capsys):
    code, _, err = run(capsys, "train", "7B", "--tokens", "1T", "--device", "h100-sxm",
                       "--mfu", "1.5")
    assert code == 2 and "mfu=1.5" in err


def test_python_dash_m_works():
    result = subprocess.run([sys.executable, "-m", "bigcompute", "memory", "gpt2-smal"],
                            capture_output=True, text=True)
    assert result.returncode == 2 and "gpt2-small" in result.stderr
    assert "Traceback" not in result.stderr
