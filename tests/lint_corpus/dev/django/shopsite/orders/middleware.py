import time


class RequestCounter:
    def __init__(self, get_response):
        self.get_response = get_response  # trap: __init__ runs once at start-up
        self.count = 0

    def __call__(self, request):
        self.count += 1  # expect: SL105
        return self.get_response(request)


def timing(get_response):
    durations = []

    def middleware(request):
        start = time.monotonic()
        response = get_response(request)
        durations.append(time.monotonic() - start)  # expect: SL102
        return response

    return middleware
