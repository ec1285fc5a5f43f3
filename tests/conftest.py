import torch

# Tiny networks gain nothing from intra-op threads, and with pytest-xdist workers on 2 cores
# the threads only fight each other (OpenMP spin-waits): one thread per test process.
torch.set_num_threads(1)
