"""Identity resolution helpers on the Python side: evaluation against the simulator's truth."""
