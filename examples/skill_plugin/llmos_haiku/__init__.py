"""An LLMOS skill plugin: `/haiku <topic>` (or `/llmos haiku …` in Slack, `/ask skill:haiku` in Discord).

A skill is data; a plugin that only adds one needs nothing of LLMOS to import.
"""

haiku = {
    "name": "haiku",
    "description": "a haiku about a topic",
    "usage": "/haiku <topic>",
    "prompt": "Write a haiku about {input}. Reply with the three lines only.",
    "system": "You are a poet who answers only in haiku.",
    "temperature": 0.8,
    "max_tokens": 80,
}
