"""Training objectives and anomaly scores on top of a backbone embedding ``z [B, D]``.

* :class:`DeepSVDD` — one-class Deep SVDD (Ruff et al., ICML 2018): minimise
  ``mean ||z - c||²``; score ``||z - c||²``. The centre ``c`` is fixed once from the mean of
  the initial embeddings, with coordinates closer to 0 than ``eps`` pushed to ``±eps`` (a
  centre at 0 is reachable by a network that outputs zeros). The backbone must have no
  biases and unbounded activations, and the optimiser should use weight decay — the model
  registry enforces the first, the trainer the last.
* :class:`DeepSVDD` with ``soft=True`` — soft-boundary variant: minimise
  ``R² + (1/ν) mean max(0, ||z - c||² - R²)``; ``R`` is set after each epoch (after warm-up)
  to the (1-ν) quantile of the training distances; score ``||z - c||² - R²``.
* :class:`Autoencoder` — a :class:`~adsearch.models.transformer.SetDecoder` reconstructs the
  constituents from ``z``; loss and score are the per-jet mean squared error over real
  constituents.
* :class:`Supervised` — linear classifier head, binary cross-entropy on the jet label (the
  event label given to both jets); score = signal probability. The upper-bound baseline.

Every objective has ``loss(z, inputs, labels) -> (scalar, per-jet values)`` and
``score(z, inputs) -> [B]`` (larger = more anomalous).

Examples
--------
>>> import torch
>>> svdd = DeepSVDD(dim=2, eps=0.1)
>>> svdd.set_center(torch.tensor([[0.5, 0.01], [0.7, -0.03]]).mean(0))
>>> svdd.c.tolist()  # second coordinate guarded away from 0
[0.6000000238418579, -0.10000000149011612]
>>> svdd.score(torch.tensor([[0.6, -0.1]]), None).tolist()
[0.0]
"""

from __future__ import annotations

import abc

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from adsearch.models.transformer import SetDecoder

__all__ = ["Autoencoder", "DeepSVDD", "Objective", "Supervised"]


class Objective(nn.Module, abc.ABC):
    """Base class: turns backbone embeddings into a training loss and an anomaly score."""

    name = "objective"
    needs_labels = False
    needs_dense = False

    @abc.abstractmethod
    def loss(self, z: Tensor, inputs, labels: Tensor | None) -> tuple[Tensor, Tensor]:
        """Scalar loss and the detached per-jet values behind it."""

    @abc.abstractmethod
    def score(self, z: Tensor, inputs) -> Tensor:
        """Per-jet anomaly score ``[B]``; larger means more anomalous."""


class DeepSVDD(Objective):
    """Deep SVDD hypersphere objective (one-class, or soft-boundary with ``soft=True``).

    Parameters
    ----------
    dim : embedding size.
    soft : soft-boundary variant with radius ``R`` and outlier fraction ``nu``.
    nu : ν in (0, 1] — expected fraction of training jets outside the sphere (soft only).
    eps : centre guard; ``|c_i| < eps`` is replaced by ``±eps`` (sign of ``c_i``, + for 0).
    """

    name = "deepsvdd"

    def __init__(self, dim: int, soft: bool = False, nu: float = 0.1, eps: float = 0.1) -> None:
        super().__init__()
        if not 0.0 < nu <= 1.0:
            raise ValueError(f"nu must be in (0, 1], got {nu}")
        self.soft = soft
        self.nu = nu
        self.eps = eps
        self.register_buffer("c", torch.zeros(dim))
        self.register_buffer("radius", torch.zeros(()))
        self.register_buffer("center_set", torch.zeros((), dtype=torch.bool))

    @torch.no_grad()
    def set_center(self, mean_embedding: Tensor) -> None:
        """Fix ``c`` from the mean initial embedding, applying the ``±eps`` guard."""
        c = mean_embedding.detach().to(self.c.dtype).clone()
        small = c.abs() < self.eps
        sign = torch.where(c < 0, -1.0, 1.0).to(c.dtype)
        c[small] = (self.eps * sign)[small]
        self.c.copy_(c)
        self.center_set.fill_(True)

    def distance(self, z: Tensor) -> Tensor:
        """Squared distance to the centre, ``[B]`` (computed in float32 at least)."""
        d = z.float() - self.c.float()
        return (d * d).sum(-1)

    def loss(self, z: Tensor, inputs, labels: Tensor | None) -> tuple[Tensor, Tensor]:
        dist = self.distance(z)
        if self.soft:
            r2 = self.radius.float() ** 2
            loss = r2 + torch.relu(dist - r2).mean() / self.nu
        else:
            loss = dist.mean()
        return loss, dist.detach()

    @torch.no_grad()
    def update_radius(self, distances: Tensor) -> None:
        """Soft boundary: ``R`` = (1-ν) quantile of ``sqrt(distances)`` of the training jets."""
        r = torch.quantile(distances.double().clamp(min=0).sqrt(), 1.0 - self.nu)
        self.radius.fill_(float(r))

    def score(self, z: Tensor, inputs) -> Tensor:
        dist = self.distance(z)
        return dist - self.radius.float() ** 2 if self.soft else dist


class Autoencoder(Objective):
    """Constituent-set autoencoder: decode ``z`` back to ``x`` and score by per-jet MSE."""

    name = "ae"
    needs_dense = True

    def __init__(
        self,
        latent_dim: int,
        width: int = 128,
        layers: int = 3,
        heads: int = 8,
        max_len: int = 128,
        out_dim: int = 3,
    ) -> None:
        super().__init__()
        self.decoder = SetDecoder(latent_dim, width, layers, heads, max_len, out_dim)

    def per_jet_mse(self, z: Tensor, inputs: tuple[Tensor, Tensor]) -> Tensor:
        """Mean squared reconstruction error over each jet's real constituents, ``[B]``."""
        x, mask = inputs
        mask = mask.to(torch.bool)
        rec = self.decoder(z, mask).float()
        m = mask.unsqueeze(-1).to(rec.dtype)
        se = ((rec - x.float()) ** 2 * m).sum((1, 2))
        return se / (m.sum((1, 2)) * x.shape[-1]).clamp(min=1.0)

    def loss(self, z: Tensor, inputs, labels: Tensor | None) -> tuple[Tensor, Tensor]:
        mse = self.per_jet_mse(z, inputs)
        return mse.mean(), mse.detach()

    def score(self, z: Tensor, inputs) -> Tensor:
        return self.per_jet_mse(z, inputs)


class Supervised(Objective):
    """Binary classifier head with (optionally class-weighted) cross-entropy."""

    name = "supervised"
    needs_labels = True

    def __init__(self, dim: int, pos_weight: float = 1.0) -> None:
        super().__init__()
        self.head = nn.Linear(dim, 1)
        self.register_buffer("pos_weight", torch.tensor(float(pos_weight)))

    def logits(self, z: Tensor) -> Tensor:
        return self.head(z).squeeze(-1).float()

    def loss(self, z: Tensor, inputs, labels: Tensor | None) -> tuple[Tensor, Tensor]:
        if labels is None:
            raise ValueError("the supervised objective needs labels")
        logit = self.logits(z)
        per = F.binary_cross_entropy_with_logits(
            logit, labels.float(), pos_weight=self.pos_weight, reduction="none"
        )
        return per.mean(), per.detach()

    def score(self, z: Tensor, inputs) -> Tensor:
        return torch.sigmoid(self.logits(z))
