"""LLMOS as a Slack AI app: slack-bolt listeners that hand events to the queue, and the reply sink."""
