"""The offline evaluation harness: split, end-to-end run on small CSVs, errors, the command."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from recommender import data, evaluation


def _log(n_users=40, n_items=30, per_user=12, seed=0) -> data.RatingsLog:
    """Two taste clusters so that CF beats chance on the held-out rows."""
    rng = np.random.default_rng(seed)
    users, items = [], []
    for u in range(n_users):
        base = 0 if u % 2 else n_items // 2
        chosen = base + rng.choice(n_items // 2, size=per_user, replace=False)
        users += [u] * per_user
        items += chosen.tolist()
    n = len(users)
    return data.RatingsLog(
        user=np.asarray(users),
        item=np.asarray(items),
        rating=rng.uniform(0.2, 2.0, size=n),
        timestamp=np.arange(n, dtype=float),
    )


def test_split_per_user_keeps_both_sides_and_is_seeded():
    log = _log()
    extra = data.RatingsLog(np.r_[log.user, 999], np.r_[log.item, 0], np.r_[log.rating, 1.0], np.r_[log.timestamp, 1e6])
    train, test = evaluation.split_per_user(extra, seed=42)
    assert len(np.intersect1d(train, test)) == 0 and len(train) + len(test) == len(extra)
    for user in range(40):
        rows = np.flatnonzero(extra.user == user)
        n_test = np.isin(rows, test).sum()
        assert n_test == 3 and np.isin(rows, train).sum() == 9  # 25 % of 12
    assert 999 in extra.user[train] and 999 not in extra.user[test]  # single-row user stays in train
    again = evaluation.split_per_user(extra, seed=42)
    assert np.array_equal(again[1], test)
    assert not np.array_equal(evaluation.split_per_user(extra, seed=7)[1], test)


def test_end_to_end_on_csv_files(tmp_path: Path, capsys):
    log = _log()
    train_idx, test_idx = evaluation.split_per_user(log, seed=1)
    data.write_ratings_csv(tmp_path / "train.csv", log.take(train_idx))
    data.write_ratings_csv(tmp_path / "test.csv", log.take(test_idx))
    code = evaluation.main(
        [
            "--train",
            str(tmp_path / "train.csv"),
            "--test",
            str(tmp_path / "test.csv"),
            "--channels",
            "itemcf,ease",
            "hot",
            "--k",
            "5",
            "--json",
            "--no-progress",
            "--min-relevance",
            "0.5",
        ]
    )
    assert code == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [r["channel"] for r in rows] == ["itemcf", "ease", "hot", "blend"]
    for row in rows:
        assert set(row) >= {"recall", "ndcg", "hr", "coverage", "fit_seconds"}
        assert 0.0 <= row["ndcg"] <= 1.0 and 0.0 < row["coverage"] <= 1.0
    by = {r["channel"]: r for r in rows}
    # CF knows the clusters, popularity does not: the harness must see the difference.
    assert by["itemcf"]["ndcg"] > by["hot"]["ndcg"]
    assert by["blend"]["ndcg"] >= by["hot"]["ndcg"]
    # the normalisation is chosen on validation along with the weights, and reported
    assert by["blend"]["params"]["normalisation"] in ("minmax", "rrf")


def test_tuning_never_reads_the_test_split(monkeypatch):
    """Params and blend weights come from the train rows alone: the test rows never reach tune(),
    and replacing every test row by other rows leaves the tuned params and weights unchanged."""
    log = _log(n_users=60, per_user=14)
    train_idx, test_idx = evaluation.split_per_user(log, seed=42)
    train, test = log.take(train_idx), log.take(test_idx)
    seen = []
    real_tune = evaluation.tune

    def spy(dataset, rows, **kwargs):
        seen.append(rows)
        return real_tune(dataset, rows, **kwargs)

    monkeypatch.setattr(evaluation, "tune", spy)
    ds = evaluation.Dataset("t", log)
    kwargs = {"names": ["itemcf", "usercf", "ease", "hot"], "k": 5, "progress": False}
    first = evaluation.evaluate(ds, train, test, **kwargs)
    tuned_pairs = set(zip(seen[0].user.tolist(), seen[0].item.tolist(), strict=True))
    assert tuned_pairs == set(zip(train.user.tolist(), train.item.tolist(), strict=True))
    assert not tuned_pairs & set(zip(test.user.tolist(), test.item.tolist(), strict=True))
    # Other test rows: each user's held-out items swapped for items of the other taste cluster.
    rng = np.random.default_rng(5)
    other = data.RatingsLog(test.user, rng.integers(0, 30, size=len(test)), test.rating, test.timestamp)
    second = evaluation.evaluate(ds, train, other, **kwargs)
    assert [r["params"] for r in first] == [r["params"] for r in second]
    assert [r["ndcg"] for r in first] != [r["ndcg"] for r in second]  # the test rows did change


def test_blend_weights_can_be_tuned_on_two_validation_folds():
    log = _log(n_users=60, per_user=14)
    train = log.take(evaluation.split_per_user(log, seed=42)[0])
    ds = evaluation.Dataset("t", log)
    common = {
        "names": ["itemcf", "ease", "hot"],
        "k": 5,
        "n_candidates": 20,
        "config": ds.config,
        "min_relevance": None,
        "seed": 42,
        "progress": False,
    }
    params, weights, report = evaluation.tune(ds, train, validation_folds=2, **common)
    assert report["validation_folds"] == 2 and set(weights) == {"itemcf", "ease", "hot"}
    for channel in report["channels"].values():
        assert len(channel["ndcg_other_folds"]) == 1 and 0.0 <= channel["ndcg_other_folds"][0] <= 1.0
    single_params, _, single_report = evaluation.tune(ds, train, validation_folds=1, **common)
    assert single_params == params  # channel params always come from the first fold
    assert "ndcg_other_folds" not in single_report["channels"]["ease"]
    # The blend is scored over the users of both folds, so its figure differs from one fold's.
    assert report["blend"]["ndcg"] != single_report["blend"]["ndcg"]
    with pytest.raises(ValueError, match="validation_folds"):
        evaluation.tune(ds, train, validation_folds=0, **common)


@pytest.mark.parametrize(("carried_ndcg", "kept"), [(0.0, False), (1.0, True)])
def test_a_blend_that_does_not_carry_over_falls_back_to_the_best_channel(monkeypatch, carried_ndcg, kept):
    log = _log(n_users=60, per_user=14)
    train = log.take(evaluation.split_per_user(log, seed=42)[0])
    ds = evaluation.Dataset("t", log)
    names = ["itemcf", "ease", "hot"]
    # Force a three-channel blend, and decide what the check one level down reports.
    monkeypatch.setattr(evaluation, "tune_weights", lambda **kw: (dict.fromkeys(kw["channel_matrices"], 1.0), 0.5))
    calls = []

    def fake_carry_over(dataset, inner, fold_matrices, fold, **kwargs):
        calls.append((inner, kwargs["names"], kwargs["seed"]))
        return {"weights": {}, "ndcg": carried_ndcg}

    monkeypatch.setattr(evaluation, "carry_over", fake_carry_over)
    _, weights, report = evaluation.tune(
        ds,
        train,
        names=names,
        k=5,
        n_candidates=20,
        config=ds.config,
        min_relevance=None,
        seed=42,
        progress=False,
        validation_folds=2,
        carry_over_check=True,
    )
    ((inner, checked, seed),) = calls
    assert sorted(checked) == sorted(names) and seed == 42 + 1 + 2
    assert len(inner) < len(train)  # one level down: the first fold's inner rows
    check = report["blend"]["carry_over"]
    assert check["accepted"] is kept
    best = check["single"]["channel"]
    assert weights == (dict.fromkeys(names, 1.0) if kept else {n: float(n == best) for n in names})
    assert report["blend"]["weights"] == weights


def test_carry_over_tunes_on_a_split_of_the_inner_rows_only():
    log = _log(n_users=60, per_user=14)
    ds = evaluation.Dataset("t", log)
    train = log.take(evaluation.split_per_user(log, seed=42)[0])
    inner_idx, val_idx = evaluation.split_per_user(train, seed=43)
    inner = train.take(inner_idx)
    fold = evaluation.make_fold(ds, inner, train.take(val_idx), config=ds.config, min_relevance=None)
    classes = {"itemcf": evaluation.channel_factory("itemcf"), "hot": evaluation.channel_factory("hot")}
    matrices = {}
    for name, cls in classes.items():
        items, scores = evaluation.rank(cls().fit(fold.interactions), fold, n=20, progress=False)
        matrices[name] = evaluation.candidate_matrix(items, scores, fold.interactions.n_items)
    check = evaluation.carry_over(
        ds,
        inner,
        matrices,
        fold,
        names=list(classes),
        classes=classes,
        params={},
        normalisation="minmax",
        k=5,
        n_candidates=20,
        config=ds.config,
        min_relevance=None,
        seed=45,
        progress=False,
    )
    assert set(check["weights"]) == set(classes) and 0.0 < check["ndcg"] <= 1.0
    expected = evaluation.blend_ndcg(channel_matrices=matrices, weights=check["weights"], relevant=fold.relevant, k=5)
    assert check["ndcg"] == pytest.approx(expected, abs=1e-4)


def test_train_items_are_excluded_and_unseen_test_items_dropped():
    log = _log()
    train_idx, test_idx = evaluation.split_per_user(log, seed=3)
    test = log.take(test_idx)
    test = data.RatingsLog(
        np.r_[test.user, 0, 0],
        np.r_[test.item, 12345, log.take(train_idx).item[0]],
        np.r_[test.rating, 1.0, 1.0],
        np.r_[test.timestamp, 0.0, 0.0],
    )
    ds = evaluation.Dataset("t", log)
    fold = evaluation.make_fold(ds, log.take(train_idx), test, config=ds.config, min_relevance=None)
    channel = evaluation.channel_factory("hot")().fit(fold.interactions)
    items, scores = evaluation.rank(channel, fold, n=10, progress=False)
    for i, user in enumerate(fold.users.tolist()):
        seen = set(fold.exclude[user].indices.tolist())
        assert not seen & set(items[i][np.isfinite(scores[i])].tolist())
        assert not seen & set(fold.relevant[i].tolist())
    assert all(len(r) <= 3 for r in fold.relevant)  # the unknown and the duplicate row are gone


def test_clear_errors(tmp_path: Path, capsys):
    with pytest.raises(SystemExit) as exc:
        evaluation.main(["--no-progress"])
    assert exc.value.code == 2
    assert "--dataset NAME, or both --train" in capsys.readouterr().err
    with pytest.raises(ValueError, match="not found; looked in"):
        evaluation.find_dataset_dir("kuairec", root=tmp_path)
    with pytest.raises(ValueError, match="unknown channel"):
        evaluation.channel_factory("magic")


def test_missing_tf_channel_is_skipped_with_a_note(monkeypatch, capsys):
    import builtins

    real_import = builtins.__import__

    def fake_import(name, *args, **kwargs):
        if name == "recommender.models.mf":
            raise ImportError("no TensorFlow here")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", fake_import)
    assert evaluation.channel_factory("tf") is None
    assert "channel 'tf' skipped" in capsys.readouterr().err


def test_management_command_wraps_the_harness(tmp_path: Path, capsys):
    pytest.importorskip("django")
    from django.core.management import call_command

    log = _log()
    train_idx, test_idx = evaluation.split_per_user(log, seed=1)
    data.write_ratings_csv(tmp_path / "train.csv", log.take(train_idx))
    data.write_ratings_csv(tmp_path / "test.csv", log.take(test_idx))
    call_command(
        "evaluate",
        "--train",
        str(tmp_path / "train.csv"),
        "--test",
        str(tmp_path / "test.csv"),
        "--channels",
        "hot",
        "--json",
        "--no-progress",
        "--no-tune",
    )
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [r["channel"] for r in rows] == ["hot"]


SHARED = Path(__file__).resolve().parents[2].parent / "shared" / "data"


@pytest.mark.skipif(
    not (SHARED / "kuairec" / "interactions.csv").exists()
    and not (Path(__file__).resolve().parents[2] / "demo" / "kuairec").exists(),
    reason="KuaiRec data not present (demo/kuairec or ../shared/data/kuairec)",
)
def test_kuairec_dataset_loads_with_side_information():
    ds = evaluation.load_dataset("kuairec")
    assert ds.kind == "view" and len(ds.log) == 117_113
    train, test = evaluation.split_per_user(ds.log, seed=42)
    assert len(test) == 1411 * 21  # round(0.25 * 83) rows per user


def test_validation_only_reports_the_tuning_and_never_reads_the_test_rows(tmp_path: Path, capsys, monkeypatch):
    log = _log(n_users=60, per_user=14)
    data.write_ratings_csv(tmp_path / "train.csv", log.take(evaluation.split_per_user(log, seed=42)[0]))

    def no_test_time_run(*args, **kwargs):
        raise AssertionError("--validation-only must not fit on all train rows nor score test rows")

    monkeypatch.setattr(evaluation, "evaluate", no_test_time_run)
    monkeypatch.setattr(evaluation, "make_fold", _only_validation_folds(evaluation.make_fold, tmp_path / "train.csv"))
    argv = ["--train", str(tmp_path / "train.csv"), "--channels", "itemcf,ease,hot", "--k", "5", "--no-progress"]
    # No --test at all, then one that does not exist: neither is needed nor opened.
    assert evaluation.main([*argv, "--validation-only", "--json"]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert evaluation.main([*argv, "--test", str(tmp_path / "missing.csv"), "--validation-only", "--json"]) == 0
    again = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [{**r, "seconds": 0} for r in again] == [{**r, "seconds": 0} for r in rows]  # and it is seeded
    assert [r["channel"] for r in rows] == ["itemcf", "ease", "hot", "blend"]
    assert all(r["stage"] == "validation" for r in rows)
    channels, blend = rows[:-1], rows[-1]
    assert blend["validation_folds"] == 2 and len(blend["fold_users"]) == 2
    for row in channels:
        assert 0.0 <= row["ndcg"] <= 1.0 and len(row["ndcg_other_folds"]) == 1
        # All folds' figure is the user-weighted mean of the per-fold figures.
        n1, n2 = blend["fold_users"]
        expected = (n1 * row["ndcg"] + n2 * row["ndcg_other_folds"][0]) / (n1 + n2)
        assert row["ndcg_all_folds"] == pytest.approx(expected, abs=1e-4)
    assert set(blend["weights"]) == {"itemcf", "ease", "hot"} and blend["normalisation"] in ("minmax", "rrf")
    # The weight search starts from the best channel; a dropped blend serves that channel alone.
    assert blend["ndcg_tuned"] >= max(r["ndcg_all_folds"] for r in channels) - 1e-4
    if blend["carry_over"] and not blend["carry_over"]["accepted"]:
        best = blend["carry_over"]["single"]["channel"]
        assert blend["weights"] == {name: float(name == best) for name in blend["weights"]}
        assert blend["ndcg"] == pytest.approx(
            next(r for r in channels if r["channel"] == best)["ndcg_all_folds"], abs=2e-3
        )
    # The table form prints the same figures.
    evaluation.main([*argv, "--validation-only"])
    table = capsys.readouterr().out
    assert "blend" in table and f"{blend['ndcg']:.4f}" in table
    with pytest.raises(SystemExit):
        evaluation.main([*argv, "--validation-only", "--ablation"])


def _only_validation_folds(real_make_fold, train_csv: Path):
    """make_fold, asserting that every fold it builds is cut from the train file's rows."""
    train = data.load_ratings_csv(train_csv)
    train_pairs = set(zip(train.user.tolist(), train.item.tolist(), strict=True))

    def checked(dataset, inner, held_out, **kwargs):
        for rows in (inner, held_out):
            assert set(zip(rows.user.tolist(), rows.item.tolist(), strict=True)) <= train_pairs
        return real_make_fold(dataset, inner, held_out, **kwargs)

    return checked
