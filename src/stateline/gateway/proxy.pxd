# Compiled-mode declarations for proxy.py (see upstream.pxd).
cimport cython

from stateline.gateway.pool cimport Pool
from stateline.gateway.upstream cimport Upstream
from stateline.gateway.upstream_protocol cimport UpstreamConnection
from stateline.gateway.client_protocol cimport ClientProtocol
from stateline.gateway.headers cimport ResponseHeaders
from stateline.gateway.clock cimport CoarseClock
from stateline.gateway.routes cimport Route

cdef CoarseClock coarse  # the shared coarse clock, read as a C struct

cdef class Exchange:
    cdef public ClientProtocol client
    cdef public Route route
    cdef public Pool pool
    cdef public bytes method
    cdef public bytes head
    cdef public bytes request_id
    cdef public object framing
    cdef public bint chunked_in
    cdef public bint keep_alive
    cdef public object key
    cdef public bint expect_continue
    cdef public bint idempotent_key
    cdef public bint head_only
    cdef public bint http10
    cdef public bint request_done
    cdef public double started
    cdef public double elapsed
    cdef public object body
    cdef public Py_ssize_t body_bytes
    cdef public bint replayable
    cdef public Upstream upstream
    cdef public UpstreamConnection conn
    cdef public tuple tried
    cdef public int attempts
    cdef public bint retrying
    cdef public bint response_started
    cdef public bint out_body
    cdef public bint out_chunked
    cdef public bint eof_body
    cdef public bint close_client
    cdef public bint finished
    cdef public bint held
    cdef public bint await_continue
    cdef public bint refused
    cdef public bint chunk_ok
    cdef public int status
    cdef public double activity
    cdef public str limit_id
    cdef public bint fresh_connection
    cdef public int try_expired

    cpdef start(self)
    cpdef on_body(self, data)
    cpdef on_done(self)
    cpdef client_gone(self)
    cpdef chunk_validated(self)
    cpdef _begin(self)
    @cython.locals(up=Upstream, conn=UpstreamConnection, idle=list)
    cpdef _attempt(self)
    cpdef _bind(self, UpstreamConnection conn, bint reused)
    cpdef _send_body(self, data)
    cpdef _keep(self, data)
    @cython.locals(te=bint, has_body=bint, keep=bint)
    cpdef response_head(self, UpstreamConnection conn, int status, ResponseHeaders headers)
    cpdef response_done(self, UpstreamConnection conn)
    cpdef Upstream _account(self, UpstreamConnection conn)
    cpdef upstream_lost(self, UpstreamConnection conn)
    cpdef upstream_bad(self, UpstreamConnection conn)
    cpdef _drop_conn(self)
    cpdef _finish(self)
