"""The public dataset catalogue: ``saliency datasets list | info NAME | fetch NAME [--to DIR]``.

:mod:`~saliency.catalogue.entries` (facts from ``data/catalogue.toml``), :mod:`~saliency.catalogue.download`
(resumable, verified HTTP downloads), :mod:`~saliency.catalogue.extract` (archives that cannot escape their
folder), :mod:`~saliency.catalogue.fetch` (all three, into ``$SALIENCY_DATA`` or the user cache dir).
Layer: above readers (it names their formats), below pipeline and cli; no torch.
"""

from saliency.catalogue.entries import CatalogueEntry, RemoteFile, get_entry, load_catalogue
from saliency.catalogue.fetch import FetchResult, cache_root, fetch

__all__ = ["CatalogueEntry", "FetchResult", "RemoteFile", "cache_root", "fetch", "get_entry", "load_catalogue"]
