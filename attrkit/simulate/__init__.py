"""Simulated data with known effects.

- :mod:`~attrkit.simulate.sample` — :func:`generate_sample`, the bundled video-streaming data
  set (interactions, items, recommendations log, truth).
- :mod:`~attrkit.simulate.calibration` — the event-level calibration study: A/A false
  positives, power, monitoring and coverage (``make calibrate``).
"""

from attrkit.simulate.sample import generate_sample

__all__ = ["generate_sample"]
