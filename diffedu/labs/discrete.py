r"""Lab of chapter 14: one step of masked diffusion's unmasking sampler, graded against Bayes by enumeration.

The student writes ``unmasking_probs(x_t, x0_probs, alpha_t, alpha_s)``: for each sequence and position the
distribution of $x_s^i$ (s < t) over the V tokens and the mask (last index V),
$p(x_s^i\mid x_t) = \sum_u \hat p(x_0^i = u\mid x_t)\,q(x_s^i\mid x_t^i, x_0^i = u)$ (Austin et al. 2021, eq. 4;
Sahoo et al. 2024, §3.2; Shi et al. 2024, §3): a masked position stays masked with probability
$(1-\alpha_s)/(1-\alpha_t)$ and becomes v with $\frac{\alpha_s-\alpha_t}{1-\alpha_t}\hat p(x_0^i = v\mid x_t)$; an
unmasked position keeps its token.

Oracles: Bayes' rule on the closed-form kernels $q(x_s\mid x_0)$, $q(x_t\mid x_s)$, $q(x_t\mid x_0)$ (computed here,
not from the package's unmasking formula), and the exact output distribution of the whole sampler, enumerated.
"""
from __future__ import annotations

import torch

from ..course.discrete import DiscreteNoise, MarkovData, all_states
from ..course.discrete_sampling import ExactX0, push_forward
from ..metrics import kl
from .grading import Lab, Part, Verdict, call, close, diagnose, expect
from .think import Question

__all__ = ["check_unmasking_probs", "hint", "LAB", "ANSWERS", "THINK"]

ANSWERS: tuple[str, ...] = ("unmasking_probs", "posterior_probs", "euler_probs", "SAMPLERS")

_DATA = MarkovData(V=4, L=3)
_NOISE = DiscreteNoise("mask", 4)


def _case(t: float, s: float):
    """Every noisy sequence of length 3 (125 of them), its exact x₀-posterior, and α_t, α_s."""
    x_t = all_states(_NOISE.S, _DATA.L)
    return x_t, ExactX0(_DATA, _NOISE)(x_t, t).float(), _NOISE.alpha(t), _NOISE.alpha(s)


def _bayes(x_t, x0_probs, t: float, s: float):
    r"""$\sum_u \hat p(u\mid x_t)\,q(x_t^i\mid x_s^i = w)\,q_s(w\mid u)/q_t(x_t^i\mid u)$: (N, L, V+1)."""
    K_s, K_t, K_st = _NOISE.kernel(s), _NOISE.kernel(t), _NOISE.kernel_between(s, t)
    p = torch.zeros(*x_t.shape, _NOISE.S, dtype=torch.float64)
    for u in range(_NOISE.V):
        weight = torch.where(K_t[u, x_t] > 0, x0_probs[..., u].double() / K_t[u, x_t].clamp_min(1e-300), 0.0)
        p += weight.unsqueeze(-1) * K_s[u] * K_st[:, x_t].permute(1, 2, 0)
    return p


def _mistake(x_t, x0_probs, a_t, a_s, kind: str):
    """The step with one typical mistake made on purpose."""
    V = x0_probs.shape[-1]
    num, den = {"ratio": (a_s, a_t), "upside": (1 - a_t, 1 - a_s)}.get(kind, (1 - a_s, 1 - a_t))
    stay = num / den if den else float("inf")  # a mistake may divide by zero: its answer is then inf
    p = x0_probs.double() if kind != "no_model" else torch.full_like(x0_probs, 1.0 / V).double()
    move = (a_s - a_t) * p / (1.0 if kind == "no_norm" else 1 - a_t)
    out = torch.cat([move, torch.full((*x_t.shape, 1), stay, dtype=torch.float64)], -1)
    if kind == "mask_first":
        out = torch.cat([out[..., -1:], out[..., :-1]], -1)
    if kind == "everywhere":
        return out
    return torch.where((x_t == V).unsqueeze(-1), out, torch.nn.functional.one_hot(x_t, V + 1).double())


def _mistakes(x_t, x0_probs, a_t, a_s):
    return [(_mistake(x_t, x0_probs, a_t, a_s, "ratio"), "staying masked has probability (1 − α_s)/(1 − α_t), the "
             "ratio of the mask probabilities at s and at t — not α_s/α_t, the ratio of keep-probabilities"),
            (_mistake(x_t, x0_probs, a_t, a_s, "upside"), "your stay-masked probability is upside down: it must be "
             "≤ 1, and 1 − α_s < 1 − α_t because s is less noisy"),
            (_mistake(x_t, x0_probs, a_t, a_s, "no_model"), "a masked position becomes v with a probability "
             "proportional to the model's p̂(x₀ⁱ = v | x_t): use x0_probs, not a uniform guess"),
            (_mistake(x_t, x0_probs, a_t, a_s, "no_norm"), "(α_s − α_t)·p̂ is the joint probability of being masked "
             "at t and unmasked at s: divide by the probability 1 − α_t of being masked at t"),
            (_mistake(x_t, x0_probs, a_t, a_s, "mask_first"), "the mask is the last token (index V); the V real "
             "tokens come first"),
            (_mistake(x_t, x0_probs, a_t, a_s, "everywhere"), "an unmasked position is never masked again: its row "
             "is one-hot on its own token (the mask is absorbing, and x₀ⁱ = x_tⁱ there)")]


def _masked(fn) -> Verdict:
    """Exact: masked positions' rows equal Bayes' rule on the kernels, t = 0.7 → s = 0.4 and 0.3 → 0.25, to 1e-6."""
    for t, s in ((0.7, 0.4), (0.3, 0.25)):
        x_t, x0_probs, a_t, a_s = _case(t, s)
        got = call(fn, x_t.clone(), x0_probs.clone(), a_t, a_s)
        want = _bayes(x_t, x0_probs, t, s)
        masked = x_t == _NOISE.V
        if not (isinstance(got, torch.Tensor) and got.shape == want.shape and close(got[masked], want[masked])):
            return Verdict(False, f"masked rows differ from Bayes' rule at t = {t}, s = {s}",
                           diagnose(got, _mistakes(x_t, x0_probs, a_t, a_s), "a masked position: stay masked with "
                                    "(1 − α_s)/(1 − α_t), become v with (α_s − α_t)/(1 − α_t)·p̂(x₀ⁱ = v | x_t)"))
    return Verdict(True, "masked rows equal Bayes' rule on the kernels to 1e-6")


def _unmasked(fn) -> Verdict:
    """Exact: rows of unmasked positions are one-hot on their token (to 1e-6)."""
    x_t, x0_probs, a_t, a_s = _case(0.6, 0.3)
    got = call(fn, x_t.clone(), x0_probs.clone(), a_t, a_s)
    want = _bayes(x_t, x0_probs, 0.6, 0.3)
    kept = x_t < _NOISE.V
    if isinstance(got, torch.Tensor) and got.shape == want.shape and close(got[kept], want[kept]):
        return Verdict(True, "unmasked rows are one-hot on their own token")
    return Verdict(False, "unmasked rows are not one-hot on their token",
                   diagnose(got, _mistakes(x_t, x0_probs, a_t, a_s)[-1:] + _mistakes(x_t, x0_probs, a_t, a_s),
                            "where x_tⁱ < V the token stays: one_hot(x_t, V + 1) there (torch.where helps)"))


def _last_step(fn) -> Verdict:
    """Exact: the last step (α_s = 1) leaves no mask and samples x₀ⁱ from p̂ (to 1e-6)."""
    x_t, x0_probs, a_t, _ = _case(0.2, 0.0)
    got = call(fn, x_t.clone(), x0_probs.clone(), a_t, 1.0)
    want = _bayes(x_t, x0_probs, 0.2, 0.0)
    ok = close(got, want)
    return Verdict(ok, "the step to s = 0 unmasks every position" if ok else "the step to s = 0 is wrong",
                   "" if ok else diagnose(got, _mistakes(x_t, x0_probs, a_t, 1.0), "at s = 0, α_s = 1: a masked "
                                          "position must become v with probability p̂(x₀ⁱ = v | x_t) exactly"))


def _sampler(fn) -> Verdict:
    """Enumeration: 16 uniform steps from all-mask with the exact posterior; the output distribution equals Bayes'
    steps' (1e-9) and its KL to the data is below 0.02 nats (the exact step gives about 0.003)."""
    states, model = all_states(_NOISE.S, _DATA.L), ExactX0(_DATA, _NOISE)
    p_yours = p_bayes = _NOISE.prior()[states].prod(1)
    ts = torch.linspace(1.0, 0.0, 17, dtype=torch.float64).tolist()
    for t, s in zip(ts[:-1], ts[1:]):
        x0_probs = model(states, t)
        step = call(fn, states.clone(), x0_probs.clone(), _NOISE.alpha(t), _NOISE.alpha(s))
        shape = (len(states), _DATA.L, _NOISE.S)
        step = expect(step, shape, f"return (N, L, V + 1) = {shape}")
        p_yours, p_bayes = push_forward(p_yours, step.double()), push_forward(p_bayes, _bayes(states, x0_probs, t, s))
    clean = (states < _NOISE.V).all(1)
    divergence = kl(_DATA.prob(), p_yours[clean].clamp_min(0.0))
    ok = close(p_yours, p_bayes, rtol=1e-9, atol=1e-9) and divergence < 0.02
    return Verdict(ok, f"16 steps: KL(data ‖ your sampler) = {divergence:.4f} nats",
                   "" if ok else "your steps do not compose into the right sampler: check the parts above")


LAB = Lab("14 · the unmasking step of masked diffusion", [
    Part("masked positions", 4, "equal to Bayes' rule on the kernels to 1e-6", _masked),
    Part("unmasked positions", 2, "one-hot on their own token", _unmasked),
    Part("the last step, s = 0", 1, "no mask left, x₀ drawn from p̂", _last_step),
    Part("the whole sampler, 16 steps", 1, "output distribution equal to Bayes' to 1e-9, KL < 0.02", _sampler),
], hints=[
    "Think of one position at a time. If it is not masked, nothing happens to it. If it is masked at t, ask: how "
    "likely is it to be still masked at the less noisy time s, and if not, which token did it turn into?",
    "A masked position at t is still masked at s with probability (1 − α_s)/(1 − α_t); otherwise (probability "
    "(α_s − α_t)/(1 − α_t)) it shows its clean token, drawn from the model's p̂(x₀ⁱ | x_t). The mask is the last "
    "column, index V.",
    "V = x0_probs.shape[-1]; move = (alpha_s − alpha_t)/(1 − alpha_t)·x0_probs; stay = full((N, L, 1), (1 − alpha_s)/"
    "(1 − alpha_t)); out = cat([move, stay], −1); return where((x_t == V)[..., None], out, one_hot(x_t, V + 1)).",
])


def check_unmasking_probs(fn) -> None:
    """Grade ``unmasking_probs(x_t, x0_probs, alpha_t, alpha_s)`` (chapter 14's lab) and print the score."""
    LAB.grade(fn)


def hint(level: int = 1) -> None:
    """Print hint ``level`` of chapter 14's lab (1 = the gentlest)."""
    LAB.hint(level)


THINK = (  # chapter 14's Think questions
    Question("Masked diffusion, linear schedule α_t = 1 − t. A position is masked at t = 0.5. What is the probability "
             "that it is still masked after one unmasking step to s = 0.25?", answer=0.5, tolerance=0.01,
             explanation="(1 − α_s)/(1 − α_t) = 0.25/0.5 = 0.5: half of the masked positions are revealed."),
    Question("For mask noise, the exact posterior p(x₀ | x_t) does not depend on t. Why?",
             choices=("Given which positions are masked, q_t(x_t | x₀) is α_t^(L−k)(1 − α_t)^k for every x₀ that "
                      "agrees with the visible tokens: the factor cancels in Bayes' rule",
                      "Because the network is not given t",
                      "Because the rate matrix does not depend on t"), answer=0,
             explanation="Bayes: p(x₀ | x_t) ∝ p(x₀) q_t(x_t | x₀), and q_t(x_t | x₀) is the same number for every "
                         "x₀ consistent with x_t (zero otherwise). So p(x₀ | x_t) is p(x₀) restricted to the sequences "
                         "that agree with the visible tokens — the network need not see t (Sahoo et al. 2024)."),
    Question("One sampling step from t = 1 to 0 (all positions revealed at once, each from its exact marginal "
             "posterior). What does the sampler output?",
             choices=("The product of the data's one-position marginals: KL to the data = the total correlation",
                      "The data distribution exactly", "A uniform distribution over sequences"), answer=0,
             explanation="A factorised step draws every position independently, so all correlations are lost; more "
                         "steps reveal few positions per step, each conditioned on those already revealed — "
                         "any-order autoregression in the limit."),
)
