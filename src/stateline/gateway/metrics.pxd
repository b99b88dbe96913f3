# Compiled-mode declarations for metrics.py (see upstream.pxd).
cimport cython

cdef class PoolMetrics:
    cdef public list by_class
    cdef public dict errors_local
    cdef public list latency_buckets
    cdef public Py_ssize_t latency_count
    cdef public double latency_sum
    cdef public bint panic
    cdef public Py_ssize_t panics
    cdef public Py_ssize_t rate_limited
    cdef public Py_ssize_t retries
    cdef public Py_ssize_t tunnels_open
    cdef public Py_ssize_t upgrades

    @cython.locals(i=Py_ssize_t, bound=double)
    cpdef observe(self, int status, double seconds)

cdef class UpstreamMetrics:
    cdef public dict errors
    cdef public list latency_buckets
    cdef public double latency_sum
    cdef public Py_ssize_t requests

    @cython.locals(i=Py_ssize_t, bound=double)
    cpdef observe(self, double seconds)

    cpdef error(self, kind)
