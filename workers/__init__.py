"""The task path: the Celery app and queues, the neutral event, and the one task that answers it."""
