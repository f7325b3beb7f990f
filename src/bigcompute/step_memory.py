"""One training step's memory, event by event, and its high-water mark.

What `torch.cuda.max_memory_allocated` (and an out-of-memory error) reports is the peak of a
step, not the sum of weights, gradients, optimizer states and saved activations: those are
never all alive at once, and some tensors that are not saved at all are alive at the peak.
`step_events` walks one step in the order a training loop allocates and frees memory:

    start          weights and optimizer states (gradients too when they are accumulated
                   over micro-batches: with gradient accumulation or pipeline parallelism)
    forward        the inputs, then each layer's saved activations (and autocast's weight
                   copies), with the layer's output as a transient; the final norm, the LM
                   head's input and the logits, which the caller holds until the step ends
                   (nanoGPT's ``logits, loss = model(x, y)``, Hugging Face's outputs)
    loss           the log-softmax of the logits, which cross-entropy saves (under autocast
                   it first casts the 16-bit logits to fp32: a transient copy)
    backward       the loss's backward allocates the gradient of the log-softmax and of the
                   logits at once (two more B x S x V tensors: the logits spike), then frees
                   the first and the saved log-softmax; each layer allocates its weight
                   gradients and, transiently, its widest activation gradient (the MLP's
                   hidden layer, or naive attention's score matrix) and the residual
                   stream's, and frees what it saved
    optimizer      fused AdamW needs no temporaries; torch's foreach AdamW allocates one list
                   the size of the parameters (its square-root term); the for-loop one two
                   tensors the size of the largest parameter

Measured with torch's profiler on CPU (`lab.measure.training_step_memory`), the reference
modules follow this event for event; the tests compare the peak within 5%.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from .counts import embedding_params, head_params, matmul_weight_params, moe_params, param_count
from .errors import check_choice, check_non_negative
from .precision import DTYPE_BYTES

__all__ = ["PHASES", "OPTIMIZER_KERNELS", "MemoryEvent", "StepTimeline", "StepParts",
           "step_events", "optimizer_temporary_bytes", "transformer_step_timeline"]

PHASES = ("start", "forward", "loss", "backward", "optimizer")
# AdamW's implementations in torch.optim: one kernel over all tensors, one op per list of
# tensors, or one parameter at a time
OPTIMIZER_KERNELS = ("fused", "foreach", "for-loop")
FP32 = DTYPE_BYTES["fp32"]


@dataclass(frozen=True)
class MemoryEvent:
    """One step of the walk: bytes held after it, and the most held during it."""

    phase: str
    label: str
    held: float
    high: float


@dataclass(frozen=True)
class StepTimeline:
    """The events of one training step on one device, in order."""

    events: tuple[MemoryEvent, ...]

    @property
    def peak(self) -> float:
        """The step's high-water mark in bytes (what max_memory_allocated reports)."""
        return max(e.high for e in self.events)

    @property
    def peak_event(self) -> MemoryEvent:
        """The first event at which the peak is reached."""
        peak = self.peak
        return next(e for e in self.events if e.high == peak)

    @property
    def peak_phase(self) -> str:
        """Where the peak happens, e.g. "backward: the loss" or "forward: layer 32"."""
        event = self.peak_event
        return f"{event.phase}: {event.label}"

    @property
    def resident(self) -> float:
        """Bytes held between steps (at the start of the walk)."""
        return self.events[0].held


@dataclass(frozen=True)
class StepParts:
    """What one device holds and allocates in a step, in bytes (`memory.step_timeline`
    computes them from a config). ``layer_*`` are per layer; ``in_flight`` micro-batches'
    activations are alive at once (1F1B pipelining holds up to one per stage)."""

    weights: float
    optimizer: float
    grads: float                # all of this device's gradients
    grads_held: bool            # allocated before the step (accumulation, pipelining)
    inputs: float
    n_layers: int
    layer_saved: float
    layer_copies: float         # autocast / fp8 weight copies kept for the backward
    layer_grads: float
    mlp_saved: float            # the part of layer_saved the MLP keeps (freed first)
    mlp_grads: float            # the part of layer_grads that is the MLP's
    recomputed_mlp: float       # bytes the MLP's recomputation rebuilds (full recomputation)
    forward_transient: float    # a layer's output before the next layer saves it
    mlp_transient: float        # the MLP's widest activation gradient and the residual's
    backward_transient: float   # the attention's (and what its recomputation rebuilds)
    gathered: float             # ZeRO-3: one layer's weights gathered from the shards
    final: float                # the final norm and the LM head's input
    head_copies: float
    logits: float               # held by the caller until the step ends
    loss_saved: float           # the log-softmax and the targets
    loss_cast: float            # autocast's fp32 copy of 16-bit logits (transient)
    loss_grad: float            # one B x S x V gradient at the loss's width
    logits_grad: float          # the gradient the LM head's backward reads
    hidden_grad: float          # the gradient of the last hidden state
    head_grads: float           # the LM head's (or the tied embedding's) weight gradient
    embedding_grads: float      # untied embeddings, positions, frontends
    optimizer_temporary: float
    in_flight: int = 1
    experts: int = 1            # a mixture's experts run their backward one after another


class _Walk:
    """Allocations and frees, recorded as events."""

    def __init__(self, held: float):
        self.held = held
        self.events = [MemoryEvent("start", "between steps", held, held)]

    def event(self, phase: str, label: str, allocate: float = 0.0, free: float = 0.0,
              transient: float = 0.0, pieces: int = 1) -> None:
        """``pieces``: the allocation and the free happen in that many equal turns (the
        experts of a mixture, one after the other); the transient is alive in each."""
        step_allocate, step_free = allocate / pieces, free / pieces
        high = self.held + transient + max(step_allocate,
                                           allocate - (pieces - 1) * step_free)
        self.held += allocate - free
        self.events.append(MemoryEvent(phase, label, self.held, max(high, self.held)))


def step_events(parts: StepParts) -> StepTimeline:
    """The walk of one step (see the module's docstring) over ``parts``."""
    p = parts
    stage = p.n_layers * (p.layer_saved + p.layer_copies) + p.inputs
    held = p.weights + p.optimizer + (p.grads if p.grads_held else 0.0)
    walk = _Walk(held + (p.in_flight - 1) * stage)  # the other micro-batches in flight
    new_grads = 0.0 if p.grads_held else 1.0  # gradients allocated by this backward
    walk.event("forward", "inputs", p.inputs)
    for k in range(1, p.n_layers + 1):
        walk.event("forward", f"layer {k}", p.layer_saved + p.layer_copies,
                   transient=p.forward_transient + p.gathered)
    if p.logits or p.final:
        walk.event("forward", "final norm and head", p.final + p.head_copies + p.logits)
        walk.event("loss", "cross-entropy", p.loss_saved, transient=p.loss_cast)
        walk.event("backward", "the loss", p.logits_grad,
                   free=p.loss_saved, transient=2 * p.loss_grad - p.logits_grad)
        walk.event("backward", "head", new_grads * p.head_grads + p.hidden_grad,
                   free=p.logits_grad + p.final + p.head_copies)
    else:  # an encoder's pooler or classifier: its gradient starts the backward
        walk.event("backward", "head", new_grads * p.head_grads + p.hidden_grad)
    for k in range(p.n_layers, 0, -1):  # the MLP's backward runs first, then attention's
        walk.event("backward", f"layer {k} MLP", new_grads * p.mlp_grads, free=p.mlp_saved,
                   transient=p.recomputed_mlp + p.mlp_transient + p.gathered,
                   pieces=p.experts)
        walk.event("backward", f"layer {k} attention",
                   new_grads * (p.layer_grads - p.mlp_grads),
                   free=p.layer_saved - p.mlp_saved + p.layer_copies,
                   transient=p.backward_transient + p.gathered)
    walk.event("backward", "embeddings", new_grads * p.embedding_grads,
               free=p.inputs + p.hidden_grad)
    walk.event("optimizer", "step", transient=p.optimizer_temporary)
    walk.event("optimizer", "logits released", free=p.logits)
    return StepTimeline(tuple(walk.events))


def optimizer_temporary_bytes(kernel: str, n_params: float, largest_param: float,
                              state_bytes: float) -> float:
    """Temporaries of one AdamW step: fused 0; foreach one list of the parameters' size (its
    square-root term, torch.optim.adamw._multi_tensor_adamw); for-loop two tensors the size
    of the largest parameter (_single_tensor_adamw: the square root and its quotient)."""
    check_choice("optimizer_kernel", kernel, OPTIMIZER_KERNELS)
    for name, value in (("n_params", n_params), ("largest_param", largest_param),
                        ("state_bytes", state_bytes)):
        check_non_negative(name, value)
    if kernel == "fused":
        return 0.0
    if kernel == "foreach":
        return n_params * state_bytes
    return 2 * largest_param * state_bytes


def transformer_step_timeline(cfg, batch, seq, acts, states, r, optimizer, attention,
                              recompute, recomputed, mlp_share, zero_stage, dp, tp, pp, sp,
                              optimizer_kernel, accumulate, fp32_loss) -> StepTimeline:
    """The walk of one step of a transformer (`memory.step_timeline` checks the arguments
    and computes ``acts``, its `memory.Activations`, and ``states``, the unsharded
    `memory.ModelStates`; ``r`` is the precision's `precision.Recipe`; ``recomputed`` the
    bytes per block that recomputation rebuilds in the backward; ``mlp_share`` the MLP's
    share of a block's saved bytes without recomputation; ``fp32_loss``: the loss casts
    the logits to fp32 whatever their dtype, as Hugging Face's and Megatron's do).
    Parameters are
    placed by kind: each block's (an average over the blocks), the LM head's (the tied
    embedding's), the rest at the embeddings."""
    n_params = param_count(cfg)
    shard = {s: (dp if zero_stage >= s else 1) for s in (1, 2, 3)}
    per_param = {"weights": states.weights / n_params / shard[3],
                 "grads": states.grads / n_params / shard[2],
                 "optimizer": states.optimizer / n_params / shard[1]}
    n_blocks = cfg.n_layers + cfg.n_encoder_layers
    block_params = (n_params - embedding_params(cfg) - head_params(cfg)) / n_blocks / tp
    head = cfg.vocab_size * cfg.d_model if cfg.has_lm_head else head_params(cfg)
    stage_layers = math.ceil(n_blocks / pp)
    if cfg.frontend == "patches":
        seq = cfg.n_patches + 1
    tokens, d, e, wide = batch * seq, cfg.d_model, r.activation, r.wide_activation
    vocab = cfg.vocab_size / tp if cfg.has_lm_head else 0
    full = recompute == "full"
    blocks_mm, head_mm = matmul_weight_params(cfg)
    copy_share = e / tp / shard[3] if r.autocast else 0.0
    mlp_widest = tokens * (cfg.d_ff * cfg.top_k / cfg.n_experts if cfg.is_moe else cfg.d_ff)
    attention_widest = tokens * cfg.n_heads * cfg.head_dim  # dQ
    if attention == "naive" or cfg.positions == "relative":
        attention_widest = batch * cfg.n_heads * seq * seq
    layer_saved = acts.layers / n_blocks
    stored = layer_saved + recomputed  # what a block saves without recomputation
    mlp_params = moe_params(cfg) / tp
    residual = tokens * d * wide / (tp if sp else 1)
    largest = max(cfg.vocab_size * d, d * cfg.d_ff, d * cfg.n_heads * cfg.head_dim)
    optimizer_temporary = optimizer_temporary_bytes(
        optimizer_kernel, n_params / (tp * pp) / shard[1],
        largest / tp, r.state) if optimizer != "sgd" else 0.0
    common = dict(
        weights=per_param["weights"] * n_params / (tp * pp),
        optimizer=per_param["optimizer"] * n_params / (tp * pp),
        grads=per_param["grads"] * n_params / (tp * pp),
        grads_held=accumulate or pp > 1, n_layers=stage_layers,
        layer_saved=layer_saved,
        layer_copies=0.0 if full else copy_share * blocks_mm / n_blocks,
        layer_grads=per_param["grads"] * block_params,
        mlp_saved=0.0 if full else mlp_share * layer_saved,
        mlp_grads=per_param["grads"] * mlp_params,
        recomputed_mlp=recomputed if full else 0.0,
        forward_transient=residual,
        mlp_transient=mlp_widest / tp * e + residual,
        backward_transient=(max(0.0, recomputed - mlp_share * stored) if full else recomputed)
        + attention_widest / tp * e + residual,
        gathered=2 * block_params * r.weights if zero_stage == 3 and dp > 1 else 0.0,
        optimizer_temporary=optimizer_temporary, experts=cfg.n_experts)
    last = StepParts(
        **common, inputs=acts.inputs if pp == 1 else 0.0, final=acts.final,
        head_copies=copy_share * head_mm, logits=tokens * vocab * e, loss_saved=acts.loss,
        loss_cast=tokens * vocab * FP32 if e < FP32 and (fp32_loss or r.autocast) else 0.0,
        loss_grad=tokens * vocab * (FP32 if fp32_loss else wide),
        logits_grad=tokens * vocab * e, hidden_grad=tokens * d * wide,
        head_grads=per_param["grads"] * head / tp,
        embedding_grads=0.0 if pp > 1 else per_param["grads"] * (
            n_params - head - n_blocks * block_params * tp) / tp)
    timeline = step_events(last)
    if pp == 1:
        return timeline
    first = StepParts(
        **common, inputs=acts.inputs, final=0.0, head_copies=0.0, logits=0.0, loss_saved=0.0,
        loss_cast=0.0, loss_grad=0.0, logits_grad=0.0, hidden_grad=tokens * d * wide,
        head_grads=0.0, in_flight=pp,
        embedding_grads=per_param["grads"] * (n_params - head - n_blocks * block_params * tp))
    return max(timeline, step_events(first), key=lambda t: t.peak)
