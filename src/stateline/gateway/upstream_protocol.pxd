# Compiled-mode declarations for upstream_protocol.py (see upstream.pxd).
cimport cython

from stateline.gateway.upstream cimport Upstream
from stateline.gateway.proxy cimport Exchange

cdef class UpstreamConnection:
    cdef public object after_feed
    cdef public object cl
    cdef public bint closed
    cdef public Exchange ex
    cdef public int fd
    cdef public bint got_bytes
    cdef public bint has_conn
    cdef public bint has_rid
    cdef public list headers
    cdef public object parser
    cdef public bint reused
    cdef public bint skip_message
    cdef public bint te
    cdef public object transport
    cdef public Upstream upstream

    @cython.locals(name=bytes, value=bytes)
    cpdef on_header(self, name, value)
    @cython.locals(status=int, headers=list, te=bint, has_conn=bint, has_rid=bint)
    cpdef on_headers_complete(self)
    cpdef write(self, data)
    cpdef close(self)
