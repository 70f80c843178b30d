"""What every surface does the same way, written once: hand an event over and say why not, the admin
commands, the help text. A surface only renders the results (Block Kit, Discord, HTML, a terminal)."""
