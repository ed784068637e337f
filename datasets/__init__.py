"""scisft.datasets: the data catalogue (cards, manifests with checksums, fetching) and the project's own data.

Published sets are described and fetched, never committed (see ``catalogue``); data the project makes itself,
such as GFN2-xTB-labelled molecules (``chno_xtb``), is committed with its card and its recipe.
"""

from scisft.lazy import exports

__getattr__ = exports(
    globals(),
    {
        "scisft.datasets.catalogue": ["DataSet", "cache_dir", "catalogue", "fetch", "get", "path", "verify"],
    },
)
