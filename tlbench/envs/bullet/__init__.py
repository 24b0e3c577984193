"""tlbench's PyBullet environments: the walkers and the swing-up pendula of Sasso et al.

Gymnasium-native envs on raw ``pybullet`` (no ``gym`` or ``pybullet_envs`` import), with the
world, rewards, termination and observations of PyBullet's own locomotion and pendulum envs.
:mod:`~tlbench.envs.bullet.base` holds what they share (physics client, strict actions, action
repeat, camera, pickling), :mod:`~tlbench.envs.bullet.locomotion` the four walkers and
:mod:`~tlbench.envs.bullet.pendulum` the two cart-poles.
"""
