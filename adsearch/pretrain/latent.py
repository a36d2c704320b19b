"""Per-event latent columns from a pretrained encoder, for the weakly supervised methods.

The weak methods (:mod:`adsearch.weak`) read flat event tables, not constituents. This turns
the constituents of a features file into columns of the encoder's embedding: ``latent1_k`` and
``latent2_k`` (``k = 0 … D-1``) for the leading and the subleading jet. The weak feature names
``latent_lighter_k`` / ``latent_heavier_k`` then order them by jet mass, like CATHODE's
``mj_lighter`` and ``tau21_lighter``. The columns are a fixed function of the encoder file, so
the data, a reference template and a test table embedded with the same encoder are
comparable (no per-table fit such as a PCA). The idea: Dillon et al., "Anomalies,
representations, and self-supervision" (2023), weakly supervised classifiers on
contrastively learned jet representations.

A features file is read and embedded in blocks of ``chunk_size`` events
(:func:`iter_latent_blocks`), so the memory scales with the block, not with the file (an
LHC Olympics file: 1.1M events of two jets with up to ~150 constituents each). The jets go
through the encoder in batches of ``batch_size`` counted from the file's first jet, whatever
the blocks (the jets of a batch that a block boundary cuts wait for the next block): the
columns are bit-identical for every ``chunk_size`` (a jet's embedding depends on the
batch it is padded with, in the last bits).

Examples
--------
>>> latent_column_names(2)
['latent1_0', 'latent1_1', 'latent2_0', 'latent2_1']
>>> EmbedConfig(chunk_size=0)
Traceback (most recent call last):
...
adsearch.errors.ConfigError: embed:chunk_size: must be a positive integer, got 0
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import numpy as np

from adsearch.errors import ConfigError, InputError

__all__ = [
    "BATCH_SIZE",
    "CHUNK_SIZE",
    "EmbedConfig",
    "iter_latent_blocks",
    "latent_column_names",
    "latent_columns",
    "latent_table",
    "write_latent_table",
]

#: events read and embedded per block (the memory scales with it)
CHUNK_SIZE: Final = 50_000
#: jets per forward pass of the encoder (part of the result, in the last bits)
BATCH_SIZE: Final = 1024


def _check_sizes(chunk_size: Any, batch_size: Any, where: str = "") -> None:
    for name, v in (("chunk_size", chunk_size), ("batch_size", batch_size)):
        if isinstance(v, bool) or not isinstance(v, int | np.integer) or v < 1:
            raise ConfigError(f"{where}{name}: must be a positive integer, got {v!r}")


@dataclass
class EmbedConfig:
    """The latent columns of a run: which encoder embeds the jets, and in what blocks.

    Attributes
    ----------
    encoder : ``encoder.pt`` of ``adsearch pretrain`` (or its directory); ``None``: no
        encoder (latent features cannot be made).
    chunk_size : events read and embedded per block; memory scales with it, the columns
        do not depend on it.
    batch_size : jets per forward pass of the encoder.
    """

    encoder: str | None = None
    chunk_size: int = CHUNK_SIZE
    batch_size: int = BATCH_SIZE

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> None:
        """Raise :class:`~adsearch.errors.ConfigError` naming the bad field."""
        if self.encoder is not None and not str(self.encoder):
            raise ConfigError("embed:encoder: empty path (null: no encoder)")
        _check_sizes(self.chunk_size, self.batch_size, "embed:")


def latent_column_names(dim: int) -> list[str]:
    """The column names of a ``dim``-dimensional embedding: jet 1's, then jet 2's."""
    return [f"latent{j}_{k}" for j in (1, 2) for k in range(dim)]


def _place(out: np.ndarray, event: Any, slot: Any, emb: np.ndarray) -> None:
    """Put the jet embeddings ``emb [n, D]`` into ``out [2, D, n_events]`` at their slot
    and event row (jets beyond the second of an event are left out)."""
    slot = np.asarray(slot, dtype=np.int64)
    keep = slot < 2
    out[slot[keep], :, np.asarray(event)[keep]] = emb[keep]


def _columns(out: np.ndarray) -> dict[str, np.ndarray]:
    dim = out.shape[1]
    return dict(zip(latent_column_names(dim), out.reshape(2 * dim, -1), strict=True))


def _width(encoder: Any) -> int:
    """The embedding size of an encoder (its ``out_dim``)."""
    return int(getattr(encoder, "out_dim", getattr(encoder, "width", 0)))


def latent_columns(
    encoder: Any,
    sample: Any,
    n_events: int,
    *,
    max_constituents: int,
    batch_size: int = BATCH_SIZE,
) -> dict[str, np.ndarray]:
    """``{"latent1_0": [n_events], …}``: the embedding of each event's two jets.

    Parameters
    ----------
    encoder : a trained encoder (:func:`adsearch.models.pretrained.read_encoder`).
    sample : the jets (:class:`adsearch.train.data.JetSample`; ``event`` rows, ``slot`` 0/1).
    n_events : rows of the event table.
    max_constituents : the hardest constituents per jet, as in pretraining.
    batch_size : jets per forward pass.

    Events without a second jet get NaN in its columns (the weak methods refuse NaN features
    with one error line naming the feature).
    """
    from adsearch.pretrain.probe import embed

    emb = embed(encoder, sample, max_constituents=max_constituents, batch_size=batch_size)
    dim = emb.shape[1] if emb.ndim == 2 and emb.size else _width(encoder)
    out = np.full((2, dim, n_events), np.nan)
    if len(sample):
        _place(out, sample.event, sample.slot, emb)
    return _columns(out)


def _check_constituents(sample: Any, first_row: int, what: str) -> None:
    import awkward as ak

    counts = ak.to_numpy(ak.num(sample.constituents, axis=1))
    empty = np.flatnonzero(counts == 0)
    if empty.size:
        row = first_row + int(np.asarray(sample.event)[empty[0]])
        raise InputError(
            f"{what}: event row {row} has a jet without constituents: nothing to embed (a "
            "table without constituents, e.g. an LHCO features .h5, cannot be embedded)"
        )


def _stream(
    encoder: Any,
    blocks: Iterable[tuple[Any, Any]],
    *,
    max_constituents: int,
    batch_size: int,
    what: str,
) -> Iterator[dict[str, np.ndarray]]:
    """Latent tables of the ``(JetSample, Features)`` blocks, in order, the jets embedded
    in batches counted from the first jet (see the module docstring).

    Events wait (``held``) until all their jets are embedded: a yielded table holds the
    events of the blocks read so far but those whose jets are still in an incomplete batch
    (``carry``, fewer than ``batch_size`` jets). The last table holds the rest; at least one
    table is yielded.
    """
    from adsearch.pretrain.probe import embed
    from adsearch.train.data import JetSample

    dim = _width(encoder)
    held: dict[str, np.ndarray] | None = None  # flat columns of the events not yet yielded
    lat = np.empty((2, dim, 0))  # their latent columns (NaN where not yet embedded)
    carry: Any = None  # jets not yet embedded; ``event`` counts from the first held event
    n_read = 0
    yielded = False

    def take(n: int) -> dict[str, np.ndarray]:
        nonlocal held, lat
        assert held is not None
        out = {k: v[:n] for k, v in held.items()}
        out.update(_columns(np.ascontiguousarray(lat[:, :, :n])))
        held = {k: v[n:] for k, v in held.items()}
        lat = lat[:, :, n:]
        return out

    def run(jets: Any, n: int) -> None:
        if n:
            emb = embed(encoder, jets, np.arange(n), max_constituents=max_constituents,
                        batch_size=batch_size)  # fmt: skip
            _place(lat, jets.event[:n], jets.slot[:n], emb)

    for sample, feats in blocks:
        flat = {k: np.asarray(v) for k, v in feats.table.items() if np.ndim(v) == 1}
        if "mjj" not in flat:
            raise InputError(f"{what}: no 'mjj' column (not an adsearch features file)")
        clash = sorted(set(flat) & set(latent_column_names(dim)))
        if clash:
            raise InputError(f"{what}: already has latent column {clash[0]!r}")
        n_new = len(flat["mjj"])
        _check_constituents(sample, n_read, what)
        n_read += n_new
        # the block's event rows count from the first held event, as the carried jets' do
        new = dataclasses.replace(sample, event=np.asarray(sample.event) + lat.shape[2])
        jets = new if carry is None else JetSample.concatenate([carry, new])
        held = flat if held is None else {k: np.concatenate([held[k], flat[k]]) for k in held}
        lat = np.concatenate([lat, np.full((2, dim, n_new), np.nan)], axis=2)
        n_full = len(jets) // batch_size * batch_size
        run(jets, n_full)
        carry = jets.take(np.arange(n_full, len(jets)))
        n_done = int(carry.event.min()) if len(carry) else lat.shape[2]
        if n_done:
            carry = dataclasses.replace(carry, event=carry.event - n_done)
            yielded = True
            yield take(n_done)
    if carry is not None:
        run(carry, len(carry))
    if held is not None and (lat.shape[2] or not yielded):
        yield take(lat.shape[2])


def _open(
    encoder_path: str | Path, features: str | Path, chunk_size: int, batch_size: int
) -> tuple[Iterator[dict[str, np.ndarray]], int]:
    """The latent blocks of ``features`` (lazy) and its number of events; the sizes, the
    encoder and the file's header are checked now."""
    from adsearch.jets.featurefile import read_features_metadata
    from adsearch.models.pretrained import read_encoder
    from adsearch.train.data import iter_jets

    _check_sizes(chunk_size, batch_size)
    encoder, blob = read_encoder(encoder_path)
    header = read_features_metadata(features)
    total = int(header["n_input"]) - int(header["n_fewer_than_two_jets"])
    cap = int(blob["config"]["data"]["max_constituents"])
    blocks = _stream(
        encoder, iter_jets(features, int(chunk_size)), max_constituents=cap,
        batch_size=int(batch_size), what=str(features),
    )  # fmt: skip
    return blocks, total


def iter_latent_blocks(
    encoder_path: str | Path,
    features: str | Path,
    *,
    chunk_size: int = CHUNK_SIZE,
    batch_size: int = BATCH_SIZE,
) -> Iterator[dict[str, np.ndarray]]:
    """The latent table of :func:`latent_table`, yielded in blocks of about ``chunk_size``
    events (in file order; a block may be up to ``batch_size / 2`` events longer or
    shorter, as the encoder's batches end), reading ``chunk_size`` events at a time.

    The encoder and the file's header are read when the iteration starts.

    Raises
    ------
    ConfigError
        ``chunk_size`` or ``batch_size`` < 1.
    InputError
        A missing or malformed encoder or features file, a table without ``mjj``, a jet
        without constituents, a features column named like a latent one.
    """
    yield from _open(encoder_path, features, chunk_size, batch_size)[0]


def _tracked(
    blocks: Iterator[dict[str, np.ndarray]], total: int, progress: bool | None
) -> Iterator[dict[str, np.ndarray]]:
    """``blocks`` with a progress bar over ``total`` events."""
    from adsearch.progress import progress_bar

    with progress_bar(progress) as bar:
        task = bar.add_task("embed", total=total)
        for table in blocks:
            yield table
            bar.advance(task, len(table["mjj"]))


def latent_table(
    encoder_path: str | Path,
    features: str | Path,
    *,
    chunk_size: int = CHUNK_SIZE,
    batch_size: int = BATCH_SIZE,
    progress: bool | None = False,
) -> dict[str, np.ndarray]:
    """The flat event columns of the features file ``features`` (no constituents) plus the
    latent columns of the encoder ``encoder_path`` (``encoder.pt`` or its directory),
    embedding the jets as the encoder was pretrained (its ``data.max_constituents``).

    The file is read in blocks of ``chunk_size`` events (:func:`iter_latent_blocks`); the
    result is the same for every ``chunk_size``. The returned columns are whole in memory:
    to write a large file, use :func:`write_latent_table`, which holds one block at a time.
    ``progress``: a progress bar on stderr (``None``: when stderr is a terminal).
    """
    blocks, total = _open(encoder_path, features, chunk_size, batch_size)
    parts = list(_tracked(blocks, total, progress))
    return {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}


def write_latent_table(
    encoder_path: str | Path,
    features: str | Path,
    out: str | Path,
    *,
    chunk_size: int = CHUNK_SIZE,
    batch_size: int = BATCH_SIZE,
    progress: bool | None = None,
) -> tuple[Path, int, int]:
    """Write :func:`latent_table` to the Parquet file ``out``, one block at a time (one
    row group per block), atomically: an error or an interruption leaves neither ``out``
    nor a temporary file. Returns the path, the number of events and the embedding size.

    Memory scales with ``chunk_size`` (on top of the encoder's work on one batch of
    ``batch_size`` jets), not with the file. ``progress``: a progress bar on stderr
    (``None``: when stderr is a terminal).
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    from adsearch.io.atomic import atomic_path

    blocks, total = _open(encoder_path, features, chunk_size, batch_size)
    n = dim = 0
    with atomic_path(out) as tmp:
        writer: pq.ParquetWriter | None = None
        try:
            for table in _tracked(blocks, total, progress):
                t = pa.table(table)
                if writer is None:
                    writer = pq.ParquetWriter(tmp, t.schema)
                    dim = sum(1 for k in table if k.startswith("latent1_"))
                writer.write_table(t)
                n += t.num_rows
        finally:
            if writer is not None:
                writer.close()
    return Path(out), n, dim
