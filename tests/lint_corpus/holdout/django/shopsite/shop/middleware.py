import time


class TimingMiddleware:
    """Django builds one instance of this per process, at start-up."""

    slow_paths: list[str] = []

    def __init__(self, get_response):
        self.get_response = get_response  # trap: __init__ runs once, at start-up
        self.served = 0  # trap: start-up

    def __call__(self, request):
        self.served += 1  # expect: SL105
        started = time.monotonic()
        response = self.get_response(request)
        if time.monotonic() - started > 1.0:
            self.slow_paths.append(request.path)  # expect: SL105
        response["X-Elapsed"] = f"{time.monotonic() - started:.3f}"  # trap: per-response header
        return response

    def process_view(self, request, view_func, view_args, view_kwargs):
        self.last_view = view_func.__name__  # expect: SL105
        return None


def request_counter(get_response):
    seen = {"n": 0}

    def middleware(request):
        seen["n"] += 1  # expect: SL102
        request.counted = True  # trap: attribute of the request object
        return get_response(request)

    return middleware
