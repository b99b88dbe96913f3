from django.utils.deprecation import MiddlewareMixin

PREVIEW_HEADER = "HTTP_X_PREVIEW_TOKEN"  # trap: constant


class PreviewTokenMiddleware(MiddlewareMixin):
    def process_request(self, request):
        request.preview = request.META.get(PREVIEW_HEADER) is not None  # trap: request attribute
        return None
