"""A bare libpq connection through ctypes, for setting up PostgreSQL and looking at rows behind
the engine's back, in the tests and the benches alike: libpq is what the core links, so no
Python driver is needed."""
from __future__ import annotations

import ctypes
import ctypes.util
import re


class PostgresError(RuntimeError):
    """The server is not reachable, or refused a statement (its message included)."""


class RawPostgres:
    def __init__(self, url: str) -> None:
        lib = ctypes.CDLL(ctypes.util.find_library("pq") or "libpq.so.5")
        for name, args, res in [
                ("PQconnectdb", [ctypes.c_char_p], ctypes.c_void_p),
                ("PQstatus", [ctypes.c_void_p], ctypes.c_int),
                ("PQerrorMessage", [ctypes.c_void_p], ctypes.c_char_p),
                ("PQexec", [ctypes.c_void_p, ctypes.c_char_p], ctypes.c_void_p),
                ("PQresultStatus", [ctypes.c_void_p], ctypes.c_int),
                ("PQresultErrorMessage", [ctypes.c_void_p], ctypes.c_char_p),
                ("PQntuples", [ctypes.c_void_p], ctypes.c_int),
                ("PQnfields", [ctypes.c_void_p], ctypes.c_int),
                ("PQgetvalue", [ctypes.c_void_p, ctypes.c_int, ctypes.c_int], ctypes.c_char_p),
                ("PQgetisnull", [ctypes.c_void_p, ctypes.c_int, ctypes.c_int], ctypes.c_int),
                ("PQclear", [ctypes.c_void_p], None),
                ("PQfinish", [ctypes.c_void_p], None)]:
            getattr(lib, name).argtypes = args
            getattr(lib, name).restype = res
        self._lib = lib
        self._conn = lib.PQconnectdb(url.encode())
        if lib.PQstatus(self._conn) != 0:  # CONNECTION_OK
            message = lib.PQerrorMessage(self._conn).decode(errors="replace").strip()
            lib.PQfinish(self._conn)
            shown = re.sub(r"(://[^/@:]*):[^/@]*@", r"\1:***@", url)  # never the password
            raise PostgresError(f"PostgreSQL at {shown} is not reachable: {message}; "
                                "start it, or use SQLite")
        self.execute("SET lock_timeout = '30s'; SET client_min_messages = warning")

    def execute(self, sql: str) -> list[tuple]:
        """The statement's rows, each a tuple of text values (None for NULL)."""
        res = self._lib.PQexec(self._conn, sql.encode())
        try:
            if self._lib.PQresultStatus(res) not in (1, 2):  # COMMAND_OK, TUPLES_OK
                raise PostgresError(f"{sql}: {self._lib.PQresultErrorMessage(res).decode().strip()}")
            return [tuple(None if self._lib.PQgetisnull(res, r, c)
                          else self._lib.PQgetvalue(res, r, c).decode()
                          for c in range(self._lib.PQnfields(res)))
                    for r in range(self._lib.PQntuples(res))]
        finally:
            self._lib.PQclear(res)

    def close(self) -> None:
        self._lib.PQfinish(self._conn)
