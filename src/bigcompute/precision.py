"""Number formats and training recipes: the one registry of dtype names.

Every list of dtype names in the library is built from the tables here:

* ``DTYPE_BYTES``: bytes of one stored number (weights, KV cache, activations);
* ``PEAK_COLUMNS``: the column of ``data/hardware.csv`` that holds a dtype's dense peak;
* ``PEAK_ALIASES``: dtypes that run on another dtype's units (mixed precision computes in 16
  bits; int4 has no catalogue column, so it is costed at the int8 peak);
* ``RECIPES``: bytes per parameter of each model state and per activation element, for each
  training precision (Rajbhandari et al. 2020, sec. 3.1, for mixed precision);
* ``OPTIMIZER_MOMENTS``: how many per-parameter moments an optimizer keeps.

Adding a format is one line in each table that applies to it.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

from .errors import check_choice, check_non_negative

__all__ = [
    "DTYPE_BYTES", "PEAK_COLUMNS", "PEAK_ALIASES", "PEAK_DTYPES", "COMPUTE_DTYPES", "Recipe",
    "RECIPES", "OPTIMIZER_MOMENTS", "OPTIMIZERS", "INDEX_BYTES", "bytes_per_element", "recipe",
]

DTYPE_BYTES = {"fp32": 4, "tf32": 4, "bf16": 2, "fp16": 2, "fp8": 1, "int8": 1, "int4": 0.5}

# dtype -> CSV column holding its dense peak in units of 1e12 FLOP/s (int: 1e12 OP/s).
# An "int4_tops" column is read if the file ever gains one.
PEAK_COLUMNS = {
    "fp32": "fp32_tflops",
    "tf32": "tf32_tflops",
    "bf16": "bf16_tflops",
    "fp16": "fp16_tflops",
    "fp8": "fp8_tflops",
    "int8": "int8_tops",
    "int4": "int4_tops",
}
# Training/inference precisions that run on another dtype's units. Mixed precision computes
# its matmuls in the half-precision type. int4 has no column in the catalogue, so it is
# costed at the int8 peak (conservative: Turing/Ampere datasheets list int4 at 2x int8).
PEAK_ALIASES = {"amp-bf16": "bf16", "amp-fp16": "fp16", "mixed-bf16": "bf16",
                "mixed-fp16": "fp16", "mixed-bf16-fp32-grads": "bf16", "int4": "int8"}
# The dtypes the catalogue has a column for (int4 is read only if the file gains one).
PEAK_DTYPES = tuple(d for d in PEAK_COLUMNS if d != "int4")
# Every dtype a time estimate accepts: the catalogue's, and those run on another's units.
COMPUTE_DTYPES = (*PEAK_DTYPES, *(d for d in PEAK_ALIASES if d not in PEAK_DTYPES))

INDEX_BYTES = 8  # int64 token ids, positions, labels and max-pool indices


@dataclass(frozen=True)
class Recipe:
    """Bytes per parameter of each model state, and bytes per activation element.

    weights: the copy the forward pass reads; master: an fp32 copy kept by the optimizer for
    mixed precision; state: bytes of each optimizer moment (Adam has two, momentum one).
    """

    weights: float
    grads: float
    master: float
    state: float
    activation: float
    wide_activation: float  # residual stream, norm inputs and the loss (fp32 under autocast)

    def __post_init__(self):
        for f in fields(self):
            check_non_negative(f.name, getattr(self, f.name))

    @property
    def autocast(self) -> bool:
        """Precision cast at each matmul (torch.autocast; Transformer Engine's fp8): wide
        activations between matmuls, narrow ones inside them, and a narrow copy of each
        matmul weight kept for the backward."""
        return self.activation < self.wide_activation


# Three ways to train in 16 bits, named for what they are:
#
# * "amp-bf16" / "amp-fp16": torch.autocast over an fp32 model. Weights, gradients and Adam's
#   moments are fp32 (4 + 4 + 2 x 4 = 16 B/param); each matmul casts its fp32 weight to 16
#   bits in the forward and autocast caches the cast for the backward: those copies
#   (`memory.Activations.weight_copies`, 2 B per matmul weight) are sharded and divided like
#   the weights they copy. Activations are 16-bit in the matmuls, fp32 between them.
# * "mixed-bf16" / "mixed-fp16": 16-bit weights and gradients with an fp32 master copy and
#   fp32 moments in the optimizer, 2 + 2 + (4 + 2 x 4) = 16 B/param (Rajbhandari et al. 2020,
#   sec. 3.1; Megatron-LM, DeepSpeed, FSDP's MixedPrecision); the model runs in 16 bits, so
#   its activations are 16-bit throughout. "-fp32-grads": gradients accumulated in fp32.
# * "fp8": NVIDIA Transformer Engine's recipe (Micikevicius et al. 2022, "FP8 formats for
#   deep learning"): the "mixed-bf16" states, plus an fp8 copy of each matmul weight made in
#   the forward (1 B per matmul weight, kept like autocast's copies) and the matmul inputs
#   saved in fp8. The reference accounting counts every saved tensor inside a block at 1 B
#   (a lower bound: Transformer Engine keeps softmax and activation outputs in 16 bits) and
#   the residual stream and norms at 2 B.
# * "bf16" / "fp16": everything in 16 bits, the optimizer's moments too.
RECIPES = {
    "fp32": Recipe(4, 4, 0, 4, 4, 4),
    "amp-bf16": Recipe(4, 4, 0, 4, 2, 4),
    "amp-fp16": Recipe(4, 4, 0, 4, 2, 4),
    "mixed-bf16": Recipe(2, 2, 4, 4, 2, 2),
    "mixed-fp16": Recipe(2, 2, 4, 4, 2, 2),
    "mixed-bf16-fp32-grads": Recipe(2, 4, 4, 4, 2, 2),
    "fp8": Recipe(2, 2, 4, 4, 1, 2),
    "bf16": Recipe(2, 2, 0, 2, 2, 2),
    "fp16": Recipe(2, 2, 0, 2, 2, 2),
}
OPTIMIZER_MOMENTS = {"sgd": 0, "momentum": 1, "adam": 2, "adamw": 2}
OPTIMIZERS = tuple(OPTIMIZER_MOMENTS)


def bytes_per_element(dtype: str) -> float:
    """Bytes of one number: fp32 4, bf16/fp16 2, fp8/int8 1, int4 0.5 (amp-* computes in 16)."""
    check_choice("dtype", dtype, tuple(dict.fromkeys((*DTYPE_BYTES, *RECIPES))))
    if dtype not in DTYPE_BYTES:
        return RECIPES[dtype].activation
    return DTYPE_BYTES[dtype]


def recipe(precision: str) -> Recipe:
    """The `Recipe` of a training precision: fp32, amp-bf16 (torch.autocast), mixed-bf16
    (16-bit model, fp32 master weights), fp8, bf16, ... (`RECIPES`)."""
    check_choice("precision", precision, tuple(RECIPES))
    return RECIPES[precision]
