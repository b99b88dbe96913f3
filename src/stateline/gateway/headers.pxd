# Compiled-mode declarations for headers.py (see upstream.pxd): the two head
# builders run once per proxied request each.
cimport cython

@cython.locals(parts=list, xff=bytes, rid=bytes, name=bytes, value=bytes)
cpdef tuple request_head(bytes method, bytes target, headers, bytes host, bytes client_ip,
                         bytes proto, framing, bint has_connection)

@cython.locals(parts=list, line=bytes, name=bytes, value=bytes)
cpdef bytes response_head(int status, bytes reason, headers, bytes served_by, bytes request_id,
                          content_length, bint chunked, bint keep_alive, bint http10_client,
                          bint has_connection, has_request_id=*)

cpdef header_value(headers, bytes name)
