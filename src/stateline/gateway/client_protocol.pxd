# Compiled-mode declarations for client_protocol.py (see upstream.pxd).
cimport cython

from stateline.gateway.pool cimport Pool
from stateline.gateway.headers cimport RequestHeaders
from stateline.gateway.routes cimport Route, Router
from stateline.gateway.clock cimport CoarseClock

cdef CoarseClock coarse  # the shared coarse clock, read as a C struct
cdef class LocalAnswer:
    cdef public object build
    cdef public bint chunk_ok
    cdef public ClientProtocol client
    cdef public bint close_client
    cdef public bint finished
    cdef public bint keep_alive
    cdef public bint request_done

cdef class ClientProtocol:
    cdef public object gw
    cdef public object transport
    cdef public object parser
    cdef public bytes client_ip
    cdef public object current
    cdef public object queue
    cdef public object parsing
    cdef public list wbuf
    cdef public int paused
    cdef public bint rejected
    cdef public bint http10
    cdef public bint in_head
    cdef public double head_started
    cdef public Py_ssize_t head_size
    cdef public bytes url
    cdef public RequestHeaders headers
    cdef public RequestHeaders spare_headers
    cdef public Py_ssize_t max_header_bytes
    cdef public Py_ssize_t max_target_bytes
    cdef public Py_ssize_t max_headers
    cdef public Py_ssize_t trailer_bytes
    cdef public Router router
    cdef public bytes proto
    cdef public bint trusted
    cdef public bytes forwarded
    cdef public double last_active
    cdef public object download_paused_conn

    @cython.locals(pool=Pool, route=Route, router=Router, url=bytes, target=bytes, path=bytes, headers=RequestHeaders,
                   spare=RequestHeaders,
                   specials=list,
                   http10=bint, keep_alive=bint, host_only=bint, expect=bint, idem=bint, has_connection=bint)
    cpdef on_headers_complete(self)
    cpdef _enqueue(self, item)
    cpdef exchange_finished(self, item)
    cpdef write(self, data)
    cpdef flush(self)
    cpdef close(self)
    cpdef pause(self, int reason)
    cpdef resume(self, int reason)
