"""bigcompute: the compute requirements of large models, in numbers.

    import bigcompute as bc
    cfg = bc.model("llama2-7b")
    bc.param_count(cfg), bc.flops(cfg, 1, 4096, "train")
    bc.training_memory(cfg, batch=1, seq=4096).total
    bc.estimate_training(cfg, 2e12, "a100-80gb", n_devices=2048, mfu=0.4)

The formulas are pure Python (importing this package does not import torch); the experiments
that run on this machine live in `bigcompute.lab`: the reference torch modules in
`bigcompute.lab.nets`, the measurement helpers in `bigcompute.lab.measure`.
"""

from .catalog import model, model_info, models
from .configs import CNNConfig, LSTMConfig, MLPConfig, ResNetConfig, TransformerConfig
from .counts import active_param_count, flops, flops_6nd, macs, param_count
from .energy import co2_tonnes, cost_dollars, energy_kwh, pf_days
from .estimate import TrainingEstimate, estimate_training
from .hardware import Device, device, devices
from .hf_config import from_hf_config
from .kv_cache import check_serving_fits, inference_memory, kv_cache_bytes, max_decode_batch
from .memory import (
    activation_bytes,
    fit,
    max_batch,
    model_state_bytes,
    step_timeline,
    training_memory,
    zero_memory_per_device,
)
from .parallel import pipeline_bubble_fraction, ring_allreduce_time
from .scaling import chinchilla_loss, chinchilla_optimal
from .timing import decode_time_per_token, mfu, prefill_time, roofline_time, training_time
from .units import format_bytes, format_count, format_dollars, format_flops, format_seconds

__version__ = "0.1.0"
