"""Simulated provider traffic for `dlrecon simulate` and `dlrecon demo`."""
