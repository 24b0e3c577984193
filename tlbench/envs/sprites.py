"""The 6x6 sprites drawn in the pixel observations of the grid worlds.

Each sprite is a pattern of levels: 0 is background, 1 and 2 are the two grey values the paper's
environments use for a sprite (maze agent 0.7/0.8, labyrinth agent 0.8/0.9, key 0.6/0.7).
The shapes are tlbench's own; only the value ranges come from the original environments.
"""

from __future__ import annotations

import numpy as np

# A little figure: head (level 2) over a body (level 1).
AGENT_PATTERN = np.array(
    [
        [0, 0, 2, 2, 0, 0],
        [0, 0, 2, 2, 0, 0],
        [0, 1, 1, 1, 1, 0],
        [1, 0, 1, 1, 0, 1],
        [0, 0, 1, 1, 0, 0],
        [0, 1, 0, 0, 1, 0],
    ],
    dtype=np.int64,
)

# A key: a ring (level 1) and a bit with teeth (level 2).
KEY_PATTERN = np.array(
    [
        [0, 1, 1, 1, 0, 0],
        [0, 1, 0, 1, 0, 0],
        [0, 1, 1, 1, 0, 0],
        [0, 0, 2, 0, 0, 0],
        [0, 0, 2, 2, 0, 0],
        [0, 0, 2, 2, 0, 0],
    ],
    dtype=np.int64,
)


def sprite(
    pattern: np.ndarray, level1: float, level2: float, background: float = 0.0
) -> np.ndarray:
    """A float32 6x6 block: ``pattern`` with its levels replaced by the given values.

    >>> sprite(AGENT_PATTERN, 0.7, 0.8)[0, 2:4].tolist() == [np.float32(0.8)] * 2
    True
    """
    values = np.array([background, level1, level2], dtype=np.float32)
    return values[pattern]
