# Compiled-mode declarations for pool.py (see upstream.pxd).
from stateline.gateway.health cimport PoolHealth
from stateline.gateway.metrics cimport PoolMetrics
from stateline.gateway.retry cimport RetryBudget

cdef class Pool:
    cdef public object config
    cdef public str name
    cdef public object balancer
    cdef public object key_source
    cdef public bint needs_key
    cdef public PoolHealth health
    cdef public RetryBudget budget
    cdef public PoolMetrics metrics
    cdef public dict members
    cdef public list transitions
    cdef public Py_ssize_t _version
    cdef public list _candidates

    cpdef list candidates(self)
    cpdef pick(self, key, tried)
    cpdef record(self, id, outcome, double now)
    cpdef note(self, t)
