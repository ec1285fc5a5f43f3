"""The course's agents.

``tabular``: value iteration, Q-learning and SARSA on tables (lesson 01). ``dqn``: DQN and
Double DQN (lessons 04-06). ``reinforce``: the REINFORCE policy gradient (lesson 08).
``a2c``: the recurrent advantage actor-critic (lesson 09). ``ppo``: PPO with GAE
(lesson 10). ``base``: the checkpoints and actor-critic plumbing those three share.
"""
