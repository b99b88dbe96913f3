cimport cython

# Compiled-mode declarations for health.py (see upstream.pxd): ``record`` runs
# once per proxied request, ``version`` is read on every pick.
cdef class _Host:
    cdef public bint admin_ejected
    cdef public Py_ssize_t check_failures
    cdef public Py_ssize_t check_successes
    cdef public Py_ssize_t consecutive_5xx
    cdef public Py_ssize_t consecutive_gateway
    cdef public Py_ssize_t consecutive_local
    cdef public bint draining
    cdef public double ejected_since
    cdef public object ejected_until
    cdef public double last_decay
    cdef public Py_ssize_t multiplier
    cdef public bint unhealthy

cdef class PoolHealth:
    cdef public object policy
    cdef public Py_ssize_t version
    cdef public dict ejections_total
    cdef public dict _hosts
    cdef public frozenset _available
    cdef public frozenset _routable
    cdef public bint panic
    cdef public Py_ssize_t panics_total
    cdef public Py_ssize_t _passively_ejected
    cdef public double _next_event

    @cython.locals(host=_Host)
    cpdef record(self, id, outcome, double now)
