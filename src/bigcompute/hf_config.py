"""A Hugging Face ``config.json`` as the library's `configs.TransformerConfig`.

    import bigcompute as bc
    cfg = bc.from_hf_config("Qwen3-8B/config.json")      # or the file's contents, as a dict
    bc.param_count(cfg), bc.flops(cfg, 1, 4096), bc.kv_cache_bytes(cfg, 1, 32768)

The file is the reader's: nothing is downloaded. Each supported ``model_type`` is read the way
its transformers modules build the model (transformers 5), so that ``param_count`` equals the
parameters of ``AutoModelForCausalLM.from_config`` (checked in tests/test_hf_config.py). A
field that changes a count and that the library cannot represent, an unsupported model_type,
or a required field that is missing is refused with a ValueError naming the field (and
listing the supported model_types), never guessed.

Read and left out on purpose, because they change no count the library makes: token ids,
dropout, initialisation, norm epsilons, the activation's exact form (gelu_new and
gelu_pytorch_tanh are GELUs), RoPE's base and any ``rope_scaling``/``rope_parameters`` (every
type: positions hold no parameters and the rotation is element-wise, outside the matmul
FLOPs), a partial rotary fraction (GPT-NeoX's rotary_pct, Phi's partial_rotary_factor: the
same), logit soft-capping and attention scalars (Gemma 2), routing details (top-k grouping,
scoring function, normalisation, DeepSeek-V3's router bias, which is a buffer updated outside
backpropagation, not a parameter), DeepSeek-V3's multi-token-prediction layer (not built by
transformers either) and ``quantization_config`` (the bytes per weight are the estimates'
``dtype``).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from .configs import TransformerConfig
from .errors import check_name

__all__ = ["SUPPORTED_MODEL_TYPES", "from_hf_config"]

SUPPORTED_MODEL_TYPES = (
    "llama", "mistral", "mixtral", "qwen2", "qwen2_moe", "qwen3", "qwen3_moe", "gpt2",
    "gpt_neox", "phi3", "olmo2", "gemma2", "gemma3_text", "deepseek_v2", "deepseek_v3",
)
# activations by their Hugging Face names; all GELU variants are GELUs to the counts
_ACTIVATIONS = {"silu": "silu", "swish": "silu", "relu": "relu", "gelu": "gelu",
                "gelu_new": "gelu", "gelu_fast": "gelu", "gelu_pytorch_tanh": "gelu",
                "gelu_python": "gelu", "gelu_accurate": "gelu"}


# the config.json field behind each TransformerConfig field, for the config's own refusals
# (GPT-2's names differ: n_layer, n_embd, n_head, n_inner, n_positions)
_HF_NAMES = {
    "n_layers": "num_hidden_layers", "d_model": "hidden_size", "n_heads": "num_attention_heads",
    "n_kv_heads": "num_key_value_heads", "d_ff": "intermediate_size",
    "max_seq_len": "max_position_embeddings", "n_experts": "the number of experts",
    "top_k": "num_experts_per_tok", "d_ff_expert": "moe_intermediate_size",
    "shared_expert_d_ff": "the shared experts' size", "dense_layers": "the dense layers",
    "head_dim": "head_dim (qk_nope_head_dim + qk_rope_head_dim for DeepSeek)",
}


def _refuse(key: str, value, expected: str, model_type=None):
    where = f" in a {model_type} config" if model_type else ""
    raise ValueError(f"{key}={value!r}{where} is not supported: expected {expected}. "
                     f"Supported model_types: {', '.join(SUPPORTED_MODEL_TYPES)}")


def _read(config) -> dict:
    """The config's fields: a dict as it is, a path read as JSON."""
    if isinstance(config, dict):
        return config
    if not isinstance(config, (str, os.PathLike)):
        _refuse("config", config, "a config.json's contents as a dict, or its path")
    path = Path(config)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        _refuse("config", str(config), f"a readable config.json file ({type(err).__name__})")
    if not isinstance(data, dict):
        _refuse("config", str(config), "a JSON object of fields")
    return data


class _Fields:
    """The fields of one config.json, each read with a check that names it."""

    def __init__(self, data: dict, model_type: str):
        self.data, self.model_type = data, model_type

    def refuse(self, key, value, expected):
        _refuse(key, value, expected, self.model_type)

    def present(self, key) -> bool:
        return self.data.get(key) is not None

    def int(self, key, default=None, allow_zero=False):
        """A positive integer (or 0 with ``allow_zero``); ``default`` when absent or null
        (required when there is no default)."""
        value = self.data.get(key)
        if value is None:
            if default is None:
                self.refuse(key, None, "this field (it is required)")
            return default
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        if isinstance(value, bool) or not isinstance(value, int) or value < (0 if allow_zero
                                                                             else 1):
            self.refuse(key, value, "0 or a positive integer" if allow_zero
                        else "a positive integer")
        return value

    def flag(self, key, default: bool) -> bool:
        value = self.data.get(key)
        if value is None:
            return default
        if not isinstance(value, bool):
            self.refuse(key, value, "true or false")
        return value

    def must_be(self, key, allowed, default=None):
        """A field whose other values change counts the library cannot make."""
        value = self.data.get(key, default)
        if value not in allowed:
            self.refuse(key, value, " or ".join(repr(a) for a in allowed))
        return value

    def activation(self, key="hidden_act", default="silu") -> str:
        value = self.data.get(key) or default
        if value not in _ACTIVATIONS:
            self.refuse(key, value, "one of " + ", ".join(sorted(_ACTIVATIONS)))
        return _ACTIVATIONS[value]


# ---------------------------------------------------------------- windows

def _pattern(layer_types, n_layers, f: _Fields):
    """A window_pattern from a per-layer list of attention kinds: the shortest string of
    'L' (sliding_attention) and 'G' (full_attention) that repeats into it; None when every
    layer is windowed; "" when none is."""
    if not isinstance(layer_types, list) or len(layer_types) != n_layers:
        f.refuse("layer_types", layer_types, f"a list of {n_layers} attention kinds")
    kinds = {"sliding_attention": "L", "full_attention": "G"}
    for kind in layer_types:
        if kind not in kinds:
            f.refuse("layer_types", kind, "'sliding_attention' or 'full_attention' per layer")
    letters = "".join(kinds[k] for k in layer_types)
    if "L" not in letters:
        return ""
    if "G" not in letters:
        return None
    for size in range(1, n_layers + 1):
        if all(letters[i] == letters[i % size] for i in range(n_layers)):
            return letters[:size]
    return letters  # pragma: no cover - size n_layers always repeats


def _windows(f: _Fields, n_layers, default, layer_types) -> dict:
    """sliding_window (``default`` when absent; null: no window) and window_pattern from the
    per-layer kinds (None: every layer windowed)."""
    if f.data.get("sliding_window", default) is None:
        return {}
    window = f.int("sliding_window", default)
    pattern = None if layer_types is None else _pattern(layer_types, n_layers, f)
    if pattern == "":
        return {}
    return {"sliding_window": window, "window_pattern": pattern}


def _qwen_windows(f: _Fields, n_layers, layers_from) -> dict:
    """Qwen's use_sliding_window: off, or the layers its config class marks (an explicit
    layer_types list wins, as in transformers)."""
    if not f.flag("use_sliding_window", False):
        return {}
    types = f.data.get("layer_types")
    if types is None:
        types = ["sliding_attention" if layers_from(i) else "full_attention"
                 for i in range(n_layers)]
    return _windows(f, n_layers, 4096, types)


# ---------------------------------------------------------------- readers, by model_type

def _decoder(f: _Fields, *, tie: bool, head_dim=None, act_key="hidden_act",
             act_default="silu", vocab=None, positions=None) -> dict:
    """The fields every Llama-like config shares: sizes, GQA, a gated MLP, RMSNorm, rotary
    positions, no biases (a reader changes what its model_type does differently). Sizes
    are required, but for ``vocab`` and ``positions``, defaults a model_type's published
    files rely on (transformers' own defaults)."""
    d, heads = f.int("hidden_size"), f.int("num_attention_heads")
    return dict(
        n_layers=f.int("num_hidden_layers"), d_model=d, n_heads=heads,
        n_kv_heads=f.int("num_key_value_heads", heads),
        head_dim=f.int("head_dim", head_dim or d // heads), d_ff=f.int("intermediate_size"),
        vocab_size=f.int("vocab_size", vocab),
        max_seq_len=f.int("max_position_embeddings", positions),
        gated_mlp=True, activation=f.activation(act_key, act_default), norm="rmsnorm",
        positions="rotary", bias=False, tied_embeddings=f.flag("tie_word_embeddings", tie))


def _llama(f):
    cfg = _decoder(f, tie=False)
    cfg.update(attention_bias=f.flag("attention_bias", False), mlp_bias=f.flag("mlp_bias", False))
    return cfg


def _mistral(f, window_default=4096):
    cfg = _decoder(f, tie=False)
    # every layer windowed, when the config has a window
    return {**cfg, **_windows(f, cfg["n_layers"], window_default, None)}


def _mixtral(f):
    cfg = _mistral(f, window_default=None)
    experts = f.int("num_local_experts")
    return {**cfg, "n_experts": experts, "top_k": f.int("num_experts_per_tok")}


def _qwen2(f):
    cfg = _decoder(f, tie=False)
    layers_from = f.int("max_window_layers", 28)
    cfg.update(attention_bias="qkv",  # Q, K, V biases, whatever the config says
               **_qwen_windows(f, cfg["n_layers"], lambda i: i >= layers_from))
    return cfg


def _qwen3(f):
    cfg = _decoder(f, tie=False, head_dim=128)
    layers_from = f.int("max_window_layers", 28)
    cfg.update(attention_bias=f.flag("attention_bias", False), qk_norm="head",
               **_qwen_windows(f, cfg["n_layers"], lambda i: i >= layers_from))
    return cfg


def _qwen_moe(f, cfg):
    """Qwen MoE layers: experts of moe_intermediate_size, except in mlp_only_layers (dense,
    intermediate_size) and off the decoder_sparse_step; the library's dense layers come
    first, so only an mlp_only_layers of 0, 1, ..., k - 1 is read."""
    f.must_be("decoder_sparse_step", (1,), 1)
    only = f.data.get("mlp_only_layers") or []
    if list(only) != list(range(len(only))):
        f.refuse("mlp_only_layers", only, "[] or the first layers, [0, 1, ..., k - 1]")
    cfg.update(n_experts=f.int("num_experts"), top_k=f.int("num_experts_per_tok"),
               d_ff_expert=f.int("moe_intermediate_size"), dense_layers=len(only))
    return cfg


def _qwen2_moe(f):
    cfg = _decoder(f, tie=False)
    layers_below = f.int("max_window_layers", 28)
    cfg.update(attention_bias="qkv" if f.flag("qkv_bias", True) else False,
               shared_expert_d_ff=f.int("shared_expert_intermediate_size"),
               shared_expert_gate=True,
               **_qwen_windows(f, cfg["n_layers"], lambda i: (i + 1) % 2 and i < layers_below))
    return _qwen_moe(f, cfg)


def _qwen3_moe(f):
    cfg = _decoder(f, tie=False, head_dim=128)
    cfg.update(attention_bias=f.flag("attention_bias", False), qk_norm="head",
               **_qwen_windows(f, cfg["n_layers"], lambda i: True))
    return _qwen_moe(f, cfg)


def _phi3(f):
    cfg = _decoder(f, tie=False)  # fused qkv_proj and gate_up_proj: the same parameters
    return {**cfg, **_windows(f, cfg["n_layers"], None, None)}


def _olmo2(f):
    cfg = _decoder(f, tie=False)
    cfg.update(attention_bias=f.flag("attention_bias", False), qk_norm="full",
               norm_placement="output")
    return cfg


def _gemma(f, pattern_every, **defaults):
    cfg = _decoder(f, tie=True, head_dim=256, act_key="hidden_activation",
                   act_default="gelu_pytorch_tanh", **defaults)
    n = cfg["n_layers"]
    types = f.data.get("layer_types")
    if types is None:
        types = ["sliding_attention" if (i + 1) % pattern_every else "full_attention"
                 for i in range(n)]
    cfg.update(attention_bias=f.flag("attention_bias", False), norm_placement="sandwich",
               **_windows(f, n, 4096, types))
    return cfg


def _gemma2(f):
    return _gemma(f, 2)


def _gemma3_text(f):
    if f.flag("use_bidirectional_attention", False):
        f.refuse("use_bidirectional_attention", True, "false (a causal decoder)")
    # Gemma 3's multimodal configs leave the text model's vocabulary and context to
    # Gemma3TextConfig's defaults
    cfg = _gemma(f, f.int("sliding_window_pattern", 6), vocab=262208, positions=131072)
    cfg["qk_norm"] = "head"
    return cfg


def _gpt2(f):
    d = f.int("n_embd")
    if f.flag("add_cross_attention", False):
        f.refuse("add_cross_attention", True, "false (a decoder-only GPT-2)")
    return dict(n_layers=f.int("n_layer"), d_model=d, n_heads=f.int("n_head"),
                d_ff=f.int("n_inner", 4 * d), vocab_size=f.int("vocab_size"),
                max_seq_len=f.int("n_positions"),
                activation=f.activation("activation_function", "gelu_new"),
                tied_embeddings=f.flag("tie_word_embeddings", True))


def _gpt_neox(f):
    d = f.int("hidden_size")
    return dict(n_layers=f.int("num_hidden_layers"), d_model=d,
                n_heads=f.int("num_attention_heads"), d_ff=f.int("intermediate_size"),
                vocab_size=f.int("vocab_size"), max_seq_len=f.int("max_position_embeddings"),
                activation=f.activation("hidden_act", "gelu"), positions="rotary",
                attention_bias=f.flag("attention_bias", True),
                parallel_block=f.flag("use_parallel_residual", True),
                tied_embeddings=f.flag("tie_word_embeddings", False))


def _deepseek(f):
    """DeepSeek-V2/V3: multi-head latent attention, dense first layers, then fine-grained
    routed experts beside n_shared_experts shared ones (one MLP of n_shared x their width)."""
    cfg = _decoder(f, tie=False)
    f.must_be("attention_bias", (False,), False)
    f.must_be("mlp_bias", (False,), False)  # transformers' routed experts have none
    f.must_be("moe_layer_freq", (1,), 1)
    if "q_lora_rank" not in f.data:
        f.refuse("q_lora_rank", None, "this field (null: a full query projection)")
    width = f.int("moe_intermediate_size")
    nope, rope = f.int("qk_nope_head_dim"), f.int("qk_rope_head_dim")
    cfg.update(head_dim=nope + rope, n_kv_heads=cfg["n_heads"],
               q_lora_rank=f.int("q_lora_rank", 0, allow_zero=True),
               kv_lora_rank=f.int("kv_lora_rank"), qk_rope_head_dim=rope,
               v_head_dim=f.int("v_head_dim"), n_experts=f.int("n_routed_experts"),
               top_k=f.int("num_experts_per_tok"), d_ff_expert=width,
               shared_expert_d_ff=f.int("n_shared_experts", 0, allow_zero=True) * width,
               dense_layers=f.int("first_k_dense_replace", 0, allow_zero=True))
    return cfg


_READERS = {
    "llama": _llama, "mistral": _mistral, "mixtral": _mixtral, "qwen2": _qwen2,
    "qwen2_moe": _qwen2_moe, "qwen3": _qwen3, "qwen3_moe": _qwen3_moe, "gpt2": _gpt2,
    "gpt_neox": _gpt_neox, "phi3": _phi3, "olmo2": _olmo2, "gemma2": _gemma2,
    "gemma3_text": _gemma3_text, "deepseek_v2": _deepseek, "deepseek_v3": _deepseek,
}


def from_hf_config(config, name: str | None = None) -> TransformerConfig:
    """The `TransformerConfig` of a Hugging Face ``config.json``: its contents as a dict, or
    its path (str or pathlib.Path). Every estimate accepts the result.

    ``name`` names the config (default: the file's ``_name_or_path``, else its model_type).
    A multimodal config (Gemma 3's ``gemma3``) is refused: pass its ``text_config``, the
    language model (model_type gemma3_text). See the module's docstring for the fields read
    and those left out because they change no count."""
    data = _read(config)
    if name is not None:
        check_name("name", name)
    model_type = data.get("model_type")
    if model_type not in _READERS:
        hint = ""
        if model_type == "gemma3" and isinstance(data.get("text_config"), dict):
            hint = " (a multimodal Gemma 3: pass its text_config, model_type 'gemma3_text')"
        _refuse("model_type", model_type, "a model_type the library reads" + hint)
    fields = _READERS[model_type](_Fields(data, model_type))
    label = name or data.get("_name_or_path") or model_type
    try:
        return TransformerConfig(**fields, name=str(label))
    except ValueError as err:
        field = str(err).split("=", 1)[0]
        source = f"{_HF_NAMES[field]} in" if field in _HF_NAMES else "read from"
        raise ValueError(f"{err} ({source} a {model_type} config.json). Supported "
                         f"model_types: {', '.join(SUPPORTED_MODEL_TYPES)}") from None
