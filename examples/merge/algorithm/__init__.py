"""Merge: tile masks placed back into one scene mask, its cloud fraction and a quicklook."""
