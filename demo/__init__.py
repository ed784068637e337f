"""scisft.demo: the main job on a fresh machine -- every capability on real data, with a report (``scisft demo``)."""
