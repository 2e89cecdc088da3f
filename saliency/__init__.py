"""saliency: eye-tracking recordings → saliency ground truth → attention networks → reference-exact metrics.

Layers (each imports only those before it; docs/architecture.md, checked by ``lint-imports``):
core → fixations → readers → ingest → maps → shards → metrics → baselines → datasets → models → training →
evaluation → reports → pipeline → cli.
"""

__version__ = "0.1.0"
