"""The ``adsearch`` command line: one verb per pipeline step.

One module per verb group, each only parsing options, calling the library and printing:

=====================  ===============================================  ====================
module                 verbs                                            library
=====================  ===============================================  ====================
:mod:`.data`           ``info``, ``features``                           io, jets
:mod:`.generate`       ``generate``, ``mix``, ``simulate``              generate, detector
:mod:`.train`          ``train``, ``score``, ``export``                 train, score
:mod:`.weak`           ``weak``                                         weak
:mod:`.stats`          ``fit``, ``bumphunt``, ``limits``                stats, plot
:mod:`.run`            ``run``                                          pipeline
=====================  ===============================================  ====================

Options used by several verbs are defined once in :mod:`.options`; the application, its
error handling and the entry points are in :mod:`.app`. Heavy libraries (torch, fastjet,
pythia) are imported inside the verbs, so ``--help`` is fast. User errors
(:class:`adsearch.errors.AdsearchError`) print one line and exit with status 1.

The command reference can be generated from :data:`app`, e.g.
``typer adsearch.cli utils docs --name adsearch``.
"""

from __future__ import annotations

from adsearch.cli import data, generate, run, stats, train, weak
from adsearch.cli.app import app, cli_entry, main, register

# every verb, in the order of `adsearch --help` (the order of a search)
register(
    data.info,
    generate.generate,
    generate.mix,
    generate.simulate,
    data.features,
    train.train,
    train.pretrain,
    train.embed,
    train.score,
    train.export,
    weak.weak,
    stats.fit,
    stats.bumphunt,
    stats.limits,
    run.run,
)

__all__ = ["app", "cli_entry", "main"]
