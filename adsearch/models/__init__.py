"""Models: graph and transformer backbones, anomaly objectives, and the model registry.

``build_model(ModelConfig(...))`` returns an :class:`AnomalyModel` (backbone + objective)
whose call gives the per-jet anomaly score. Graph backbones (GIN, EGAT, GATv2) live in
:mod:`adsearch.models.backbones` (built by name in :mod:`adsearch.models.gnn`, with their
layers, kernel, edge weights and readout in sibling modules); transformers in
:mod:`adsearch.models.transformer`; ParticleNet (EdgeConv blocks on padded jets) in
:mod:`adsearch.models.particlenet`; the jet-image CNN in :mod:`adsearch.models.cnn` (images
from :mod:`adsearch.images`) with its autoencoder in :mod:`adsearch.models.imageae`; losses
in :mod:`adsearch.models.objectives`.
"""

from adsearch.models.cnn import CNNBackbone
from adsearch.models.imageae import ImageAutoencoder
from adsearch.models.objectives import (
    Autoencoder,
    AutoencodingSVDD,
    DeepSVDD,
    Objective,
    Supervised,
)
from adsearch.models.particlenet import ParticleNetBackbone
from adsearch.models.registry import AnomalyModel, ModelConfig, build_model
from adsearch.models.transformer import (
    ParticleTransformerBackbone,
    SetDecoder,
    TransformerBackbone,
    pair_features,
)

__all__ = [
    "AnomalyModel",
    "Autoencoder",
    "AutoencodingSVDD",
    "CNNBackbone",
    "DeepSVDD",
    "ImageAutoencoder",
    "ModelConfig",
    "Objective",
    "ParticleNetBackbone",
    "ParticleTransformerBackbone",
    "SetDecoder",
    "Supervised",
    "TransformerBackbone",
    "build_model",
    "pair_features",
]
