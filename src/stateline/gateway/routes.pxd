# Compiled-mode declarations for routes.py (see upstream.pxd): the client
# connection matches a route and reads its pool once per request.
cimport cython

cdef class Route:
    cdef public str limit_key
    cdef public object limiter
    cdef public object pool
    cdef public bytes prefix

cdef class Router:
    cdef public object catch_all
    cdef public list routes

    @cython.locals(r=Route, p=bytes)
    cpdef match(self, bytes path)
