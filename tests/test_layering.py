"""One layering, enforced over dbt's own manifest - the rules dbt-project-evaluator checks:
staging reads only sources and seeds; no model reads a model of a later layer (intermediate
never reads a mart); marts read intermediate models and seeds, never a source or a staging
model; every model is documented and has its primary key tested."""

from __future__ import annotations

import json

import pytest

from tests.conftest import Workspace

LAYERS = ("staging", "intermediate", "marts")
# a model's primary key is tested by one of these (column-level, or a model-level combination)
KEY_TESTS = ("unique", "unique_combination_of_columns")


@pytest.fixture(scope="module")
def manifest(tmp_path_factory: pytest.TempPathFactory) -> dict:
    root = tmp_path_factory.mktemp("layering")
    ws = Workspace(root=root, landing=root / "landing", warehouse=root / "warehouse.duckdb")
    ws.dbt("parse")
    return json.loads((root / "dbt_target" / "manifest.json").read_text())


def _layer(node: dict) -> str:
    if node["resource_type"] in ("source", "seed"):
        return node["resource_type"]
    path = node["original_file_path"]
    return next(layer for layer in LAYERS if path.startswith(f"models/{layer}/"))


def _models(manifest: dict) -> dict[str, dict]:
    return {uid: n for uid, n in manifest["nodes"].items() if n["resource_type"] == "model"}


def _parents(manifest: dict, node: dict) -> list[tuple[str, dict]]:
    everything = {**manifest["nodes"], **manifest["sources"]}
    return [(uid, everything[uid]) for uid in node["depends_on"]["nodes"]]


def test_every_model_is_in_a_layer_folder_and_named_for_it(manifest: dict) -> None:
    prefixes = {"staging": ("stg_",), "intermediate": ("int_",), "marts": ("fct_", "dim_")}
    wrong = [
        n["name"]
        for n in _models(manifest).values()
        if not n["name"].startswith(prefixes[_layer(n)])
    ]
    assert wrong == []


def test_no_model_reads_against_the_flow(manifest: dict) -> None:
    allowed = {
        "staging": {"source", "seed"},
        "intermediate": {"staging", "intermediate", "seed"},
        "marts": {"intermediate", "marts", "seed"},
    }
    against = [
        f"{_layer(n)} {n['name']} reads {_layer(p)} {p['name']}"
        for n in _models(manifest).values()
        for _, p in _parents(manifest, n)
        if _layer(p) not in allowed[_layer(n)] or (_layer(n) == "marts" and _layer(p) == "marts")
    ]
    assert against == []
    assert len(_models(manifest)) >= 30  # the rule was applied to the whole project


def test_every_staging_model_stages_one_landed_dataset(manifest: dict) -> None:
    for node in _models(manifest).values():
        if _layer(node) != "staging":
            continue
        sources = [uid for uid, p in _parents(manifest, node) if p["resource_type"] == "source"]
        assert len(sources) == 1, node["name"]


def test_every_model_is_documented_and_its_primary_key_tested(manifest: dict) -> None:
    tested: dict[str, set[str]] = {}
    for test in manifest["nodes"].values():
        if test["resource_type"] != "test":
            continue
        name = (test.get("test_metadata") or {}).get("name")
        if name in KEY_TESTS:
            for uid in test["depends_on"]["nodes"]:
                tested.setdefault(uid, set()).add(name)
    undocumented = [n["name"] for n in _models(manifest).values() if not n["description"].strip()]
    untested = [uid.split(".")[-1] for uid in _models(manifest) if uid not in tested]
    assert undocumented == []
    assert untested == []


def test_the_rules_catch_a_model_that_reads_against_the_flow(manifest: dict) -> None:
    """The check can fail: an intermediate model reading a mart is reported."""
    models = _models(manifest)
    mart = next(uid for uid, n in models.items() if _layer(n) == "marts")
    intermediate = next(n for n in models.values() if _layer(n) == "intermediate")
    broken = json.loads(json.dumps(manifest))
    broken["nodes"][intermediate["unique_id"]]["depends_on"]["nodes"].append(mart)
    with pytest.raises(AssertionError):
        test_no_model_reads_against_the_flow(broken)
