# Compiled-mode declarations for headers.py (see upstream.pxd): the collectors
# take every header field the parser delivers, and build both heads once per
# proxied request.
cimport cython

cpdef bytes status_line(int status)
cdef bytes _RESPONSE_FILTER  # read as a C byte string on every response field
cdef bytes _STATUS_200
cdef str _ID_DASH_TEXT
cdef unsigned long long _last_id

cpdef bytes new_request_id()

cdef class RequestHeaders:
    cdef public list pieces
    cdef public list specials
    cdef public bytes filter
    cdef public bytes idempotency
    cdef public frozenset special
    cdef public Py_ssize_t count
    cdef public Py_ssize_t size

    cpdef reset(self)
    @cython.locals(lname=bytes, pieces=list, n=Py_ssize_t)
    cpdef add(self, bytes name, bytes value)
    @cython.locals(pieces=list, xff=bytes, rid=bytes, name=bytes, value=bytes)
    cpdef tuple head(self, bytes method, bytes target, bytes host, bytes client_ip, bytes proto,
                     framing, bint has_connection, bint trusted=*, bytes forwarded=*)

cdef class ResponseHeaders:
    cdef public object connection
    cdef public object content_length
    cdef public bint has_request_id
    cdef public list pieces
    cdef public Py_ssize_t size
    cdef public bint transfer_encoding
    cdef public object upgrade

    cpdef reset(self)
    @cython.locals(lname=bytes, pieces=list, n=Py_ssize_t)
    cpdef add(self, bytes name, bytes value)
    @cython.locals(pieces=list)
    cpdef bytes head(self, int status, bytes served_by, bytes request_id, content_length,
                     bint chunked, bint keep_alive, bint http10_client)

cpdef header_value(headers, bytes name)
