"""The SQL store: typed models, sessions, migrations and the small query functions the workers use."""
