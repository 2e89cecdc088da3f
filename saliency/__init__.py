"""saliency: eye-tracking recordings → saliency ground truth → attention networks → reference-exact metrics.

Stages (one sub-package each, data flows one way):
readers → fixations (FixationTable) → maps → shards → datasets → models → training → metrics → reports.
"""

__version__ = "0.1.0"
