"""SciPy's special functions (optional: no entries without SciPy)."""
from __future__ import annotations

import math

import numpy as np

from . import Fn, helper, optional

special = optional("scipy.special")

ENTRIES = []
