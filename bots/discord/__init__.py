"""LLMOS on Discord: a gateway bot that hands messages and commands to the workers, and the reply
sink the workers stream answers through over Discord's REST API (both with discord.py)."""
