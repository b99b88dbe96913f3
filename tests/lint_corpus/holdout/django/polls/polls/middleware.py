import logging

logger = logging.getLogger(__name__)


class ErrorCollector:
    errors: list[str] = []

    def __init__(self, get_response):
        self.get_response = get_response  # trap: once, at start-up

    def __call__(self, request):
        return self.get_response(request)

    def process_exception(self, request, exception):
        self.errors.append(repr(exception))  # expect: SL105
        logger.exception("unhandled error")  # trap: logging
        return None
