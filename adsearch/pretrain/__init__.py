"""Self-supervised pretraining of jet encoders (issue 15): contrastive or masked-particle.

Physical augmentations of padded jets (:mod:`~adsearch.pretrain.augment`), the NT-Xent loss
(:mod:`~adsearch.pretrain.losses`), alignment and uniformity
(:mod:`~adsearch.pretrain.quality`), the configuration (:mod:`~adsearch.pretrain.config`),
the encoder file (:mod:`~adsearch.pretrain.encoder`) and the loop
(:mod:`~adsearch.pretrain.trainer`), after JetCLR (Dillon, Kasieczka, Olischlager, Plehn,
Thaler, Zhao, "Symmetries, safety, and self-supervision", SciPost Phys. 12, 188 (2022));
masked-particle modelling (:mod:`~adsearch.pretrain.mpm`, after Golling et al. 2024); the
embeddings and linear probe of a trained encoder (:mod:`~adsearch.pretrain.probe`).
"""

from adsearch.pretrain.augment import (
    add_prong,
    collinear_split,
    pad_slots,
    random_view,
    rotate,
    smear_pt,
    smear_soft,
    translate,
)
from adsearch.pretrain.config import PretrainConfig, load_pretrain_config
from adsearch.pretrain.encoder import ContrastiveModel, load_encoder
from adsearch.pretrain.losses import nt_xent
from adsearch.pretrain.mpm import MPMModel, mask_constituents, masked_mse
from adsearch.pretrain.probe import embed, embed_jets, linear_probe
from adsearch.pretrain.quality import alignment, uniformity
from adsearch.pretrain.trainer import PretrainResult, pretrain

__all__ = [
    "ContrastiveModel",
    "MPMModel",
    "PretrainConfig",
    "PretrainResult",
    "add_prong",
    "alignment",
    "collinear_split",
    "embed",
    "embed_jets",
    "linear_probe",
    "load_encoder",
    "load_pretrain_config",
    "mask_constituents",
    "masked_mse",
    "nt_xent",
    "pad_slots",
    "pretrain",
    "random_view",
    "rotate",
    "smear_pt",
    "smear_soft",
    "translate",
    "uniformity",
]
