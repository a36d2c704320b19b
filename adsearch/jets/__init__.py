"""Jets: anti-kT clustering, leading jets, jet substructure and event features."""

from adsearch.jets.cluster import Clustered, cluster, to_momentum4d

__all__ = ["Clustered", "cluster", "to_momentum4d"]
