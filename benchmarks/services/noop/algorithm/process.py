"""Does nothing: measures the service's own overhead per request."""


class Process:
    def process(self) -> dict:
        return {}
