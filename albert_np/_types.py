"""The type aliases of albert_np's public annotations (the package ships py.typed).

Arrays are `Any` on purpose: a model's arrays belong to its backend (numpy.ndarray, cupy.ndarray or another
Array-API namespace's array), and its inputs may be any of those or nested lists of numbers.
"""

from __future__ import annotations

import os
from typing import Any, Union

Array = Any        # an array of the model's backend
ArrayLike = Any    # an input: an array of any backend, or nested lists of numbers
PathLike = Union[str, "os.PathLike[str]"]
