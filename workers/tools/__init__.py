"""Tools the model may call while it answers: built-in ones, MCP servers' ones, and the loop that runs them."""
