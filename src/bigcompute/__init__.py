"""bigcompute: the compute requirements of large models, in numbers."""
