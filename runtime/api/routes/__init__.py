"""One router per resource: service (describe, health, ...), process, jobs, metrics."""
