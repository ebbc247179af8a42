import polars as pl
import pytest

from attrkit import ConfigError
from attrkit.attribution.windows import window_start


def _starts(ts, **kw):
    return pl.DataFrame({"t": ts}).select(window_start("t", **kw))["t"].to_list()


def test_boundaries_open_the_next_window():
    assert _starts([0, 1, 899, 900, 901, 1799, 1800]) == [0, 0, 0, 900, 900, 900, 1800]


def test_before_the_epoch_floors_down():
    assert _starts([-1, -900, -901]) == [-900, -900, -1800]


def test_non_zero_origin_and_negative_offsets():
    # The service's own example report shows windows 24 s past the quarter hour.
    assert _starts([24, 923, 924, 23, -877], origin=24) == [24, 24, 924, -876, -1776]


def test_other_lengths():
    assert _starts([59, 60, 3599, 3600], length=60) == [0, 60, 3540, 3600]
    assert _starts([1_700_000_123], length=3600, origin=1_699_999_200) == [1_699_999_200 + 0]


@pytest.mark.parametrize("kw", [{"length": 0}, {"length": -900}, {"length": 1.5},
                                {"origin": 0.5}, {"length": True}])
def test_bad_windows_are_rejected(kw):
    with pytest.raises(ConfigError):
        window_start("t", **kw)
