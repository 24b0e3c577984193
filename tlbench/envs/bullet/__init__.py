"""tlbench's PyBullet environments: the walkers and the swing-up pendula of Sasso et al.

Gymnasium-native envs on raw ``pybullet`` (no ``gym`` or ``pybullet_envs`` import), with the
world, rewards, termination and observations of PyBullet's own locomotion and pendulum envs.
:mod:`~tlbench.envs.bullet.base` holds what they share (physics client, strict actions, action
repeat, camera, pickling), :mod:`~tlbench.envs.bullet.locomotion` the four walkers and
:mod:`~tlbench.envs.bullet.pendulum` the two cart-poles.
"""

import contextlib
import ctypes
import os
import sys


def _import_pybullet_quietly() -> None:
    """Import ``pybullet`` without the "pybullet build time: ..." line its C code prints.

    The line would otherwise show up under the output of ``tlbench list`` and ``show`` (and of
    every script importing tlbench's bullet envs). pybullet's C code writes it to file
    descriptor 2 (stderr), so that descriptor points at /dev/null during the import only, and
    C's stdio buffers are flushed before it is restored.
    """
    if "pybullet" in sys.modules:
        return
    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (AttributeError, OSError, ValueError):  # no real stderr: nothing to keep clean
        import pybullet

        return
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        import pybullet  # noqa: F401
    finally:
        with contextlib.suppress(OSError, AttributeError):
            ctypes.CDLL(None).fflush(None)
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


_import_pybullet_quietly()
