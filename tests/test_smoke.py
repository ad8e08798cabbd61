import numpy as np

import fastconv


def test_public_api_is_complete():
    for name in fastconv.__all__:
        assert callable(getattr(fastconv, name)), name


def test_conv2d_runs_and_keeps_dtype():
    for dtype in (np.float32, np.float64):
        y = fastconv.conv2d(np.ones((1, 2, 5, 5), dtype), np.ones((3, 2, 3, 3), dtype))
        assert y.dtype == dtype and y.shape == (1, 3, 3, 3)
        assert np.all(y == 18)
