cimport cython

# Compiled-mode declarations for round_robin.py (see ../upstream.pxd): the
# default policy, one pick per proxied request.
cdef class RoundRobin:
    cdef public Py_ssize_t _next
    cdef public object _for
    cdef public Py_ssize_t _for_len
    cdef public list _schedule
    cdef public list _live
    cdef public dict _schedules

    @cython.locals(n=Py_ssize_t, i=Py_ssize_t, schedule=list)
    cpdef pick(self, targets, key=*)
