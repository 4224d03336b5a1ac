"""Every input class of the corpus gets its named outcome (tests/robustness/corpus.py)."""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
import pytest

from tests.conftest import PROJECT_ROOT
from tests.robustness.corpus import PROJECT_ERRORS, Case, Report, build_corpus


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> list[Case]:
    return build_corpus(tmp_path_factory.mktemp("corpus"))


def test_the_corpus_covers_every_target_with_thirty_cases_or_more(corpus: list[Case]) -> None:
    assert len(corpus) >= 30
    targets = {case.target for case in corpus}
    readers = {"decals", "user", "galaxy_datasets", "huggingface", "gz2_hart", "unlabelled"}
    assert readers | {"campaign YAML", "images", "downstream task", "finetune catalog",
                      "ingestion"} <= targets  # fmt: skip
    outcomes = {case.outcome for case in corpus}
    assert outcomes == {"error", "report", "accepted"}


def test_every_case_gets_its_outcome(corpus: list[Case]) -> None:
    """One test over all cases (they share generated files): every failure is listed."""
    failures = []
    for case in corpus:
        try:
            result = case.run()
        except PROJECT_ERRORS as error:
            message = str(error)
            if case.outcome != "error" or not isinstance(error, case.error):
                failures.append(f"{case.name}: expected {case.outcome}, got {error!r}")
            elif case.expect not in message:
                failures.append(f"{case.name}: {case.expect!r} not in {message!r}")
            continue
        except Exception as error:  # anything else is a bug: a crash instead of a message
            failures.append(f"{case.name}: crashed with {type(error).__name__}: {error}")
            continue
        if case.outcome == "error":
            failures.append(f"{case.name}: expected {case.error.__name__}, got {result!r:.200}")
        elif case.outcome == "report":
            if not (isinstance(result, Report) and result.reason == case.expect):
                failures.append(f"{case.name}: expected report {case.expect!r}, got {result!r}")
        else:
            text = _summary(result)
            if isinstance(result, Report) or case.expect not in text:
                failures.append(f"{case.name}: expected {case.expect!r}, got {text!r}")
    assert not failures, "\n".join(failures)


def _summary(result) -> str:
    from tests.robustness.corpus import summary

    return summary(result)


def test_errors_name_the_file(corpus: list[Case]) -> None:
    """Catalog errors name their file (the place to fix) in the message."""
    for case in corpus:
        if (
            case.outcome != "error"
            or case.error is None
            or not issubclass(case.error, PROJECT_ERRORS[0])
        ):
            continue
        with pytest.raises(case.error) as raised:
            case.run()
        assert raised.value.source, case.name
        assert Path(str(raised.value.source).split(",")[0]).name in str(raised.value), case.name


def test_bad_images_become_rows_of_the_images_report(corpus: list[Case], tmp_path: Path) -> None:
    """The image cases through the images pipeline's builder: each bad one is a report row
    with the case's reason, each good one a sample."""
    from gz_evo.images.build import ShardSpec, build_shards

    cases = [c for c in corpus if c.target == "images" and c.name != "image_above_pixel_limit"]
    paths = {}
    for case in cases:
        folder = next(p for p in (tmp_path.parents[1]).rglob("corpus*") if p.is_dir())
        matches = list(folder.rglob(f"images/{case.name.removeprefix('image_')}.*"))
        paths[case.name] = str(matches[0]) if matches else str(folder / "absent.png")
    table = pd.DataFrame({
        "key": list(paths), "id_str": list(paths), "campaign": "c", "split": "train",
        "image_path": list(paths.values()), "image_bytes": None,
    })  # fmt: skip
    _, report = build_shards(tmp_path / "shards", table, None, [], ShardSpec(image_size=16), 0)
    reasons = dict(zip(report["key"], report["reason"], strict=True))
    for case in cases:
        if case.outcome == "report":
            assert reasons.get(case.name) == case.expect, case.name
        else:
            assert case.name not in reasons, (case.name, reasons.get(case.name))


def test_the_readme_table_lists_every_input_class(corpus: list[Case]) -> None:
    readme = (PROJECT_ROOT / "README.md").read_text()
    section = readme[readme.index("## Bad inputs") :]
    rows = re.findall(r"^\| (.+?) \| (.+?) \| (error|report|accepted) \|", section, re.MULTILINE)
    listed = {(text, outcome) for text, _, outcome in rows}
    missing = [c.name for c in corpus if (c.input, c.outcome) not in listed]
    assert not missing, f"README lacks (or gives another outcome to) {missing}"
