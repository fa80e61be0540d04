"""GSSD (Algorithm 1): SimCLR features, per-class flows, target detection, split, relabel, retrain."""
