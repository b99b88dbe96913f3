# Compiled-mode declarations for upstream_protocol.py (see upstream.pxd).
cimport cython

from stateline.gateway.upstream cimport Upstream
from stateline.gateway.proxy cimport Exchange
from stateline.gateway.headers cimport ResponseHeaders
from stateline.gateway.clock cimport CoarseClock

cdef CoarseClock coarse  # the shared coarse clock, read as a C struct

cdef class UpstreamConnection:
    cdef public object after_feed
    cdef public bint closed
    cdef public Exchange ex
    cdef public int fd
    cdef public bint got_bytes
    cdef public ResponseHeaders headers
    cdef public bint in_body
    cdef public object parser
    cdef public bint reused
    cdef public bint skip_message
    cdef public object transport
    cdef public Upstream upstream

    @cython.locals(headers=ResponseHeaders)
    cpdef on_header(self, name, value)
    @cython.locals(status=int)
    cpdef on_headers_complete(self)
    cpdef write(self, data)
    cpdef close(self)
