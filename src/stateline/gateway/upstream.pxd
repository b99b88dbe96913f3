# Compiled-mode declarations for upstream.py (Cython "pure Python mode": the .py
# stays the one implementation; this file only adds C types). Every attribute a
# .py class assigns must be declared here, or the compiled class raises
# AttributeError: keep the two in step (the test suite runs in both modes).
from stateline.gateway.metrics cimport UpstreamMetrics

cdef class Upstream:
    cdef public str address
    cdef public double connect_timeout
    cdef public str host
    cdef public str id
    cdef public bytes id_bytes
    cdef public list idle
    cdef public Py_ssize_t max_idle
    cdef public UpstreamMetrics metrics
    cdef public Py_ssize_t outstanding
    cdef public int port
    cdef public bint removed
    cdef public object weight

    cpdef release(self, conn)
