# Compiled-mode declarations for clock.py (see upstream.pxd): the data plane
# reads ``coarse.now`` several times per request; modules that declare
# ``cdef CoarseClock coarse`` read it as a C double.
cdef class CoarseClock:
    cdef public double now

    cpdef double tick(self)
