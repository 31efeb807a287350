"""Manba: cited answers over Persian, Arabic and English documents."""

import os

# One OpenBLAS thread (set before numpy loads): dense search is one memory-bound
# matrix-vector product per query, which OpenBLAS's threads made 1.7x slower on an idle
# 2-core machine and 40x slower beside other work (100k x 256 and 4.6k x 256, measured);
# concurrent users are served by concurrent threads instead. A value already set wins.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

__version__ = "0.1.0"
