"""Scaling laws: loss from parameters, data and compute; compute-optimal model sizes.

Two fits, both to autoregressive transformers trained on web text:

- Kaplan et al. (2020), "Scaling laws for neural language models" (arXiv:2001.08361):
  separate power laws in N (non-embedding parameters), D (tokens) and C_min (PF-days),
  eq. 1.1-1.3 and 1.5, and an optimal size growing as C^0.73 (Table 6).
- Hoffmann et al. (2022), "Training compute-optimal large language models" (Chinchilla,
  arXiv:2203.15556): L(N, D) = E + A/N^alpha + B/D^beta (eq. 2, Approach 3), and parameters and
  tokens that grow equally with compute, about 20 tokens per parameter (Table 3, Approach 1).

Losses are in nats per token on each paper's own data and tokenizer: compare them within a law,
not across the two laws. Compute C = 6ND FLOPs (`counts.flops_6nd`).
"""

from __future__ import annotations

from .energy import pf_days
from .errors import check_choice, check_positive, fail

__all__ = [
    "KAPLAN", "CHINCHILLA", "CHINCHILLA_TOKENS_PER_PARAM", "CHINCHILLA_METHODS",
    "kaplan_loss_params", "kaplan_loss_data", "kaplan_loss_compute", "kaplan_loss",
    "kaplan_optimal", "kaplan_allocation", "chinchilla_loss", "chinchilla_optimal",
    "allocations",
]

# Kaplan et al. (2020), eq. 1.1-1.3 and Table 6. N counts non-embedding parameters; C_min is
# in PF-days (8.64e19 FLOP); Table 6: N_opt = N_e C^p_N, D_opt = D_e C^p_D.
KAPLAN = {
    "N_c": 8.8e13, "alpha_N": 0.076,        # eq. 1.1, non-embedding parameters
    "D_c": 5.4e13, "alpha_D": 0.095,        # eq. 1.2, tokens
    "C_c_min": 3.1e8, "alpha_C_min": 0.050,  # eq. 1.3, PF-days
    "N_e": 1.3e9, "p_N": 0.73,              # Table 6, optimal parameters
    "D_e": 2e10, "p_D": 0.27,               # Table 6, tokens (one epoch)
}

# Hoffmann et al. (2022), sec. 3.3 and appendix D.2: the Approach 3 fit of eq. 2.
CHINCHILLA = {"E": 1.69, "A": 406.4, "B": 410.7, "alpha": 0.34, "beta": 0.28}
CHINCHILLA_TOKENS_PER_PARAM = 20.0
CHINCHILLA_METHODS = ("tokens_per_param", "approach3")


def _positive(name, value):
    check_positive(name, value)
    return float(value)


# ---------------------------------------------------------------- Kaplan et al. 2020

def kaplan_loss_params(n_params: float) -> float:
    """Loss of a model of ``n_params`` non-embedding parameters trained to convergence on
    enough data: (N_c / N)^alpha_N, N_c = 8.8e13, alpha_N = 0.076 (Kaplan eq. 1.1)."""
    n = _positive("n_params", n_params)
    return (KAPLAN["N_c"] / n) ** KAPLAN["alpha_N"]


def kaplan_loss_data(tokens: float) -> float:
    """Loss of a large model trained on ``tokens`` tokens with early stopping:
    (D_c / D)^alpha_D, D_c = 5.4e13, alpha_D = 0.095 (Kaplan eq. 1.2)."""
    d = _positive("tokens", tokens)
    return (KAPLAN["D_c"] / d) ** KAPLAN["alpha_D"]


def kaplan_loss_compute(compute_pf_days: float) -> float:
    """Loss reachable with ``compute_pf_days`` PF-days used optimally:
    (C_c_min / C_min)^alpha_C_min, C_c_min = 3.1e8 PF-days, alpha = 0.050 (Kaplan eq. 1.3)."""
    c = _positive("compute_pf_days", compute_pf_days)
    return (KAPLAN["C_c_min"] / c) ** KAPLAN["alpha_C_min"]


def kaplan_loss(n_params: float, tokens: float) -> float:
    """Loss with both finite: [(N_c/N)^(alpha_N/alpha_D) + D_c/D]^alpha_D (Kaplan eq. 1.5).
    Tends to `kaplan_loss_params` as tokens grow and to `kaplan_loss_data` as N grows."""
    n = _positive("n_params", n_params)
    d = _positive("tokens", tokens)
    k = KAPLAN
    return ((k["N_c"] / n) ** (k["alpha_N"] / k["alpha_D"]) + k["D_c"] / d) ** k["alpha_D"]


def kaplan_optimal(compute_pf_days: float) -> tuple[float, float]:
    """Kaplan's compute-efficient (non-embedding parameters, tokens) for a budget in PF-days:
    N = 1.3e9 x C^0.73, D = 2e10 x C^0.27 (Table 6). Model size grows much faster than data:
    the allocation Chinchilla overturned. (N x D x 6 is not C: Kaplan trains below the
    critical batch size and stops early, so the two fits are separate.)"""
    c = _positive("compute_pf_days", compute_pf_days)
    k = KAPLAN
    return k["N_e"] * c ** k["p_N"], k["D_e"] * c ** k["p_D"]


# ---------------------------------------------------------------- Hoffmann et al. 2022

def chinchilla_loss(n_params: float, tokens: float) -> float:
    """Chinchilla's parametric loss (Hoffmann et al. 2022, eq. 2, Approach 3 fit):

        L(N, D) = E + A / N^alpha + B / D^beta,  E = 1.69, A = 406.4, B = 410.7,
                                                  alpha = 0.34, beta = 0.28.

    E is the entropy of text; the other terms are the penalties of a finite model and of
    finite data. N counts all parameters."""
    n = _positive("n_params", n_params)
    d = _positive("tokens", tokens)
    c = CHINCHILLA
    return c["E"] + c["A"] / n ** c["alpha"] + c["B"] / d ** c["beta"]


def chinchilla_optimal(compute_flops: float, method: str = "tokens_per_param",
                       tokens_per_param: float = CHINCHILLA_TOKENS_PER_PARAM
                       ) -> tuple[float, float]:
    """Compute-optimal (params, tokens) for a training budget of ``compute_flops``, with
    C = 6ND.

    ``method="tokens_per_param"`` (default): D = 20 N, so N = sqrt(C / 120), D = 20 N. This is
    the rule of thumb from Chinchilla's Approaches 1 and 2 (exponents a = 0.50 / 0.49,
    Table 2) and it reproduces their Table 3 (Approach 1) to within 4% in parameters and
    tokens from 1B to 10T (1.27e26 FLOP gives 1.03T parameters for the table's 1T), except the
    67B row whose tokens are rounded to 1.5T (8%), which is why it is the default.

    ``method="approach3"``: minimise `chinchilla_loss` subject to 6ND = C; closed form
    (eq. 4): G = (alpha A / (beta B))^(1/(alpha+beta)), N = G (C/6)^(beta/(alpha+beta)),
    D = (C/6)^(alpha/(alpha+beta)) / G. It favours smaller models (a = 0.45): 32B at Gopher's
    budget with the published, rounded constants. (The paper's Figure 4 says 40B: its
    unrounded fit differs; Besiroglu et al. 2024, "Chinchilla scaling: a replication
    attempt", discuss the gap.)
    """
    c_flops = _positive("compute_flops", compute_flops)
    check_choice("method", method, CHINCHILLA_METHODS)
    if method == "tokens_per_param":
        r = _positive("tokens_per_param", tokens_per_param)
        n = (c_flops / (6.0 * r)) ** 0.5
        return n, r * n
    if tokens_per_param != CHINCHILLA_TOKENS_PER_PARAM:
        fail("tokens_per_param", tokens_per_param,
             "left at its default with method='approach3' (the ratio follows from the fit)")
    k = CHINCHILLA
    alpha, beta = k["alpha"], k["beta"]
    g = (alpha * k["A"] / (beta * k["B"])) ** (1.0 / (alpha + beta))
    n = g * (c_flops / 6.0) ** (beta / (alpha + beta))
    d = (c_flops / 6.0) ** (alpha / (alpha + beta)) / g
    return n, d


# ---------------------------------------------------------------- the rules side by side

def kaplan_allocation(compute_flops: float) -> tuple[float, float]:
    """Kaplan et al.'s parameters for a budget of ``compute_flops`` (Table 6, `kaplan_optimal`,
    non-embedding N), trained on the tokens the budget leaves: D = C / 6N. (Kaplan's own D
    fit is for early-stopped runs and does not spend the budget.)"""
    n, _ = kaplan_optimal(pf_days(_positive("compute_flops", compute_flops)))
    return n, compute_flops / (6 * n)


def allocations(compute_flops: float) -> dict[str, tuple[float, float]]:
    """(parameters N, tokens D) of a budget under each rule the book compares: Chinchilla's
    D = 20N, Chinchilla's Approach 3 fit, and Kaplan et al.'s Table 6 with D = C / 6N."""
    return {
        "Chinchilla, D = 20N": chinchilla_optimal(compute_flops),
        "Chinchilla, approach 3": chinchilla_optimal(compute_flops, "approach3"),
        "Kaplan et al. 2020": kaplan_allocation(compute_flops),
    }
