"""Readers of recorded benchmark and GPU results for the validation appendix: `benchmarks`
(the runs under ``benchmarks/results/``) and `gpu` (the measurements shipped in
``data/measurements/``), each set against the library's predictions.
"""
