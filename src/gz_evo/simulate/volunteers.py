"""Simulated Galaxy Zoo volunteers: vote counts for any campaign's decision tree.

Each question of the schema has a model (keyed by the question's name without its campaign suffix)
that turns the latent truth into a probability per answer name. Variants of a question across
campaigns (``bar``: yes/no or strong/weak/no) are different subsets of one model's answers,
renormalised. Probabilities are scattered per galaxy (a Dirichlet draw: volunteers do not agree
perfectly) and blurred toward uniform as the galaxy gets harder (small, faint, ambiguous).

Volunteers walk the tree: every volunteer answers the root questions, and a question that depends on
an answer is answered by exactly the volunteers who gave that answer, so counts fall down the tree.
Sampling is one vectorised multinomial per question over all galaxies; there is no loop over
volunteers. Simplified: all volunteers share one skill, and they never skip a question.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd

from gz_evo.schema import Question, Schema
from gz_evo.simulate.morphology import sample_morphology

Scores = dict[str, np.ndarray]
EPS = 0.02


class UnknownQuestionError(KeyError):
    """The simulator has no volunteer model for a question; the message names it."""

    def __str__(self) -> str:  # KeyError quotes its message; show it plainly
        return str(self.args[0])


def _col(truth: pd.DataFrame, name: str) -> np.ndarray:
    return truth[name].to_numpy()


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def _bump(x: np.ndarray, centre: float, width: float) -> np.ndarray:
    return np.exp(-0.5 * ((x - centre) / width) ** 2) + EPS


def _kind(truth: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    kind = truth["kind"].astype(str).to_numpy()
    return kind == "smooth", kind == "featured", kind == "artifact"


def _smooth_or_featured(t: pd.DataFrame) -> Scores:
    smooth, featured, artifact = _kind(t)
    bulge = _col(t, "bulge_fraction")
    # Bulge-dominated disks without arms or bars fool some volunteers into "smooth".
    plain = featured & (_col(t, "arm_count") == 0) & (_col(t, "bar_strength") == 0)
    p_smooth = np.where(smooth, 0.85, np.where(featured, 0.05 + 0.3 * bulge + 0.25 * plain, 0.08))
    p_artifact = np.where(artifact, 0.85, 0.02)
    p_featured = np.clip(1.0 - p_smooth - p_artifact, EPS, 1.0)
    return {
        "smooth": p_smooth,
        "featured-or-disk": p_featured,
        "features": p_featured,
        "artifact": p_artifact,
        "problem": p_artifact,
    }


def _yes_no(p_yes: np.ndarray) -> Scores:
    p_yes = np.clip(p_yes, EPS, 1 - EPS)
    return {"yes": p_yes, "no": 1.0 - p_yes}


def _disk_edge_on(t: pd.DataFrame) -> Scores:
    _, featured, _ = _kind(t)
    inclination = _col(t, "inclination")
    return _yes_no(np.where(featured, _sigmoid((inclination - 72.0) / 4.0), 0.1))


def _has_spiral_arms(t: pd.DataFrame) -> Scores:
    arms = _col(t, "arm_count") > 0
    visible = np.where(_col(t, "edge_on"), 0.3, 1.0)
    return _yes_no(np.where(arms, (0.5 + 0.45 * _col(t, "arm_strength")) * visible, 0.08))


def _bar(t: pd.DataFrame) -> Scores:
    strength = _col(t, "bar_strength")
    strong = _sigmoid((strength - 0.6) / 0.08)
    barred = _sigmoid((strength - 0.2) / 0.06)
    weak = np.clip(barred - strong, 0.0, 1.0)
    return {
        "strong": strong + EPS,
        "weak": weak + EPS,
        "no": 1.0 - barred + EPS,
        "yes": barred + EPS,
    }


def _bulge_size(t: pd.DataFrame) -> Scores:
    bulge = _col(t, "bulge_fraction")
    centres = {
        "dominant": 0.8,
        "large": 0.6,
        "moderate": 0.4,
        "small": 0.2,
        "none": 0.03,
        "obvious": 0.45,
        "just-noticeable": 0.18,
        "no": 0.03,
    }
    return {answer: _bump(bulge, centre, 0.12) for answer, centre in centres.items()}


def _how_rounded(t: pd.DataFrame) -> Scores:
    q = _col(t, "axis_ratio")
    round_, between, cigar = _bump(q, 0.95, 0.12), _bump(q, 0.65, 0.12), _bump(q, 0.3, 0.12)
    return {
        "round": round_,
        "completely": round_,
        "in-between": between,
        "cigar-shaped": cigar,
        "cigar": cigar,
    }


def _bulge_shapes(t: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    has_bulge = _col(t, "bulge_fraction") > 0.1
    boxy = has_bulge & _col(t, "boxy_bulge")
    rounded = has_bulge & ~boxy
    return (
        np.where(boxy, 0.8, 0.1),
        np.where(rounded, 0.8, 0.1),
        np.where(has_bulge, 0.1, 0.8),
    )


def _edge_on_bulge(t: pd.DataFrame) -> Scores:
    boxy, rounded, none = _bulge_shapes(t)
    return {"boxy": boxy, "rounded": rounded, "none": none, "yes": boxy + rounded, "no": none}


def _bulge_shape(t: pd.DataFrame) -> Scores:
    boxy, rounded, none = _bulge_shapes(t)
    return {"round": rounded, "rounded": rounded, "boxy": boxy, "no-bulge": none, "none": none}


def _spiral_winding(t: pd.DataFrame) -> Scores:
    pitch = np.where(_col(t, "arm_count") > 0, _col(t, "pitch_angle"), 22.0)
    return {
        "tight": _bump(pitch, 10.0, 7.0),
        "medium": _bump(pitch, 22.0, 7.0),
        "loose": _bump(pitch, 35.0, 7.0),
    }


def _count_scores(count: np.ndarray, present: np.ndarray) -> Scores:
    scores = {str(k): np.where(present, _bump(count, k, 0.5), 0.1) for k in range(1, 5)}
    many = np.where(present, _sigmoid((count - 4.5) / 0.3) + EPS, 0.1)
    scores["more-than-4"] = scores["5-plus"] = many
    scores["cant-tell"] = np.where(present, 0.12, 0.6)
    return scores


def _spiral_arm_count(t: pd.DataFrame) -> Scores:
    count = _col(t, "arm_count")
    return _count_scores(count, count > 0)


def _clump_count(t: pd.DataFrame) -> Scores:
    count = _col(t, "clump_count")
    return _count_scores(count, count > 0)


def _merging(t: pd.DataFrame) -> Scores:
    tidal = t["tidal"].astype(str).to_numpy() != "none"
    strength = _col(t, "tidal_strength")
    merger = _col(t, "merger")
    quiet = ~tidal & ~merger
    return {
        "none": np.where(quiet, 0.9, 0.05),
        "neither": np.where(quiet, 0.9, 0.05),
        "minor-disturbance": np.where(tidal & (strength < 0.6), 0.7, 0.05) + 0.05 * quiet,
        "major-disturbance": np.where(tidal & (strength >= 0.6), 0.7, 0.05),
        "merger": np.where(merger, 0.8, 0.03),
        "tidal-debris": np.where(tidal & ~merger, 0.7, 0.04),
        "both": np.where(tidal & merger, 0.7, 0.03),
    }


def _odd(t: pd.DataFrame) -> np.ndarray:
    tidal = t["tidal"].astype(str).to_numpy() != "none"
    return _col(t, "ring") | tidal | _col(t, "merger") | (_col(t, "clump_count") > 0)


def _something_odd(t: pd.DataFrame) -> Scores:
    return _yes_no(np.where(_odd(t), 0.75, 0.1))


def _clumpy(t: pd.DataFrame) -> Scores:
    return _yes_no(np.where(_col(t, "clump_count") > 0, 0.85, 0.1))


def _symmetrical(t: pd.DataFrame) -> Scores:
    disturbed = (t["tidal"].astype(str).to_numpy() != "none") | _col(t, "merger")
    lopsided = _col(t, "arm_count") == 1
    return _yes_no(np.where(disturbed | lopsided, 0.2, 0.7))


def _embedded(t: pd.DataFrame) -> Scores:
    _, featured, _ = _kind(t)
    return _yes_no(np.where(featured & (_col(t, "clump_fraction") < 0.3), 0.75, 0.3))


def _problem(t: pd.DataFrame) -> Scores:
    kind = t["artifact_type"].astype(str).to_numpy()
    return {
        "star": np.where(kind == "star", 0.9, 0.05),
        "artifact": np.where(kind == "trail", 0.9, 0.1),
        "zoom": np.where(kind == "zoom", 0.9, 0.05),
    }


def _artifact(t: pd.DataFrame) -> Scores:
    kind = t["artifact_type"].astype(str).to_numpy()
    star, trail = kind == "star", kind == "trail"
    return {
        "satellite": np.where(trail, 0.85, 0.05),
        "scattered": np.full(len(t), 0.1),
        "diffraction": np.where(star, 0.6, 0.05),
        "ray": np.where(trail, 0.1, 0.05),
        "saturation": np.where(star, 0.3, 0.05),
        "other": np.full(len(t), 0.1),
    }


def _ring(t: pd.DataFrame) -> Scores:
    return _yes_no(np.where(_col(t, "ring"), 0.85, 0.05))


#: Volunteer models by question name without campaign suffix: truth -> score per answer name.
QUESTION_MODELS: dict[str, Callable[[pd.DataFrame], Scores]] = {
    "smooth-or-featured": _smooth_or_featured,
    "disk-edge-on": _disk_edge_on,
    "has-spiral-arms": _has_spiral_arms,
    "bar": _bar,
    "bulge-size": _bulge_size,
    "how-rounded": _how_rounded,
    "edge-on-bulge": _edge_on_bulge,
    "bulge-shape": _bulge_shape,
    "spiral-winding": _spiral_winding,
    "spiral-arm-count": _spiral_arm_count,
    "merging": _merging,
    "something-odd": _something_odd,
    "clumpy-appearance": _clumpy,
    "clumps": _clumpy,
    "clump-count": _clump_count,
    "galaxy-symmetrical": _symmetrical,
    "clumps-embedded-larger-object": _embedded,
    "problem": _problem,
    "artifact": _artifact,
    "ring": _ring,
}


def campaign_suffix(schema: Schema, campaign: str) -> str:
    """The suffix a campaign's question names carry (``-dr5``), as its YAML defines it."""
    questions = schema.campaign_questions(campaign)
    return questions[0].suffix if questions else ""


def answer_probabilities(question: Question, base: str, truth: pd.DataFrame) -> np.ndarray:
    """``[n_galaxies, n_answers]`` probabilities in the question's answer order."""
    model = QUESTION_MODELS.get(base)
    if model is None:
        raise UnknownQuestionError(
            f"no simulated-volunteer model for question {question.name!r} (campaign "
            f"{question.campaign!r}, base name {base!r}); "
            f"known: {', '.join(sorted(QUESTION_MODELS))}"
        )
    scores = model(truth)
    missing = [answer for answer in question.answers if answer not in scores]
    if missing:
        raise UnknownQuestionError(
            f"question {question.name!r} (campaign {question.campaign!r}): no volunteer model for "
            f"answer(s) {missing}; {base!r} knows {sorted(scores)}"
        )
    probabilities = np.stack([scores[answer] for answer in question.answers], axis=1)
    probabilities = np.clip(probabilities.astype(np.float64), 1e-6, None)
    return probabilities / probabilities.sum(axis=1, keepdims=True)


def vote_totals(
    n: int, rng: np.random.Generator, mean: float, extra_fraction: float = 0.05, minimum: int = 3
) -> np.ndarray:
    """Volunteers per galaxy: Poisson around ``mean``; a few galaxies were shown for longer."""
    totals = rng.poisson(mean, n)
    extra = rng.uniform(size=n) < extra_fraction
    totals = totals + np.where(extra, rng.poisson(1.5 * mean, n), 0)
    return np.maximum(totals, minimum).astype(np.int64)


def tree_order(questions: list[Question]) -> list[Question]:
    """Parents before children (schema order otherwise)."""
    by_name = {q.name: q for q in questions}
    ordered: list[Question] = []
    placed: set[str] = set()

    def place(question: Question, trail: tuple[str, ...] = ()) -> None:
        if question.name in placed:
            return
        if question.name in trail:
            raise ValueError(f"dependency cycle through {question.name!r}")
        if question.depends_on is not None:
            parent = question.depends_on.rsplit("_", 1)[0]
            if parent in by_name:
                place(by_name[parent], (*trail, question.name))
        ordered.append(question)
        placed.add(question.name)

    for question in questions:
        place(question)
    return ordered


def _question_concentrations(
    question: Question, truth: pd.DataFrame, blur: np.ndarray, agreement: float
) -> np.ndarray:
    """The Dirichlet each galaxy's volunteers draw their answer probabilities from."""
    p = answer_probabilities(question, question.base_name, truth)
    uniform = np.full_like(p, 1.0 / p.shape[1])
    p = (1.0 - blur[:, None]) * p + blur[:, None] * uniform
    return agreement * p + 0.05


def oracle_concentrations(
    truth: pd.DataFrame,
    schema: Schema,
    *,
    difficulty: np.ndarray | None = None,
    max_blur: float = 0.6,
    agreement: float = 25.0,
) -> np.ndarray:
    """``[n_galaxies, schema.n_answers]`` Dirichlet concentrations the simulated votes come from.

    A model that predicted exactly these would reach the lowest expected Dirichlet-multinomial
    loss on simulated votes: the floor against which a demo model's loss can be judged.
    """
    n = len(truth)
    blur = max_blur * (np.zeros(n) if difficulty is None else np.asarray(difficulty, float))
    columns = [
        _question_concentrations(question, truth, blur, agreement) for question in schema.questions
    ]
    return np.concatenate(columns, axis=1) if columns else np.zeros((n, 0))


def simulate_votes(
    truth: pd.DataFrame,
    schema: Schema,
    rng: np.random.Generator,
    *,
    votes_mean: float = 40.0,
    extra_fraction: float = 0.05,
    difficulty: np.ndarray | None = None,
    max_blur: float = 0.6,
    agreement: float = 25.0,
) -> pd.DataFrame:
    """Vote counts ``[n_galaxies, schema.n_answers]`` (int64, ``schema.answer_columns`` order).

    ``difficulty`` in [0, 1] per galaxy blurs answers toward uniform by up to ``max_blur``;
    ``agreement`` is the Dirichlet concentration of each galaxy's answer probabilities (lower:
    volunteers disagree more). Every campaign of the schema gets its own volunteers.
    """
    n = len(truth)
    blur = max_blur * (np.zeros(n) if difficulty is None else np.asarray(difficulty, float))
    counts: dict[str, np.ndarray] = {}
    for campaign in schema.campaigns:
        totals = vote_totals(n, rng, votes_mean, extra_fraction)
        for question in tree_order(schema.campaign_questions(campaign)):
            concentration = _question_concentrations(question, truth, blur, agreement)
            p = rng.gamma(concentration)  # Dirichlet scatter, one draw per galaxy
            p = p / p.sum(axis=1, keepdims=True)
            reached = totals if question.depends_on is None else counts[question.depends_on]
            votes = rng.multinomial(reached, p) if n else np.zeros((0, p.shape[1]), np.int64)
            for position, column in enumerate(question.answer_columns):
                counts[column] = votes[:, position].astype(np.int64)
    return pd.DataFrame(
        {column: counts[column] for column in schema.answer_columns}, index=truth.index
    )


def check_models(schema: Schema) -> None:
    """Raise :class:`UnknownQuestionError` early if any question lacks a volunteer model."""
    empty = sample_morphology(0, np.random.default_rng(0))  # every truth column, no rows
    for campaign in schema.campaigns:
        for question in schema.campaign_questions(campaign):
            answer_probabilities(question, question.base_name, empty)
