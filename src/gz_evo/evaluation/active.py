"""Active learning with BALD on the demo universe, where simulated volunteers can answer anything.

The loop of Walmsley et al. (2020), on frozen features so that it runs in seconds on a CPU:

1. **Pool.** Galaxies with images but no votes (the demo's ``unlabelled`` and ``downstream``
   galaxies), embedded once by the pretrained GZ-Evo encoder (eval view, no gradients). A fixed
   ``test_size`` of them is held out and scored; the rest are candidates.
2. **Volunteers.** The simulated volunteers (:func:`gz_evo.simulate.volunteers.simulate_votes`)
   answer one campaign's decision tree (``campaign``) from each galaxy's latent truth. Every pool
   galaxy's votes are drawn once, up front, from the run's seed, and a galaxy's votes are
   revealed when it is acquired: the same in distribution as asking the volunteers then, and both
   acquisitions get the same answers for the same galaxy (a paired comparison).
3. **Rounds.** From ``initial`` random candidates (the same for every strategy of a seed), a
   Dirichlet head (dropout, linear, the project's head) is fitted from scratch on the labelled
   galaxies' features and votes, scored on the test galaxies (Dirichlet-multinomial NLL per
   galaxy, summed over the campaign's questions, dropout off), and ``batch_size`` more candidates
   are acquired: by BALD (:mod:`gz_evo.evaluation.bald`, MC-dropout samples of the head) or at
   random (the control). Repeated ``rounds`` times, for every seed.

References beside the curves: uniform concentrations (knowing nothing), the head fitted on every
candidate (what the pool can teach), and the simulator's own answer distributions (the floor:
:func:`gz_evo.simulate.volunteers.oracle_concentrations`).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from gz_evo.config import from_params
from gz_evo.evaluation.bald import bald_scores
from gz_evo.images.decode import BadImage, load_galaxy, source_name
from gz_evo.losses import dirichlet_multinomial_nll, question_index_tensor
from gz_evo.models.heads import CONCENTRATION_SCALE, MIN_CONCENTRATION, create_head
from gz_evo.schema import Schema
from gz_evo.simulate.volunteers import check_models, oracle_concentrations, simulate_votes

logger = logging.getLogger(__name__)

STRATEGIES = ("bald", "random")
#: how many missing ids an error message lists
SHOWN = 5


class ActiveLearningError(ValueError):
    """Inputs the active-learning loop cannot run on; the message says what to fix."""


@dataclass(frozen=True)
class VolunteerOptions:
    """Volunteers per acquired galaxy (Poisson ``votes_mean``; ``extra_fraction`` get ~2.5x)."""

    votes_mean: float
    extra_fraction: float


@dataclass(frozen=True)
class HeadOptions:
    """The Dirichlet head fitted each round: dropout (also the MC-dropout rate), full-batch
    AdamW ``steps`` at ``lr`` with ``weight_decay``, starting from zero weights and every answer's
    concentration at ``init_concentration`` (a vague prediction the labels move away from)."""

    dropout: float
    steps: int
    lr: float
    weight_decay: float
    init_concentration: float


@dataclass(frozen=True)
class BaldOptions:
    """``mc_samples`` dropout passes per galaxy; exact entropies up to ``max_outcomes`` vote
    outcomes per question, else ``outcome_samples`` Monte Carlo vote tables per pass."""

    mc_samples: int
    max_outcomes: int
    outcome_samples: int


@dataclass(frozen=True)
class ActiveLearningConfig:
    """``active_learning`` in parameters_active_learning.yml (every key required there)."""

    campaign: str
    test_size: int
    initial: int
    batch_size: int
    rounds: int
    strategies: tuple[str, ...]
    seeds: tuple[int, ...]
    volunteers: VolunteerOptions
    head: HeadOptions
    bald: BaldOptions
    embed_batch_size: int

    @classmethod
    def from_params(cls, params: dict) -> ActiveLearningConfig:
        config = from_params(cls, params, "active_learning")
        unknown = sorted(set(config.strategies) - set(STRATEGIES))
        if unknown or not config.strategies:
            raise ActiveLearningError(
                f"active_learning.strategies: unknown {unknown or 'empty list'}; "
                f"known: {', '.join(STRATEGIES)}"
            )
        for key in ("test_size", "initial", "batch_size"):
            if getattr(config, key) < 1:
                raise ActiveLearningError(f"active_learning.{key} must be at least 1")
        if config.rounds < 0:
            raise ActiveLearningError("active_learning.rounds must be 0 or more")
        return config

    def labelled_at_end(self) -> int:
        return self.initial + self.rounds * self.batch_size


# ---- pool ------------------------------------------------------------------------------------
def pool_table(catalogs: dict[str, pd.DataFrame | None]) -> pd.DataFrame:
    """One table of the pool's galaxies (``id_str``, ``source``, ``image_path``,
    ``image_bytes``) from image catalogs such as ``unlabelled_images`` and ``downstream_catalog``;
    a catalog without ids or images is refused, naming it."""
    frames = []
    for name, table in catalogs.items():
        if table is None or len(table) == 0:
            continue
        if "id_str" not in table:
            raise ActiveLearningError(
                f"active learning pool: catalog {name} has no id_str column "
                f"(it has {list(table.columns)})"
            )
        paths = table["image_path"] if "image_path" in table else pd.Series(None, table.index)
        blobs = table["image_bytes"] if "image_bytes" in table else pd.Series(None, table.index)
        has_image = paths.notna() | blobs.notna()
        if not has_image.any():
            raise ActiveLearningError(
                f"active learning pool: catalog {name} has no images (no image_path or "
                "image_bytes in any row): the encoder needs each galaxy's image; ingest the "
                "catalog with its images (`kedro run --pipelines demo,ingestion`)"
            )
        frames.append(
            pd.DataFrame(
                {
                    "id_str": table["id_str"].astype(str).to_numpy(),
                    "source": name,
                    "image_path": paths.to_numpy(dtype=object),
                    "image_bytes": blobs.to_numpy(dtype=object),
                }
            )
        )
    if not frames:
        raise ActiveLearningError(
            f"active learning pool: no galaxies in {', '.join(catalogs)}: run "
            "`kedro run --pipelines demo,ingestion` first"
        )
    table = pd.concat(frames, ignore_index=True)
    duplicated = table["id_str"][table["id_str"].duplicated()]
    if len(duplicated):
        raise ActiveLearningError(
            f"active learning pool: galaxy ids in more than one row: "
            f"{duplicated.head(SHOWN).tolist()}"
        )
    return table


def decode_pool(
    table: pd.DataFrame, image_size: int, root: Path = Path(".")
) -> tuple[torch.Tensor, np.ndarray, pd.DataFrame]:
    """``(uint8 [N, 3, S, S] images, rows of table kept, bad images)``: each row's image decoded
    and resized once; bad ones are left out and listed (id, file, reason)."""
    images, keep, bad = [], [], []
    for row, (id_str, path, blob) in enumerate(
        zip(table["id_str"], table["image_path"], table["image_bytes"], strict=True)
    ):
        try:
            pixels = load_galaxy(path if isinstance(path, str) else None, blob, image_size, root)
        except BadImage as error:
            bad.append((id_str, source_name(path), error.reason, error.detail))
            continue
        images.append(torch.from_numpy(pixels.transpose(2, 0, 1).copy()))
        keep.append(row)
    stacked = (
        torch.stack(images)
        if images
        else torch.zeros(0, 3, image_size, image_size, dtype=torch.uint8)
    )
    return (
        stacked,
        np.asarray(keep, dtype=np.int64),
        pd.DataFrame(bad, columns=["id_str", "file", "reason", "detail"]),
    )


def pool_truth(truth: pd.DataFrame | None, ids: np.ndarray) -> pd.DataFrame:
    """The latent truth of the pool galaxies, in ``ids`` order; galaxies without one are refused
    (the simulated volunteers answer from the truth, so this loop needs the demo universe)."""
    if truth is None or "id_str" not in truth:
        raise ActiveLearningError(
            "active learning needs demo_truth (data/01_raw/demo/truth.parquet, with id_str): "
            "the simulated volunteers answer from each galaxy's latent truth; run "
            "`kedro run --pipelines demo`"
        )
    indexed = truth.drop_duplicates("id_str").set_index("id_str")
    missing = [i for i in ids if i not in indexed.index]
    if missing:
        raise ActiveLearningError(
            f"active learning: {len(missing)} pool galaxies have no latent truth in demo_truth "
            f"(e.g. {missing[:SHOWN]}): the simulated volunteers can only answer demo galaxies; "
            "run the demo and ingestion pipelines together"
        )
    return indexed.loc[list(ids)].reset_index()


def ask_volunteers(
    truth: pd.DataFrame,
    schema: Schema,
    options: VolunteerOptions,
    behaviour: dict,
    seed: int,
) -> np.ndarray:
    """``int64 [N, A]`` votes of the simulated volunteers on every truth row (schema order);
    ``behaviour``: the demo's ``max_blur`` and ``agreement`` (``demo.volunteers``)."""
    check_models(schema)
    votes = simulate_votes(
        truth,
        schema,
        np.random.default_rng([seed, 7]),
        votes_mean=options.votes_mean,
        extra_fraction=options.extra_fraction,
        difficulty=truth["difficulty"].to_numpy(),
        max_blur=float(behaviour["max_blur"]),
        agreement=float(behaviour["agreement"]),
    )
    return np.array(votes[schema.answer_columns], dtype=np.int64)  # a writable copy


# ---- one head ----------------------------------------------------------------------------------
def _logit_of_concentration(concentration: float) -> float:
    """The linear output that gives ``concentration`` through the head's ``1 + 100 sigmoid``."""
    share = (concentration - MIN_CONCENTRATION) / CONCENTRATION_SCALE
    if not 0.0 < share < 1.0:
        raise ActiveLearningError(
            f"active_learning.head.init_concentration must be between {MIN_CONCENTRATION} and "
            f"{MIN_CONCENTRATION + CONCENTRATION_SCALE} (exclusive), got {concentration}"
        )
    return float(np.log(share / (1.0 - share)))


def fit_head(
    features: torch.Tensor, counts: torch.Tensor, schema: Schema, options: HeadOptions, seed: int
) -> torch.nn.Module:
    """A Dirichlet head fitted from scratch on ``features [n, F]`` and ``counts [n, A]``
    (full batch, AdamW, dropout on while training); the caller's random state is untouched."""
    index = question_index_tensor(schema.answer_question_index)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        head = create_head(
            "dirichlet", features.shape[1], schema.n_answers, dropout=options.dropout
        )
        with torch.no_grad():  # the constant prediction: features only add what labels support
            head.linear.weight.zero_()
            head.linear.bias.fill_(_logit_of_concentration(options.init_concentration))
        optimiser = torch.optim.AdamW(
            head.parameters(), lr=options.lr, weight_decay=options.weight_decay
        )
        head.train()
        for _ in range(options.steps):
            loss = dirichlet_multinomial_nll(head(features), counts, index, schema.n_questions).loss
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
    return head.eval()


@torch.no_grad()
def head_loss(
    head: torch.nn.Module, features: torch.Tensor, counts: torch.Tensor, schema: Schema
) -> float:
    """Mean per-galaxy NLL (summed over the schema's questions), dropout off."""
    head.eval()
    index = question_index_tensor(schema.answer_question_index)
    return float(dirichlet_multinomial_nll(head(features), counts, index, schema.n_questions).loss)


@torch.no_grad()
def mc_concentrations(
    head: torch.nn.Module, features: torch.Tensor, samples: int, seed: int
) -> torch.Tensor:
    """``[samples, G, A]`` concentrations with dropout kept on (MC dropout), seeded; the head is
    left as it was and the caller's random state untouched."""
    head.eval()
    previous = getattr(head, "mc_dropout", False)
    head.mc_dropout = True
    try:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            return torch.stack([head(features) for _ in range(samples)])
    finally:
        head.mc_dropout = previous


# ---- the loop ----------------------------------------------------------------------------------
def split_pool(n: int, config: ActiveLearningConfig, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """``(test rows, candidate rows)``: a fixed random test set, the rest candidates; refuses a
    pool too small for the test set plus every round's acquisitions."""
    needed = config.test_size + config.labelled_at_end()
    if n < needed:
        raise ActiveLearningError(
            f"active learning: {n} pool galaxies with images, but test_size {config.test_size} + "
            f"initial {config.initial} + rounds {config.rounds} x batch_size "
            f"{config.batch_size} need {needed}: lower them in "
            "conf/base/parameters_active_learning.yml or add galaxies to the pool"
        )
    order = np.random.default_rng([seed, 1]).permutation(n)
    return np.sort(order[: config.test_size]), np.sort(order[config.test_size :])


def acquire(
    strategy: str,
    head: torch.nn.Module,
    features: torch.Tensor,
    candidates: np.ndarray,
    schema: Schema,
    config: ActiveLearningConfig,
    seed: int,
) -> tuple[np.ndarray, np.ndarray]:
    """``(chosen rows, their BALD scores)``: the ``batch_size`` candidates with the highest
    BALD (summed over questions), or a random ``batch_size`` of them (scored after choosing, for
    the record)."""

    def bald(rows: np.ndarray) -> np.ndarray:
        concentrations = mc_concentrations(head, features[rows], config.bald.mc_samples, seed)
        return bald_scores(
            concentrations, schema, total_votes=config.volunteers.votes_mean,
            max_outcomes=config.bald.max_outcomes, samples=config.bald.outcome_samples, seed=seed,
        ).sum(1)  # fmt: skip

    if strategy == "bald":
        scores = bald(candidates)
        picked = np.argsort(-scores, kind="stable")[: config.batch_size]
        return candidates[picked], scores[picked]
    chosen = np.random.default_rng([seed, 3]).permutation(candidates)[: config.batch_size]
    return chosen, bald(chosen)


def run_active_learning(
    features: np.ndarray,
    votes: np.ndarray,
    difficulty: np.ndarray,
    schema: Schema,
    config: ActiveLearningConfig,
    seed: int,
) -> pd.DataFrame:
    """One row per (strategy, seed, round): labelled galaxies, test loss, and what the round
    then acquired (mean BALD under that round's head, mean truth difficulty); plus one
    ``all_candidates`` row (the head fitted on every candidate, seeded by ``seed``)."""
    x = torch.as_tensor(features, dtype=torch.float32)  # as the encoder gives them
    counts = torch.as_tensor(np.array(votes, dtype=np.int64))
    test, candidates = split_pool(len(x), config, seed)
    rows = []
    for run_seed in config.seeds:
        start = np.random.default_rng([seed, 2, run_seed]).choice(
            candidates, config.initial, replace=False
        )
        for strategy in config.strategies:
            labelled = np.sort(start)
            for round_ in range(config.rounds + 1):
                step_seed = int(
                    np.random.SeedSequence([seed, run_seed, round_]).generate_state(1)[0]
                )
                head = fit_head(x[labelled], counts[labelled], schema, config.head, step_seed)
                row = {
                    "strategy": strategy, "seed": run_seed, "round": round_,
                    "labelled": len(labelled),
                    "test_loss": head_loss(head, x[test], counts[test], schema),
                    "acquired_bald_mean": np.nan, "acquired_difficulty_mean": np.nan,
                }  # fmt: skip
                if round_ < config.rounds:
                    remaining = np.setdiff1d(candidates, labelled)
                    chosen, scores = acquire(
                        strategy, head, x, remaining, schema, config, step_seed
                    )
                    row["acquired_bald_mean"] = float(scores.mean())
                    row["acquired_difficulty_mean"] = float(difficulty[chosen].mean())
                    labelled = np.sort(np.concatenate([labelled, chosen]))
                rows.append(row)
            curve = " -> ".join(f"{r['test_loss']:.2f}" for r in rows[-config.rounds - 1 :])
            logger.info("active learning seed %d, %s: test loss %s", run_seed, strategy, curve)
    head = fit_head(x[candidates], counts[candidates], schema, config.head, seed)
    rows.append({
        "strategy": "all_candidates", "seed": seed, "round": -1, "labelled": len(candidates),
        "test_loss": head_loss(head, x[test], counts[test], schema),
        "acquired_bald_mean": np.nan, "acquired_difficulty_mean": np.nan,
    })  # fmt: skip
    return pd.DataFrame(rows)


def reference_rows(
    truth: pd.DataFrame,
    votes: np.ndarray,
    schema: Schema,
    behaviour: dict,
    config: ActiveLearningConfig,
    seed: int,
) -> pd.DataFrame:
    """Rows ``uniform`` (concentration 1 everywhere: knowing nothing) and ``oracle`` (the
    simulator's own answer distributions: what knowing the truth would reach), scored on the
    loop's test galaxies (``labelled`` 0: they learn nothing from labels)."""
    test, _ = split_pool(len(truth), config, seed)
    counts = torch.as_tensor(np.array(votes[test], dtype=np.int64))
    index = question_index_tensor(schema.answer_question_index)
    oracle = oracle_concentrations(
        truth.iloc[test], schema, difficulty=truth["difficulty"].to_numpy()[test],
        max_blur=float(behaviour["max_blur"]), agreement=float(behaviour["agreement"]),
    )  # fmt: skip
    rows = []
    for name, concentrations in (("uniform", torch.ones(counts.shape)), ("oracle", oracle)):
        loss = dirichlet_multinomial_nll(
            torch.as_tensor(concentrations), counts, index, schema.n_questions
        ).loss
        rows.append({
            "strategy": name, "seed": seed, "round": -1, "labelled": 0, "test_loss": float(loss),
            "acquired_bald_mean": np.nan, "acquired_difficulty_mean": np.nan,
        })  # fmt: skip
    return pd.DataFrame(rows)


# ---- summary -----------------------------------------------------------------------------------
def summarise(results: pd.DataFrame) -> pd.DataFrame:
    """Mean, standard deviation (over seeds), min, max and count of the test loss per
    (strategy, labelled galaxies); the acquisition strategies first, then the references."""
    grouped = results.groupby(["strategy", "labelled"], sort=True)["test_loss"]
    summary = grouped.agg(["mean", "std", "min", "max", "count"]).reset_index()
    summary = summary.rename(columns={c: f"test_loss_{c}" for c in ("mean", "std", "min", "max")})
    reference = ~summary["strategy"].isin(STRATEGIES)
    return pd.concat([summary[~reference], summary[reference]], ignore_index=True)


def _references(summary: pd.DataFrame) -> dict[str, tuple[int, float]]:
    rows = summary[~summary["strategy"].isin(STRATEGIES)]
    return {
        row.strategy: (int(row.labelled), float(row.test_loss_mean)) for row in rows.itertuples()
    }


def learning_curve_figure(summary: pd.DataFrame) -> Figure:
    """Test loss against labelled galaxies, one line per strategy (error bars: std over
    seeds), with the reference losses as horizontal lines."""
    figure = Figure(figsize=(6.5, 4.2), layout="constrained")
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    for strategy, rows in summary[summary["strategy"].isin(STRATEGIES)].groupby("strategy"):
        seeds = int(rows["count"].max())
        axes.errorbar(
            rows["labelled"], rows["test_loss_mean"], yerr=rows["test_loss_std"].fillna(0.0),
            marker="o", capsize=3, label=f"{strategy} acquisition (mean, std of {seeds} seeds)",
        )  # fmt: skip
    styles = {"all_candidates": "-.", "uniform": ":", "oracle": "--"}
    for name, (labelled, value) in _references(summary).items():
        label = f"{name} ({labelled} labelled)" if name == "all_candidates" else name
        axes.axhline(value, color="grey", linestyle=styles.get(name, "-"), linewidth=1,
                     label=f"{label}: {value:.1f}")  # fmt: skip
    axes.set_xlabel("labelled galaxies")
    axes.set_ylabel("test loss (Dirichlet-multinomial NLL per galaxy)")
    axes.set_title("Active learning: BALD vs random acquisition")
    axes.grid(True, alpha=0.3)
    axes.legend(fontsize="small")
    return figure


def paired_differences(results: pd.DataFrame) -> pd.DataFrame:
    """Per labelled size, random's test loss minus BALD's for the same seed (same starting set
    and votes; positive: BALD better): mean, std and count over seeds."""
    loop = results[results["strategy"].isin(STRATEGIES)]
    wide = loop.pivot_table(index=["seed", "labelled"], columns="strategy", values="test_loss")
    if not {"bald", "random"} <= set(wide.columns):
        return pd.DataFrame(columns=["labelled", "mean", "std", "count"])
    difference = (wide["random"] - wide["bald"]).rename("difference").reset_index()
    table = difference.groupby("labelled")["difference"].agg(["mean", "std", "count"])
    return table.reset_index()


def headline_metrics(summary: pd.DataFrame, results: pd.DataFrame) -> dict:
    """Per strategy the test loss (mean, std over seeds) at the first and last labelled size;
    random minus BALD at the last size, paired by seed (positive: BALD better); the references."""
    metrics: dict = {}
    for strategy, group in summary[summary["strategy"].isin(STRATEGIES)].groupby("strategy"):
        ordered = group.sort_values("labelled")
        first, last = ordered.iloc[0], ordered.iloc[-1]
        metrics[strategy] = {
            "start_labelled": int(first["labelled"]),
            "start_test_loss": float(first["test_loss_mean"]),
            "final_labelled": int(last["labelled"]),
            "final_test_loss": float(last["test_loss_mean"]),
            "final_test_loss_std": float(np.nan_to_num(last["test_loss_std"])),
        }
    paired = paired_differences(results)
    if len(paired):
        last = paired.sort_values("labelled").iloc[-1]
        metrics["random_minus_bald_final"] = {
            "labelled": int(last["labelled"]),
            "mean": float(last["mean"]),
            "std": float(np.nan_to_num(last["std"])),
            "seeds": int(last["count"]),
        }
    metrics["reference"] = {name: value for name, (_, value) in _references(summary).items()}
    return metrics
