"""The model catalogue: named configurations of real models, with their papers.

The data live in ``data/models.yaml``, one entry per model with its source. The file is read
once, on first use, and validated then: every entry must have its kind, config, published
parameter count and paper, and every config must build, so a wrong shape fails loudly and
names the entry.

>>> from bigcompute import catalog
>>> catalog.model("llama2-7b").d_ff
11008
>>> catalog.model_info("gpt3-175b")["training_tokens"]
300000000000
"""

from __future__ import annotations

import copy
import re
from dataclasses import fields
from functools import lru_cache
from importlib import resources

import yaml

from .configs import ResNetConfig, TransformerConfig
from .errors import unknown_name

__all__ = [
    "CONFIG_CLASSES", "REQUIRED_FIELDS", "PAPER_FIELDS", "KNOWN_FIELDS", "models", "model",
    "model_info", "catalogue_rows", "canonical_name",
]

CONFIG_CLASSES = {"transformer": TransformerConfig, "resnet": ResNetConfig}
REQUIRED_FIELDS = ("kind", "config", "published_params", "paper")
PAPER_FIELDS = ("title", "authors", "year", "url")
KNOWN_FIELDS = set(REQUIRED_FIELDS) | {
    "aliases", "active_params", "training_tokens", "year", "table", "notes",
}


# ---------------------------------------------------------------- public API

def models() -> list[str]:
    """Catalogue names, in file order (families together, oldest first)."""
    return list(_catalogue()["entries"])


def model(name):
    """The config of a catalogued model, with ``name`` set to its catalogue key; a config
    passes through unchanged, as a `hardware.Device` does through `hardware.device`, so that
    every estimate accepts either.

    Names are case-insensitive and ignore '-', '_', '/' and spaces, so "Llama-2-7B",
    "llama2_7b" and "llama2-7b" are the same model; aliases such as "gpt2" (gpt2-small) or
    "mixtral" (mixtral-8x7b) work too. An unknown name raises a ValueError listing the
    closest known names.
    """
    if not isinstance(name, str):
        return name
    return _catalogue()["configs"][canonical_name(name)]


def model_info(name: str) -> dict:
    """What the catalogue says about a model besides its shape: ``name``, ``kind``,
    ``published_params``, ``active_params`` (MoE only, else None), ``training_tokens`` (None
    where unpublished), ``year``, ``paper`` (title, authors, year, url), ``table`` (where in
    the source the numbers come from), ``notes`` and ``aliases``. A fresh copy each call."""
    key = canonical_name(name)
    entry = _catalogue()["entries"][key]
    info = {"name": key}
    info.update({k: v for k, v in entry.items() if k != "config"})
    return copy.deepcopy(info)


def catalogue_rows() -> list[dict]:
    """One flat dict per model, for tables: name, kind, arch, year, shape fields (None
    where they do not apply), published/active parameters, training tokens and the source."""
    rows = []
    for key in models():
        cfg = model(key)
        info = model_info(key)
        row = {"name": key, "kind": info["kind"], "year": info["year"]}
        if isinstance(cfg, TransformerConfig):
            row.update(
                arch=cfg.arch, n_layers=cfg.n_layers, n_encoder_layers=cfg.n_encoder_layers,
                d_model=cfg.d_model, n_heads=cfg.n_heads, n_kv_heads=cfg.n_kv_heads,
                head_dim=cfg.head_dim, d_ff=cfg.d_ff, vocab_size=cfg.vocab_size,
                max_seq_len=cfg.max_seq_len, n_experts=cfg.n_experts, top_k=cfg.top_k,
            )
        else:
            row.update(
                arch="cnn", n_layers=None, n_encoder_layers=None, d_model=None, n_heads=None,
                n_kv_heads=None, head_dim=None, d_ff=None, vocab_size=None, max_seq_len=None,
                n_experts=None, top_k=None,
            )
        row.update(
            published_params=info["published_params"],
            active_params=info["active_params"],
            training_tokens=info["training_tokens"],
            paper=info["paper"]["title"],
            authors=info["paper"]["authors"],
            url=info["paper"]["url"],
            table=info["table"],
        )
        rows.append(row)
    return rows


def canonical_name(name: str) -> str:
    """The catalogue key for a name or alias (see `model`); ValueError if unknown."""
    index = _catalogue()["index"]
    if isinstance(name, str):
        key = index.get(name) or index.get(_normalise(name))
        if key:
            return key
    raise unknown_name("model", name, models())


# ---------------------------------------------------------------- loading and validation

def _normalise(name: str) -> str:
    """Lowercase without separators: 'Llama-2-7B' -> 'llama27b'. Dots stay, so that
    gpt3-1.3b and gpt3-13b remain different models."""
    return re.sub(r"[\s_\-/]+", "", name.strip().lower())


def _unique_key_loader():
    """A yaml SafeLoader that refuses duplicate keys (plain YAML silently keeps the last
    one, which would hide a copy-pasted entry)."""
    class UniqueKeyLoader(yaml.SafeLoader):
        pass

    def construct_mapping(loader, node, deep=False):
        seen = set()
        for key_node, _ in node.value:
            key = loader.construct_object(key_node, deep=deep)
            if key in seen:
                raise ValueError(
                    f"models.yaml: duplicate key {key!r} (line {key_node.start_mark.line + 1})"
                )
            seen.add(key)
        return yaml.SafeLoader.construct_mapping(loader, node, deep=deep)

    UniqueKeyLoader.add_constructor(
        yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, construct_mapping
    )
    return UniqueKeyLoader


def _number(where: str, value, *, allow_none: bool = False):
    """A count from the YAML. YAML 1.1 reads '6.7e9' as a string, so accept numeric
    strings; return an int when the value is whole (all counts here are)."""
    if value is None and allow_none:
        return None
    if isinstance(value, bool):
        raise ValueError(f"{where} = {value!r} is not a number")
    if isinstance(value, str):
        try:
            value = float(value)
        except ValueError:
            raise ValueError(f"{where} = {value!r} is not a number") from None
    if not isinstance(value, (int, float)) or not value > 0:
        raise ValueError(f"{where} = {value!r} is not a positive number")
    return int(value) if float(value).is_integer() else float(value)


def _build_config(key: str, kind: str, config: dict):
    cls = CONFIG_CLASSES[kind]
    allowed = {f.name for f in fields(cls)} - {"name"}
    unknown = sorted(set(config) - allowed)
    if unknown:
        raise ValueError(
            f"models.yaml entry {key!r}: unknown {cls.__name__} field(s) {unknown}; "
            f"allowed: {', '.join(sorted(allowed))}"
        )
    try:
        return cls(**config, name=key)
    except (TypeError, ValueError) as err:
        raise ValueError(f"models.yaml entry {key!r}: invalid config: {err}") from err


def _validate_entry(key: str, entry) -> dict:
    where = f"models.yaml entry {key!r}"
    if key != key.lower() or not key:
        raise ValueError(f"{where}: catalogue names are lowercase")
    if not isinstance(entry, dict):
        raise ValueError(f"{where}: expected a mapping of fields")
    missing = [f for f in REQUIRED_FIELDS if f not in entry]
    if missing:
        raise ValueError(f"{where}: missing {', '.join(missing)}")
    extra = sorted(set(entry) - KNOWN_FIELDS)
    if extra:
        raise ValueError(f"{where}: unknown field(s) {extra}")
    if entry["kind"] not in CONFIG_CLASSES:
        raise ValueError(
            f"{where}: kind={entry['kind']!r}, expected one of {', '.join(CONFIG_CLASSES)}"
        )
    if not isinstance(entry["config"], dict):
        raise ValueError(f"{where}: config must be a mapping of fields")
    paper = entry["paper"]
    if not isinstance(paper, dict) or any(not paper.get(f) for f in PAPER_FIELDS):
        raise ValueError(f"{where}: paper needs {', '.join(PAPER_FIELDS)}")
    year = entry.get("year")
    if not isinstance(year, int) or isinstance(year, bool) or not 1950 <= year <= 2100:
        raise ValueError(f"{where}: year={year!r} is not a year")
    aliases = entry.get("aliases") or []
    if not isinstance(aliases, list) or not all(isinstance(a, str) for a in aliases):
        raise ValueError(f"{where}: aliases must be a list of names")
    return {
        "kind": entry["kind"],
        "config": entry["config"],
        "published_params": _number(f"{where}: published_params", entry["published_params"]),
        "active_params": _number(f"{where}: active_params", entry.get("active_params"),
                                 allow_none=True),
        "training_tokens": _number(f"{where}: training_tokens", entry.get("training_tokens"),
                                   allow_none=True),
        "year": year,
        "paper": {f: paper[f] for f in PAPER_FIELDS},
        "table": entry.get("table") or "",
        "notes": " ".join(str(entry.get("notes") or "").split()),
        "aliases": list(aliases),
    }


def _load(text: str) -> dict:
    """Parse and validate the catalogue text; returns entries, built configs and the
    name index. Kept separate from the file access so tests can feed it broken YAML."""
    data = yaml.load(text, Loader=_unique_key_loader())
    if not isinstance(data, dict) or not isinstance(data.get("models"), dict):
        raise ValueError("models.yaml: expected a top-level 'models:' mapping")
    entries, configs, index = {}, {}, {}
    for key, raw in data["models"].items():
        key = str(key)
        entry = _validate_entry(key, raw)
        configs[key] = _build_config(key, entry["kind"], entry["config"])
        entries[key] = entry
    for key, entry in entries.items():
        for spelling in [key, *entry["aliases"]]:
            for form in {spelling, spelling.lower(), _normalise(spelling)}:
                if index.get(form, key) != key:
                    raise ValueError(
                        f"models.yaml: the name {spelling!r} of {key!r} is ambiguous "
                        f"with {index[form]!r}"
                    )
                index[form] = key
    return {"entries": entries, "configs": configs, "index": index}


@lru_cache(maxsize=1)
def _catalogue() -> dict:
    text = resources.files("bigcompute").joinpath("data/models.yaml").read_text("utf-8")
    return _load(text)
