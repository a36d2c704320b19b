"""adsearch.distributed on a LocalCluster of 2 worker processes: identical to one process."""

from __future__ import annotations

import hashlib
from pathlib import Path

import awkward as ak
import numpy as np
import pandas as pd
import pytest

from adsearch.distributed import (
    dask_client,
    events_array,
    features_array,
    features_dask,
    features_file_dask,
    map_features_dask,
    parse_scheduler,
    row_ranges,
)
from adsearch.errors import AdsearchError, ConfigError, InputError
from adsearch.io import read_events
from adsearch.jets import features_from_file, read_features, read_features_metadata

REAL = Path(__file__).parent.parent / "data" / "lhco_real" / "events_anomalydetection_tiny.h5"
N = 300  # real LHCO R&D events used (3 chunks of 100)


@pytest.fixture(scope="module")
def client():
    with dask_client("local:2") as c:
        assert len(c.nthreads()) == 2
        yield c


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    out = tmp_path_factory.mktemp("ref") / "ref.parquet"
    features_from_file(REAL, out, chunk_size=100, stop=N, progress=False)
    return out


def _sha(p: Path) -> str:
    return hashlib.sha256(p.read_bytes()).hexdigest()


def _assert_same_features(a, b):
    assert list(a.table) == list(b.table)
    for c in a.table:
        assert a.table[c].dtype == b.table[c].dtype, c
        np.testing.assert_array_equal(a.table[c], b.table[c], err_msg=c)
    assert ak.to_list(a.constituents) == ak.to_list(b.constituents)
    assert (a.n_input, a.n_fewer_than_two_jets, a.n_single_constituent_jets) == (
        b.n_input,
        b.n_fewer_than_two_jets,
        b.n_single_constituent_jets,
    )


def test_file_is_byte_identical_to_the_single_process_path(client, reference, tmp_path):
    before = _sha(REAL)
    out = tmp_path / "dask.parquet"
    s = features_file_dask(REAL, out, client, chunk_size=100, stop=N, progress=False)
    assert (s.n_input, s.n_kept) == (N, N)
    # same bytes: same row groups (one per chunk, in row order), same metadata
    assert out.read_bytes() == reference.read_bytes()
    assert len(read_features_metadata(out)["row_groups"]) == 3
    _assert_same_features(read_features(out), read_features(reference))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dask.parquet"]  # no temp files
    assert _sha(REAL) == before  # the input is never modified


def test_in_memory_unaligned_range_and_address(client, tmp_path):
    # start/stop not on chunk boundaries; connect through the scheduler *address*
    addr = client.scheduler.address
    assert parse_scheduler(addr) == ("address", addr)
    f = features_dask(REAL, addr, chunk_size=70, start=55, stop=262)
    ref = tmp_path / "r.parquet"
    features_from_file(REAL, ref, chunk_size=70, start=55, stop=262, progress=False)
    _assert_same_features(f, read_features(ref))
    assert f.table["event_index"][0] == 55 and f.table["event_index"][-1] == 261
    assert f.meta["start"] == 55 and f.meta["stop"] == 262
    # the physics is that of the real file: W' events heavier in mjj than QCD
    sig = f.table["label"] == 1
    assert np.median(f.table["mjj"][sig]) > np.median(f.table["mjj"][~sig]) + 200


def test_dask_awkward_views_equal_the_eager_results(client, reference):
    ev = events_array(REAL, chunk_size=100, stop=N)
    assert ev.npartitions == 3 and ev.divisions == (0, 100, 200, 300)
    eager = read_events(REAL, 0, N)
    counts = ak.num(ev.particles, axis=1).compute()
    np.testing.assert_array_equal(ak.to_numpy(counts), ak.to_numpy(ak.num(eager.particles)))
    np.testing.assert_array_equal(ak.to_numpy(ev.label.compute()), eager.labels)
    fa = features_array(REAL, chunk_size=100, stop=N)
    ref = read_features(reference)
    np.testing.assert_array_equal(ak.to_numpy(fa.mjj.compute()), ref.table["mjj"])
    sel = fa.mjj[fa.tau21j1 < 0.4].compute()
    np.testing.assert_array_equal(ak.to_numpy(sel), ref.table["mjj"][ref.table["tau21j1"] < 0.4])
    assert ak.to_list(fa.constituentsj2.compute()) == ak.to_list(ref.constituents[:, 1])


def _edges_per_jet(chunk, radius):
    # the module, not the package: adsearch.graphs imports torch (5 s per worker)
    from adsearch.graphs.build import GraphConfig, build_graphs

    cfg = GraphConfig(radius=radius, max_constituents=40)
    t = chunk.table
    pt = np.stack([t["ptj1"], t["ptj2"]], 1).ravel()
    eta = np.stack([t["etaj1"], t["etaj2"]], 1).ravel()
    phi = np.stack([t["phij1"], t["phij2"]], 1).ravel()
    return build_graphs(chunk.constituents, pt, eta, phi, cfg).num_edges_per_jet


def test_map_over_row_groups_builds_the_same_graphs(client, reference):
    from adsearch.jets import iter_features

    got = map_features_dask(_edges_per_jet, reference, client, args=(0.2,))
    want = [_edges_per_jet(c, 0.2) for c in iter_features(reference)]
    assert len(got) == len(want) == 3
    for g, w in zip(got, want, strict=True):
        np.testing.assert_array_equal(g, w)
    assert np.concatenate(got).mean() > 100  # real jets: dense Delta R < 0.2 neighbourhoods


def test_bad_rows_on_a_worker_give_one_line_and_no_output(client, tmp_path):
    block = np.zeros((40, 2101))
    rng = np.random.default_rng(1)
    block[:, 0:30:3] = rng.uniform(100, 900, (40, 10))
    block[:, 1:30:3] = rng.uniform(-2, 2, (40, 10))
    block[:, 2:30:3] = rng.uniform(-3, 3, (40, 10))
    block[33, 6] = np.nan  # in the last chunk only
    bad = tmp_path / "bad.h5"
    pd.DataFrame(block).to_hdf(bad, key="df", format="fixed", complib="blosc", complevel=5)
    out = tmp_path / "out.parquet"
    with pytest.raises(InputError, match=r"bad\.h5: .*pT_2 \(column 6\) is nan in event 33"):
        features_file_dask(bad, out, client, chunk_size=10, progress=False)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.h5"]
    with pytest.raises(InputError, match="empty event range"):
        features_dask(bad, client, start=50)
    with pytest.raises(InputError, match="parquet"):
        features_dask(_parquet(tmp_path), client)


def _parquet(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    p = tmp_path / "t.parquet"
    pq.write_table(pa.table({"a": [1]}), p)
    return p


def test_scheduler_specs():
    assert parse_scheduler("local")[0] == "local"
    assert parse_scheduler("10.1.2.3:8786") == ("address", "tcp://10.1.2.3:8786")
    for bad in ("local:x", "", "nohost", "local:-1"):
        with pytest.raises(ConfigError, match="scheduler"):
            parse_scheduler(bad)
    assert row_ranges(3, 10, 3) == [(3, 6), (6, 9), (9, 10)]


def test_unreachable_scheduler_is_one_line():
    with (
        pytest.raises(AdsearchError, match=r"^scheduler tcp://127\.0\.0\.1:9: cannot connect"),
        dask_client("127.0.0.1:9", timeout=1),
    ):
        pass
