"""Experiments that run on this machine, mostly torch: the reference modules (`nets`), what a
step costs as measured (`measure`, `machine`), the training loop (`training`) and its
synthetic data (`data`), chapter 5's document examples, inference, compression and
distributed training on CPU processes; `backprop` and `simulate` are numpy.

``import bigcompute`` imports none of it. Nothing outside ``lab/`` imports ``lab/`` (except,
where needed, `widgets` and `plots`): the cost model is tested against it, never built on it.
"""
