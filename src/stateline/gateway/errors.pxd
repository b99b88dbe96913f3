# Compiled-mode declarations for errors.py (see upstream.pxd).
cpdef bytes cached_reason(int status)
