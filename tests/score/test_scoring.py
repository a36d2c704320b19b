import numpy as np
import pyarrow.parquet as pq
import pytest

from adsearch.config import from_dict
from adsearch.errors import InputError
from adsearch.jets.featurefile import write_features
from adsearch.score import event_scores, score_features, score_jets
from adsearch.train import TrainConfig, train
from tests.train.toys import toy_features, toy_sample


def test_event_scores_mean_max_min_per_event():
    js = np.array([4.0, 1.0, 2.0, 6.0, 3.0, 3.0])
    event = np.array([1, 1, 0, 0, 2, 2])
    slot = np.array([1, 0, 0, 1, 0, 1])
    ev = event_scores(js, event, slot, n_events=3)
    assert ev["score_j1"].tolist() == [2.0, 1.0, 3.0]
    assert ev["score_j2"].tolist() == [6.0, 4.0, 3.0]
    assert ev["score"].tolist() == [4.0, 2.5, 3.0]
    assert ev["score_max"].tolist() == [6.0, 4.0, 3.0]
    assert ev["score_min"].tolist() == [2.0, 1.0, 3.0]


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("run")
    cfg = from_dict(
        TrainConfig,
        {
            "data": {"train_fraction": 0.5, "val_fraction": 0.2},
            "model": {
                "backbone": "transformer",
                "objective": "deepsvdd",
                "width": 8,
                "heads": 2,
                "layers": 1,
            },
            "optim": {"batch_size": 32, "epochs": 1},
            "runtime": {"out_dir": str(tmp), "device": "cpu", "progress": False},
        },
    )
    res = train(cfg, toy_sample(40, seed=1))
    return tmp, res.model


def test_scores_of_an_unseen_unlabelled_file(tmp_path, run):
    run_dir, model = run
    feats = toy_features(30, seed=7, labelled=False)
    path = write_features(tmp_path / "bb.parquet", feats)
    out = score_features(run_dir, path, batch_size=7)
    assert out == tmp_path / "bb.scores.parquet"
    t = pq.read_table(out).to_pydict()
    assert set(t["split"]) == {2}  # not the training file: every event unseen
    assert t["label"] == [-1.0] * 30
    # batch size does not change scores; jet scores match the model called directly
    from adsearch.train.data import JetSample

    sample = JetSample.from_features(feats)
    js = score_jets(model, sample, batch_size=64)
    np.testing.assert_allclose(t["score_j1"], js[0::2], rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(t["score_j2"], js[1::2], rtol=1e-5, atol=1e-7)


def test_score_refuses_missing_files(tmp_path, run):
    with pytest.raises(InputError, match="no such features file"):
        score_features(run[0], tmp_path / "none.parquet")
    with pytest.raises(InputError, match="no such model file"):
        score_features(tmp_path, tmp_path / "none.parquet")
