"""The surfaces people talk to LLMOS through. Each turns what arrives into one neutral event and enqueues it."""
