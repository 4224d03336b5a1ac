"""Galaxy Zoo schemas: every campaign's size, the named merges, dependencies, JSON, errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from gz_evo.schema import (
    Question,
    Schema,
    SchemaError,
    campaign_suffix,
    known_campaigns,
    load_campaign,
    load_schema,
    merge_schemas,
)

# (questions, answers) per packaged campaign, counted from galaxy-datasets' label_metadata.
CAMPAIGN_SIZES = {
    "dr12": (10, 30),
    "dr5": (10, 34),
    "dr8": (10, 34),
    "gz2": (10, 30),
    "hubble": (13, 40),
    "candels": (12, 38),
    "cd": (13, 45),
    "ukidss": (10, 30),
    "rings": (1, 2),
}


@pytest.mark.parametrize(("campaign", "size"), CAMPAIGN_SIZES.items())
def test_every_campaign_has_its_published_size(campaign: str, size: tuple[int, int]) -> None:
    schema = load_campaign(campaign)
    assert (schema.n_questions, schema.n_answers) == size
    assert len(schema.answer_columns) == size[1]


def test_every_packaged_campaign_is_tested() -> None:
    assert set(known_campaigns()) == set(CAMPAIGN_SIZES)


def test_suffix_is_appended_to_questions_and_dependencies() -> None:
    schema = load_campaign("dr5")
    assert schema.answer_columns[:3] == [
        "smooth-or-featured-dr5_smooth",
        "smooth-or-featured-dr5_featured-or-disk",
        "smooth-or-featured-dr5_artifact",
    ]
    assert schema.question("bar-dr5").answers == ("strong", "weak", "no")
    assert schema.dependencies["has-spiral-arms-dr5"] == "disk-edge-on-dr5_no"
    assert load_campaign("rings").answer_columns == ["ring_yes", "ring_no"]


def test_gz_evo_v0_1_has_the_papers_206_answers() -> None:
    schema = load_schema("gz_evo_v0_1")
    assert schema.n_answers == 206
    assert schema.campaigns == ["dr12", "dr5", "dr8", "gz2", "candels", "hubble"]
    assert "clump-count-hubble" in schema.question_names
    assert "clump-count-candels" in schema.question_names


def test_gz_evo_scaling_has_the_papers_88_questions() -> None:
    schema = load_schema("gz_evo_scaling")
    assert schema.n_questions == 88
    assert {"cd", "ukidss"} <= set(schema.campaigns)


def test_merge_keeps_campaigns_apart_in_a_stable_order() -> None:
    schema = load_schema(["gz2", "dr5"])
    assert schema.question_names[0] == "smooth-or-featured-gz2"
    assert schema.question_names[10] == "smooth-or-featured-dr5"
    assert schema.n_answers == 30 + 34
    assert load_schema(["gz2", "dr5"]) == schema
    # listing a campaign twice is harmless: identical questions merge into one
    assert load_schema(["gz2", "gz2"]).n_answers == 30


def test_question_slices_cover_answer_columns_in_order() -> None:
    schema = load_schema("gz_evo_scaling")
    slices = schema.question_slices
    assert list(slices) == schema.question_names
    covered = [col for q in schema.questions for col in schema.answer_columns[slices[q.name]]]
    assert covered == schema.answer_columns
    assert slices["bar-dr5"] == slice(30 + 3 + 2 + 2, 30 + 3 + 2 + 2 + 3)
    index = schema.answer_question_index
    assert len(index) == schema.n_answers
    assert index[slices["bar-dr5"]].tolist() == [schema.question_names.index("bar-dr5")] * 3


def test_dependency_resolution_walks_up_the_tree() -> None:
    schema = load_schema("cd")
    assert schema.ancestors("artifact-cd") == [
        "smooth-or-featured-cd_problem",
        "problem-cd_artifact",
    ]
    assert schema.ancestors("spiral-winding-cd") == [
        "smooth-or-featured-cd_featured-or-disk",
        "disk-edge-on-cd_no",
        "has-spiral-arms-cd_yes",
    ]
    assert schema.ancestors("smooth-or-featured-cd") == []


def test_json_round_trip_is_exact() -> None:
    schema = load_schema("gz_evo_scaling")
    again = Schema.from_json(schema.to_json())
    assert again == schema
    assert again.name == "gz_evo_scaling"
    assert again.answer_columns == schema.answer_columns
    assert again.dependencies == schema.dependencies


def test_dependency_on_missing_answer_is_an_error() -> None:
    with pytest.raises(SchemaError, match=r"depends on 'bar_maybe', which is not an answer"):
        Schema(
            questions=(
                Question("bar", ("yes", "no")),
                Question("spiral", ("yes", "no"), depends_on="bar_maybe"),
            )
        )


def test_same_question_defined_differently_by_two_campaigns_is_an_error() -> None:
    first = Schema((Question("bar-x", ("yes", "no"), campaign="a"),), name="a")
    second = Schema((Question("bar-x", ("strong", "weak", "no"), campaign="b"),), name="b")
    with pytest.raises(SchemaError, match=r"'bar-x' is defined differently by campaign 'a'"):
        merge_schemas([first, second])


def test_unknown_campaign_lists_the_known_ones() -> None:
    with pytest.raises(SchemaError, match=r"unknown campaign 'dr99'; known campaigns: candels, cd"):
        load_schema(["gz2", "dr99"])


def test_user_campaign_from_a_conf_directory(tmp_path: Path) -> None:
    (tmp_path / "my_survey.yaml").write_text(
        "name: my_survey\nsuffix: -mine\nquestions:\n"
        "  - {name: smooth-or-featured, answers: [smooth, featured], depends_on: null}\n"
        '  - {name: bar, answers: ["yes", "no"], depends_on: smooth-or-featured_featured}\n'
    )
    schema = load_schema(["dr5", "my_survey"], campaign_dirs=[tmp_path])
    assert schema.answer_columns[-2:] == ["bar-mine_yes", "bar-mine_no"]
    assert schema.dependencies["bar-mine"] == "smooth-or-featured-mine_featured"
    assert "my_survey" in known_campaigns([tmp_path])


def test_campaign_suffix_is_what_loading_appends(tmp_path: Path) -> None:
    (tmp_path / "plain.yaml").write_text(
        "name: plain\nquestions:\n  - {name: bar, answers: [a, b]}\n"
    )
    assert campaign_suffix("dr5") == "-dr5"
    assert load_campaign("dr5").question_names[0].endswith("-dr5")
    assert campaign_suffix("plain", [tmp_path]) == ""
    assert load_campaign("plain", [tmp_path]).question_names == ["bar"]
    with pytest.raises(SchemaError, match="unknown campaign"):
        campaign_suffix("nope")


@pytest.mark.parametrize(
    ("yaml_text", "message"),
    [
        ("name: bad\nquestions:\n  - {name: bar, answers: [yes, no]}\n", "quote it"),
        ("name: bad\nquestions:\n  - {name: bar_q, answers: [a, b]}\n", "never '_'"),
        ("name: bad\nquestions:\n  - {name: bar, answers: [a_1, b]}\n", "contains '_'"),
        ("name: other\nquestions:\n  - {name: bar, answers: [a, b]}\n", "file name says"),
        (
            "name: bad\nquestions:\n  - {name: bar, answers: [a, b], depends_on: spiral_yes}\n",
            "not an answer of this schema",
        ),
    ],
)
def test_bad_user_campaigns_get_clear_errors(tmp_path: Path, yaml_text: str, message: str) -> None:
    (tmp_path / "bad.yaml").write_text(yaml_text)
    with pytest.raises(SchemaError, match=message) as error:
        load_schema(["bad"], campaign_dirs=[tmp_path])
    assert "bad.yaml" in str(error.value)


def test_user_campaign_cannot_shadow_a_packaged_one(tmp_path: Path) -> None:
    (tmp_path / "dr5.yaml").write_text("name: dr5\nquestions: []\n")
    with pytest.raises(SchemaError, match="already defined by gz_evo"):
        load_schema("dr5", campaign_dirs=[tmp_path])
