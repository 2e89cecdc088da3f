"""Saliency networks: encoders, attention blocks, decoders, heads, priors and the model zoo (pure torch)."""
