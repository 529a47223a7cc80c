"""A dynamic tape: PyTorch-style autograd on NumPy, recorded at every call (see tensor.py, engine.py)."""
