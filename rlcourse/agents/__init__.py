"""The course's agents.

``dqn``: DQN and Double DQN. ``a2c``: the recurrent advantage actor-critic.
"""
