"""What every surface does the same way, written once: the admin commands and their help text. A surface
only renders the results (Block Kit, Discord, HTML, a terminal). Handing an event over is `workers.intake`."""
