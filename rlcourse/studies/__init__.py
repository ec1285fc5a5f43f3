"""The lessons' studies: small experiments that write the figures and tables a lesson reads.

* :mod:`.overestimation`: DQN vs Double DQN on a tiny MDP (lesson 06);
* :mod:`.ablation`: 100k-step runs that change one idea each, read back and drawn (lessons
  06 and 07).
"""
