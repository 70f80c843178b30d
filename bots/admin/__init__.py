"""The admin HTTP service: admin API, inbound job hooks, outbound webhooks, dashboard and web chat."""
