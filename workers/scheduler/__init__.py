"""The scheduler: which waiting event goes to the engine next, and whether it may come in at all.

Celery with Redis priorities orders work by class, but within a class it is first come, first served,
and it hands a task to any free worker thread whether or not the engine can take one more request.
This package adds the parts an operator needs on a busy day:

- a dispatch stage (`dispatch.Scheduler`): events wait in per-tenant lists (`redis_store` / `memory_store`)
  and are admitted into Celery only while the engine has a free slot; the next one is the highest
  class first, then the tenant served least in weighted tokens (Virtual Token Counter, Sheng et al.,
  OSDI 2024); admission happens the moment a slot frees, so nothing waits while the engine is idle;
- admission limits measured from the engine (`capacity`: vLLM's `/metrics`, else a fixed in-flight count),
  with slots only interactive work may take, and a worker pool that serves only the interactive queue;
- per-user request rates and per-tenant daily token quotas at intake (`limits`), with an operator notice;
- expected waits per class from measured arrival and service rates (`estimate`: M/M/c with priority
  classes), and a "queued, about N s" note to the user when an interactive wait would be long (`notify`).
"""
