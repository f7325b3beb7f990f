"""What Megatron-LM's transformer layers save for backward, as Korthikanti et al. count it.

Korthikanti, Casper, Lym, McAfee, Andersch, Shoeybi and Catanzaro, "Reducing Activation
Recomputation in Large Transformer Models" (MLSys 2023; arXiv:2205.05198), count the bytes a
GPT layer of Megatron-LM keeps for its backward pass, with 16-bit activations and 1-byte
dropout masks, under tensor parallelism, sequence parallelism and selective or full
recomputation (their sec. 4 and Table 2). `memory.activation_bytes(...,
implementation="megatron")` adds their input and output layers to these blocks.
"""

from __future__ import annotations

from .configs import ATTENTIONS, RECOMPUTE
from .counts import check_seq, check_tp, transformer_config
from .errors import check_bool, check_choice, check_positive_int

__all__ = ["megatron_layer_bytes"]


def megatron_layer_bytes(cfg, batch: int, seq: int, attention: str = "naive",
                         recompute: str | None = None, tp: int = 1, sp: bool = False) -> float:
    """Bytes one block saves in Megatron-LM (16-bit activations, 1-byte dropout masks), as
    Korthikanti et al. 2022 count them (sec. 4.1, Table 2): with s tokens, b sequences,
    h = d_model, a heads and t-way tensor parallelism, per layer

        sbh (34 + 5as/h)              no parallelism
        sbh (10 + 24/t + 5as/(ht))    tensor parallel: norms, the QKV and MLP inputs and two
                                      dropout masks (10 sbh) are replicated
        sbh (34/t + 5as/(ht))         tensor and sequence parallel
        sbh (10 + 24/t), sbh 34/t     with selective recomputation (no 5as/h term; also with
                                      FlashAttention, which never stores the scores)
        2 sbh (/t with sp)            full recomputation: the block's input

    The 24 is Q and K (4), V (2), the output projection's input (2) and the MLP's 16 (GELU's
    input and output, 4h wide); here Q, K and V scale with their heads (GQA), the MLP with
    d_ff, a gated MLP saves twice as much (gate output and product) and a mixture of
    experts top_k times per token. For the paper's shapes this is their Table 2 exactly."""
    cfg = transformer_config(cfg)
    check_positive_int("batch", batch)
    seq = check_seq(cfg, seq)
    check_choice("attention", attention, ATTENTIONS)
    check_choice("recompute", recompute, RECOMPUTE)
    check_tp(cfg, tp)
    check_bool("sp", sp)
    sb, h = seq * batch, cfg.d_model
    shard = tp if sp else 1
    if recompute == "full":
        return 2 * sb * h / shard
    replicated = 10 * sb * h  # 2 norm inputs (4), QKV and MLP inputs (4), 2 dropout masks
    q_width, kv_width = cfg.n_heads * cfg.head_dim, cfg.n_kv_heads * cfg.head_dim
    mlp = (8 if cfg.gated_mlp else 4) * sb * cfg.d_ff * (cfg.top_k if cfg.is_moe else 1)
    split = 2 * sb * (2 * q_width + 2 * kv_width) + mlp  # Q, K, V, out-proj input; MLP
    scores = 0 if attention == "flash" or recompute else 5 * cfg.n_heads * seq * seq * batch
    return replicated / shard + (split + scores) / tp
