"""Fast, vectorised Delphes-like detector response (particle flow) for generated events.

The response turns truth-level Pythia particles into massless detector-level objects as in
the LHC Olympics 2020 files; its parameters live in a :class:`DetectorCard` (YAML), and the
built-in card ``"lhco"`` carries the numbers of Delphes 3.4.1's CMS card.

>>> from adsearch.detector import load_card, card_to_json
>>> card = load_card("lhco")
>>> card.name, card.eflow
('lhco', True)
"""

from adsearch.detector.card import (
    CaloResolution,
    Calorimeter,
    CaloSegment,
    DetectorCard,
    EfficiencyRegion,
    Solenoid,
    Tracking,
    TrackResolution,
    card_from_json,
    card_to_json,
    default_card,
    load_card,
    save_card,
)
from adsearch.detector.response import TRUTH_FIELDS, apply_detector
from adsearch.detector.truthfile import read_truth, simulate_file, truth_num_events, write_truth

__all__ = [
    "TRUTH_FIELDS",
    "CaloResolution",
    "CaloSegment",
    "Calorimeter",
    "DetectorCard",
    "EfficiencyRegion",
    "Solenoid",
    "TrackResolution",
    "Tracking",
    "apply_detector",
    "card_from_json",
    "card_to_json",
    "default_card",
    "load_card",
    "read_truth",
    "save_card",
    "simulate_file",
    "truth_num_events",
    "write_truth",
]
