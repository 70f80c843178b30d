"""Documents people share: converted to text, read in parts when too long, kept as a channel's knowledge."""
