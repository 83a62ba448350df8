"""Does nothing (or sleeps as long as asked): measures the service's own overhead per request."""

import time


class Process:
    def process(self, seconds: float = 0.0) -> dict:
        if seconds:
            time.sleep(seconds)
        return {}
