# Compiled-mode declarations for headers.py (see upstream.pxd): the two head
# builders run once per proxied request each.
cimport cython

@cython.locals(parts=list, xff=bytes, rid=bytes, name=bytes, value=bytes)
cpdef tuple request_head(bytes method, bytes target, headers, bytes host, bytes client_ip,
                         bytes proto, framing, bint has_connection)

# response_head stays a plain (compiled) def: it holds a generator expression,
# which a cpdef function cannot.
