# Compiled-mode declarations for retry.py (see upstream.pxd): the budget is
# touched twice per proxied request.
cdef class RetryBudget:
    cdef public double budget_percent
    cdef public Py_ssize_t min_retry_concurrency
    cdef public Py_ssize_t active_requests
    cdef public Py_ssize_t active_retries
    cdef public Py_ssize_t exhausted_total
    cdef public double _fraction

    cpdef request_started(self)
    cpdef request_finished(self)
    cpdef Py_ssize_t allowed(self)
    cpdef bint try_acquire(self)
    cpdef release(self)
