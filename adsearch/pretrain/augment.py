"""Physical augmentations of padded jets: the views of contrastive pretraining.

Every function takes the dense view of a batch of jets, ``x [B, N, 3]`` with the columns of
the ``basic`` node features (:func:`adsearch.graphs.to_dense`): ``x[..., 0]`` the constituent
pT fraction ``z_i = pT_i / pT_jet``, ``x[..., 1]`` its ``Δη_i`` and ``x[..., 2]`` its wrapped
``Δφ_i`` relative to the jet axis, and ``mask [B, N]`` (``True`` for a real constituent). It
returns new ``(x, mask)`` (the inputs are not modified); padded slots stay exactly zero with
``mask`` False, except the slots that :func:`collinear_split` fills. Every random draw comes
from the ``torch.Generator`` passed in (no global random state), one draw per jet or per
slot for the whole batch at once (no loop over jets).

The transformations are those of JetCLR (Dillon, Kasieczka, Olischlager, Plehn, Thaler,
Zhao, "Symmetries, safety, and self-supervision", SciPost Phys. 12, 188 (2022)): symmetries
of the jet (rotation about its axis, translation in η–φ) and the infrared and collinear
(IRC) safe changes a detector or a parton shower could make (collinear splitting, soft
smearing), so that an encoder trained to map both views of a jet to one point learns an
IRC-safe, nearly rotation-invariant representation.

- :func:`rotate` — ``(Δη, Δφ) -> R(θ) (Δη, Δφ)``, ``θ ~ U[0, 2π)`` per jet. For a boosted
  jet of massless constituents, ``m² ≈ Σ_{i<j} pT_i pT_j ΔR_ij²``, invariant under the
  rotation (exactly in the small-angle limit); the pT fractions are unchanged.
- :func:`translate` — ``(Δη, Δφ) -> (Δη + δη, Δφ + δφ)``, ``δη, δφ ~ N(0, width²)`` per jet.
- :func:`collinear_split` — a random subset of constituents is split into two collinear
  ones, ``z -> (u z, (1 - u) z)``, ``u ~ U(0, 1)``, at the same ``(Δη, Δφ)``; the second goes
  into a free padded slot (use :func:`pad_slots` first). The total pT and every IRC-safe
  observable (pT-weighted sums over constituents: girth, jet mass, N-subjettiness) are
  unchanged.
- :func:`smear_soft` — ``Δη, Δφ -> + N(0, σ_i²)`` with ``σ_i = min(λ / z_i, σ_max)``: soft
  constituents move most, hard ones hardly at all (JetCLR: ``σ = Λ_soft / pT_i``,
  ``Λ_soft = 100 MeV``; here ``λ = Λ_soft / pT_jet``).
- :func:`smear_pt` — ``z_i -> z_i exp(w ε_i)``, ``ε_i ~ N(0, 1)``, then rescaled so every
  jet keeps its total ``Σ z_i``.
- :func:`random_view` — the composition used by the pretraining: rotation, translation,
  collinear splitting, soft smearing, pT smearing, each when switched on.
- :func:`add_prong` — *not* a symmetry: an **anomalous** view. The jet becomes a two-prong
  system: it keeps a share ``1 - f`` of its pT and a copy of its hardest constituents,
  carrying ``f``, is placed at an angle ``d`` from it (the pT-weighted axis stays at the
  origin). Used as extra negatives of the contrastive loss (AnomalyCLR: Dillon, Favaro,
  Feiden, Modak, Plehn, "Anomalies, representations, and self-supervision", SciPost Phys.
  Core 7, 056 (2024)), so that the representation separates a jet from its own
  multi-prong version instead of being blind to it.

Examples
--------
>>> import torch
>>> x = torch.tensor([[[0.6, 0.1, 0.0], [0.4, -0.1, 0.05], [0.0, 0.0, 0.0]]])
>>> mask = torch.tensor([[True, True, False]])
>>> g = torch.Generator().manual_seed(0)
>>> xs, ms = collinear_split(x, mask, g, fraction=1.0)
>>> ms.tolist(), round(float(xs[..., 0].sum()), 6)
([[True, True, True]], 1.0)
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

__all__ = [
    "add_prong",
    "collinear_split",
    "pad_slots",
    "random_view",
    "rotate",
    "smear_pt",
    "smear_soft",
    "translate",
]


def _check(x: Tensor, mask: Tensor) -> Tensor:
    if x.ndim != 3 or x.shape[-1] != 3 or mask.shape != x.shape[:2]:
        raise ValueError(
            f"augmentations need x [B, N, 3] (pT fraction, Δη, Δφ) and mask [B, N], got "
            f"{tuple(x.shape)} and {tuple(mask.shape)}"
        )
    return mask.to(torch.bool)


def _angles(x: Tensor, mask: Tensor, deta: Tensor, dphi: Tensor) -> Tensor:
    """``x`` with new angle columns on the real constituents (padding kept as it is)."""
    new = torch.stack([x[..., 0], deta, dphi], dim=-1)
    return torch.where(mask.unsqueeze(-1), new, x)


def pad_slots(x: Tensor, mask: Tensor, extra: int) -> tuple[Tensor, Tensor]:
    """Append ``extra`` padded slots: ``x [B, N + extra, F]`` (zeros), ``mask [B, N + extra]``.

    >>> import torch
    >>> x, m = pad_slots(torch.ones(2, 3, 3), torch.ones(2, 3, dtype=torch.bool), 2)
    >>> tuple(x.shape), m[0].tolist()
    ((2, 5, 3), [True, True, True, False, False])
    """
    if extra < 0:
        raise ValueError(f"extra must be >= 0, got {extra}")
    b, _, f = x.shape
    xz = torch.zeros((b, extra, f), dtype=x.dtype, device=x.device)
    mz = torch.zeros((b, extra), dtype=torch.bool, device=mask.device)
    return torch.cat([x, xz], dim=1), torch.cat([mask.to(torch.bool), mz], dim=1)


def rotate(x: Tensor, mask: Tensor, generator: torch.Generator) -> tuple[Tensor, Tensor]:
    """Rotate every jet about its axis by a random angle ``θ ~ U[0, 2π)``.

    ``Δη' = cos θ Δη - sin θ Δφ``, ``Δφ' = sin θ Δη + cos θ Δφ`` (one θ per jet, ``[B]``);
    pT fractions and padding unchanged. Returns ``(x [B, N, 3], mask [B, N])``.
    """
    mask = _check(x, mask)
    theta = 2.0 * math.pi * torch.rand(x.shape[0], generator=generator, dtype=x.dtype)
    c, s = torch.cos(theta)[:, None], torch.sin(theta)[:, None]
    deta, dphi = x[..., 1], x[..., 2]
    return _angles(x, mask, c * deta - s * dphi, s * deta + c * dphi), mask


def translate(
    x: Tensor, mask: Tensor, generator: torch.Generator, width: float
) -> tuple[Tensor, Tensor]:
    """Shift every jet in the η–φ plane: ``(Δη, Δφ) + (δη, δφ)``, ``δη, δφ ~ N(0, width²)``.

    One shift per jet (``[B, 2]``), applied to its real constituents; padding unchanged.
    """
    mask = _check(x, mask)
    shift = width * torch.randn((x.shape[0], 2), generator=generator, dtype=x.dtype)
    deta = x[..., 1] + shift[:, :1]
    dphi = x[..., 2] + shift[:, 1:]
    return _angles(x, mask, deta, dphi), mask


def _kth_slots(chosen: Tensor) -> Tensor:
    """``[B, N]`` table: entry ``[b, k]`` is the slot of the k-th True of row ``b`` (or -1)."""
    b, n = chosen.shape
    rank = torch.cumsum(chosen.to(torch.int64), dim=1) - 1
    table = torch.full((b, n), -1, dtype=torch.int64, device=chosen.device)
    rows, slots = chosen.nonzero(as_tuple=True)
    table[rows, rank[rows, slots]] = slots
    return table


def collinear_split(
    x: Tensor, mask: Tensor, generator: torch.Generator, fraction: float
) -> tuple[Tensor, Tensor]:
    """Split a random ``fraction`` of the constituents into two exactly collinear ones.

    Each real constituent is chosen with probability ``fraction``; a chosen constituent
    ``(z, Δη, Δφ)`` becomes ``(u z, Δη, Δφ)`` in its slot and ``((1 - u) z, Δη, Δφ)`` in a
    free padded slot of the same jet, ``u ~ U(0, 1)``. Jets with fewer free slots than
    chosen constituents split only their first chosen ones (in slot order): pad with
    :func:`pad_slots` to make room. ``Σ_i z_i`` and every IRC-safe observable of the jet
    are unchanged. Returns ``(x [B, N, 3], mask [B, N])`` with the new constituents real.
    """
    mask = _check(x, mask)
    if not 0.0 <= fraction <= 1.0:
        raise ValueError(f"fraction must be in [0, 1], got {fraction}")
    draw = torch.rand(mask.shape, generator=generator, dtype=x.dtype)
    u = torch.rand(mask.shape, generator=generator, dtype=x.dtype)
    src_of = _kth_slots(mask & (draw < fraction))
    dst_of = _kth_slots(~mask)
    rows, k = ((src_of >= 0) & (dst_of >= 0)).nonzero(as_tuple=True)
    src, dst = src_of[rows, k], dst_of[rows, k]
    out, new_mask = x.clone(), mask.clone()
    z, share = x[rows, src, 0], u[rows, src]
    out[rows, dst] = x[rows, src]
    out[rows, dst, 0] = (1.0 - share) * z
    out[rows, src, 0] = share * z
    new_mask[rows, dst] = True
    return out, new_mask


def smear_soft(
    x: Tensor, mask: Tensor, generator: torch.Generator, scale: float, max_width: float = 0.1
) -> tuple[Tensor, Tensor]:
    """Smear the angles of soft constituents: ``Δη, Δφ -> + σ_i ε``, ``σ_i = min(λ / z_i, σ_max)``.

    ``λ = scale`` is ``Λ_soft / pT_jet`` (JetCLR: ``Λ_soft = 100 MeV``; ``1e-4`` for a TeV
    jet), ``σ_max = max_width`` caps the width of the softest constituents, ``ε ~ N(0, 1)``
    per constituent and angle. Padding unchanged.
    """
    mask = _check(x, mask)
    z = x[..., 0].clamp(min=1e-12)
    sigma = (scale / z).clamp(max=max_width)
    eps = torch.randn((*mask.shape, 2), generator=generator, dtype=x.dtype)
    deta = x[..., 1] + sigma * eps[..., 0]
    dphi = x[..., 2] + sigma * eps[..., 1]
    return _angles(x, mask, deta, dphi), mask


def smear_pt(
    x: Tensor, mask: Tensor, generator: torch.Generator, width: float
) -> tuple[Tensor, Tensor]:
    """Smear the pT fractions: ``z_i -> z_i exp(width ε_i) Σ_j z_j / Σ_j z_j exp(width ε_j)``.

    ``ε_i ~ N(0, 1)`` per constituent; the rescaling keeps every jet's ``Σ z_i``, so ``z`` stays
    a fraction of the jet pT. Angles and padding unchanged.
    """
    mask = _check(x, mask)
    z = x[..., 0]
    eps = torch.randn(mask.shape, generator=generator, dtype=x.dtype)
    zs = torch.where(mask, z * torch.exp(width * eps), torch.zeros_like(z))
    total, new_total = z.mul(mask).sum(1, keepdim=True), zs.sum(1, keepdim=True)
    zs = zs * (total / new_total.clamp(min=1e-30))
    out = torch.cat([zs.unsqueeze(-1), x[..., 1:]], dim=-1)
    return torch.where(mask.unsqueeze(-1), out, x), mask


def random_view(
    x: Tensor,
    mask: Tensor,
    generator: torch.Generator,
    *,
    rotation: bool = True,
    translation: float = 0.0,
    collinear: float = 0.0,
    soft: float = 0.0,
    pt_smear: float = 0.0,
) -> tuple[Tensor, Tensor]:
    """One random view of every jet: the augmentations in a fixed order, each when on.

    ``rotation`` (:func:`rotate`); ``translation`` > 0: its width (:func:`translate`);
    ``collinear`` > 0: the split fraction (:func:`collinear_split`, after
    ``ceil(collinear * N)`` extra padded slots, so ``N`` grows); ``soft`` > 0: ``λ`` of
    :func:`smear_soft`; ``pt_smear`` > 0: the width of :func:`smear_pt`. Draws come from
    ``generator`` in this order, so a view is a function of the inputs and the generator
    state. Returns ``(x [B, N', 3], mask [B, N'])``.
    """
    mask = _check(x, mask)
    if rotation:
        x, mask = rotate(x, mask, generator)
    if translation > 0:
        x, mask = translate(x, mask, generator, translation)
    if collinear > 0:
        x, mask = pad_slots(x, mask, math.ceil(collinear * x.shape[1]))
        x, mask = collinear_split(x, mask, generator, collinear)
    if soft > 0:
        x, mask = smear_soft(x, mask, generator, soft)
    if pt_smear > 0:
        x, mask = smear_pt(x, mask, generator, pt_smear)
    return x, mask


def add_prong(
    x: Tensor,
    mask: Tensor,
    generator: torch.Generator,
    *,
    constituents: int = 16,
    share: tuple[float, float] = (0.2, 0.5),
    separation: tuple[float, float] = (0.2, 0.8),
) -> tuple[Tensor, Tensor]:
    """An anomalous view: every jet gains a second, QCD-like prong.

    Per jet, ``f ~ U(share)``, ``d ~ U(separation)`` and a direction ``n`` (uniform angle)
    are drawn. The real constituents keep their angles shifted by ``-f d n`` and their pT
    fractions scaled by ``1 - f``; a copy of the ``constituents`` hardest ones (by pT
    fraction), shifted by ``+(1 - f) d n`` and rescaled to carry ``f`` of the jet, fills
    ``constituents`` new slots. The pT sum ``Σ z_i`` and the pT-weighted axis are kept;
    the jet mass grows by about ``m²/pT² += f (1 - f) d²`` (two prongs at ``ΔR = d``), the
    signature of a boosted heavy-particle decay. Returns ``(x [B, N + constituents, 3],
    mask [B, N + constituents])``.

    >>> import torch
    >>> x = torch.tensor([[[0.7, 0.0, 0.0], [0.3, 0.1, 0.0]]])
    >>> xa, ma = add_prong(x, torch.ones(1, 2, dtype=torch.bool), torch.Generator(), constituents=2)
    >>> tuple(xa.shape), round(float(xa[0, :, 0].sum()), 6)
    ((1, 4, 3), 1.0)
    """
    mask = _check(x, mask)
    if constituents < 1:
        raise ValueError(f"constituents must be >= 1, got {constituents}")
    for name, (lo, hi) in (("share", share), ("separation", separation)):
        if not 0.0 <= lo <= hi:
            raise ValueError(f"{name} must be a range 0 <= low <= high, got {(lo, hi)}")
    b = x.shape[0]
    f = share[0] + (share[1] - share[0]) * torch.rand(b, generator=generator, dtype=x.dtype)
    d = separation[0] + (separation[1] - separation[0]) * torch.rand(
        b, generator=generator, dtype=x.dtype
    )
    phi = 2.0 * math.pi * torch.rand(b, generator=generator, dtype=x.dtype)
    step = torch.stack([torch.cos(phi), torch.sin(phi)], dim=-1) * d[:, None]  # [B, 2]
    z = torch.where(mask, x[..., 0], torch.zeros_like(x[..., 0]))
    total = z.sum(1)
    k = min(constituents, x.shape[1])
    top = torch.topk(z, k, dim=1).indices  # [B, k], hardest first
    copy = torch.gather(x, 1, top[..., None].expand(-1, -1, 3)).clone()
    cmask = torch.gather(mask, 1, top)
    cz = torch.where(cmask, copy[..., 0], torch.zeros_like(copy[..., 0]))
    scale = f * total / cz.sum(1).clamp(min=1e-30)
    # the copy's own pT-weighted axis goes to (jet axis) + (1 - f) d n, the rest moves by
    # -f d n: the jet's pT-weighted axis stays where it was
    axis = (cz[..., None] * copy[..., 1:]).sum(1) / cz.sum(1).clamp(min=1e-30)[:, None]
    jet_axis = (z[..., None] * x[..., 1:]).sum(1) / total.clamp(min=1e-30)[:, None]
    shift = jet_axis - axis + (1.0 - f)[:, None] * step
    copy[..., 0] = cz * scale[:, None]
    copy[..., 1:] = copy[..., 1:] + shift[:, None, :]
    copy = torch.where(cmask[..., None], copy, torch.zeros_like(copy))
    old = x.clone()
    old[..., 0] = x[..., 0] * (1.0 - f)[:, None]
    old[..., 1:] = x[..., 1:] - (f[:, None] * step)[:, None, :]
    old = torch.where(mask[..., None], old, x)
    if k < constituents:
        copy, cmask = pad_slots(copy, cmask, constituents - k)
    return torch.cat([old, copy], dim=1), torch.cat([mask, cmask], dim=1)
